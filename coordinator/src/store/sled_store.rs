//! [`SledStore`]: the [`Store`] on an embedded sled database.
//!
//! Trees (tables): `event_types`, `connections`, `subscriptions` (configuration, one key per
//! record, written alone); `events` (the event with the ids of its deliveries), `idempotency`,
//! `deliveries` (each delivery with its attempts), `by_subscription` and `schedule` (delivery
//! state, always written together in one transaction by [`Tx::put_delivery`], which derives the
//! index entries from the record); `correlations` and `chain_history` (the ordered chains of
//! correlated deliveries and what their ended ones left behind, [`chains`], written in the same
//! transactions). Records are JSON. Nothing here flushes except
//! [`Store::flush`].
//!
//! Writes are what costs (about 10 µs per sled insert), so a delivery takes 6 in its life:
//! 4 at publish (event share, delivery, schedule, subscription index) and 2 per attempt result
//! (record with the attempt appended, schedule entry moved or removed). Claiming a due delivery
//! writes nothing: the claim lives in memory and reads show the delivery as `InFlight`, while
//! the durable record stays due — exactly what a crash needs (the next start finds it due).
//! A scan cursor keeps the dispatcher from re-reading claimed entries over and over. The
//! engine writes publishes and attempt results in batches ([`Store::write_batch`]): one
//! transaction per batch, each write checked on its own. A manual
//! claim is written (`InFlight`, due now at the latest), so a crash cannot lose it either.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionError,
    TransactionalTree,
};
use sled::{Transactional, Tree};

mod chains;

use super::keys;
use super::{
    BatchResults, Claimed, InsertEvent, NewEventRecord, Purged, SaveDelivery, Store, StoreError,
    StoreResult,
};
use crate::model::{
    Attempt, Connection, ConnectionId, CorrelatedDelivery, Delivery, DeliveryFilter, DeliveryId,
    DeliveryStatus, Event, EventId, EventType, Page, PageRequest, Stats, Subscription,
    SubscriptionFilter, SubscriptionId, to_millis,
};

/// The scan starts from the beginning of the schedule this often (belt and braces: entries
/// behind the cursor are otherwise reported through `Claims::late`).
const FULL_SCAN_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// An event as stored: with the ids of its deliveries (instead of a separate index).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredEvent {
    event: Event,
    deliveries: Vec<DeliveryId>,
}

/// A delivery as stored: with its attempts (a handful; saves a write per attempt).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredDelivery {
    delivery: Delivery,
    attempts: Vec<Attempt>,
}

/// An event and its deliveries encoded for [`Tx::insert_event`].
struct EncodedEvent {
    event: Vec<u8>,
    deliveries: Vec<StoredDelivery>,
}

impl EncodedEvent {
    fn new(new: &NewEventRecord) -> StoreResult<Self> {
        let stored = StoredEvent {
            event: new.event.clone(),
            deliveries: new.deliveries.iter().map(|d| d.id).collect(),
        };
        Ok(Self {
            event: enc(&stored)?,
            deliveries: new
                .deliveries
                .iter()
                .map(|d| StoredDelivery {
                    delivery: d.clone(),
                    attempts: Vec::new(),
                })
                .collect(),
        })
    }
}

/// What [`Tx::insert_event`] did.
enum Written {
    /// Written; these deliveries wait behind earlier ones of their correlation key.
    Inserted(Vec<DeliveryId>),
    /// The idempotency key was taken by this event id (key bytes of the `events` tree).
    Duplicate(sled::IVec),
}

/// This process's claims: deliveries handed to the engine and not saved since, and where the
/// dispatcher's scan of the schedule resumes.
///
/// The scan resumes at `cursor_ms` (inclusive), so claimed entries behind it are not read
/// again and again. A writer whose new entry lands behind the cursor (its "now" lagged the
/// dispatcher's) reports it in `late` after its commit, under this lock; the next claim takes
/// `late` first. Either the scan saw the entry or the writer reports it: nothing is skipped.
#[derive(Debug)]
struct Claims {
    set: HashSet<DeliveryId>,
    /// The last schedule key the scan looked at.
    cursor: [u8; 24],
    late: Vec<DeliveryId>,
    last_full_scan: Instant,
}

