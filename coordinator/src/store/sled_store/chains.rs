//! Correlation chains: the deliveries of one subscription and one correlation key, attempted
//! in publish order. Only the chain's head is scheduled; the others are `Waiting`.
//!
//! Two trees, so that the hot path touches only small records:
//! - `correlations` (key: subscription id ++ the key's text) holds the deliveries that have
//!   not ended, oldest first: a version byte and their 16-byte ids. A publish reads and
//!   rewrites only this; a chain with nothing pending has no record.
//! - `chain_history` holds what ended deliveries left behind for the provider, one record per
//!   delivery (key: subscription id ++ key length ++ key text ++ end time ++ delivery id), so
//!   recording one is a single insert with no read, and the history is a range read, newest
//!   first. [`SledStore::purge_chains`] bounds it.
//!
//! Everything but the history read and the purge runs inside the transaction that writes the
//! deliveries themselves, so a crash can never leave a chain without its head scheduled.
//!
//! Every attempt of a correlated delivery reads its chain's history, and sled's reverse scan
//! with the decoding was a sixth of the coordinator's CPU on the ordered path; so the history
//! of recently used chains is also kept in memory ([`HistoryCache`]), filled by a scan on a
//! miss and kept in step by the writers after each commit.
//! Before this layout a chain was one JSON record with both lists; [`migrate_legacy`]
//! rewrites such records when the store opens.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sled::Tree;

