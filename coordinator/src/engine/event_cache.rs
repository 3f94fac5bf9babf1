//! Recently published events, kept in memory as the plugin sees them (type, timestamp, payload
//! as JSON text) until each of their deliveries has taken it for its first attempt. Saves
//! reading and decoding the event from the store, and re-encoding its payload, once per
//! delivery (with 100 subscriptions: 100 times per event). Only a cache: a miss (retries, a
//! restart, an entry dropped when full) reads the store, as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};

use crate::model::{Event, EventId};

/// Most payload bytes held; when an insert would pass it the cache starts over (entries are
/// normally taken within milliseconds; only cancelled deliveries leave some behind).
const MAX_BYTES: usize = 64 * 1024 * 1024;

/// What a plugin call needs of an event.
#[derive(Debug)]
pub(crate) struct EventText {
    pub(crate) event_type: String,
    pub(crate) timestamp: DateTime<Utc>,
    pub(crate) payload_json: String,
    /// The publish's trace context, which the attempts join.
    pub(crate) trace: Option<Box<crate::model::TraceContext>>,
}

impl EventText {
    /// From a stored event (a cache miss).
    pub(crate) fn of(event: &Event) -> Self {
        Self {
            event_type: event.event_type.clone(),
            timestamp: event.timestamp,
            payload_json: event.payload.to_string(),
            trace: event.trace.clone(),
        }
    }
}

#[derive(Debug, Default)]
struct Entries {
    /// The text and how many deliveries have not taken it yet.
    map: HashMap<EventId, (Arc<EventText>, usize)>,
    bytes: usize,
}

/// The cache; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct EventCache {
    entries: Mutex<Entries>,
}

impl EventCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A cache: whatever a panic left behind is still usable.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `event` (payload as `payload_json`) for its `uses` deliveries.
    pub(crate) fn insert(&self, event: &Event, payload_json: String, uses: usize) {
        if uses == 0 || payload_json.len() > MAX_BYTES / 4 {
            return;
        }
        let size = payload_json.len();
        let text = EventText {
            event_type: event.event_type.clone(),
            timestamp: event.timestamp,
            payload_json,
            trace: event.trace.clone(),
        };
        let mut e = self.lock();
        if e.bytes + size > MAX_BYTES {
            e.map.clear();
            e.bytes = 0;
        }
        e.bytes += size;
        e.map.insert(event.id, (Arc::new(text), uses));
    }

    /// The event for one delivery's attempt; the entry goes when its last delivery took it.
    pub(crate) fn take(&self, id: EventId) -> Option<Arc<EventText>> {
        let mut e = self.lock();
        let (text, left) = e.map.get_mut(&id)?;
        let text = Arc::clone(text);
        *left = left.saturating_sub(1);
        if *left == 0 {
            e.map.remove(&id);
            e.bytes = e.bytes.saturating_sub(text.payload_json.len());
        }
        Some(text)
    }

    /// Drops an event that was not stored after all (a duplicate or a failed write).
    pub(crate) fn forget(&self, id: EventId) {
        let mut e = self.lock();
        if let Some((text, _)) = e.map.remove(&id) {
            e.bytes = e.bytes.saturating_sub(text.payload_json.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        let now = Utc::now();
        Event {
            id: EventId::new_at(now),
            event_type: "incident.incident.created".into(),
            payload: serde_json::json!({"incidentId": "i-1"}),
            idempotency_key: None,
            timestamp: now,
            received_at: now,
            correlation_key: None,
            trace: None,
        }
    }

    #[test]
    fn an_entry_serves_each_delivery_once_then_goes() {
        let cache = EventCache::default();
        let ev = event();
        cache.insert(&ev, ev.payload.to_string(), 2);
        let first = cache.take(ev.id).expect("first delivery");
        assert_eq!(first.payload_json, r#"{"incidentId":"i-1"}"#);
        assert_eq!(first.event_type, ev.event_type);
        assert!(cache.take(ev.id).is_some(), "second delivery");
        assert!(cache.take(ev.id).is_none(), "gone after the last one");
        assert_eq!(cache.lock().bytes, 0);
    }

    #[test]
    fn forgotten_and_unused_events_are_not_kept() {
        let cache = EventCache::default();
        let (kept, none) = (event(), event());
        cache.insert(&kept, kept.payload.to_string(), 1);
        cache.insert(&none, none.payload.to_string(), 0);
        cache.forget(kept.id);
        assert!(cache.take(kept.id).is_none());
        assert!(cache.take(none.id).is_none());
        assert_eq!(cache.lock().bytes, 0);
    }
}
