//! Correlation chains: the deliveries of one subscription and one correlation key, attempted
//! in publish order. Only the chain's head is scheduled; the others are `Waiting`.
//!
//! A chain's pending deliveries are kept in memory ([`super::pending_index`]); on disk,
//! `correlations` (key: subscription id ++ the key's text) holds them, oldest first (a version
//! byte and their 16-byte ids), for a chain of two or more; a chain of one is found through
//! its delivery's `schedule` entry. What ended deliveries left behind is the chain's history
//! ([`super::history`]).
//!
//! Everything runs inside the transaction that writes the deliveries themselves, so a crash
//! can never leave a chain without its head scheduled. Before this layout a chain was one JSON
//! record with both lists; [`migrate_legacy`] rewrites such records when the store opens.

use serde::Deserialize;
use sled::Tree;

use super::TxResult;
use super::codec::dec;
use super::history_record;
use super::pending_index::Chain;
use super::tx::{StoredDelivery, Tx, schedule_key};
use crate::model::{
    CorrelatedDelivery, Delivery, DeliveryId, DeliveryState, SubscriptionId, to_millis,
};
use crate::store::{StoreError, StoreResult};

/// The first byte of a `correlations` value in this layout (a JSON record starts with `{`).
const PENDING_V1: u8 = 1;

/// The `correlations` key of a chain.
pub(super) fn chain_key(subscription: SubscriptionId, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(16 + key.len());
    k.extend_from_slice(&subscription.to_bytes());
    k.extend_from_slice(key.as_bytes());
    k
}

pub(super) fn decode_pending(value: &[u8]) -> StoreResult<Vec<DeliveryId>> {
    let corrupt = |message: &str| StoreError::Corrupt {
        tree: "correlations",
        message: message.into(),
    };
    let (&version, ids) = value.split_first().ok_or_else(|| corrupt("empty record"))?;
    if version != PENDING_V1 || ids.len() % 16 != 0 {
        return Err(corrupt("not a list of pending delivery ids"));
    }
    Ok(ids
        .chunks_exact(16)
        .filter_map(|c| <[u8; 16]>::try_from(c).ok())
        .map(DeliveryId::from_bytes)
        .collect())
}

fn encode_pending(ids: &[DeliveryId]) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + 16 * ids.len());
    v.push(PENDING_V1);
    for id in ids {
        v.extend_from_slice(&id.to_bytes());
    }
    v
}

impl Tx<'_> {
    /// Writes a chain's new pending list and notes it in the index. Only a chain of two or
    /// more needs a record ([`super::pending_index`]); a chain of one without a record is
    /// left so, but one that has a record keeps it unless `head_scheduled_here` (its remaining
    /// delivery was scheduled in this transaction, so its `schedule` entry carries the chain
    /// key; an entry written before that layout does not).
    fn put_pending(
        &self,
        key: &[u8],
        ids: Vec<DeliveryId>,
        recorded: bool,
        head_scheduled_here: bool,
    ) -> TxResult<()> {
        let keep_record = match ids.len() {
            0 => false,
            1 => recorded && !head_scheduled_here,
            _ => true,
        };
        if keep_record {
            self.correlations.insert(key, encode_pending(&ids))?;
        } else if recorded {
            self.correlations.remove(key)?;
        }
        self.chains.set(
            key,
            Chain {
                ids,
                recorded: keep_record,
            },
        );
        Ok(())
    }

    /// Adds a new delivery to the end of its chain. Behind an earlier delivery that has not
    /// ended it becomes `Waiting` (unscheduled); true then.
    pub(super) fn join_chain(&self, new: &mut StoredDelivery) -> TxResult<bool> {
        let d = &mut new.delivery;
        let Some(key) = d.correlation_key.as_deref() else {
            return Ok(false);
        };
        let key = chain_key(d.subscription_id, key);
        let Chain { mut ids, recorded } = self.chains.get(&key);
        let waits = !ids.is_empty();
        if waits {
            d.state = DeliveryState::Waiting;
        }
        ids.push(d.id);
        // Alone in its chain, the new delivery is scheduled by this transaction.
        self.put_pending(&key, ids, recorded, !waits)?;
        Ok(waits)
    }

    /// Keeps the chain in step with a delivery's new state; returns the schedule key of a
    /// delivery it let go ahead. A final delivery leaves its chain (see [`Tx::leave_chain`]); a
    /// delivery put back to `Waiting` (its manual attempt failed) that is the head by now — the
    /// one before it ended meanwhile — is scheduled at once, or nothing would ever schedule it.
    pub(super) fn chain_after_save(&self, saved: &StoredDelivery) -> TxResult<Option<[u8; 24]>> {
        let d = &saved.delivery;
        let Some(key) = d.correlation_key.as_deref() else {
            return Ok(None);
        };
        let key = chain_key(d.subscription_id, key);
        if d.state.is_final() {
            return self.leave_chain(&key, saved);
        }
        if d.state == DeliveryState::Waiting && self.chains.get(&key).ids.first() == Some(&d.id) {
            return self.promote(d.id, d);
        }
        Ok(None)
    }

    /// `ended` leaves its chain, a success or failure joins the chain's history, and when it
    /// was the head, the next delivery becomes `Pending`, due at `ended.updated_at`.
    fn leave_chain(&self, key: &[u8], ended: &StoredDelivery) -> TxResult<Option<[u8; 24]>> {
        let d = &ended.delivery;
        let Chain { mut ids, recorded } = self.chains.get(key);
        let was_head = ids.first() == Some(&d.id);
        ids.retain(|id| *id != d.id);
        if let Some(entry) = CorrelatedDelivery::of_ended(d, ended.attempts.last()) {
            self.record_history(key, &entry)?;
        }
        let promoted = match ids.first() {
            Some(next) if was_head => self.promote(*next, d)?,
            _ => None,
        };
        self.put_pending(key, ids, recorded, promoted.is_some())?;
        Ok(promoted)
    }

    /// Schedules a `Waiting` delivery, due when `ended` changed, now that nothing is ahead of it.
    fn promote(&self, id: DeliveryId, ended: &Delivery) -> TxResult<Option<[u8; 24]>> {
        let Some(mut next) = self.delivery(id)? else {
            return Ok(None);
        };
        if next.delivery.state != DeliveryState::Waiting {
            // Started by hand meanwhile: it is scheduled (or running) already.
            return Ok(None);
        }
        let old = next.delivery.clone();
        next.delivery.state = DeliveryState::Pending {
            due: ended.updated_at,
        };
        next.delivery.updated_at = ended.updated_at;
        self.put_delivery(Some(&old), &next)?;
        Ok(schedule_key(&next.delivery))
    }
}

