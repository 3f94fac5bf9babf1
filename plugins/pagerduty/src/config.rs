//! The PagerDuty provider's configuration (schema version 1): the integration's routing key
//! (a secret), the region, what an "updated" event does, how the payload's severity maps to
//! PagerDuty's four, and an optional summary template.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchyard_plugin_sdk::Secret;

/// The request timeout when none is configured, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;

/// A PagerDuty subscription's settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "PagerDuty")]
pub struct PagerDutyConfig {
    /// The Integration Key of an "Events API V2" integration on the PagerDuty service
    /// (32 characters). Stored encrypted, never shown again.
    pub routing_key: Secret,
    /// The PagerDuty region of your account: `us` (events.pagerduty.com, the default) or `eu`
    /// (events.eu.pagerduty.com).
    #[serde(default)]
    pub region: Region,
    /// Overrides the region's base URL (a proxy, or a local server in tests), e.g.
    /// `https://events.pagerduty.com`. The network policy applies to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "uri", "pattern" = "^[hH][tT][tT][pP][sS]?://"))]
    pub base_url: Option<String>,
    /// What an "updated" event does to the open alert: `trigger` (re-trigger it with the new
    /// details, the default) or `acknowledge`.
    #[serde(default)]
    pub on_update: UpdateAction,
    /// The payload's `severity` values mapped to PagerDuty's, over the defaults (critical →
    /// critical; major, high, error → error; minor, medium, warning → warning; low, info →
    /// info), e.g. `{"sev1": "critical"}`. Compared case-insensitively.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub severity_map: BTreeMap<String, Severity>,
    /// The severity when the payload has none or one the map does not know.
    #[serde(default = "default_severity")]
    pub default_severity: Severity,
    /// The alert summary as a template (e.g. `{{ payload.title }} on {{ payload.systemName }}`).
    /// Absent: the payload's title (or name) and status. Cut to 1,024 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "switchyard_plugin_sdk::template::text_template_schema")]
    pub summary_template: Option<String>,
    /// The alert's `source` (the affected system). Absent: the payload's `systemName` or
    /// `source`, else `switchyard`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub source: Option<String>,
    /// How long to wait for PagerDuty's answer, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    #[schemars(range(min = 1000, max = 60000))]
    pub timeout_ms: u32,
}

fn default_timeout_ms() -> u32 {
    DEFAULT_TIMEOUT_MS
}

fn default_severity() -> Severity {
    Severity::Error
}

/// The PagerDuty region (service region of the account).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    /// events.pagerduty.com.
    #[default]
    Us,
    /// events.eu.pagerduty.com.
    Eu,
}

impl Region {
    /// The Events API base URL of the region.
    #[must_use]
    pub fn base_url(self) -> &'static str {
        match self {
            Region::Us => "https://events.pagerduty.com",
            Region::Eu => "https://events.eu.pagerduty.com",
        }
    }
}

/// What an "updated" event does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UpdateAction {
    /// Send a `trigger` with the same dedup key: the alert's details are updated.
    #[default]
    Trigger,
    /// Send an `acknowledge`.
    Acknowledge,
}

/// PagerDuty's severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// `critical`.
    Critical,
    /// `error`.
    Error,
    /// `warning`.
    Warning,
    /// `info`.
    Info,
}

impl Severity {
    /// The wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }

    /// The default mapping of a platform severity word.
    #[must_use]
    pub fn from_word(word: &str) -> Option<Severity> {
        match word {
            "critical" | "fatal" | "emergency" => Some(Severity::Critical),
            "major" | "high" | "error" => Some(Severity::Error),
            "minor" | "medium" | "warning" | "degraded" => Some(Severity::Warning),
            "low" | "info" | "informational" => Some(Severity::Info),
            _ => None,
        }
    }
}

impl PagerDutyConfig {
    /// The severity of a payload, by the config's map, then the defaults, then
    /// `default_severity`.
    #[must_use]
    pub fn severity_of(&self, payload: &serde_json::Value) -> Severity {
        let Some(word) = payload.get("severity").and_then(serde_json::Value::as_str) else {
            return self.default_severity;
        };
        let word = word.to_ascii_lowercase();
        self.severity_map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&word))
            .map(|(_, v)| *v)
            .or_else(|| Severity::from_word(&word))
            .unwrap_or(self.default_severity)
    }

    /// The base URL requests go to, without a trailing `/`.
    #[must_use]
    pub fn base(&self) -> &str {
        self.base_url
            .as_deref()
            .unwrap_or(self.region.base_url())
            .trim_end_matches('/')
    }
}
