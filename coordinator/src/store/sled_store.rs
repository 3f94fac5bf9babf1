//! [`SledStore`]: the [`Store`] on an embedded sled database.
//!
//! Trees (tables): `event_types`, `connections`, `subscriptions` (configuration, one key per
//! record, written alone); `events` (the event with the ids of its deliveries), `idempotency`,
//! `deliveries` (each delivery with its attempts), `by_subscription` and `schedule` (delivery
//! state, always written together in one transaction by [`tx::Tx::put_delivery`], which derives the
//! index entries from the record); `correlations` and `chain_histories` (the ordered chains
//! of correlated deliveries and what their ended ones left behind, [`chains`], [`history`],
//! written in the same transactions). Records are JSON. Nothing here flushes except
//! [`Store::flush`].
//!
//! Writes are what costs (about 10 µs per sled insert), so a delivery takes 6 in its life:
//! 4 at publish (event share, delivery, schedule, subscription index) and 2 per attempt result
//! (record with the attempt appended, schedule entry moved or removed); claiming writes
//! nothing ([`claims`]). A correlated delivery alone in its chain adds one: its end's entry in
//! the chain's history. (Each sled transactional insert also reads its key first, so a write
//! of a new key at a random place costs far more than an append.)
//!
//! One module per job: [`codec`] (records as bytes), [`records`] (configuration), [`tx`]
//! (delivery state in a transaction), [`chains`] (ordered correlated deliveries), with
//! [`pending_index`] (their pending lists in memory) and [`history`] (what ended ones left
//! behind), [`claims`]
//! (claiming due work), [`writes`] (the engine's batched writes), [`reads`] (what the API
//! reads), [`purge`] (retention). This file opens the database and maps the [`Store`] trait
//! onto them.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use sled::Tree;
use sled::transaction::ConflictableTransactionResult;

mod chains;
mod claims;
mod codec;
mod history;
mod history_record;
mod lifecycle;
mod pending_index;
mod purge;
mod reads;
mod records;
mod tx;
mod writes;

use super::{
    Backlog, BatchResults, Claimed, InsertEvent, NewEventRecord, Purged, SaveDelivery, Store,
    StoreError, StoreResult, SubscriptionCancelled,
};
use crate::model::{
    Attempt, Connection, ConnectionId, CorrelatedDelivery, Delivery, DeliveryFilter, DeliveryId,
    DeliveryStatus, Event, EventId, EventType, Page, PageRequest, Stats, Subscription,
    SubscriptionFilter, SubscriptionId,
};
use claims::Claims;

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
    /// The history of recently used chains ([`history`]).
    history_cache: history::HistoryCache,
    /// Every chain's pending deliveries ([`pending_index`]); held across each transaction.
    pending_index: Mutex<pending_index::PendingIndex>,
    /// Snapshot of every subscription for fan-out; `None` after a change.
    subs_cache: Mutex<Option<Arc<[Subscription]>>>,
    /// Event types read so far (every publish looks its type up); cleared on a change.
    event_types_cache: Mutex<std::collections::HashMap<String, EventType>>,
    claims: Mutex<Claims>,
    /// Serializes a subscription's save against a connection's deletion ([`lifecycle`]).
    lifecycle: Mutex<()>,
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

/// Rewrites correlation chains stored in earlier layouts (see [`chains::migrate_legacy`] and
/// [`history::migrate_per_delivery`]); returns how many chains were rewritten.
fn migrate_chains(db: &sled::Db, correlations: &Tree, histories: &Tree) -> StoreResult<usize> {
    const PER_DELIVERY: &str = "chain_history";
    let mut migrated = chains::migrate_legacy(correlations, histories)?;
    if db.tree_names().iter().any(|n| n == PER_DELIVERY.as_bytes()) {
        let per_delivery = db.open_tree(PER_DELIVERY)?;
        migrated += history::migrate_per_delivery(&per_delivery, histories)?;
        drop(per_delivery);
        db.drop_tree(PER_DELIVERY)?;
    }
    Ok(migrated)
}

