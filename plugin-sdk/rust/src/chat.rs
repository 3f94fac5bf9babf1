//! What a chat message about an event says, before any vendor's format: a [`Brief`] built
//! from the event (title, status, severity, colour, affected systems, times, a link back to
//! the platform, what it follows), which the Slack, Teams, Discord and Webex providers each
//! render in their own rich format (Block Kit, Adaptive Card, embed, Markdown) and as plain
//! text. Building it here keeps the four saying the same thing about the same event.
//!
//! The payload shapes are the platform's (incidents: `title`, `description`, `severity`,
//! `status`, `systemIds`, `createdAt`, `resolvedAt`; maintenance: `startAt`, `endAt`; health
//! checks: `systemName`, `previousStatus`, `newStatus`, `healthyChecks`, `totalChecks`); a key
//! that is missing or of another type is left out, never an error.
//!
//! Colours: [`Palette`] is a config block whose fields carry `x-color`, so the user may pick
//! the colour of each severity; [`Palette::colour`] falls back to the defaults.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::lifecycle::{Family, Stage, cut_chars, headline};
use crate::{Correlation, Event};

/// How bad an incident is, from the payload's `severity` word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// critical, fatal, emergency, sev1, p1.
    Critical,
    /// major, high, error, sev2, p2.
    Major,
    /// minor, medium, warning, degraded, sev3, p3.
    Minor,
    /// low, info, informational, sev4/5, p4/5.
    Info,
}

impl Severity {
    /// The severity a word names (case-insensitive), if it names one.
    #[must_use]
    pub fn from_word(word: &str) -> Option<Severity> {
        match word.to_ascii_lowercase().as_str() {
            "critical" | "fatal" | "emergency" | "sev1" | "p1" => Some(Severity::Critical),
            "major" | "high" | "error" | "sev2" | "p2" => Some(Severity::Major),
            "minor" | "medium" | "warning" | "degraded" | "sev3" | "p3" => Some(Severity::Minor),
            "low" | "info" | "informational" | "sev4" | "sev5" | "p4" | "p5" => {
                Some(Severity::Info)
            }
            _ => None,
        }
    }

    /// The word shown to readers.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Severity::Critical => "Critical",
            Severity::Major => "Major",
            Severity::Minor => "Minor",
            Severity::Info => "Info",
        }
    }
}

/// An RGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colour(pub u32);

impl Colour {
    /// Parses `#RRGGBB` (or `RRGGBB`).
    #[must_use]
    pub fn parse(text: &str) -> Option<Colour> {
        let hex = text.strip_prefix('#').unwrap_or(text);
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(hex, 16).ok().map(Colour)
    }

    /// `#rrggbb` (Slack attachments, Teams).
    #[must_use]
    pub fn hex(self) -> String {
        format!("#{:06x}", self.0 & 0x00ff_ffff)
    }

    /// The integer Discord embeds take.
    #[must_use]
    pub fn rgb(self) -> u32 {
        self.0 & 0x00ff_ffff
    }
}

/// The colours a user may pick (each field carries `x-color`; unset → the default named on
/// the field). Embed as `#[serde(default)] colours: Palette` in a provider config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Palette {
    /// Critical incidents (default `#d92d20`, red).
    #[schemars(extend("x-color" = true), regex(pattern = r"^#[0-9a-fA-F]{6}$"))]
    pub critical: Option<String>,
    /// Major incidents (default `#f79009`, orange).
    #[schemars(extend("x-color" = true), regex(pattern = r"^#[0-9a-fA-F]{6}$"))]
    pub major: Option<String>,
    /// Minor incidents and degraded health (default `#fdb022`, amber).
    #[schemars(extend("x-color" = true), regex(pattern = r"^#[0-9a-fA-F]{6}$"))]
    pub minor: Option<String>,
    /// Informational events and incidents without a severity (default `#667085`, grey).
    #[schemars(extend("x-color" = true), regex(pattern = r"^#[0-9a-fA-F]{6}$"))]
    pub info: Option<String>,
    /// Maintenance windows (default `#2e90fa`, blue).
    #[schemars(extend("x-color" = true), regex(pattern = r"^#[0-9a-fA-F]{6}$"))]
    pub maintenance: Option<String>,
    /// Anything resolved or healthy again (default `#12b76a`, green).
    #[schemars(extend("x-color" = true), regex(pattern = r"^#[0-9a-fA-F]{6}$"))]
    pub resolved: Option<String>,
}

