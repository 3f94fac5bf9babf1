//! Operational events: what the coordinator tells the platform about its own deliveries,
//! published by the engine itself as ordinary events (durable, fanned out to every matching
//! subscription, delivered by the same providers). Their event types, all under the reserved
//! `switchyard.` prefix, are registered with payload schemas at every start.
//!
//! They never feed on themselves: a delivery of an operational event that fails for good
//! produces no `switchyard.delivery.exhausted`. The subscription events are state changes (a
//! breaker opening, a subscription disabled), so even a subscription that receives its own
//! `failing` event produces a bounded number of them. Each carries an idempotency key naming
//! what it is about, so one change is published once; the subscription events correlate on
//! `subscriptionId`, so a `recovered` reaches a receiver after its `failing`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::breaker::Snapshot;
use super::{Engine, Inner};
use crate::model::{Delivery, EventType, NewEvent, Subscription};

/// The prefix reserved for operational event types.
pub const PREFIX: &str = crate::model::OPERATIONAL_PREFIX;
/// A delivery failed for good (retries exhausted, a permanent failure, or its deadline).
pub const DELIVERY_EXHAUSTED: &str = "switchyard.delivery.exhausted";
/// A subscription's circuit breaker opened: most of its recent attempts failed.
pub const SUBSCRIPTION_FAILING: &str = "switchyard.subscription.failing";
/// The coordinator disabled a subscription that failed continuously.
pub const SUBSCRIPTION_DISABLED: &str = "switchyard.subscription.disabled";
/// A failing subscription's breaker closed again: it delivers.
pub const SUBSCRIPTION_RECOVERED: &str = "switchyard.subscription.recovered";
/// A plugin process exited without being asked to; the host restarts it.
pub const PLUGIN_CRASHED: &str = "switchyard.plugin.crashed";

/// Whether `event_type` is one of the coordinator's own (reserved: the platform may neither
/// register nor publish them).
pub fn is_operational(event_type: &str) -> bool {
    event_type.starts_with(PREFIX)
}

fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The JSON Schema of a timestamp, a string or `null`.
fn time(nullable: bool) -> Value {
    if nullable {
        json!({"type": ["string", "null"], "format": "date-time"})
    } else {
        json!({"type": "string", "format": "date-time"})
    }
}

/// Properties every subscription event has.
fn subscription_props() -> serde_json::Map<String, Value> {
    let mut props = serde_json::Map::new();
    props.insert("subscriptionId".into(), json!({"type": "string"}));
    props.insert("subscriptionName".into(), json!({"type": "string"}));
    props.insert("providerId".into(), json!({"type": "string"}));
    props.insert("failingSince".into(), time(true));
    props
}

fn object(props: serde_json::Map<String, Value>, required: &[&str]) -> Value {
    json!({"type": "object", "required": required, "properties": props})
}

/// An operational event type: id, name, description, payload schema, correlation path.
type TypeSpec = (
    &'static str,
    &'static str,
    &'static str,
    Value,
    Option<&'static str>,
);

/// The payload properties of `switchyard.delivery.exhausted`.
fn exhausted_props() -> serde_json::Map<String, Value> {
    let mut props = subscription_props();
    props.remove("failingSince");
    for (k, v) in [
        ("deliveryId", json!({"type": "string"})),
        ("eventId", json!({"type": "string"})),
        ("eventType", json!({"type": "string"})),
        ("attempts", json!({"type": "integer", "minimum": 0})),
        ("reason", json!({"type": "string"})),
        ("lastError", json!({"type": ["string", "null"]})),
        ("createdAt", time(false)),
        ("failedAt", time(false)),
    ] {
        props.insert(k.into(), v);
    }
    props
}

/// `subscription_props` and `more`.
fn with(more: &[(&str, Value)]) -> serde_json::Map<String, Value> {
    let mut props = subscription_props();
    for (k, v) in more {
        props.insert((*k).into(), v.clone());
    }
    props
}

