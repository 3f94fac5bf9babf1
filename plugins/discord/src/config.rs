//! The Discord provider's configuration (schema version 1): the execute-webhook URL (a
//! secret: it embeds the webhook's token), how the messages are signed (username, avatar), an
//! optional thread of a forum or text channel, what an incident's later events do to its first
//! message, the templates and colours, and the API's base URL. [`WebhookAddress`] reads the id
//! and token out of the URL; [`problems`] holds what the schema cannot check.

use schemars::JsonSchema;
use serde::Deserialize;
use switchyard_plugin_sdk::chat::Palette;
use switchyard_plugin_sdk::template::TemplateCache;
use switchyard_plugin_sdk::{Diagnostic, Secret};

/// The request timeout when none is configured, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;
/// Discord's HTTP API (version 10).
pub const DISCORD_API: &str = "https://discord.com/api/v10";
/// The hosts Discord gives webhook URLs on.
const HOSTS: &[&str] = &[
    "discord.com",
    "discordapp.com",
    "ptb.discord.com",
    "canary.discord.com",
];

/// What an incident's later events ("updated", "resolved") do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum FollowUp {
    /// Edit the incident's first message to show where it stands now (the default): one
    /// message per incident, always current.
    #[default]
    Edit,
    /// Edit it, and also post a new message that says which event it follows, so the channel
    /// is notified.
    EditAndPost,
    /// Post a new message that says which event it follows; leave the first one as it was.
    Post,
}

/// A Discord subscription's settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "Discord")]
pub struct DiscordConfig {
    /// The channel webhook's URL, `https://discord.com/api/webhooks/<id>/<token>`. It holds
    /// the webhook's token: stored encrypted, never shown again.
    pub webhook_url: Secret,
    /// Posts under this name instead of the webhook's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 80))]
    pub username: Option<String>,
    /// Posts with this picture instead of the webhook's (an https image URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "uri"), length(max = 2048))]
    pub avatar_url: Option<String>,
    /// Posts into this thread of the webhook's channel (the thread's id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]{1,20}$"))]
    pub thread_id: Option<String>,
    /// `edit` (the default): an incident's later events edit its first message;
    /// `editAndPost`: edit it and post a new message too; `post`: only a new message each time.
    #[serde(default)]
    pub follow_up: FollowUp,
    /// The embed's title as a template. Absent: the payload's title and status. Cut to 256
    /// characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "switchyard_plugin_sdk::template::text_template_schema")]
    pub title_template: Option<String>,
    /// The embed's description in Discord Markdown as a template, replacing the payload's
    /// description (escape payload text with `| markdown_escape`). Cut to 4,096 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "switchyard_plugin_sdk::template::markdown_template_schema")]
    pub text_template: Option<String>,
    /// The embed's colour for each kind of message (`#rrggbb`); unset ones keep the defaults.
    #[serde(default)]
    pub colours: Palette,
    /// Sends to this base URL instead of `https://discord.com/api/v10` (a proxy, or a local
    /// server in tests), keeping the webhook's id and token. The network policy applies to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "uri", "pattern" = "^[hH][tT][tT][pP][sS]?://"))]
    pub api_base_url: Option<String>,
    /// How long to wait for Discord's answer, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    #[schemars(range(min = 1000, max = 60000))]
    pub timeout_ms: u32,
}

fn default_timeout_ms() -> u32 {
    DEFAULT_TIMEOUT_MS
}

impl DiscordConfig {
    /// The base URL requests go to, without a trailing `/`.
    #[must_use]
    pub fn base(&self) -> &str {
        self.api_base_url
            .as_deref()
            .unwrap_or(DISCORD_API)
            .trim_end_matches('/')
    }
}

/// A webhook's id and token, read from its URL.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookAddress {
    /// The webhook's id (a snowflake).
    pub id: String,
    /// The webhook's token (secret).
    pub token: String,
}

impl std::fmt::Debug for WebhookAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookAddress")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

const URL_HELP: &str = "must be a Discord webhook URL, https://discord.com/api/webhooks/<id>/<token> (copy it from the channel's Integrations → Webhooks)";

impl WebhookAddress {
    /// Reads `url`. `overridden`: a base URL override is configured, so the host and scheme
    /// are not Discord's to check (only the id and token are used).
    ///
    /// # Errors
    /// What is wrong with the URL, for the user.
    pub fn parse(url: &str, overridden: bool) -> Result<WebhookAddress, &'static str> {
        let parsed = reqwest::Url::parse(url).map_err(|_| URL_HELP)?;
        let host_ok =
            parsed.scheme() == "https" && parsed.host_str().is_some_and(|h| HOSTS.contains(&h));
        if !overridden && !host_ok {
            return Err(URL_HELP);
        }
        let segments: Vec<&str> = parsed
            .path_segments()
            .map(Iterator::collect)
            .unwrap_or_default();
        // `/api/webhooks/<id>/<token>`, or with a version: `/api/v10/webhooks/<id>/<token>`.
        let at = segments
            .iter()
            .position(|s| *s == "webhooks")
            .ok_or(URL_HELP)?;
        match segments.get(at + 1..) {
            Some([id, token, ..]) if is_snowflake(id) && !token.is_empty() => Ok(WebhookAddress {
                id: (*id).to_owned(),
                token: (*token).to_owned(),
            }),
            _ => Err(URL_HELP),
        }
    }
}

/// A Discord id: 1 to 20 decimal digits.
#[must_use]
pub fn is_snowflake(text: &str) -> bool {
    (1..=20).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
}

/// What the schema cannot say: the webhook URL is Discord's, the templates compile, the base
/// URL is http(s).
#[must_use]
pub fn problems(config: &DiscordConfig, templates: &TemplateCache) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    let overridden = config.api_base_url.is_some();
    if let Err(why) = WebhookAddress::parse(config.webhook_url.expose(), overridden) {
        found.push(Diagnostic::new("/webhookUrl", why));
    }
    for (path, source) in [
        ("/titleTemplate", &config.title_template),
        ("/textTemplate", &config.text_template),
    ] {
        if let Some(source) = source
            && let Err(e) = templates.get(path, source)
        {
            found.push(e.diagnostic());
        }
    }
    if let Some(base) = &config.api_base_url
        && reqwest::Url::parse(base).map_or(true, |u| !matches!(u.scheme(), "http" | "https"))
    {
        found.push(Diagnostic::new(
            "/apiBaseUrl",
            format!("must be an http(s) URL, e.g. {DISCORD_API}"),
        ));
    }
    found
}