/// What a [`Brief`]'s colour stands for; a [`Palette`] turns it into a [`Colour`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// A severity.
    Severity(Severity),
    /// A maintenance window.
    Maintenance,
    /// Over, or healthy again.
    Resolved,
}

impl Palette {
    /// The colour of `tone`: the user's pick, else the default.
    #[must_use]
    pub fn colour(&self, tone: Tone) -> Colour {
        let (picked, default) = match tone {
            Tone::Severity(Severity::Critical) => (&self.critical, 0x00d9_2d20),
            Tone::Severity(Severity::Major) => (&self.major, 0x00f7_9009),
            Tone::Severity(Severity::Minor) => (&self.minor, 0x00fd_b022),
            Tone::Severity(Severity::Info) => (&self.info, 0x0066_7085),
            Tone::Maintenance => (&self.maintenance, 0x002e_90fa),
            Tone::Resolved => (&self.resolved, 0x0012_b76a),
        };
        picked
            .as_deref()
            .and_then(Colour::parse)
            .unwrap_or(Colour(default))
    }
}

/// A labelled value shown under a message's title ("Severity: Critical").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    /// The label.
    pub label: &'static str,
    /// The value, plain text (renderers escape it for their format).
    pub value: String,
}

/// What a message about one event says, vendor-neutral. All text is plain (unescaped).
#[derive(Debug, Clone, PartialEq)]
pub struct Brief {
    /// The event type's family.
    pub family: Family,
    /// Where the event stands in its thing's life.
    pub stage: Stage,
    /// "Checkout API down (investigating)": the payload's title and status, else the type.
    pub title: String,
    /// The payload's description, when it has one.
    pub description: Option<String>,
    /// The severity, when the payload names one.
    pub severity: Option<Severity>,
    /// What the colour stands for.
    pub tone: Tone,
    /// Facts in display order: status, severity, systems, times, checks.
    pub facts: Vec<Fact>,
    /// A link back to the platform (`url`, `link` or `htmlUrl`, http(s) only).
    pub link: Option<String>,
    /// "Follows up on incident.incident.created of 2026-12-02 17:30 UTC" for an event that
    /// continues an earlier one, when the vendor cannot thread it.
    pub follows: Option<String>,
    /// The event type.
    pub event_type: String,
}

impl Brief {
    /// The brief of `event` (with its correlation, if any).
    #[must_use]
    pub fn of(event: &Event, correlation: Option<&Correlation>) -> Brief {
        let payload = &event.payload;
        let family = Family::of(&event.event_type);
        let stage = Stage::of(&event.event_type, payload);
        let severity = text(payload, "severity").and_then(Severity::from_word);
        Brief {
            family,
            stage,
            title: title_of(&event.event_type, payload),
            description: text(payload, "description").map(str::to_owned),
            severity,
            tone: tone_of(family, stage, severity, payload),
            facts: facts_of(family, payload),
            link: link_of(payload),
            follows: follows_of(stage, correlation),
            event_type: event.event_type.clone(),
        }
    }

    /// The message as plain text: title, description, facts, follow-up note and link, one per
    /// line; for vendors' fallback text and notifications. Cut to `limit` characters.
    #[must_use]
    pub fn plain_text(&self, limit: usize) -> String {
        let mut lines = vec![self.title.clone()];
        lines.extend(self.description.clone());
        lines.extend(
            self.facts
                .iter()
                .map(|f| format!("{}: {}", f.label, f.value)),
        );
        lines.extend(self.follows.clone());
        lines.extend(self.link.clone());
        cut_chars(&lines.join("\n"), limit)
    }
}

fn text<'a>(payload: &'a Value, key: &str) -> Option<&'a str> {
    payload
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn title_of(event_type: &str, payload: &Value) -> String {
    if payload.get("title").is_none()
        && payload.get("name").is_none()
        && let Some(system) = text(payload, "systemName").or_else(|| text(payload, "systemId"))
    {
        let status = text(payload, "newStatus").unwrap_or("changed");
        return format!("{system} is {status}");
    }
    headline(event_type, payload)
}