impl Claims {
    /// Records an entry written (or kept) after its commit: one at or behind the cursor will
    /// not be seen by the scan, so it is reported as late.
    fn note_scheduled(&mut self, entries: impl IntoIterator<Item = [u8; 24]>) {
        for key in entries {
            if key <= self.cursor
                && let Some((_, id)) = keys::parse_schedule(&key)
            {
                self.late.push(id);
            }
        }
    }

    /// After a delivery's new state was written: a final or rescheduled delivery is no longer
    /// claimed, and its schedule entry may have landed behind the cursor.
    fn saved(&mut self, delivery: &Delivery) {
        if delivery.status != DeliveryStatus::InFlight {
            self.set.remove(&delivery.id);
        }
        self.note_scheduled(schedule_key(delivery));
    }
}

/// The sled-backed store. Share it behind an `Arc`.
pub struct SledStore {
    db: sled::Db,
    event_types: Tree,
    connections: Tree,
    subscriptions: Tree,
    events: Tree,
    idempotency: Tree,
    deliveries: Tree,
    by_subscription: Tree,
    schedule: Tree,
    correlations: Tree,
    chain_history: Tree,
    /// Snapshot of every subscription for fan-out; `None` after a change.
    subs_cache: Mutex<Option<Arc<[Subscription]>>>,
    /// Event types read so far (every publish looks its type up); cleared on a change.
    event_types_cache: Mutex<std::collections::HashMap<String, EventType>>,
    claims: Mutex<Claims>,
    /// Tests make flushes fail with this, to see what callers are told.
    #[cfg(test)]
    fail_flush: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").finish_non_exhaustive()
    }
}

type TxResult<T> = ConflictableTransactionResult<T, StoreError>;

fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}

fn enc<T: Serialize>(value: &T) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt {
        tree: "(encode)",
        message: e.to_string(),
    })
}

fn dec<T: DeserializeOwned>(tree: &'static str, bytes: &[u8]) -> StoreResult<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        tree,
        message: e.to_string(),
    })
}

fn not_found(kind: &'static str, id: impl ToString) -> StoreError {
    StoreError::NotFound {
        kind,
        id: id.to_string(),
    }
}

/// The schedule key a delivery should have, if any.
fn schedule_key(d: &Delivery) -> Option<[u8; 24]> {
    let scheduled = matches!(
        d.status,
        DeliveryStatus::Pending | DeliveryStatus::Retrying | DeliveryStatus::InFlight
    );
    scheduled
        .then_some(d.next_attempt_at)
        .flatten()
        .map(|due| keys::schedule(due, d.id))
}

/// Opens the sled database. A store dropped in this same process may still hold the
/// directory's lock for a moment (sled's I/O threads finish their last write after the drop), so
/// a lock conflict is retried for up to 2 s; another process holding it still fails (after 2 s).
fn open_db(path: &Path) -> StoreResult<sled::Db> {
    let config = sled::Config::new()
        .path(path)
        .cache_capacity(256 * 1024 * 1024)
        // `Mode::HighThroughput` was measured and did not help (engine bench), so the default
        // `LowSpace` stays.
        // The engine flushes what it must itself (group commit); this bounds how long a
        // configuration write (event types, connections, subscriptions) waits for disk.
        .flush_every_ms(Some(1000));
    let deadline = Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match config.open() {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return Ok(other?),
        }
    }
}

/// The delivery-state trees inside one transaction.
struct Tx<'a> {
    events: &'a TransactionalTree,
    idempotency: &'a TransactionalTree,
    deliveries: &'a TransactionalTree,
    by_subscription: &'a TransactionalTree,
    schedule: &'a TransactionalTree,
    correlations: &'a TransactionalTree,
    chain_history: &'a TransactionalTree,
}