use super::codec::{abort, dec, enc};
use super::tx::{StoredDelivery, Tx, schedule_key};
use super::{SledStore, TxResult};
use crate::model::{
    Attempt, CORRELATION_HISTORY, CorrelatedDelivery, Delivery, DeliveryId, DeliveryState,
    SubscriptionId, to_millis,
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

/// The prefix of a chain's `chain_history` keys. The key's length is part of it, so that the
/// history of `inc-1` is not a prefix range of `inc-10`'s.
fn history_prefix(chain_key: &[u8]) -> Vec<u8> {
    let (sub, key) = chain_key.split_at(16.min(chain_key.len()));
    let len = u16::try_from(key.len()).unwrap_or(u16::MAX);
    let mut k = Vec::with_capacity(chain_key.len() + 2 + 24);
    k.extend_from_slice(sub);
    k.extend_from_slice(&len.to_be_bytes());
    k.extend_from_slice(key);
    k
}

/// The `chain_history` key of one ended delivery: sorted by end time (in milliseconds) within
/// its chain, then by delivery id (ends within one millisecond come out in id order).
fn history_key(chain_key: &[u8], entry: &CorrelatedDelivery) -> Vec<u8> {
    let mut k = history_prefix(chain_key);
    k.extend_from_slice(&to_millis(entry.ended_at).to_be_bytes());
    k.extend_from_slice(&entry.delivery_id.to_bytes());
    k
}

fn decode_pending(value: &[u8]) -> StoreResult<Vec<DeliveryId>> {
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
    fn pending(&self, key: &[u8]) -> TxResult<Vec<DeliveryId>> {
        match self.correlations.get(key)? {
            Some(v) => decode_pending(&v).map_err(abort),
            None => Ok(Vec::new()),
        }
    }

    fn put_pending(&self, key: &[u8], pending: &[DeliveryId]) -> TxResult<()> {
        if pending.is_empty() {
            self.correlations.remove(key)?;
        } else {
            self.correlations.insert(key, encode_pending(pending))?;
        }
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
        let mut pending = self.pending(&key)?;
        let waits = !pending.is_empty();
        if waits {
            d.state = DeliveryState::Waiting;
        }
        pending.push(d.id);
        self.put_pending(&key, &pending)?;
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
        if d.state == DeliveryState::Waiting && self.pending(&key)?.first() == Some(&d.id) {
            return self.promote(d.id, d);
        }
        Ok(None)
    }

    /// `ended` leaves its chain, a success or failure joins the chain's history, and when it
    /// was the head, the next delivery becomes `Pending`, due at `ended.updated_at`.
    fn leave_chain(&self, key: &[u8], ended: &StoredDelivery) -> TxResult<Option<[u8; 24]>> {
        let d = &ended.delivery;
        let mut pending = self.pending(key)?;
        let was_head = pending.first() == Some(&d.id);
        pending.retain(|id| *id != d.id);
        if let Some(entry) = history_entry(ended) {
            let value = enc(&entry).map_err(abort)?;
            self.chain_history.insert(history_key(key, &entry), value)?;
        }
        let promoted = match pending.first() {
            Some(next) if was_head => self.promote(*next, d)?,
            _ => None,
        };
        self.put_pending(key, &pending)?;
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

/// What a delivery that ended leaves for the later ones of its key; `None` when it never
/// reached the receiver's side (cancelled).
fn history_entry(ended: &StoredDelivery) -> Option<CorrelatedDelivery> {
    ended_entry(&ended.delivery, ended.attempts.last())
}

/// [`history_entry`] of a delivery in its final state `d` whose last attempt is `last`.
fn ended_entry(d: &Delivery, last: Option<&Attempt>) -> Option<CorrelatedDelivery> {
    let delivered = match d.state {
        DeliveryState::Succeeded => true,
        DeliveryState::Failed => false,
        _ => return None,
    };
    Some(CorrelatedDelivery {
        delivery_id: d.id,
        event_type: d.event_type.clone(),
        delivered,
        external_id: last
            .and_then(|a| a.external_id.clone())
            .filter(|_| delivered),
        state: last.and_then(|a| a.state.clone()).filter(|_| delivered),
        ended_at: d.updated_at,
    })
}

/// A chain's history in [`HistoryCache`].
#[derive(Debug)]
enum Cached {
    /// As stored, most recent first.
    Ready(Vec<CorrelatedDelivery>),
    /// A reader is scanning the store for it; what ended meanwhile is noted here, to be merged
    /// into the scan's result (the scan may or may not have seen it).
    Scanning(Vec<CorrelatedDelivery>),
}

/// The history of recently used chains (by chain key).
#[derive(Debug, Default)]
pub(super) struct HistoryCache(Mutex<HashMap<Vec<u8>, Cached>>);

/// Chains kept in [`HistoryCache`]; when full it starts again empty (a miss only costs a scan).
const CACHED_CHAINS: usize = 100_000;

impl HistoryCache {
    fn lock(&self) -> MutexGuard<'_, HashMap<Vec<u8>, Cached>> {
        // A cache: whatever a panic left behind is consistent enough to read or clear.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets everything (after a purge).
    pub(super) fn clear(&self) {
        self.lock().clear();
    }
}

/// Whether `history` holds `entry` (the same delivery ending at the same time).
fn holds(history: &[CorrelatedDelivery], entry: &CorrelatedDelivery) -> bool {
    history
        .iter()
        .any(|e| e.delivery_id == entry.delivery_id && e.ended_at == entry.ended_at)
}

impl SledStore {
    /// What the last deliveries of a chain that ended left behind, most recent first, at most
    /// [`CORRELATION_HISTORY`]. A miss scans the store without holding the cache's lock: the
    /// chain is marked as being scanned, writers note what ends meanwhile
    /// ([`SledStore::chain_ended`]), and the scan's result absorbs it.
    pub(super) fn chain_history(
        &self,
        subscription: SubscriptionId,
        key: &str,
    ) -> StoreResult<Vec<CorrelatedDelivery>> {
        let chain = chain_key(subscription, key);
        let owner = {
            let mut cache = self.history_cache.lock();
            match cache.get(&chain) {
                Some(Cached::Ready(history)) => return Ok(history.clone()),
                // Another reader scans it: scan too, without caching.
                Some(Cached::Scanning(_)) => false,
                None => {
                    if cache.len() >= CACHED_CHAINS {
                        cache.clear();
                    }
                    cache.insert(chain.clone(), Cached::Scanning(Vec::new()));
                    true
                }
            }
        };
        let scanned = self.scan_history(&chain);
        if owner {
            let mut cache = self.history_cache.lock();
            let noted = cache.remove(&chain);
            if let (Ok(history), Some(Cached::Scanning(noted))) = (&scanned, noted) {
                let mut history = history.clone();
                for entry in noted.into_iter().rev() {
                    if !holds(&history, &entry) {
                        history.insert(0, entry);
                    }
                }
                history.truncate(CORRELATION_HISTORY);
                cache.insert(chain, Cached::Ready(history.clone()));
                return Ok(history);
            }
        }
        scanned
    }

    fn scan_history(&self, chain: &[u8]) -> StoreResult<Vec<CorrelatedDelivery>> {
        self.chain_history
            .scan_prefix(history_prefix(chain))
            .values()
            .rev()
            .take(CORRELATION_HISTORY)
            .map(|v| dec("chain_history", &v?))
            .collect()
    }

    /// After a commit that ended `d` (with `attempt`, the one the save wrote): its history
    /// entry joins its chain's cached history. A save without an attempt takes the entry from
    /// an earlier attempt, which is not at hand here: the chain is dropped from the cache.
    pub(super) fn chain_ended(&self, d: &Delivery, attempt: Option<&Attempt>) {
        let Some(key) = d.correlation_key.as_deref() else {
            return;
        };
        if !d.state.is_final() {
            return;
        }
        let chain = chain_key(d.subscription_id, key);
        let mut cache = self.history_cache.lock();
        let entry = match (attempt, ended_entry(d, attempt)) {
            (None, _) => {
                cache.remove(&chain);
                return;
            }
            (Some(_), Some(entry)) => entry,
            (Some(_), None) => return,
        };
        match cache.get_mut(&chain) {
            Some(Cached::Ready(history)) if !holds(history, &entry) => {
                history.insert(0, entry);
                history.truncate(CORRELATION_HISTORY);
            }
            Some(Cached::Scanning(noted)) => noted.insert(0, entry),
            _ => {}
        }
    }

    /// Forgets history that ended before `before`: all of a chain's when nothing of it is
    /// pending and its last delivery ended before then (the history of a key outlives its
    /// deliveries by the retention, then goes with them); else what is older than both
    /// `before` and the newest [`CORRELATION_HISTORY`] entries.
    pub(super) fn purge_chains(&self, before: DateTime<Utc>) -> StoreResult<()> {
        let mut group: Vec<(sled::IVec, DateTime<Utc>)> = Vec::new();
        let mut prefix: Vec<u8> = Vec::new();
        for entry in self.chain_history.iter() {
            let (key, value) = entry?;
            let entry: CorrelatedDelivery = dec("chain_history", &value)?;
            let entry_prefix = key.get(..key.len().saturating_sub(24)).unwrap_or(&[]);
            if entry_prefix != prefix.as_slice() {
                self.purge_group(&prefix, &group, before)?;
                prefix = entry_prefix.to_vec();
                group.clear();
            }
            group.push((key, entry.ended_at));
        }
        self.purge_group(&prefix, &group, before)?;
        self.history_cache.clear();
        Ok(())
    }

    /// One chain's part of [`SledStore::purge_chains`]; `group` is its history, oldest first.
    fn purge_group(
        &self,
        prefix: &[u8],
        group: &[(sled::IVec, DateTime<Utc>)],
        before: DateTime<Utc>,
    ) -> StoreResult<()> {
        let Some((_, newest)) = group.last() else {
            return Ok(());
        };
        let pending = self.correlations.contains_key(chain_key_of(prefix))?;
        let keep = if !pending && *newest < before {
            0
        } else {
            CORRELATION_HISTORY
        };
        let removable = group.len().saturating_sub(keep);
        for (key, ended_at) in &group[..removable] {
            if *ended_at < before {
                self.chain_history.remove(key)?;
            }
        }
        Ok(())
    }
}

/// The `correlations` key of a chain from its history prefix.
fn chain_key_of(prefix: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len());
    k.extend_from_slice(prefix.get(..16).unwrap_or(prefix));
    k.extend_from_slice(prefix.get(18..).unwrap_or(&[]));
    k
}

/// A chain as the first layout stored it: one JSON record.
#[derive(Deserialize)]
struct LegacyChain {
    pending: Vec<DeliveryId>,
    earlier: Vec<CorrelatedDelivery>,
}

/// Rewrites chains stored in the first layout (one JSON record with the pending list and the
/// history) into this one. Runs before the store is used; the history is written before the
/// record is replaced, so a crash half-way leaves records that the next start rewrites again.
pub(super) fn migrate_legacy(correlations: &Tree, history: &Tree) -> StoreResult<usize> {
    let mut migrated = 0;
    for entry in correlations.iter() {
        let (key, value) = entry?;
        if value.first() != Some(&b'{') {
            continue;
        }
        let legacy: LegacyChain = dec("correlations", &value)?;
        for earlier in &legacy.earlier {
            history.insert(history_key(&key, earlier), enc(earlier)?)?;
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
    use super::*;

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

    #[test]
    fn history_prefixes_keep_keys_apart() {
        let sub = SubscriptionId::new();
        let short = history_prefix(&chain_key(sub, "inc-1"));
        let long = history_prefix(&chain_key(sub, "inc-10"));
        assert!(!long.starts_with(&short));
        assert_eq!(chain_key_of(&short), chain_key(sub, "inc-1"));
    }
}