/// The operational event types.
fn types() -> Vec<TypeSpec> {
    let sub_required = ["subscriptionId", "subscriptionName", "providerId"];
    let count = json!({"type": "integer", "minimum": 0});
    let failing = with(&[
        ("windowAttempts", count.clone()),
        ("windowFailures", count),
        ("openUntil", time(true)),
    ]);
    let disabled = with(&[
        ("reason", json!({"type": "string"})),
        ("disabledAt", time(false)),
    ]);
    let recovered = with(&[("recoveredAt", time(false))]);
    let crashed: serde_json::Map<String, Value> = [
        ("plugin", json!({"type": "string"})),
        ("pid", json!({"type": ["integer", "null"]})),
        ("exitStatus", json!({"type": "string"})),
        ("crashedAt", time(false)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let by_sub = Some("/subscriptionId");
    vec![
        (
            DELIVERY_EXHAUSTED,
            "Delivery exhausted",
            "A delivery failed for good: its retries were used up, it failed permanently, or its \
             deadline passed. Not published for deliveries of operational events.",
            object(
                exhausted_props(),
                &[
                    &sub_required[..],
                    &["deliveryId", "eventId", "eventType", "reason"],
                ]
                .concat(),
            ),
            None,
        ),
        (
            SUBSCRIPTION_FAILING,
            "Subscription failing",
            "Most recent attempts of a subscription failed: its circuit breaker opened, and its \
             attempts are deferred (no retry budget used) until a probe succeeds.",
            object(failing, &sub_required),
            by_sub,
        ),
        (
            SUBSCRIPTION_DISABLED,
            "Subscription disabled",
            "The coordinator disabled a subscription whose deliveries failed continuously for \
             guard.auto_disable_after; its scheduled deliveries were cancelled.",
            object(disabled, &[&sub_required[..], &["reason"]].concat()),
            by_sub,
        ),
        (
            SUBSCRIPTION_RECOVERED,
            "Subscription recovered",
            "A failing subscription delivered again: its circuit breaker closed.",
            object(recovered, &sub_required),
            by_sub,
        ),
        (
            PLUGIN_CRASHED,
            "Plugin crashed",
            "A plugin process exited without being asked to; the coordinator restarts it.",
            object(crashed, &["plugin", "exitStatus"]),
            None,
        ),
    ]
}

/// Registers (or refreshes) the operational event types.
pub(super) fn register(inner: &Inner) {
    let now = inner.clock.now();
    for (id, name, description, schema, correlation) in types() {
        let event_type = EventType {
            id: id.into(),
            display_name: name.into(),
            description: description.into(),
            category: "Switchyard".into(),
            payload_schema: Some(schema),
            correlation_path: correlation.map(str::to_owned),
            created_at: now,
            updated_at: now,
        };
        if let Err(e) = inner.store.put_event_type(&event_type) {
            tracing::error!(event_type = id, error = %e, "cannot register an operational event type");
        }
    }
}

/// Publishes one operational event, in its own task (the caller's attempt settles at once).
fn publish(
    inner: &Arc<Inner>,
    event_type: &'static str,
    payload: Value,
    key: String,
    correlation_key: Option<String>,
) {
    let engine = Engine {
        inner: Arc::clone(inner),
    };
    inner.tracker.spawn(async move {
        let new = NewEvent {
            event_type: event_type.into(),
            payload,
            idempotency_key: Some(key),
            timestamp: None,
            correlation_key,
        };
        match engine.publish(new).await {
            Ok(p) => {
                crate::observe::metrics::operational_event(event_type);
                tracing::info!(event_type, event = %p.event.id, deliveries = p.deliveries.len(),
                    "operational event published");
            }
            Err(e) => {
                tracing::error!(event_type, error = %e, "cannot publish an operational event")
            }
        }
    });
}

/// `switchyard.delivery.exhausted` for a delivery that just failed for good (none for a
/// delivery of an operational event, a test or a manual attempt's).
pub(super) fn exhausted(
    inner: &Arc<Inner>,
    d: &Delivery,
    sub: Option<&Subscription>,
    why: super::retry::GiveUp,
) {
    if is_operational(&d.event_type) || d.test {
        return;
    }
    let payload = json!({
        "subscriptionId": d.subscription_id.to_string(),
        "subscriptionName": sub.map(|s| s.name.clone()).unwrap_or_default(),
        "providerId": d.provider_id,
        "deliveryId": d.id.to_string(),
        "eventId": d.event_id.to_string(),
        "eventType": d.event_type,
        "attempts": d.attempts,
        "reason": why.to_string(),
        "lastError": d.last_error,
        "createdAt": ts(d.created_at),
        "failedAt": ts(d.updated_at),
    });
    let key = format!("{DELIVERY_EXHAUSTED}:{}", d.id);
    publish(inner, DELIVERY_EXHAUSTED, payload, key, None);
}

fn about(
    sub: &Subscription,
    failing_since: Option<DateTime<Utc>>,
) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("subscriptionId".into(), json!(sub.id.to_string()));
    m.insert("subscriptionName".into(), json!(sub.name));
    m.insert("providerId".into(), json!(sub.provider_id));
    m.insert("failingSince".into(), json!(failing_since.map(ts)));
    m
}

/// `switchyard.subscription.failing`: its breaker opened.
pub(super) fn failing(
    inner: &Arc<Inner>,
    sub: &Subscription,
    s: &Snapshot,
    open_until: Option<DateTime<Utc>>,
) {
    let mut m = about(sub, s.failing_since);
    m.insert("windowAttempts".into(), json!(s.window_attempts));
    m.insert("windowFailures".into(), json!(s.window_failures));
    m.insert("openUntil".into(), json!(open_until.map(ts)));
    let since = s.since.map(ts).unwrap_or_default();
    let key = format!("{SUBSCRIPTION_FAILING}:{}:{since}", sub.id);
    publish(
        inner,
        SUBSCRIPTION_FAILING,
        Value::Object(m),
        key,
        Some(sub.id.to_string()),
    );
}

/// `switchyard.subscription.recovered`: its breaker closed again.
pub(super) fn recovered(
    inner: &Arc<Inner>,
    sub: &Subscription,
    failing_since: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
) {
    let mut m = about(sub, failing_since);
    m.insert("recoveredAt".into(), json!(ts(at)));
    let key = format!("{SUBSCRIPTION_RECOVERED}:{}:{}", sub.id, ts(at));
    publish(
        inner,
        SUBSCRIPTION_RECOVERED,
        Value::Object(m),
        key,
        Some(sub.id.to_string()),
    );
}

/// `switchyard.subscription.disabled`: the coordinator disabled it.
pub(super) fn disabled(
    inner: &Arc<Inner>,
    sub: &Subscription,
    reason: &str,
    failing_since: DateTime<Utc>,
    at: DateTime<Utc>,
) {
    let mut m = about(sub, Some(failing_since));
    m.insert("reason".into(), json!(reason));
    m.insert("disabledAt".into(), json!(ts(at)));
    let key = format!("{SUBSCRIPTION_DISABLED}:{}:{}", sub.id, ts(at));
    publish(
        inner,
        SUBSCRIPTION_DISABLED,
        Value::Object(m),
        key,
        Some(sub.id.to_string()),
    );
}

/// `switchyard.plugin.crashed`.
pub(super) fn plugin_crashed(
    inner: &Arc<Inner>,
    plugin: &str,
    pid: Option<u32>,
    status: &str,
    at: DateTime<Utc>,
) {
    let payload = json!({
        "plugin": plugin, "pid": pid, "exitStatus": status, "crashedAt": ts(at),
    });
    let key = format!("{PLUGIN_CRASHED}:{plugin}:{}", ts(at));
    publish(inner, PLUGIN_CRASHED, payload, key, None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_is_reserved_and_has_an_object_schema_requiring_known_properties() {
        for (id, _, _, schema, _) in types() {
            assert!(is_operational(id), "{id}");
            let props = schema["properties"].as_object().expect("properties");
            for r in schema["required"].as_array().expect("required") {
                let r = r.as_str().expect("a name");
                assert!(props.contains_key(r), "{id} requires unknown {r}");
            }
            jsonschema::validator_for(&schema).expect("a valid JSON Schema");
        }
        assert!(!is_operational("switchyardx.a"));
        assert!(!is_operational("incident.incident.created"));
    }
}
