//! Retention: events whose deliveries are all final are removed with them (one transaction per
//! event, so a delivery that is still running keeps its event), then the chains' history.

use chrono::{DateTime, Utc};

use super::SledStore;
use super::tx::StoredEvent;
use crate::store::keys;
use crate::store::{Purged, StoreResult};

impl SledStore {
    /// Purges one event if all its deliveries are final; returns the deliveries removed, or
    /// `None` if the event was kept.
    pub(super) fn purge_event(&self, event_key: &[u8]) -> StoreResult<Option<usize>> {
        let Some(stored) = Self::get_json::<StoredEvent>(&self.events, "events", event_key)? else {
            return Ok(None);
        };
        self.tx(|t| {
            let mut finals = Vec::with_capacity(stored.deliveries.len());
            for id in &stored.deliveries {
                match t.delivery(*id)? {
                    Some(cur) if cur.delivery.state.is_final() => finals.push(cur.delivery),
                    Some(_) => return Ok(None),
                    None => {}
                }
            }
            for d in &finals {
                t.remove_delivery(d)?;
            }
            t.events.remove(event_key)?;
            if let Some(key) = &stored.event.idempotency_key {
                t.idempotency.remove(key.as_bytes())?;
            }
            Ok(Some(finals.len()))
        })
    }

    pub(super) fn purge_finished(&self, before: DateTime<Utc>) -> StoreResult<Purged> {
        let mut purged = Purged::default();
        let old_events: Vec<sled::IVec> = self
            .events
            .range(..keys::time_bound(before))
            .keys()
            .collect::<Result<_, _>>()?;
        for key in old_events {
            if let Some(n) = self.purge_event(&key)? {
                purged.events += 1;
                purged.deliveries += n;
            }
        }
        self.purge_chains(before)?;
        Ok(purged)
    }
}
