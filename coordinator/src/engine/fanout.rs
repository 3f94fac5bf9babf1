//! Fan-out: which subscriptions get a delivery of an event. One delivery per enabled
//! subscription whose event type patterns match, whose system filter lets the payload through
//! (`payload.systemId` or any of `payload.systemIds[]`), and whose provider supports the event
//! type. A subscription whose provider is not loaded still gets a delivery, which then fails
//! with that reason instead of vanishing silently. A test event skips all of this: it has one
//! delivery, to the subscription it tests ([`test_delivery`]).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::EngineError;
use super::providers::ProviderCache;
use crate::model::{Delivery, DeliveryId, DeliveryState, Event, EventId, NewEvent, Subscription};

/// Rejects payloads that are not objects or are larger than `limit` bytes of JSON text;
/// returns the JSON text (made once per event, handed to every delivery's plugin call).
pub(super) fn check_payload(payload: &Value, limit: usize) -> Result<String, EngineError> {
    let found = match payload {
        Value::Object(_) => None,
        Value::Null => Some("null"),
        Value::Bool(_) => Some("a boolean"),
        Value::Number(_) => Some("a number"),
        Value::String(_) => Some("a string"),
        Value::Array(_) => Some("an array"),
    };
    if let Some(found) = found {
        return Err(EngineError::PayloadNotObject { found });
    }
    let text = payload.to_string();
    if text.len() > limit {
        return Err(EngineError::PayloadTooLarge {
            size: text.len(),
            limit,
        });
    }
    Ok(text)
}

/// The event record for a publish accepted at `now`.
pub(super) fn event(new: NewEvent, now: DateTime<Utc>) -> Event {
    Event {
        id: EventId::new_at(now),
        event_type: new.event_type,
        payload: new.payload,
        idempotency_key: new.idempotency_key,
        timestamp: new.timestamp.unwrap_or(now),
        received_at: now,
        correlation_key: new.correlation_key,
        // The context the publish runs under: the API's span of the call (observe::traces).
        trace: crate::observe::traces::current_stored(),
    }
}

/// Whether `sub` gets a delivery of `event`.
pub(super) fn wants(sub: &Subscription, event: &Event, providers: &ProviderCache) -> bool {
    sub.enabled
        && sub.matches_event_type(&event.event_type)
        && sub.matches_systems(&event.payload)
        && providers
            .get(&sub.provider_id)
            .is_none_or(|p| p.supports(&event.event_type))
}

/// The deliveries of `event`, all pending and due at once (the store makes a correlated one
/// wait behind an earlier delivery of its key).
pub(super) fn plan(
    subs: &[Subscription],
    event: &Event,
    providers: &ProviderCache,
    now: DateTime<Utc>,
) -> Vec<Delivery> {
    subs.iter()
        .filter(|s| wants(s, event, providers))
        .map(|s| delivery(s, event, now))
        .collect()
}

/// The one delivery of a test event: to `sub` only, marked as a test, and outside any
/// correlation order (a test must neither wait for real deliveries nor hold them up).
pub(super) fn test_delivery(sub: &Subscription, event: &Event, now: DateTime<Utc>) -> Delivery {
    Delivery {
        test: true,
        correlation_key: None,
        ..delivery(sub, event, now)
    }
}

/// A pending delivery of `event` to `sub`, due at once.
fn delivery(sub: &Subscription, event: &Event, now: DateTime<Utc>) -> Delivery {
    Delivery {
        id: DeliveryId::new_at(now),
        event_id: event.id,
        event_type: event.event_type.clone(),
        subscription_id: sub.id,
        provider_id: sub.provider_id.clone(),
        state: DeliveryState::Pending { due: now },
        attempts: 0,
        budget_used: 0,
        last_error: None,
        created_at: now,
        updated_at: now,
        correlation_key: event.correlation_key.clone(),
        test: false,
    }
}