/// A chain as the first layout stored it: one JSON record.
#[derive(Deserialize)]
struct LegacyChain {
    pending: Vec<DeliveryId>,
    earlier: Vec<CorrelatedDelivery>,
}

/// Rewrites chains stored in the first layout (one JSON record with the pending list and the
/// history) into this one: the history into its record in `histories`, then the pending list
/// into the binary `correlations` record. Runs before the store is used; the history is
/// written before the record is replaced, so a crash half-way leaves records that the next
/// start rewrites again.
pub(super) fn migrate_legacy(correlations: &Tree, histories: &Tree) -> StoreResult<usize> {
    let mut migrated = 0;
    for entry in correlations.iter() {
        let (key, value) = entry?;
        if value.first() != Some(&b'{') {
            continue;
        }
        let mut legacy: LegacyChain = dec("correlations", &value)?;
        if !legacy.earlier.is_empty() {
            // Newest first, as the history is read (the layout after this one sorted its
            // entries by end time, then id; the record keeps that order).
            legacy.earlier.sort_by_key(|e| {
                std::cmp::Reverse((to_millis(e.ended_at), e.delivery_id.to_bytes()))
            });
            histories.insert(&key, history_record::encode(&legacy.earlier)?)?;
        }
        if legacy.pending.is_empty() {
            correlations.remove(&key)?;
        } else {
            correlations.insert(&key, encode_pending(&legacy.pending))?;
        }
        migrated += 1;
    }
    Ok(migrated)
}

#[cfg(test)]
mod tests {
    use super::super::SledStore;
    use super::*;
    use chrono::Utc;

    #[test]
    fn pending_lists_round_trip_and_refuse_garbage() {
        let ids = [DeliveryId::new(), DeliveryId::new()];
        assert_eq!(decode_pending(&encode_pending(&ids)).unwrap(), ids);
        assert!(decode_pending(b"{\"pending\":[]}").is_err());
        assert!(decode_pending(&[PENDING_V1, 1, 2]).is_err());
        assert!(decode_pending(&[]).is_err());
    }

    #[test]
    fn chains_of_the_first_layout_are_rewritten_when_the_store_opens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = SubscriptionId::new();
        let (head, ended) = (DeliveryId::new(), DeliveryId::new());
        let earlier = CorrelatedDelivery {
            delivery_id: ended,
            event_type: "incident.incident.created".into(),
            delivered: true,
            external_id: Some("ts-1".into()),
            state: Some("{\"ts\":\"1\"}".into()),
            ended_at: Utc::now(),
        };
        {
            let db = sled::open(dir.path()).expect("sled");
            let legacy = serde_json::json!({"pending": [head], "earlier": [earlier]});
            let tree = db.open_tree("correlations").expect("tree");
            tree.insert(
                chain_key(sub, "inc-1"),
                serde_json::to_vec(&legacy).unwrap(),
            )
            .unwrap();
            tree.insert(
                chain_key(sub, "inc-2"),
                serde_json::to_vec(&serde_json::json!({"pending": [], "earlier": []})).unwrap(),
            )
            .unwrap();
            db.flush().unwrap();
        }
        let store = SledStore::open(dir.path()).expect("open");
        assert_eq!(store.chain_history(sub, "inc-1").unwrap(), [earlier]);
        let pending = store.correlations.get(chain_key(sub, "inc-1")).unwrap();
        assert_eq!(decode_pending(&pending.unwrap()).unwrap(), [head]);
        assert!(
            !store
                .correlations
                .contains_key(chain_key(sub, "inc-2"))
                .unwrap()
        );
    }
}