impl SledStore {
    /// Opens (or creates) the database in directory `path`.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let db = open_db(path)?;
        let t = |name: &str| db.open_tree(name);
        let (correlations, chain_history) = (t("correlations")?, t("chain_histories")?);
        let migrated = migrate_chains(&db, &correlations, &chain_history)?;
        if migrated > 0 {
            tracing::info!(
                chains = migrated,
                "rewrote correlation chains in the current layout"
            );
        }
        let schedule = t("schedule")?;
        let pending_index =
            pending_index::PendingIndex::load(&correlations, &schedule, chains::decode_pending)?;
        Ok(Self {
            event_types: t("event_types")?,
            connections: t("connections")?,
            subscriptions: t("subscriptions")?,
            events: t("events")?,
            idempotency: t("idempotency")?,
            deliveries: t("deliveries")?,
            by_subscription: t("by_subscription")?,
            schedule,
            correlations,
            chain_history,
            history_cache: history::HistoryCache::default(),
            pending_index: Mutex::new(pending_index),
            subs_cache: Mutex::new(None),
            event_types_cache: Mutex::new(std::collections::HashMap::new()),
            claims: Mutex::new(Claims {
                set: HashSet::new(),
                cursor: [0; 24],
                late: Vec::new(),
                last_full_scan: Instant::now(),
            }),
            lifecycle: Mutex::new(()),
            #[cfg(test)]
            fail_flush: std::sync::atomic::AtomicBool::new(false),
            db,
        })
    }

    /// The pending index, locked. Taken after the claims lock where both are held.
    fn pending_index(&self) -> std::sync::MutexGuard<'_, pending_index::PendingIndex> {
        // Applied only after a commit, so whatever a panic interrupted is the committed state.
        self.pending_index
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes every flush fail (or work again), for tests of what callers are told.
    #[cfg(test)]
    pub(crate) fn fail_flushes(&self, fail: bool) {
        self.fail_flush
            .store(fail, std::sync::atomic::Ordering::SeqCst);
    }
}

// Each call is implemented in the module of its job (see the module doc); `SledStore::name`
// is that inherent method (inherent methods take precedence over the trait's).
impl Store for SledStore {
    fn put_event_type(&self, event_type: &EventType) -> StoreResult<EventType> {
        SledStore::put_event_type(self, event_type)
    }

    fn get_event_type(&self, id: &str) -> StoreResult<Option<EventType>> {
        SledStore::get_event_type(self, id)
    }

    fn list_event_types(&self) -> StoreResult<Vec<EventType>> {
        SledStore::list_event_types(self)
    }

    fn insert_connection(&self, c: &Connection) -> StoreResult<()> {
        SledStore::insert_connection(self, c)
    }

    fn update_connection(&self, c: &Connection) -> StoreResult<()> {
        SledStore::update_connection(self, c)
    }

    fn get_connection(&self, id: ConnectionId) -> StoreResult<Option<Connection>> {
        SledStore::get_connection(self, id)
    }

    fn list_connections(&self, provider_id: Option<&str>) -> StoreResult<Vec<Connection>> {
        SledStore::list_connections(self, provider_id)
    }

    fn delete_connection(&self, id: ConnectionId) -> StoreResult<bool> {
        SledStore::delete_connection(self, id)
    }

    fn modify_connection(
        &self,
        id: ConnectionId,
        f: &mut dyn FnMut(&Connection) -> Option<Connection>,
    ) -> StoreResult<bool> {
        SledStore::modify_connection(self, id, f)
    }

    fn insert_subscription(&self, s: &Subscription) -> StoreResult<()> {
        SledStore::insert_subscription(self, s)
    }

    fn update_subscription(&self, s: &Subscription) -> StoreResult<()> {
        SledStore::update_subscription(self, s)
    }

    fn modify_subscription(
        &self,
        id: SubscriptionId,
        f: &mut dyn FnMut(&Subscription) -> Option<Subscription>,
    ) -> StoreResult<bool> {
        SledStore::modify_subscription(self, id, f)
    }

    fn get_subscription(&self, id: SubscriptionId) -> StoreResult<Option<Subscription>> {
        SledStore::get_subscription(self, id)
    }

