//! The Slack providers' configurations (schema version 1): the incoming-webhook config
//! (`slack.webhook`, the seed's fields: webhook URL, channel override, username, icon emoji),
//! the bot connection (`slack.bot`: the bot token and the API's base URL) and the bot
//! subscription config (the channel, picked from `conversations.list`, and how an incident's
//! later events are threaded). What both message kinds share — templates, colours — is
//! [`Look`] (each config's `look()`). Checks the schema cannot express are in [`webhook_problems`] and
//! [`bot_problems`].

use schemars::JsonSchema;
use serde::Deserialize;
use switchyard_plugin_sdk::chat::Palette;
use switchyard_plugin_sdk::template::TemplateCache;
use switchyard_plugin_sdk::{Diagnostic, Secret};

/// The request timeout when none is configured, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;
/// Slack's Web API.
pub const SLACK_API: &str = "https://slack.com/api";
/// The host of Slack's incoming webhooks.
pub const WEBHOOK_HOST: &str = "hooks.slack.com";
/// The resolver of the bot config's channel field.
pub const CHANNEL_OPTIONS: &str = "channelOptions";

/// How a message looks, as both configs say it: optional templates over the default message,
/// and the colours.
#[derive(Debug, Clone, Copy)]
pub struct Look<'a> {
    /// The headline template (`/titleTemplate`).
    pub title_template: Option<&'a str>,
    /// The body template (`/textTemplate`).
    pub text_template: Option<&'a str>,
    /// The colours.
    pub colours: &'a Palette,
}

/// `slack.webhook`: a subscription posting through an incoming webhook.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "Slack (incoming webhook)")]
pub struct WebhookConfig {
    /// The incoming webhook's URL, `https://hooks.slack.com/services/T…/B…/…`. It holds the
    /// webhook's token: stored encrypted, never shown again.
    pub webhook_url: Secret,
    /// Posts to this channel instead of the webhook's own (`#ops`); only legacy webhooks
    /// honour it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 80))]
    pub channel: Option<String>,
    /// The name the messages are posted under (legacy webhooks).
    #[serde(default = "default_username")]
    #[schemars(length(min = 1, max = 80))]
    pub username: String,
    /// The emoji shown as the sender's picture, e.g. `:robot_face:` (legacy webhooks).
    #[serde(default = "default_icon_emoji")]
    #[schemars(regex(pattern = r"^:[a-z0-9_+'-]+:$"))]
    pub icon_emoji: String,
    /// The message's headline as a template (e.g. `{{ payload.title }} on
    /// {{ payload.systemName }}`). Absent: the payload's title and status. Cut to 150
    /// characters (Slack's header limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "switchyard_plugin_sdk::template::text_template_schema")]
    pub title_template: Option<String>,
    /// The message's body in Slack mrkdwn as a template, replacing the payload's description
    /// (e.g. `*{{ payload.title | mrkdwn_escape }}* is {{ payload.status }}`). Cut to 3,000
    /// characters (Slack's section limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "switchyard_plugin_sdk::template::markdown_template_schema")]
    pub text_template: Option<String>,
    /// The colour bar of each kind of message (`#rrggbb`); unset ones keep the defaults.
    #[serde(default)]
    pub colours: Palette,
    /// Sends to this base URL instead of `https://hooks.slack.com` (a proxy, or a local
    /// server in tests), keeping the webhook URL's path. The network policy applies to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "uri", "pattern" = "^[hH][tT][tT][pP][sS]?://"))]
    pub api_base_url: Option<String>,
    /// How long to wait for Slack's answer, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    #[schemars(range(min = 1000, max = 60000))]
    pub timeout_ms: u32,
}

/// The `slack.bot` connection: one Slack app's bot token, shared by many subscriptions.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "Slack bot connection")]
pub struct BotConnection {
    /// The app's Bot User OAuth Token (`xoxb-…`), with the scopes `chat:write`,
    /// `channels:read` and `groups:read`. Stored encrypted, never shown again.
    pub bot_token: Secret,
    /// The Web API's base URL, `https://slack.com/api` unless a proxy (or, in tests, a local
    /// server) stands in for it. The network policy applies to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "uri", "pattern" = "^[hH][tT][tT][pP][sS]?://"))]
    pub api_base_url: Option<String>,
}

impl BotConnection {
    /// The base URL requests go to, without a trailing `/`.
    #[must_use]
    pub fn base(&self) -> &str {
        self.api_base_url
            .as_deref()
            .unwrap_or(SLACK_API)
            .trim_end_matches('/')
    }
}

/// What an incident's "resolved" event does in the thread its "created" message started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnResolve {
    /// Reply in the thread and show the reply in the channel too (`reply_broadcast`).
    #[default]
    Broadcast,
    /// Reply in the thread only.
    Thread,
}

