//! Where an event stands in the life of the thing it is about (an incident, a maintenance
//! window, a health check): opened, updated, acknowledged or resolved. Providers that follow a
//! lifecycle — resolve the alert they triggered, reply in the thread they started, comment on
//! the issue they opened — decide with this, so they all read event types the same way.
//!
//! The stage comes from the event type's last segment (`incident.incident.resolved` →
//! resolved); a payload whose `status` is `resolved`, `closed`, `completed` or `healthy`
//! counts as resolved whatever the type says; so does a health event whose `newStatus` is
//! `healthy` (`healthcheck.healthcheck.system.healthy`).

use serde_json::Value;

use crate::DeliveryContext;

/// The family an event type belongs to, by its first segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `incident.*`.
    Incident,
    /// `maintenance.*`.
    Maintenance,
    /// `healthcheck.*`, `health.*`, `system.*` (a system's health changed).
    Health,
    /// Anything else.
    Other,
}

impl Family {
    /// The family of `event_type`.
    #[must_use]
    pub fn of(event_type: &str) -> Family {
        match event_type.split('.').next().unwrap_or("") {
            "incident" | "incidents" => Family::Incident,
            "maintenance" | "maintenances" => Family::Maintenance,
            "healthcheck" | "health" | "system" => Family::Health,
            _ => Family::Other,
        }
    }
}

/// The stage of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The first event: created, opened, started, triggered (and anything not listed).
    Opened,
    /// A change to something open: updated, changed, commented.
    Updated,
    /// Someone took it: acknowledged.
    Acknowledged,
    /// It is over: resolved, closed, completed, ended, recovered.
    Resolved,
}

impl Stage {
    /// The stage of an event of type `event_type` with `payload`.
    #[must_use]
    pub fn of(event_type: &str, payload: &Value) -> Stage {
        let status = payload
            .get("status")
            .or_else(|| payload.get("newStatus"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if ["resolved", "closed", "completed", "healthy"]
            .iter()
            .any(|s| status.eq_ignore_ascii_case(s))
        {
            return Stage::Resolved;
        }
        match event_type.rsplit('.').next().unwrap_or("") {
            "resolved" | "closed" | "completed" | "ended" | "recovered" | "healthy" | "deleted" => {
                Stage::Resolved
            }
            "acknowledged" => Stage::Acknowledged,
            "updated" | "changed" | "commented" | "status_changed" => Stage::Updated,
            _ => Stage::Opened,
        }
    }
}

/// The identity of the thing a delivery is about, for one subscription: the correlation key
/// (one incident → one alert), else the event id, else the delivery id; prefixed with the
/// subscription id so two subscriptions aimed at one account keep separate alerts; cut to
/// `limit` characters. Providers use it as PagerDuty's `dedup_key`, Opsgenie's `alias`…
#[must_use]
pub fn thread_key<C, K>(ctx: &DeliveryContext<C, K>, limit: usize) -> String {
    let key = ctx
        .correlation
        .as_ref()
        .map(|c| c.key.as_str())
        .filter(|k| !k.is_empty())
        .or(Some(ctx.event.event_id.as_str()).filter(|k| !k.is_empty()))
        .unwrap_or(&ctx.event.delivery_id);
    cut_chars(&format!("{}:{key}", ctx.subscription.id), limit)
}

/// A one-line headline of an event: the payload's `title` (or `name`) and, in parentheses, its
/// `status` — "Checkout API down (investigating)"; the event type when the payload has neither.
#[must_use]
pub fn headline(event_type: &str, payload: &Value) -> String {
    let text = |k: &str| {
        payload
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let title = text("title").or_else(|| text("name")).unwrap_or(event_type);
    match text("status") {
        Some(status) => format!("{title} ({status})"),
        None => title.to_owned(),
    }
}

/// `text` cut to at most `limit` characters on a character boundary, ending in `…` when cut
/// (vendors limit fields in characters; cutting, not failing, is what a reader wants).
#[must_use]
pub fn cut_chars(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(limit.saturating_sub(1)).collect();
    if limit > 0 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn stages_come_from_the_type_and_a_resolved_status() {
        let none = json!({});
        assert_eq!(Stage::of("incident.incident.created", &none), Stage::Opened);
        assert_eq!(
            Stage::of("incident.incident.updated", &none),
            Stage::Updated
        );
        assert_eq!(
            Stage::of("incident.incident.acknowledged", &none),
            Stage::Acknowledged
        );
        assert_eq!(
            Stage::of("incident.incident.resolved", &none),
            Stage::Resolved
        );
        assert_eq!(
            Stage::of("maintenance.window.completed", &none),
            Stage::Resolved
        );
        assert_eq!(
            Stage::of("healthcheck.healthcheck.system.healthy", &none),
            Stage::Resolved
        );
        assert_eq!(
            Stage::of(
                "healthcheck.healthcheck.system.degraded",
                &json!({"newStatus": "degraded"})
            ),
            Stage::Opened
        );
        assert_eq!(
            Stage::of("incident.incident.updated", &json!({"status": "Resolved"})),
            Stage::Resolved
        );
        assert_eq!(
            Family::of("maintenance.window.created"),
            Family::Maintenance
        );
        assert_eq!(Family::of("healthcheck.system.degraded"), Family::Health);
        assert_eq!(Family::of("incident.incident.created"), Family::Incident);
    }

    #[test]
    fn cutting_keeps_whole_characters() {
        assert_eq!(cut_chars("abc", 3), "abc");
        assert_eq!(cut_chars("ééééé", 3), "éé…");
        assert_eq!(cut_chars("abc", 0), "");
    }
}