impl Tx<'_> {
    fn delivery(&self, id: DeliveryId) -> TxResult<Option<StoredDelivery>> {
        match self.deliveries.get(id.to_bytes())? {
            Some(v) => Ok(Some(dec("deliveries", &v).map_err(abort)?)),
            None => Ok(None),
        }
    }

    fn existing(&self, id: DeliveryId) -> TxResult<StoredDelivery> {
        self.delivery(id)?
            .ok_or_else(|| abort(not_found("delivery", id)))
    }

    /// Writes `new`, replacing `old`, and moves its index entries to match.
    fn put_delivery(&self, old: Option<&Delivery>, new: &StoredDelivery) -> TxResult<()> {
        let d = &new.delivery;
        let id = d.id.to_bytes();
        let (old_key, new_key) = (old.and_then(schedule_key), schedule_key(d));
        if old_key != new_key {
            if let Some(k) = old_key {
                self.schedule.remove(&k[..])?;
            }
            if let Some(k) = new_key {
                self.schedule.insert(&k[..], &[][..])?;
            }
        }
        if old.is_none() {
            let sub = keys::pair(d.subscription_id.to_bytes(), id);
            self.by_subscription.insert(&sub[..], &[][..])?;
        }
        self.deliveries.insert(&id[..], enc(new).map_err(abort)?)?;
        Ok(())
    }

    /// Checks the status machine and writes one delivery's new state (with its attempt).
    /// `claimed`: this process holds the claim, so the stored status counts as `InFlight`.
    /// The inner `Err` is a refused write (`NotFound`, `Conflict`) that wrote nothing; the outer
    /// one is the transaction's own (sled retries its conflicts; storage errors end it). `Ok`
    /// carries the schedule key of a correlated delivery that the save let go ahead.
    fn save(
        &self,
        delivery: &Delivery,
        attempt: Option<&Attempt>,
        expected: DeliveryStatus,
        claimed: bool,
    ) -> TxResult<Result<Option<[u8; 24]>, StoreError>> {
        let Some(mut stored) = self.delivery(delivery.id)? else {
            return Ok(Err(not_found("delivery", delivery.id)));
        };
        let old = stored.delivery.clone();
        let status = if claimed {
            DeliveryStatus::InFlight
        } else {
            old.status
        };
        if status != expected {
            return Ok(Err(StoreError::Conflict(format!(
                "delivery {} is {status} (expected {expected})",
                delivery.id
            ))));
        }
        if status != delivery.status && !status.can_become(delivery.status) {
            return Ok(Err(StoreError::Conflict(format!(
                "delivery {} cannot go from {status} to {}",
                delivery.id, delivery.status
            ))));
        }
        stored.delivery = delivery.clone();
        stored.attempts.extend(attempt.cloned());
        self.put_delivery(Some(&old), &stored)?;
        Ok(Ok(self.chain_after_save(&stored)?))
    }

    /// Writes an event with its deliveries unless its idempotency key is taken (also by an
    /// event earlier in this transaction).
    fn insert_event(&self, event: &Event, enc: &EncodedEvent) -> TxResult<Written> {
        if let Some(key) = &event.idempotency_key {
            if let Some(id) = self.idempotency.get(key.as_bytes())? {
                return Ok(Written::Duplicate(id));
            }
            self.idempotency
                .insert(key.as_bytes(), &event.id.to_bytes()[..])?;
        }
        self.events
            .insert(&event.id.to_bytes()[..], enc.event.clone())?;
        let mut waiting = Vec::new();
        for r in &enc.deliveries {
            if r.delivery.correlation_key.is_some() {
                let mut r = r.clone();
                if self.join_chain(&mut r)? {
                    waiting.push(r.delivery.id);
                }
                self.put_delivery(None, &r)?;
            } else {
                self.put_delivery(None, r)?;
            }
        }
        Ok(Written::Inserted(waiting))
    }

    /// Removes a final delivery with its index entry.
    fn remove_delivery(&self, d: &Delivery) -> TxResult<()> {
        let id = d.id.to_bytes();
        self.deliveries.remove(&id[..])?;
        self.by_subscription
            .remove(&keys::pair(d.subscription_id.to_bytes(), id)[..])?;
        Ok(())
    }
}