fn tone_of(family: Family, stage: Stage, severity: Option<Severity>, payload: &Value) -> Tone {
    if stage == Stage::Resolved {
        return Tone::Resolved;
    }
    match (family, severity) {
        (_, Some(severity)) => Tone::Severity(severity),
        (Family::Maintenance, None) => Tone::Maintenance,
        (Family::Health, None) => {
            let status = text(payload, "newStatus").unwrap_or("");
            match Severity::from_word(status) {
                Some(severity) => Tone::Severity(severity),
                None if status.eq_ignore_ascii_case("unhealthy") => {
                    Tone::Severity(Severity::Critical)
                }
                None => Tone::Severity(Severity::Minor),
            }
        }
        _ => Tone::Severity(Severity::Info),
    }
}

fn facts_of(family: Family, payload: &Value) -> Vec<Fact> {
    let mut facts = Vec::new();
    let mut push = |label, value: Option<String>| {
        if let Some(value) = value {
            facts.push(Fact { label, value });
        }
    };
    push("Status", text(payload, "status").map(str::to_owned));
    push(
        "Severity",
        text(payload, "severity")
            .map(|w| Severity::from_word(w).map_or_else(|| w.to_owned(), |s| s.label().to_owned())),
    );
    push("Systems", systems_of(payload));
    match family {
        Family::Maintenance => {
            push("Starts", time(payload, "startAt"));
            push("Ends", time(payload, "endAt"));
        }
        Family::Health => {
            push(
                "Previous status",
                text(payload, "previousStatus").map(str::to_owned),
            );
            push("Checks passing", checks_of(payload));
            push("At", time(payload, "timestamp"));
        }
        _ => {
            push("Started", time(payload, "createdAt"));
            push("Resolved", time(payload, "resolvedAt"));
        }
    }
    facts
}

fn systems_of(payload: &Value) -> Option<String> {
    let mut names: Vec<&str> = payload
        .get("systemNames")
        .or_else(|| payload.get("systemIds"))
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if names.is_empty() {
        names.extend(text(payload, "systemName").or_else(|| text(payload, "systemId")));
    }
    (!names.is_empty()).then(|| names.join(", "))
}

fn checks_of(payload: &Value) -> Option<String> {
    let healthy = payload.get("healthyChecks")?.as_u64()?;
    let total = payload.get("totalChecks")?.as_u64()?;
    Some(format!("{healthy} of {total}"))
}

/// An RFC 3339 time as "2026-12-02 17:30 UTC"; other text as it is.
fn time(payload: &Value, key: &str) -> Option<String> {
    let raw = text(payload, key)?;
    Some(
        DateTime::parse_from_rfc3339(raw)
            .map_or_else(|_| raw.to_owned(), |t| format_time(t.into())),
    )
}

