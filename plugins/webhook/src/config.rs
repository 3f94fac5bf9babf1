//! The webhook provider's configuration (schema version 1): where to send, how, with which
//! authentication and extra headers, with which body (template) in which format, how long to wait, which extra statuses to
//! retry, and whether to sign (Standard Webhooks). The JSON Schema the host sees is
//! derived from these types; secrets are [`Secret`]s, so they carry `x-secret` and never print.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchyard_plugin_sdk::Secret;

/// The request timeout when none is configured, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;

/// A webhook subscription's settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "Webhook")]
pub struct WebhookConfig {
    /// The http(s) URL events are sent to.
    #[schemars(extend(
        "format" = "uri",
        "pattern" = "^[hH][tT][tT][pP][sS]?://",
        "examples" = ["https://example.com/hooks/switchyard"]
    ))]
    pub url: String,
    /// The HTTP method.
    #[serde(default)]
    pub method: Method,
    /// How the request authenticates to the receiver.
    #[serde(default)]
    pub auth: Auth,
    /// Extra headers sent with every request. They cannot replace Content-Type,
    /// X-Delivery-Id, X-Event-Type, or Authorization when `auth` sets it.
    #[serde(default)]
    pub custom_headers: Vec<CustomHeader>,
    /// How long to wait for the receiver's answer, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    #[schemars(range(min = 1000, max = 60000))]
    pub timeout_ms: u32,
    /// The request body as a template (variables: `payload`, `event`, `subscription`, and
    /// Checkstack's `eventType`, `deliveryId`…; see the setup guide). It must render JSON
    /// (an object, for `form`). Absent: the default body `{id, eventType, timestamp,
    /// subscription, data}`. Compile errors are refused when the config is saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "switchyard_plugin_sdk::template::json_template_schema")]
    pub body_template: Option<String>,
    /// How the body is encoded: `json` (the default) or `form`
    /// (`application/x-www-form-urlencoded`: one field per top-level key of the JSON body,
    /// strings as their text, nested and other values as their JSON text).
    #[serde(default)]
    pub content_type: ContentType,
    /// Extra HTTP statuses to retry instead of failing permanently, e.g. `[409, 423]`. 5xx,
    /// 408, 429 are always retried; 2xx always count as delivered, so they cannot be listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(range(min = 100, max = 599)), length(max = 50))]
    pub retry_on_status: Vec<u16>,
    /// Standard Webhooks signing: when set, every request carries `webhook-id`,
    /// `webhook-timestamp` and `webhook-signature` (see the setup guide). Absent: unsigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing: Option<Signing>,
}

fn default_timeout_ms() -> u32 {
    DEFAULT_TIMEOUT_MS
}

/// The HTTP method of the request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// `POST` (the default).
    #[default]
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
}

impl Method {
    /// The `reqwest` method.
    #[must_use]
    pub fn as_reqwest(self) -> reqwest::Method {
        match self {
            Self::Post => reqwest::Method::POST,
            Self::Put => reqwest::Method::PUT,
            Self::Patch => reqwest::Method::PATCH,
        }
    }
}

/// Authentication to the receiver, chosen by `type`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Auth {
    /// No authentication.
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The bearer token (one line).
        #[schemars(extend("pattern" = HEADER_VALUE_PATTERN))]
        token: Secret,
    },
    /// HTTP basic authentication.
    Basic {
        /// The user name (one line, no `:`, which separates it from the password).
        #[schemars(extend("pattern" = BASIC_USER_PATTERN))]
        username: String,
        /// The password.
        password: Secret,
    },
    /// A header of your choice carrying a secret, e.g. `X-Api-Key`.
    Header {
        /// The header name.
        #[schemars(extend("pattern" = HEADER_NAME_PATTERN))]
        name: String,
        /// The header value (one line).
        #[schemars(extend("pattern" = HEADER_VALUE_PATTERN))]
        value: Secret,
    },
    /// A query parameter of your choice carrying a secret, e.g. `?api_key=…` (added to the
    /// URL's own query).
    Query {
        /// The parameter name.
        #[schemars(length(min = 1))]
        name: String,
        /// The parameter value.
        value: Secret,
    },
}

/// The body's wire format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ContentType {
    /// `application/json` (the default).
    #[default]
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
}

/// Standard Webhooks signing settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Signing {
    /// The signing secrets, each `whsec_` followed by the base64 of 24 to 64 random bytes.
    /// Each one signs every request (one `v1,` entry per secret in `webhook-signature`), so a
    /// receiver can rotate: add the new secret, switch the receiver, remove the old one.
    #[schemars(length(min = 1, max = 8))]
    pub secrets: Vec<Secret>,
}

/// One extra header.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomHeader {
    /// The header name, e.g. `X-Team`.
    #[schemars(extend("pattern" = HEADER_NAME_PATTERN))]
    pub name: String,
    /// The header value (visible ASCII, one line).
    #[schemars(extend("pattern" = HEADER_VALUE_PATTERN))]
    pub value: String,
}

/// An HTTP header name (an RFC 9110 token).
pub const HEADER_NAME_PATTERN: &str = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";
/// An HTTP header value the client can send: visible ASCII and tabs (so one line, no control
/// characters); anything else would be accepted at save time and fail at every delivery.
pub const HEADER_VALUE_PATTERN: &str = "^[\\t\\x20-\\x7e]*$";
/// A basic-auth user name: one line without `:` (RFC 7617).
pub const BASIC_USER_PATTERN: &str = "^[^:\\r\\n\\x00]*$";
