//! The Webex provider's two configs (schema version 1 each): the **connection** a site shares
//! (the bot's access token, a secret; the API base URL, overridable for tests and proxies),
//! and the **subscription** config (the room, picked from the bot's rooms, and an optional
//! Markdown template).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchyard_plugin_sdk::Secret;

/// The request timeout when none is configured, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;
/// Webex's API base URL.
pub const DEFAULT_BASE_URL: &str = "https://webexapis.com/v1";

/// A Webex bot: its access token and where its API is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "Webex bot")]
pub struct WebexConnection {
    /// The bot's access token (developer.webex.com → My Webex Apps → your bot). Sent as
    /// `Authorization: Bearer …`; stored encrypted, never shown again.
    pub bot_token: Secret,
    /// The API base URL, `https://webexapis.com/v1` by default (a proxy, or a local server in
    /// tests). The network policy applies to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "uri", "pattern" = "^[hH][tT][tT][pP][sS]?://"))]
    pub base_url: Option<String>,
    /// How long to wait for Webex's answer, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    #[schemars(range(min = 1000, max = 60000))]
    pub timeout_ms: u32,
}

fn default_timeout_ms() -> u32 {
    DEFAULT_TIMEOUT_MS
}

impl WebexConnection {
    /// The base URL requests go to, without a trailing `/`.
    #[must_use]
    pub fn base(&self) -> &str {
        self.base_url
            .as_deref()
            .unwrap_or(DEFAULT_BASE_URL)
            .trim_end_matches('/')
    }
}

/// A Webex subscription: which room, and optionally what to say.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "Webex")]
pub struct WebexConfig {
    /// The bot connection to post with (set by the UI).
    #[schemars(extend("x-hidden" = true))]
    pub connection_id: String,
    /// The room (space) to post in; the bot must be a member of it.
    #[schemars(
        length(min = 1),
        extend("x-options-resolver" = "rooms", "x-searchable" = true)
    )]
    pub room_id: String,
    /// The whole message as a Markdown template (e.g. `**{{ payload.title }}** is
    /// {{ payload.status }}`). Absent: a message built from the event (title, severity,
    /// systems, times, link). Cut to Webex's 7,439 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "switchyard_plugin_sdk::template::markdown_template_schema")]
    pub markdown_template: Option<String>,
}
