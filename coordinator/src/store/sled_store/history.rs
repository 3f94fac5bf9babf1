//! A correlation chain's history: what its ended deliveries left behind for the later ones
//! (their event types, external ids, provider state, end times), most recent first, at most
//! [`CORRELATION_HISTORY`] entries.
//!
//! `chain_histories` holds one record per chain (key: the chain key, as in `correlations`;
//! its bytes: [`super::history_record`]). An end prepends its entry to the record inside the
//! transaction that writes the delivery ([`Tx::record_history`]), copying the other entries'
//! bytes without decoding them. The layout before kept one record per ended delivery, keyed by
//! chain and end time; those inserts at ever new places were the dearest write of the ordered
//! path (sled splitting and rewriting pages all over the tree: without them the ordered path
//! ran 9–24 % faster), so a chain's history is now one record that is rewritten in place, and
//! [`migrate_per_delivery`] converts the old layout when the store opens.
//!
//! Every attempt of a correlated delivery reads its chain's history, so the history of
//! recently used chains is also kept in memory ([`HistoryCache`]), filled from the store on a
//! miss and kept in step by the writers after each commit.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use sled::Tree;

use super::chains::chain_key;
use super::codec::{abort, dec};
use super::history_record;
use super::tx::Tx;
use super::{SledStore, TxResult};
use crate::model::{Attempt, CORRELATION_HISTORY, CorrelatedDelivery, Delivery, SubscriptionId};
use crate::store::{StoreError, StoreResult};

impl Tx<'_> {
    /// Puts `entry` at the front of its chain's history.
    pub(super) fn record_history(&self, chain: &[u8], entry: &CorrelatedDelivery) -> TxResult<()> {
        let record = self.chain_history.get(chain)?;
        let record = history_record::prepend(record.as_deref(), entry).map_err(abort)?;
        self.chain_history.insert(chain, record)?;
        Ok(())
    }
}

/// A chain's history in [`HistoryCache`].
#[derive(Debug)]
enum Cached {
    /// As stored, most recent first.
    Ready(Vec<CorrelatedDelivery>),
    /// A reader is reading the store for it; what ended meanwhile is noted here, to be merged
    /// into the read's result (the read may or may not have seen it).
    Reading(Vec<CorrelatedDelivery>),
}

/// The history of recently used chains (by chain key).
#[derive(Debug, Default)]
pub(super) struct HistoryCache(Mutex<HashMap<Vec<u8>, Cached>>);

/// Chains kept in [`HistoryCache`]; when full it starts again empty (a miss only costs a read).
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
    /// [`CORRELATION_HISTORY`]. A miss reads the store without holding the cache's lock: the
    /// chain is marked as being read, writers note what ends meanwhile
    /// ([`SledStore::chain_ended`]), and the read's result absorbs it.
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
                // Another reader reads it: read too, without caching.
                Some(Cached::Reading(_)) => false,
                None => {
                    if cache.len() >= CACHED_CHAINS {
                        cache.clear();
                    }
                    cache.insert(chain.clone(), Cached::Reading(Vec::new()));
                    true
                }
            }
        };
        let read = self.read_history(&chain);
        if owner {
            let mut cache = self.history_cache.lock();
            let noted = cache.remove(&chain);
            if let (Ok(history), Some(Cached::Reading(noted))) = (&read, noted) {
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
        read
    }

    fn read_history(&self, chain: &[u8]) -> StoreResult<Vec<CorrelatedDelivery>> {
        match self.chain_history.get(chain)? {
            Some(record) => history_record::decode(&record),
            None => Ok(Vec::new()),
        }
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
        let entry = match (attempt, CorrelatedDelivery::of_ended(d, attempt)) {
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
            Some(Cached::Reading(noted)) => noted.insert(0, entry),
            _ => {}
        }
    }

    /// Forgets the history of every chain that has nothing pending and whose last delivery
    /// ended before `before`: the history of a key outlives its deliveries by the retention,
    /// then goes with them. (A record never holds more than [`CORRELATION_HISTORY`] entries.)
    pub(super) fn purge_chains(&self, before: DateTime<Utc>) -> StoreResult<()> {
        for entry in self.chain_history.iter() {
            let (chain, record) = entry?;
            let old = history_record::newest_end(&record)?.is_none_or(|ended| ended < before);
            if old && !self.pending_index().holds(&chain) {
                self.chain_history.remove(&chain)?;
            }
        }
        self.history_cache.clear();
        Ok(())
    }
}

/// The chain key of a per-delivery layout key (`None` if it is too short to be one): the
/// subscription id (16 bytes), the correlation key's length (2 bytes, so that `inc-1`'s range
/// was not a prefix of `inc-10`'s) and text, then the end time in milliseconds (8 bytes) and
/// the delivery id (16 bytes).
fn chain_of_per_delivery(key: &[u8]) -> Option<Vec<u8>> {
    let prefix = key.get(..key.len().checked_sub(24)?)?;
    let mut chain = prefix.get(..16)?.to_vec();
    chain.extend_from_slice(prefix.get(18..)?);
    Some(chain)
}