impl SledStore {
    /// Opens (or creates) the database in directory `path`.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let db = open_db(path)?;
        let t = |name: &str| db.open_tree(name);
        let (correlations, chain_history) = (t("correlations")?, t("chain_history")?);
        let migrated = chains::migrate_legacy(&correlations, &chain_history)?;
        if migrated > 0 {
            tracing::info!(
                chains = migrated,
                "rewrote correlation chains in the current layout"
            );
        }
        Ok(Self {
            event_types: t("event_types")?,
            connections: t("connections")?,
            subscriptions: t("subscriptions")?,
            events: t("events")?,
            idempotency: t("idempotency")?,
            deliveries: t("deliveries")?,
            by_subscription: t("by_subscription")?,
            schedule: t("schedule")?,
            correlations,
            chain_history,
            subs_cache: Mutex::new(None),
            event_types_cache: Mutex::new(std::collections::HashMap::new()),
            claims: Mutex::new(Claims {
                set: HashSet::new(),
                cursor: [0; 24],
                late: Vec::new(),
                last_full_scan: Instant::now(),
            }),
            #[cfg(test)]
            fail_flush: std::sync::atomic::AtomicBool::new(false),
            db,
        })
    }

    /// Makes every flush fail (or work again), for tests of what callers are told.
    #[cfg(test)]
    pub(crate) fn fail_flushes(&self, fail: bool) {
        self.fail_flush
            .store(fail, std::sync::atomic::Ordering::SeqCst);
    }

    /// Runs `f` in one transaction over the delivery-state trees.
    fn tx<A>(&self, f: impl Fn(&Tx<'_>) -> TxResult<A>) -> StoreResult<A> {
        let trees = (
            &self.events,
            &self.idempotency,
            &self.deliveries,
            &self.by_subscription,
            &self.schedule,
            &self.correlations,
            &self.chain_history,
        );
        trees
            .transaction(
                |(
                    events,
                    idempotency,
                    deliveries,
                    by_subscription,
                    schedule,
                    correlations,
                    chain_history,
                )| {
                    f(&Tx {
                        events,
                        idempotency,
                        deliveries,
                        by_subscription,
                        schedule,
                        correlations,
                        chain_history,
                    })
                },
            )
            .map_err(|e| match e {
                TransactionError::Abort(e) => e,
                TransactionError::Storage(e) => StoreError::Io(e),
            })
    }

    fn claims(&self) -> std::sync::MutexGuard<'_, Claims> {
        // A panic while holding the lock cannot leave the set inconsistent with the store in a
        // harmful way (at worst a claim is forgotten and the delivery is attempted again).
        self.claims
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn event_types_cache(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, EventType>> {
        // A cache: whatever a panic left behind is still consistent enough to clear or read.
        self.event_types_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn invalidate_subs(&self) {
        if let Ok(mut cache) = self.subs_cache.lock() {
            *cache = None;
        }
    }

    fn get_json<T: DeserializeOwned>(
        tree: &Tree,
        name: &'static str,
        key: &[u8],
    ) -> StoreResult<Option<T>> {
        tree.get(key)?.map(|v| dec(name, &v)).transpose()
    }

    fn all_json<T: DeserializeOwned>(tree: &Tree, name: &'static str) -> StoreResult<Vec<T>> {
        tree.iter()
            .values()
            .map(|v| dec(name, &v?))
            .collect::<StoreResult<Vec<T>>>()
    }

    /// Shows a delivery this process has claimed as `InFlight` (claims are not written).
    fn overlay(&self, mut d: Delivery) -> Delivery {
        if d.status != DeliveryStatus::InFlight && self.claims().set.contains(&d.id) {
            d.status = DeliveryStatus::InFlight;
        }
        d
    }

    fn stored_delivery(&self, id: DeliveryId) -> StoreResult<Option<StoredDelivery>> {
        Self::get_json(&self.deliveries, "deliveries", &id.to_bytes())
    }

    /// Inserts `value` under `key` only if the key is free.
    fn insert_new(
        tree: &Tree,
        kind: &'static str,
        id: String,
        key: &[u8],
        value: Vec<u8>,
    ) -> StoreResult<()> {
        match tree.compare_and_swap(key, None as Option<&[u8]>, Some(value))? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::AlreadyExists { kind, id }),
        }
    }

    /// Replaces the value under `key` only if it exists and did not change meanwhile.
    fn replace(
        tree: &Tree,
        kind: &'static str,
        id: String,
        key: &[u8],
        value: Vec<u8>,
    ) -> StoreResult<()> {
        let old = tree.get(key)?.ok_or_else(|| not_found(kind, &id))?;
        match tree.compare_and_swap(key, Some(old), Some(value))? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::Conflict(format!(
                "{kind} {id} was changed or deleted concurrently; retry"
            ))),
        }
    }

    /// Compare-and-swap loop of the `modify_*` methods: re-reads and re-runs `f` whenever the
    /// record changed between its read and the write.
    fn modify<T: Serialize + DeserializeOwned>(
        tree: &Tree,
        name: &'static str,
        key: &[u8],
        f: &mut dyn FnMut(&T) -> Option<T>,
    ) -> StoreResult<bool> {
        loop {
            let Some(old) = tree.get(key)? else {
                return Ok(false);
            };
            let Some(new) = f(&dec(name, &old)?) else {
                return Ok(false);
            };
            if tree
                .compare_and_swap(key, Some(old), Some(enc(&new)?))?
                .is_ok()
            {
                return Ok(true);
            }
        }
    }

    /// Deliveries of a subscription created in `[lo, hi)` (id bounds), oldest first.
    fn deliveries_of_sub(
        &self,
        sub: SubscriptionId,
        lo: [u8; 16],
        hi: [u8; 16],
    ) -> impl DoubleEndedIterator<Item = StoreResult<Delivery>> + '_ {
        let s = sub.to_bytes();
        self.by_subscription
            .range(keys::pair(s, lo)..keys::pair(s, hi))
            .keys()
            .filter_map(move |k| {
                let k = match k {
                    Ok(k) => k,
                    Err(e) => return Some(Err(e.into())),
                };
                let child = keys::pair_child(&k)?;
                // A missing record means it was purged between the two reads: skip it.
                Self::get_json::<StoredDelivery>(&self.deliveries, "deliveries", &child)
                    .transpose()
                    .map(|r| r.map(|s| self.overlay(s.delivery)))
            })
    }

    fn deliveries_by_id(&self, ids: &[DeliveryId]) -> StoreResult<Vec<Delivery>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(s) = self.stored_delivery(*id)? {
                out.push(self.overlay(s.delivery));
            }
        }
        Ok(out)
    }

    /// Purges one event if all its deliveries are final; returns the deliveries removed, or
    /// `None` if the event was kept.
    fn purge_event(&self, event_key: &[u8]) -> StoreResult<Option<usize>> {
        let Some(stored) = Self::get_json::<StoredEvent>(&self.events, "events", event_key)? else {
            return Ok(None);
        };
        self.tx(|t| {
            let mut finals = Vec::with_capacity(stored.deliveries.len());
            for id in &stored.deliveries {
                match t.delivery(*id)? {
                    Some(cur) if cur.delivery.status.is_final() => finals.push(cur.delivery),
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

    /// The earlier event an idempotency key points to (by its `events` key), with its
    /// deliveries.
    fn duplicate_of(&self, event_key: &[u8]) -> StoreResult<InsertEvent> {
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

    /// Schedule entries due at or before `now` that are not claimed yet, at most `limit`: the
    /// late ones first, then a scan from the cursor, which moves along.
    fn unclaimed_due(
        &self,
        claims: &mut Claims,
        now: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<DeliveryId>> {
        if claims.last_full_scan.elapsed() >= FULL_SCAN_EVERY {
            claims.cursor = [0; 24];
            claims.last_full_scan = Instant::now();
        }
        let mut picked: Vec<DeliveryId> = Vec::new();
        let late = std::mem::take(&mut claims.late);
        for id in late {
            if picked.len() < limit && !claims.set.contains(&id) && !picked.contains(&id) {
                picked.push(id);
            } else if !claims.set.contains(&id) && !picked.contains(&id) {
                claims.late.push(id);
            }
        }
        let start = claims.cursor;
        for key in self.schedule.range(start..keys::schedule_end(now)).keys() {
            if picked.len() >= limit {
                break;
            }
            let key = key?;
            let Some((_, id)) = keys::parse_schedule(&key) else {
                continue;
            };
            if let Ok(k) = <[u8; 24]>::try_from(key.as_ref()) {
                claims.cursor = claims.cursor.max(k);
            }
            if !claims.set.contains(&id) && !picked.contains(&id) {
                picked.push(id);
            }
        }
        Ok(picked)
    }
}

/// The results of a batch whose transaction failed: nothing was written, every write gets the
/// error.
fn fail_all<T>(e: &StoreError, n: usize, tree: &'static str) -> Vec<StoreResult<T>> {
    (0..n)
        .map(|_| {
            Err(match e {
                StoreError::Io(io) => StoreError::Io(io.clone()),
                other => StoreError::Corrupt {
                    tree,
                    message: other.to_string(),
                },
            })
        })
        .collect()
}

/// Whether a delivery passes every field of `filter`.
fn delivery_matches(d: &Delivery, f: &DeliveryFilter) -> bool {
    f.subscription_id.is_none_or(|s| s == d.subscription_id)
        && f.event_type.as_deref().is_none_or(|t| t == d.event_type)
        && f.status.is_none_or(|s| s == d.status)
        && f.from.is_none_or(|from| d.created_at >= from)
        && f.to.is_none_or(|to| d.created_at < to)
}

fn subscription_matches(s: &Subscription, f: &SubscriptionFilter) -> bool {
    f.provider_id.as_deref().is_none_or(|p| p == s.provider_id)
        && f.enabled.is_none_or(|e| e == s.enabled)
        && f.event_type
            .as_deref()
            .is_none_or(|t| s.event_types.iter().any(|p| p == t) || s.matches_event_type(t))
}

impl Store for SledStore {
    fn put_event_type(&self, event_type: &EventType) -> StoreResult<EventType> {
        let key = event_type.id.as_bytes();
        let mut stored = event_type.clone();
        if let Some(old) = Self::get_json::<EventType>(&self.event_types, "event_types", key)? {
            stored.created_at = old.created_at;
        }
        // Under the cache's lock, so that no reader caches the old version after the clear.
        let mut cache = self.event_types_cache();
        self.event_types.insert(key, enc(&stored)?)?;
        cache.clear();
        Ok(stored)
    }

    fn get_event_type(&self, id: &str) -> StoreResult<Option<EventType>> {
        let mut cache = self.event_types_cache();
        if let Some(t) = cache.get(id) {
            return Ok(Some(t.clone()));
        }
        let found: Option<EventType> =
            Self::get_json(&self.event_types, "event_types", id.as_bytes())?;
        if let Some(t) = &found {
            // Types are few; the bound only guards against a flood of distinct ids.
            if cache.len() >= 10_000 {
                cache.clear();
            }
            cache.insert(id.to_owned(), t.clone());
        }
        Ok(found)
    }

    fn list_event_types(&self) -> StoreResult<Vec<EventType>> {
        Self::all_json(&self.event_types, "event_types")
    }

    fn insert_connection(&self, c: &Connection) -> StoreResult<()> {
        Self::insert_new(
            &self.connections,
            "connection",
            c.id.to_string(),
            &c.id.to_bytes(),
            enc(c)?,
        )
    }

    fn update_connection(&self, c: &Connection) -> StoreResult<()> {
        Self::replace(
            &self.connections,
            "connection",
            c.id.to_string(),
            &c.id.to_bytes(),
            enc(c)?,
        )
    }

    fn get_connection(&self, id: ConnectionId) -> StoreResult<Option<Connection>> {
        Self::get_json(&self.connections, "connections", &id.to_bytes())
    }

    fn list_connections(&self, provider_id: Option<&str>) -> StoreResult<Vec<Connection>> {
        let all: Vec<Connection> = Self::all_json(&self.connections, "connections")?;
        Ok(all
            .into_iter()
            .filter(|c| provider_id.is_none_or(|p| p == c.provider_id))
            .collect())
    }

    fn delete_connection(&self, id: ConnectionId) -> StoreResult<bool> {
        Ok(self.connections.remove(id.to_bytes())?.is_some())
    }

    fn modify_connection(
        &self,
        id: ConnectionId,
        f: &mut dyn FnMut(&Connection) -> Option<Connection>,
    ) -> StoreResult<bool> {
        Self::modify(&self.connections, "connections", &id.to_bytes(), f)
    }

    fn insert_subscription(&self, s: &Subscription) -> StoreResult<()> {
        let r = Self::insert_new(
            &self.subscriptions,
            "subscription",
            s.id.to_string(),
            &s.id.to_bytes(),
            enc(s)?,
        );
        self.invalidate_subs();
        r
    }

    fn update_subscription(&self, s: &Subscription) -> StoreResult<()> {
        let r = Self::replace(
            &self.subscriptions,
            "subscription",
            s.id.to_string(),
            &s.id.to_bytes(),
            enc(s)?,
        );
        self.invalidate_subs();
        r
    }

    fn modify_subscription(
        &self,
        id: SubscriptionId,
        f: &mut dyn FnMut(&Subscription) -> Option<Subscription>,
    ) -> StoreResult<bool> {
        let wrote = Self::modify(&self.subscriptions, "subscriptions", &id.to_bytes(), f);
        self.invalidate_subs();
        wrote
    }

    fn get_subscription(&self, id: SubscriptionId) -> StoreResult<Option<Subscription>> {
        Self::get_json(&self.subscriptions, "subscriptions", &id.to_bytes())
    }

    fn delete_subscription(&self, id: SubscriptionId) -> StoreResult<bool> {
        let existed = self.subscriptions.remove(id.to_bytes())?.is_some();
        self.invalidate_subs();
        Ok(existed)
    }

    fn list_subscriptions(
        &self,
        filter: &SubscriptionFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Subscription>> {
        let all = self.subscriptions()?;
        let matching = all
            .iter()
            .filter(|s| subscription_matches(s, filter))
            .cloned();
        Ok(Page::from_filtered(matching, page))
    }

    fn subscriptions(&self) -> StoreResult<Arc<[Subscription]>> {
        if let Ok(cache) = self.subs_cache.lock()
            && let Some(snapshot) = cache.as_ref()
        {
            return Ok(Arc::clone(snapshot));
        }
        let all: Arc<[Subscription]> = Self::all_json(&self.subscriptions, "subscriptions")?.into();
        if let Ok(mut cache) = self.subs_cache.lock() {
            *cache = Some(Arc::clone(&all));
        }
        Ok(all)
    }

    fn insert_event(&self, event: &Event, deliveries: &[Delivery]) -> StoreResult<InsertEvent> {
        let one = NewEventRecord {
            event: event.clone(),
            deliveries: deliveries.to_vec(),
        };
        self.write_batch(std::slice::from_ref(&one), &[])
            .events
            .pop()
            .unwrap_or_else(|| Err(StoreError::Conflict("nothing was written".into())))
    }

    fn get_event(&self, id: EventId) -> StoreResult<Option<Event>> {
        let stored: Option<StoredEvent> = Self::get_json(&self.events, "events", &id.to_bytes())?;
        Ok(stored.map(|s| s.event))
    }

    fn find_by_idempotency_key(&self, key: &str) -> StoreResult<Option<(Event, Vec<Delivery>)>> {
        let Some(id) = self.idempotency.get(key.as_bytes())? else {
            return Ok(None);
        };
        let Some(stored) = Self::get_json::<StoredEvent>(&self.events, "events", &id)? else {
            return Ok(None);
        };
        let deliveries = self.deliveries_by_id(&stored.deliveries)?;
        Ok(Some((stored.event, deliveries)))
    }

    fn event_deliveries(&self, id: EventId) -> StoreResult<Vec<Delivery>> {
        match Self::get_json::<StoredEvent>(&self.events, "events", &id.to_bytes())? {
            Some(stored) => self.deliveries_by_id(&stored.deliveries),
            None => Ok(Vec::new()),
        }
    }

    fn get_delivery(&self, id: DeliveryId) -> StoreResult<Option<Delivery>> {
        Ok(self.stored_delivery(id)?.map(|s| self.overlay(s.delivery)))
    }

    fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Delivery>> {
        let lo = filter.from.map_or([0u8; 16], keys::time_bound);
        let hi = filter.to.map_or([0xffu8; 16], keys::time_bound);
        let raw: Box<dyn Iterator<Item = StoreResult<Delivery>>> = match filter.subscription_id {
            Some(sub) => Box::new(self.deliveries_of_sub(sub, lo, hi).rev()),
            None => Box::new(self.deliveries.range(lo..hi).values().rev().map(|v| {
                dec::<StoredDelivery>("deliveries", &v?).map(|s| self.overlay(s.delivery))
            })),
        };
        let mut error = None;
        let ok = raw.map_while(|r| r.map_err(|e| error = Some(e)).ok());
        let page = Page::from_filtered(ok.filter(|d| delivery_matches(d, filter)), page);
        match error {
            Some(e) => Err(e),
            None => Ok(page),
        }
    }

    fn attempts(&self, id: DeliveryId) -> StoreResult<Vec<Attempt>> {
        Ok(self
            .stored_delivery(id)?
            .map(|s| s.attempts)
            .unwrap_or_default())
    }

    fn stats(&self, since: DateTime<Utc>) -> StoreResult<Stats> {
        let mut stats = Stats {
            since: Some(since),
            ..Stats::default()
        };
        for v in self.deliveries.range(keys::time_bound(since)..).values() {
            let d = self.overlay(dec::<StoredDelivery>("deliveries", &v?)?.delivery);
            stats.overall.add(d.status);
            stats
                .by_event_type
                .entry(d.event_type)
                .or_default()
                .add(d.status);
            stats
                .by_provider
                .entry(d.provider_id)
                .or_default()
                .add(d.status);
        }
        Ok(stats)
    }

    fn claim_due(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Delivery>> {
        let mut claims = self.claims();
        let due = self.unclaimed_due(&mut claims, now, limit)?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        // No write: the claim lives in memory (reads show it as `InFlight`); the durable
        // record stays due, which is exactly what a crash needs.
        let mut claimed = Vec::with_capacity(due.len());
        for id in due {
            let Some(stored) = self.stored_delivery(id)? else {
                continue;
            };
            let mut d = stored.delivery;
            // Compared in whole milliseconds, as the schedule keys are: an entry the scan
            // passed must be claimed now, or the cursor would leave it behind.
            let due = schedule_key(&d).and(d.next_attempt_at).map(to_millis);
            if due.is_none_or(|due| due > to_millis(now)) {
                continue;
            }
            d.status = DeliveryStatus::InFlight;
            claimed.push(d);
        }
        claims.set.extend(claimed.iter().map(|d| d.id));
        Ok(claimed)
    }

    fn claim(&self, id: DeliveryId, now: DateTime<Utc>) -> StoreResult<Claimed> {
        let mut claims = self.claims();
        if claims.set.contains(&id) {
            return Err(StoreError::Conflict(format!(
                "delivery {id} has an attempt in flight; wait for it to finish"
            )));
        }
        let claimed = self.tx(|t| {
            let mut stored = t.existing(id)?;
            let old = stored.delivery.clone();
            let previous_due = schedule_key(&old).and(old.next_attempt_at);
            stored.delivery.status = DeliveryStatus::InFlight;
            stored.delivery.next_attempt_at = Some(previous_due.unwrap_or(now));
            stored.delivery.updated_at = now;
            t.put_delivery(Some(&old), &stored)?;
            Ok(Claimed {
                delivery: stored.delivery,
                previous_status: old.status,
                previous_due,
            })
        })?;
        claims.set.insert(id);
        claims.note_scheduled(schedule_key(&claimed.delivery));
        Ok(claimed)
    }

    fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let claims = self.claims();
        if claims.late.iter().any(|id| !claims.set.contains(id)) {
            let cursor_due = keys::parse_schedule(&claims.cursor).map_or(0, |(due, _)| due);
            return Ok(Some(crate::model::from_millis(cursor_due)));
        }
        // The first unclaimed entry from the cursor on; entries behind it are claimed or late.
        for key in self.schedule.range(claims.cursor..).keys() {
            let key = key?;
            if let Some((due, id)) = keys::parse_schedule(&key)
                && !claims.set.contains(&id)
            {
                return Ok(Some(crate::model::from_millis(due)));
            }
        }
        Ok(None)
    }

    fn save_delivery(
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
        Ok(())
    }

    fn write_batch(&self, events: &[NewEventRecord], saves: &[SaveDelivery]) -> BatchResults {
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

    fn scheduled_of_subscription(&self, id: SubscriptionId) -> StoreResult<Vec<Delivery>> {
        let mut out = Vec::new();
        for d in self.deliveries_of_sub(id, [0u8; 16], [0xffu8; 16]) {
            let d = d?;
            if matches!(
                d.status,
                DeliveryStatus::Pending | DeliveryStatus::Retrying | DeliveryStatus::Waiting
            ) {
                out.push(d);
            }
        }
        Ok(out)
    }

    fn purge_finished(&self, before: DateTime<Utc>) -> StoreResult<Purged> {
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

    fn correlation_history(
        &self,
        subscription: SubscriptionId,
        key: &str,
    ) -> StoreResult<Vec<CorrelatedDelivery>> {
        self.chain_history(subscription, key)
    }

    fn flush(&self) -> StoreResult<()> {
        #[cfg(test)]
        if self.fail_flush.load(std::sync::atomic::Ordering::SeqCst) {
            let injected = std::io::Error::other("injected flush failure");
            return Err(StoreError::Io(sled::Error::Io(injected)));
        }
        self.db.flush()?;
        Ok(())
    }
}