fn format_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn link_of(payload: &Value) -> Option<String> {
    ["url", "link", "htmlUrl"]
        .iter()
        .filter_map(|k| text(payload, k))
        .find(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(str::to_owned)
}

fn follows_of(stage: Stage, correlation: Option<&Correlation>) -> Option<String> {
    if stage == Stage::Opened {
        return None;
    }
    let origin = correlation?.origin()?;
    Some(format!(
        "Follows up on {} of {}",
        origin.event_type,
        format_time(origin.ended_at)
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::CorrelatedDelivery;

    fn event(event_type: &str, payload: Value) -> Event {
        Event {
            event_type: event_type.into(),
            payload,
            timestamp: Utc::now(),
            delivery_id: "d-1".into(),
            attempt: 1,
            event_id: "e-1".into(),
        }
    }

    #[test]
    fn an_incident_has_its_title_severity_systems_and_times() {
        let e = event(
            "incident.incident.created",
            json!({"incidentId": "inc-1", "title": "Checkout down", "status": "investigating",
                   "severity": "SEV1", "systemIds": ["api", "db"],
                   "createdAt": "2026-12-02T17:30:00Z", "url": "https://status.example/inc-1",
                   "description": "Payments fail"}),
        );
        let brief = Brief::of(&e, None);
        assert_eq!(brief.title, "Checkout down (investigating)");
        assert_eq!(brief.severity, Some(Severity::Critical));
        assert_eq!(brief.tone, Tone::Severity(Severity::Critical));
        assert_eq!(brief.link.as_deref(), Some("https://status.example/inc-1"));
        let facts: Vec<_> = brief
            .facts
            .iter()
            .map(|f| (f.label, f.value.as_str()))
            .collect();
        assert_eq!(
            facts,
            [
                ("Status", "investigating"),
                ("Severity", "Critical"),
                ("Systems", "api, db"),
                ("Started", "2026-12-02 17:30 UTC"),
            ]
        );
        assert_eq!(
            brief.plain_text(1000),
            "Checkout down (investigating)\nPayments fail\nStatus: investigating\n\
             Severity: Critical\nSystems: api, db\nStarted: 2026-12-02 17:30 UTC\n\
             https://status.example/inc-1"
        );
        assert_eq!(brief.plain_text(10).chars().count(), 10);
    }

    #[test]
    fn tones_follow_the_stage_family_and_health() {
        let resolved = event(
            "incident.incident.resolved",
            json!({"severity": "critical"}),
        );
        assert_eq!(Brief::of(&resolved, None).tone, Tone::Resolved);
        let window = event(
            "maintenance.maintenance.created",
            json!({"title": "DB upgrade",
            "startAt": "2026-12-03T01:00:00Z", "endAt": "not a time"}),
        );
        let brief = Brief::of(&window, None);
        assert_eq!(brief.tone, Tone::Maintenance);
        assert_eq!(brief.facts[0].value, "2026-12-03 01:00 UTC");
        assert_eq!(brief.facts[1].value, "not a time");
        let health = event(
            "healthcheck.healthcheck.system.degraded",
            json!({"systemName": "API", "previousStatus": "healthy", "newStatus": "degraded",
                   "healthyChecks": 2, "totalChecks": 5}),
        );
        let brief = Brief::of(&health, None);
        assert_eq!(brief.title, "API is degraded");
        assert_eq!(brief.tone, Tone::Severity(Severity::Minor));
        assert!(brief.facts.contains(&Fact {
            label: "Checks passing",
            value: "2 of 5".into()
        }));
        let healthy = event(
            "healthcheck.healthcheck.system.healthy",
            json!({"newStatus": "healthy"}),
        );
        assert_eq!(Brief::of(&healthy, None).tone, Tone::Resolved);
    }

    #[test]
    fn a_follow_up_names_its_origin_and_links_must_be_http() {
        let at = DateTime::parse_from_rfc3339("2026-12-02T17:31:00Z")
            .unwrap()
            .into();
        let earlier = |event_type: &str, delivered| CorrelatedDelivery {
            event_type: event_type.into(),
            external_id: Some("m-1".into()),
            state: None,
            delivered,
            ended_at: at,
            delivery_id: "d-0".into(),
        };
        let correlation = Correlation {
            key: "inc-1".into(),
            earlier: vec![
                earlier("incident.incident.updated", true),
                earlier("incident.incident.created", true),
            ],
        };
        let e = event(
            "incident.incident.resolved",
            json!({"url": "javascript:alert(1)"}),
        );
        let brief = Brief::of(&e, Some(&correlation));
        assert_eq!(
            brief.follows.as_deref(),
            Some("Follows up on incident.incident.created of 2026-12-02 17:31 UTC")
        );
        assert_eq!(brief.link, None);
        let opened = event("incident.incident.created", json!({}));
        assert_eq!(Brief::of(&opened, Some(&correlation)).follows, None);
    }

    #[test]
    fn a_palette_takes_the_users_pick_or_the_default() {
        let palette = Palette {
            critical: Some("#00FF00".into()),
            major: Some("red".into()),
            ..Palette::default()
        };
        assert_eq!(
            palette.colour(Tone::Severity(Severity::Critical)).hex(),
            "#00ff00"
        );
        assert_eq!(
            palette.colour(Tone::Severity(Severity::Major)).hex(),
            "#f79009"
        );
        assert_eq!(palette.colour(Tone::Resolved).rgb(), 0x12b76a);
        let schema = serde_json::to_value(schemars::schema_for!(Palette)).unwrap();
        assert_eq!(schema["properties"]["critical"]["x-color"], json!(true));
    }
}