    fn delete_subscription(&self, id: SubscriptionId) -> StoreResult<bool> {
        SledStore::delete_subscription(self, id)
    }

    fn list_subscriptions(
        &self,
        filter: &SubscriptionFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Subscription>> {
        SledStore::list_subscriptions(self, filter, page)
    }

    fn subscriptions(&self) -> StoreResult<Arc<[Subscription]>> {
        SledStore::subscriptions(self)
    }

    fn insert_event(&self, event: &Event, deliveries: &[Delivery]) -> StoreResult<InsertEvent> {
        SledStore::insert_event(self, event, deliveries)
    }

    fn get_event(&self, id: EventId) -> StoreResult<Option<Event>> {
        SledStore::get_event(self, id)
    }

    fn find_by_idempotency_key(&self, key: &str) -> StoreResult<Option<(Event, Vec<Delivery>)>> {
        SledStore::find_by_idempotency_key(self, key)
    }

    fn event_deliveries(&self, id: EventId) -> StoreResult<Vec<Delivery>> {
        SledStore::event_deliveries(self, id)
    }

    fn get_delivery(&self, id: DeliveryId) -> StoreResult<Option<Delivery>> {
        SledStore::get_delivery(self, id)
    }

    fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Delivery>> {
        SledStore::list_deliveries(self, filter, page)
    }

    fn attempts(&self, id: DeliveryId) -> StoreResult<Vec<Attempt>> {
        SledStore::attempts(self, id)
    }

    fn stats(&self, since: DateTime<Utc>) -> StoreResult<Stats> {
        SledStore::stats(self, since)
    }

    fn claim_due(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Delivery>> {
        SledStore::claim_due(self, now, limit)
    }

    fn claim(&self, id: DeliveryId, now: DateTime<Utc>) -> StoreResult<Claimed> {
        SledStore::claim(self, id, now)
    }

    fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        SledStore::next_due(self)
    }

    fn save_delivery(
        &self,
        delivery: &Delivery,
        attempt: Option<&Attempt>,
        expected: DeliveryStatus,
    ) -> StoreResult<()> {
        SledStore::save_delivery(self, delivery, attempt, expected)
    }

    fn write_batch(&self, events: &[NewEventRecord], saves: &[SaveDelivery]) -> BatchResults {
        SledStore::write_batch(self, events, saves)
    }

    fn scheduled_of_subscription(&self, id: SubscriptionId) -> StoreResult<Vec<Delivery>> {
        SledStore::scheduled_of_subscription(self, id)
    }

    fn purge_finished(&self, before: DateTime<Utc>) -> StoreResult<Purged> {
        SledStore::purge_finished(self, before)
    }

    fn correlation_history(
        &self,
        subscription: SubscriptionId,
        key: &str,
    ) -> StoreResult<Vec<CorrelatedDelivery>> {
        self.chain_history(subscription, key)
    }

    fn backlog(&self, now: DateTime<Utc>) -> StoreResult<Backlog> {
        SledStore::backlog(self, now)
    }

    fn save_subscription_checked(&self, s: &Subscription, new: bool) -> StoreResult<()> {
        SledStore::save_subscription_checked(self, s, new)
    }

    fn disable_subscription(
        &self,
        id: SubscriptionId,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SubscriptionCancelled>> {
        SledStore::disable_subscription(self, id, reason, now)
    }

    fn delete_subscription_cancelling(
        &self,
        id: SubscriptionId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SubscriptionCancelled>> {
        SledStore::delete_subscription_cancelling(self, id, now)
    }

    fn delete_unused_connection(&self, id: ConnectionId) -> StoreResult<bool> {
        SledStore::delete_unused_connection(self, id)
    }

    fn stored_bytes(&self) -> StoreResult<Option<u64>> {
        let mut total = 0u64;
        for name in self.db.tree_names() {
            for entry in self.db.open_tree(name)?.iter() {
                let (k, v) = entry?;
                total = total.saturating_add((k.len() + v.len()) as u64);
            }
        }
        Ok(Some(total))
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
