//! The Teams plugin's configs (schema version 1 each). The **Workflows** provider has one
//! subscription config: the webhook URL of a Teams Workflow (a secret: its `sig` parameter is
//! the credential). The **Graph** provider has a connection a site shares (an Entra ID app:
//! tenant id, client id, client secret, and the token and Graph endpoints, overridable for
//! national clouds and tests) and a subscription config (team and channel, picked through the
//! connection). Both take the same two optional templates: the card's title and its text.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchyard_plugin_sdk::Secret;

/// The request timeout when none is configured, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;
/// Microsoft Entra ID's global sign-in endpoint.
pub const DEFAULT_AUTHORITY_URL: &str = "https://login.microsoftonline.com";
/// Microsoft Graph v1.0 in the global cloud.
pub const DEFAULT_GRAPH_BASE_URL: &str = "https://graph.microsoft.com/v1.0";

fn default_timeout_ms() -> u32 {
    DEFAULT_TIMEOUT_MS
}

/// A Teams Workflows webhook subscription.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "Microsoft Teams (Workflows webhook)")]
pub struct WorkflowConfig {
    /// The HTTP URL of a Teams workflow started by "When a Teams webhook request is received"
    /// (it carries its credential in `sig=`). Stored encrypted, never shown again.
    pub webhook_url: Secret,
    /// The card's title as a template (e.g. `{{ payload.title }}`). Absent: the payload's
    /// title and status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "switchyard_plugin_sdk::template::text_template_schema")]
    pub title_template: Option<String>,
    /// The card's text under the title, as a template (Teams renders a little Markdown:
    /// `**bold**`, `_italic_`, lists, links). Absent: the payload's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "switchyard_plugin_sdk::template::markdown_template_schema")]
    pub text_template: Option<String>,
    /// How long to wait for the answer, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    #[schemars(range(min = 1000, max = 60000))]
    pub timeout_ms: u32,
}

/// An Entra ID application allowed to use Microsoft Graph in one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "Microsoft Graph application")]
pub struct GraphConnection {
    /// The Directory (tenant) ID of your organisation (a GUID) or its domain name.
    #[schemars(length(min = 1, max = 256))]
    pub tenant_id: String,
    /// The Application (client) ID of the app registration (a GUID).
    #[schemars(length(min = 1, max = 256))]
    pub client_id: String,
    /// A client secret of the app registration (its *value*, not its id). Stored encrypted.
    pub client_secret: Secret,
    /// The sign-in endpoint, `https://login.microsoftonline.com` by default (national clouds:
    /// `https://login.microsoftonline.us`, `https://login.chinacloudapi.cn`). The network
    /// policy applies to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "uri", "pattern" = "^[hH][tT][tT][pP][sS]?://"))]
    pub authority_url: Option<String>,
    /// Microsoft Graph, `https://graph.microsoft.com/v1.0` by default (national clouds:
    /// `https://graph.microsoft.us/v1.0`, `https://microsoftgraph.chinacloudapi.cn/v1.0`). The
    /// token is requested for this host's `/.default` scope. The network policy applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "uri", "pattern" = "^[hH][tT][tT][pP][sS]?://"))]
    pub graph_base_url: Option<String>,
    /// How long to wait for each answer, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    #[schemars(range(min = 1000, max = 60000))]
    pub timeout_ms: u32,
}

impl GraphConnection {
    /// The sign-in endpoint, without a trailing `/`.
    #[must_use]
    pub fn authority(&self) -> &str {
        self.authority_url
            .as_deref()
            .unwrap_or(DEFAULT_AUTHORITY_URL)
            .trim_end_matches('/')
    }

    /// Microsoft Graph's base URL, without a trailing `/`.
    #[must_use]
    pub fn graph_base(&self) -> &str {
        self.graph_base_url
            .as_deref()
            .unwrap_or(DEFAULT_GRAPH_BASE_URL)
            .trim_end_matches('/')
    }
}

/// A Graph subscription: the channel to post in.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "Microsoft Teams (Graph)")]
pub struct GraphConfig {
    /// The Graph connection to post with (set by the UI).
    #[schemars(extend("x-hidden" = true))]
    pub connection_id: String,
    /// The team (its id).
    #[schemars(
        length(min = 1),
        extend("x-options-resolver" = "teams", "x-searchable" = true)
    )]
    pub team_id: String,
    /// The channel of that team (its id, `19:…@thread.tacv2`).
    #[schemars(
        length(min = 1),
        extend("x-options-resolver" = "channels", "x-depends-on" = ["teamId"], "x-searchable" = true)
    )]
    pub channel_id: String,
    /// The card's title as a template (e.g. `{{ payload.title }}`). Absent: the payload's
    /// title and status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "switchyard_plugin_sdk::template::text_template_schema")]
    pub title_template: Option<String>,
    /// The card's text under the title, as a template (Teams renders a little Markdown:
    /// `**bold**`, `_italic_`, lists, links). Absent: the payload's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "switchyard_plugin_sdk::template::markdown_template_schema")]
    pub text_template: Option<String>,
}
