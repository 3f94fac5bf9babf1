//! The Opsgenie provider's configuration (schema version 1): the API key of an API
//! integration (a secret), the region, the priority mapping, optional responders' team, tags
//! and a message template.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchyard_plugin_sdk::Secret;

/// The request timeout when none is configured, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;

/// An Opsgenie subscription's settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "Opsgenie")]
pub struct OpsgenieConfig {
    /// The API key of an Opsgenie "API" integration (sent as `Authorization: GenieKey …`).
    /// Stored encrypted, never shown again.
    pub api_key: Secret,
    /// The region of your Opsgenie account: `us` (api.opsgenie.com, the default) or `eu`
    /// (api.eu.opsgenie.com).
    #[serde(default)]
    pub region: Region,
    /// Overrides the region's base URL (a proxy, or a local server in tests). The network
    /// policy applies to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "uri", "pattern" = "^[hH][tT][tT][pP][sS]?://"))]
    pub base_url: Option<String>,
    /// The payload's `severity` values mapped to Opsgenie priorities, over the defaults
    /// (critical → P1; major, high → P2; minor, medium → P3; low → P4; info → P5), compared
    /// case-insensitively.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub priority_map: BTreeMap<String, Priority>,
    /// The priority when the payload has no severity the map knows.
    #[serde(default = "default_priority")]
    pub default_priority: Priority,
    /// A team to route the alert to, by name (Opsgenie's `responders`). Absent: the
    /// integration's own routing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub team: Option<String>,
    /// Tags added to every alert (at most 20, each at most 50 characters).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20), inner(length(min = 1, max = 50)))]
    pub tags: Vec<String>,
    /// The alert message as a template (e.g. `{{ payload.title }}`). Absent: the payload's
    /// title and status. Cut to Opsgenie's 130 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "switchyard_plugin_sdk::template::text_template_schema")]
    pub message_template: Option<String>,
    /// How long to wait for Opsgenie's answer, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    #[schemars(range(min = 1000, max = 60000))]
    pub timeout_ms: u32,
}

fn default_timeout_ms() -> u32 {
    DEFAULT_TIMEOUT_MS
}

fn default_priority() -> Priority {
    Priority::P3
}

/// The Opsgenie region.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    /// api.opsgenie.com.
    #[default]
    Us,
    /// api.eu.opsgenie.com.
    Eu,
}

/// Opsgenie's alert priorities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum Priority {
    /// Critical.
    P1,
    /// High.
    P2,
    /// Moderate.
    P3,
    /// Low.
    P4,
    /// Informational.
    P5,
}

impl Priority {
    /// The default mapping of a platform severity word.
    #[must_use]
    pub fn from_word(word: &str) -> Option<Priority> {
        match word {
            "critical" | "fatal" | "emergency" => Some(Priority::P1),
            "major" | "high" | "error" => Some(Priority::P2),
            "minor" | "medium" | "warning" | "degraded" => Some(Priority::P3),
            "low" => Some(Priority::P4),
            "info" | "informational" => Some(Priority::P5),
            _ => None,
        }
    }
}

impl OpsgenieConfig {
    /// The priority of a payload: the config's map, then the defaults, then
    /// `default_priority`.
    #[must_use]
    pub fn priority_of(&self, payload: &serde_json::Value) -> Priority {
        let Some(word) = payload.get("severity").and_then(serde_json::Value::as_str) else {
            return self.default_priority;
        };
        self.priority_map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(word))
            .map(|(_, v)| *v)
            .or_else(|| Priority::from_word(&word.to_ascii_lowercase()))
            .unwrap_or(self.default_priority)
    }

    /// The base URL requests go to, without a trailing `/`.
    #[must_use]
    pub fn base(&self) -> &str {
        let region = match self.region {
            Region::Us => "https://api.opsgenie.com",
            Region::Eu => "https://api.eu.opsgenie.com",
        };
        self.base_url
            .as_deref()
            .unwrap_or(region)
            .trim_end_matches('/')
    }
}