/// Converts the per-delivery layout (`old`, oldest first within a chain) into one record per
/// chain in `new`; returns the chains converted. Each chain's record is written before its old
/// entries are removed, so a crash half-way leaves entries that the next start converts again
/// into the same record (nothing else writes before the store has opened).
pub(super) fn migrate_per_delivery(old: &Tree, new: &Tree) -> StoreResult<usize> {
    let mut converted = 0;
    let mut chain: Option<Vec<u8>> = None;
    let mut group: Vec<(sled::IVec, sled::IVec)> = Vec::new();
    for entry in old.iter() {
        let (key, value) = entry?;
        let of = chain_of_per_delivery(&key).ok_or_else(|| StoreError::Corrupt {
            tree: "chain_history",
            message: "a per-delivery key too short".into(),
        })?;
        if chain.as_ref() != Some(&of) {
            converted += convert_group(old, new, chain.as_deref(), &group)?;
            chain = Some(of);
            group.clear();
        }
        group.push((key, value));
    }
    converted += convert_group(old, new, chain.as_deref(), &group)?;
    Ok(converted)
}

fn convert_group(
    old: &Tree,
    new: &Tree,
    chain: Option<&[u8]>,
    group: &[(sled::IVec, sled::IVec)],
) -> StoreResult<usize> {
    let Some(chain) = chain else {
        return Ok(0);
    };
    let newest_first = group
        .iter()
        .rev()
        .take(CORRELATION_HISTORY)
        .map(|(_, value)| dec("chain_history", value))
        .collect::<StoreResult<Vec<CorrelatedDelivery>>>()?;
    new.insert(chain, history_record::encode(&newest_first)?)?;
    for (key, _) in group {
        old.remove(key)?;
    }
    Ok(1)
}

#[cfg(test)]
mod tests {
    use super::super::codec::enc;
    use super::super::history_record::tests::entry;
    use super::*;
    use crate::model::to_millis;

    /// The per-delivery layout's key prefix of a chain (what the layout before wrote).
    fn per_delivery_prefix(chain_key: &[u8]) -> Vec<u8> {
        let (sub, key) = chain_key.split_at(16.min(chain_key.len()));
        let len = u16::try_from(key.len()).unwrap_or(u16::MAX);
        let mut k = Vec::with_capacity(chain_key.len() + 2 + 24);
        k.extend_from_slice(sub);
        k.extend_from_slice(&len.to_be_bytes());
        k.extend_from_slice(key);
        k
    }

    /// The per-delivery layout's key of one entry: its chain's prefix, its end time in
    /// milliseconds and its delivery id.
    fn per_delivery_key(chain_key: &[u8], entry: &CorrelatedDelivery) -> Vec<u8> {
        let mut k = per_delivery_prefix(chain_key);
        k.extend_from_slice(&to_millis(entry.ended_at).to_be_bytes());
        k.extend_from_slice(&entry.delivery_id.to_bytes());
        k
    }

    /// The entries a record of `entries` (oldest first) keeps, newest first.
    fn newest(entries: &[CorrelatedDelivery]) -> Vec<CorrelatedDelivery> {
        entries
            .iter()
            .rev()
            .take(CORRELATION_HISTORY)
            .cloned()
            .collect()
    }

    #[test]
    fn the_per_delivery_layout_is_converted_when_the_store_opens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = SubscriptionId::new();
        let (short, long) = (chain_key(sub, "inc-1"), chain_key(sub, "inc-10"));
        let entries: Vec<_> = (0..25).map(entry).collect();
        {
            let db = sled::open(dir.path()).expect("sled");
            let old = db.open_tree("chain_history").expect("tree");
            for e in &entries {
                old.insert(per_delivery_key(&long, e), enc(e).unwrap())
                    .unwrap();
            }
            old.insert(
                per_delivery_key(&short, &entries[3]),
                enc(&entries[3]).unwrap(),
            )
            .unwrap();
            db.flush().unwrap();
        }
        let store = SledStore::open(dir.path()).expect("open");
        let newest = newest(&entries);
        assert_eq!(store.chain_history(sub, "inc-10").unwrap(), newest);
        assert_eq!(
            store.chain_history(sub, "inc-1").unwrap(),
            [entries[3].clone()]
        );
        assert!(
            !store
                .db
                .tree_names()
                .iter()
                .any(|n| n.as_ref() == b"chain_history")
        );
        // And the converted records take new ends like any other.
        drop(store);
        let store = SledStore::open(dir.path()).expect("reopen");
        assert_eq!(store.chain_history(sub, "inc-10").unwrap(), newest);
    }

    #[test]
    fn per_delivery_prefixes_keep_keys_apart() {
        let sub = SubscriptionId::new();
        let e = entry(1);
        let short = per_delivery_key(&chain_key(sub, "inc-1"), &e);
        let long = per_delivery_key(&chain_key(sub, "inc-10"), &e);
        assert!(!long.starts_with(&per_delivery_prefix(&chain_key(sub, "inc-1"))));
        assert_eq!(chain_of_per_delivery(&short), Some(chain_key(sub, "inc-1")));
    }
}