/// `slack.bot`: a subscription posting with a bot connection.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "Slack (bot)")]
pub struct BotConfig {
    /// The connection holding the bot token.
    #[schemars(extend("x-hidden" = true), length(min = 1))]
    pub connection_id: String,
    /// The channel to post to (its id, e.g. `C0123456789`). Invite the app to a private
    /// channel first (`/invite @app`).
    #[schemars(
        extend("x-options-resolver" = "channelOptions", "x-searchable" = true),
        length(min = 1, max = 80)
    )]
    pub channel: String,
    /// Posts under this name instead of the app's (needs the `chat:write.customize` scope).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 80))]
    pub username: Option<String>,
    /// Shows this emoji as the sender's picture, e.g. `:rotating_light:` (needs
    /// `chat:write.customize`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^:[a-z0-9_+'-]+:$"))]
    pub icon_emoji: Option<String>,
    /// `broadcast` (the default): an incident's "resolved" reply is also shown in the channel;
    /// `thread`: it stays in the thread like the updates.
    #[serde(default)]
    pub on_resolve: OnResolve,
    /// When the incident is resolved, also edit its first message (`chat.update`) so the
    /// channel shows it resolved (green, with the resolved status). On by default.
    #[serde(default = "default_true")]
    pub mark_parent_resolved: bool,
    /// The message's headline as a template (e.g. `{{ payload.title }} on
    /// {{ payload.systemName }}`). Absent: the payload's title and status. Cut to 150
    /// characters (Slack's header limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "switchyard_plugin_sdk::template::text_template_schema")]
    pub title_template: Option<String>,
    /// The message's body in Slack mrkdwn as a template, replacing the payload's description
    /// (e.g. `*{{ payload.title | mrkdwn_escape }}* is {{ payload.status }}`). Cut to 3,000
    /// characters (Slack's section limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "switchyard_plugin_sdk::template::markdown_template_schema")]
    pub text_template: Option<String>,
    /// The colour bar of each kind of message (`#rrggbb`); unset ones keep the defaults.
    #[serde(default)]
    pub colours: Palette,
    /// How long to wait for Slack's answer, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    #[schemars(range(min = 1000, max = 60000))]
    pub timeout_ms: u32,
}

impl WebhookConfig {
    /// The templates and colours.
    #[must_use]
    pub fn look(&self) -> Look<'_> {
        Look {
            title_template: self.title_template.as_deref(),
            text_template: self.text_template.as_deref(),
            colours: &self.colours,
        }
    }
}

impl BotConfig {
    /// The templates and colours.
    #[must_use]
    pub fn look(&self) -> Look<'_> {
        Look {
            title_template: self.title_template.as_deref(),
            text_template: self.text_template.as_deref(),
            colours: &self.colours,
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_username() -> String {
    "Switchyard".to_owned()
}

fn default_icon_emoji() -> String {
    ":robot_face:".to_owned()
}

fn default_timeout_ms() -> u32 {
    DEFAULT_TIMEOUT_MS
}

/// The templates compile.
fn look_problems(look: Look<'_>, templates: &TemplateCache) -> Vec<Diagnostic> {
    [
        ("/titleTemplate", look.title_template),
        ("/textTemplate", look.text_template),
    ]
    .into_iter()
    .filter_map(|(path, source)| Some((path, source?)))
    .filter_map(|(path, source)| templates.get(path, source).err())
    .map(|e| e.diagnostic())
    .collect()
}

/// An http(s) base URL, or a diagnostic at `path`.
fn base_url_problem(path: &str, base: Option<&str>, example: &str) -> Option<Diagnostic> {
    let base = base?;
    let fine = reqwest::Url::parse(base).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    (!fine).then(|| Diagnostic::new(path, format!("must be an http(s) URL, e.g. {example}")))
}

/// Why `url` is not an incoming-webhook URL (any http(s) URL when a base URL override is
/// configured: only its path is used then).
#[must_use]
pub fn webhook_url_problem(url: &str, overridden: bool) -> Option<&'static str> {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Some(
            "must be the incoming webhook's URL, https://hooks.slack.com/services/T…/B…/… (copy it from the app's Incoming Webhooks page)",
        );
    };
    if overridden {
        return (!matches!(parsed.scheme(), "http" | "https")).then_some("must be an http(s) URL");
    }
    if parsed.scheme() != "https"
        || parsed.host_str() != Some(WEBHOOK_HOST)
        || !parsed.path().starts_with("/services/")
    {
        return Some(
            "must be a Slack incoming webhook URL: https://hooks.slack.com/services/T…/B…/… (set apiBaseUrl to send elsewhere)",
        );
    }
    None
}

/// What the webhook config's schema cannot say.
#[must_use]
pub fn webhook_problems(config: &WebhookConfig, templates: &TemplateCache) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    let overridden = config.api_base_url.is_some();
    if let Some(why) = webhook_url_problem(config.webhook_url.expose(), overridden) {
        found.push(Diagnostic::new("/webhookUrl", why));
    }
    found.extend(look_problems(config.look(), templates));
    found.extend(base_url_problem(
        "/apiBaseUrl",
        config.api_base_url.as_deref(),
        "https://hooks.slack.com",
    ));
    found
}

/// What the bot config's schema cannot say.
#[must_use]
pub fn bot_problems(config: &BotConfig, templates: &TemplateCache) -> Vec<Diagnostic> {
    look_problems(config.look(), templates)
}

/// What the bot connection's schema cannot say.
#[must_use]
pub fn connection_problems(connection: &BotConnection) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    let token = connection.bot_token.expose();
    if token.trim().is_empty() || token.chars().any(char::is_whitespace) {
        found.push(Diagnostic::new(
            "/botToken",
            "must be the app's Bot User OAuth Token (xoxb-…, no spaces)",
        ));
    }
    found.extend(base_url_problem(
        "/apiBaseUrl",
        connection.api_base_url.as_deref(),
        SLACK_API,
    ));
    found
}
