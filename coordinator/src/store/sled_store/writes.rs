//! The engine's writes: publishes and attempt results, in batches of one transaction each
//! ([`SledStore::write_batch`]), every write checked on its own, with the claims kept in step
//! under their lock.

use super::SledStore;
use super::codec::{abort, fail_all};
use super::tx::{EncodedEvent, StoredEvent, Written, schedule_key};
use crate::model::{Attempt, Delivery, DeliveryStatus, Event};
use crate::store::{
    BatchResults, InsertEvent, NewEventRecord, SaveDelivery, StoreError, StoreResult,
};

impl SledStore {
    /// The earlier event an idempotency key points to (by its `events` key), with its
    /// deliveries.
    pub(super) fn duplicate_of(&self, event_key: &[u8]) -> StoreResult<InsertEvent> {
        let earlier: StoredEvent =
            Self::get_json(&self.events, "events", event_key)?.ok_or(StoreError::Corrupt {
                tree: "idempotency",
                message: "key points to a missing event".into(),
            })?;
        let deliveries = self.deliveries_by_id(&earlier.deliveries)?;
        Ok(InsertEvent::Duplicate {
            event: earlier.event,
            deliveries,
        })
    }

    pub(super) fn insert_event(
        &self,
        event: &Event,
        deliveries: &[Delivery],
    ) -> StoreResult<InsertEvent> {
        let one = NewEventRecord {
            event: event.clone(),
            deliveries: deliveries.to_vec(),
        };
        self.write_batch(std::slice::from_ref(&one), &[])
            .events
            .pop()
            .unwrap_or_else(|| Err(StoreError::Conflict("nothing was written".into())))
    }

    pub(super) fn save_delivery(
        &self,
        delivery: &Delivery,
        attempt: Option<&Attempt>,
        expected: DeliveryStatus,
    ) -> StoreResult<()> {
        // Held across the write, so that a claim cannot slip in between the check and it.
        let mut claims = self.claims();
        let claimed = claims.set.contains(&delivery.id);
        let promoted = self.tx(|t| t.save(delivery, attempt, expected, claimed)?.map_err(abort))?;
        claims.saved(delivery);
        claims.note_scheduled(promoted);
        self.chain_ended(delivery, attempt);
        Ok(())
    }

    pub(super) fn write_batch(
        &self,
        events: &[NewEventRecord],
        saves: &[SaveDelivery],
    ) -> BatchResults {
        // Encoded before the transaction, which sled may run more than once.
        let encoded: Vec<StoreResult<EncodedEvent>> =
            events.iter().map(EncodedEvent::new).collect();
        // Held across the write, so that a claim cannot slip in between a save's check and it.
        let mut claims = self.claims();
        let claimed: Vec<bool> = saves
            .iter()
            .map(|w| claims.set.contains(&w.delivery.id))
            .collect();
        let written = self.tx(|t| {
            let mut inserted = Vec::with_capacity(events.len());
            for (new, enc) in events.iter().zip(&encoded) {
                inserted.push(match enc {
                    Ok(enc) => Some(t.insert_event(&new.event, enc)?),
                    Err(_) => None,
                });
            }
            let mut saved = Vec::with_capacity(saves.len());
            for (w, &claimed) in saves.iter().zip(&claimed) {
                saved.push(t.save(&w.delivery, w.attempt.as_ref(), w.expected, claimed)?);
            }
            Ok((inserted, saved))
        });
        let (inserted, saved) = match written {
            Ok(written) => written,
            Err(e) => {
                return BatchResults {
                    events: fail_all(&e, events.len(), "events"),
                    saves: fail_all(&e, saves.len(), "deliveries"),
                };
            }
        };
        for (w, r) in saves.iter().zip(&saved) {
            if let Ok(promoted) = r {
                claims.saved(&w.delivery);
                claims.note_scheduled(*promoted);
                self.chain_ended(&w.delivery, w.attempt.as_ref());
            }
        }
        for (new, w) in events.iter().zip(&inserted) {
            if let Some(Written::Inserted(waiting)) = w {
                let scheduled = new.deliveries.iter().filter(|d| !waiting.contains(&d.id));
                claims.note_scheduled(scheduled.filter_map(schedule_key));
            }
        }
        drop(claims);
        let events = encoded
            .into_iter()
            .zip(inserted)
            .map(|(enc, written)| match (enc, written) {
                (Err(e), _) => Err(e),
                (Ok(_), Some(Written::Inserted(waiting))) => Ok(InsertEvent::Inserted { waiting }),
                (Ok(_), Some(Written::Duplicate(id))) => self.duplicate_of(&id),
                (Ok(_), None) => Err(StoreError::Conflict("the event was not written".into())),
            })
            .collect();
        BatchResults {
            events,
            saves: saved.into_iter().map(|r| r.map(|_| ())).collect(),
        }
    }
}
