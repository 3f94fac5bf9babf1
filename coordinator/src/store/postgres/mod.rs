//! [`PgStore`]: the [`Store`] on PostgreSQL, shared by several coordinators.
//!
//! Records are stored as the same JSON bytes sled stores (`body` columns), next to the few
//! columns the queries need (status, due time, ids, correlation key), so fields other parts of
//! the coordinator add to the model flow through without a schema change. Configs stay in
//! their stored, secrets-encrypted form. The schema is versioned and migrated at open, one
//! coordinator at a time ([`schema`]).
//!
//! Several coordinators share the delivery work through leases ([`claims`]): a claim marks a
//! due delivery with the claimer's id, a fresh claim token and a lease expiry (in the
//! database's clock), taken with `FOR UPDATE SKIP LOCKED` so that claimers never wait for each
//! other, and no transaction stays open during the plugin call. A live coordinator renews its
//! leases (heartbeat); a lease that expired returns the delivery to due, and any coordinator
//! takes it. Recording a result is fenced: the save names the claim token it holds, so a
//! coordinator that paused past its lease cannot overwrite the new owner's work (its late
//! result is refused and logged as "late result rejected by the lease fence").
//!
//! What must stay ordered or unique across coordinators is the database's job: idempotency
//! keys are a unique column, a correlation chain is serialized by a transaction-scoped
//! advisory lock on its key ([`writes`]), the retention purge runs under a session advisory
//! lock (one coordinator at a time, [`purge`]). Publishes and promotions notify the other
//! coordinators (LISTEN/NOTIFY, [`listen`]), which wakes their idle dispatchers; config
//! changes invalidate their caches the same way.
//!
//! One module per job: [`bridge`] (the sync trait over the async client), [`schema`],
//! [`records`] (configuration), [`writes`] (publishes, results, chains), [`claims`] (leases),
//! [`reads`], [`purge`], [`listen`]. This file opens the store and maps the [`Store`] trait
//! onto them.

mod bridge;
mod claims;
mod delivery_row;
mod lifecycle;
mod listen;
mod purge;
mod reads;
mod records;
mod schema;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
mod writes;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::Notify;
use tokio_postgres::NoTls;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    Backlog, BatchResults, Claimed, InsertEvent, NewEventRecord, Purged, SaveDelivery, Store,
    StoreError, StoreResult, SubscriptionCancelled,
};
use crate::model::{
    Attempt, Connection, ConnectionId, CorrelatedDelivery, Delivery, DeliveryFilter, DeliveryId,
    DeliveryStatus, Event, EventId, EventType, Page, PageRequest, Stats, Subscription,
    SubscriptionFilter, SubscriptionId,
};

/// How to reach the database and how long a claim lasts.
#[derive(Clone)]
pub struct PgOptions {
    /// `postgres://user:password@host:port/db` or a key-value string (`host=/run/pg
    /// dbname=switchyard`); its password is never logged.
    pub url: String,
    /// How long a claim stays valid without renewal; renewed every third of it.
    pub lease: Duration,
    /// Connections in the pool.
    pub pool_size: usize,
    /// Tests only: the schema to use (`search_path`), so that tests sharing one database
    /// do not see each other's records.
    pub schema: Option<String>,
}

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOptions")
            .field("url", &"********")
            .field("lease", &self.lease)
            .field("pool_size", &self.pool_size)
            .field("schema", &self.schema)
            .finish()
    }
}

/// The PostgreSQL-backed store. Share it behind an `Arc`.
pub struct PgStore {
    bridge: bridge::Bridge,
    pool: Pool,
    /// This coordinator's claimer id (host, pid and a random part: unique per process).
    me: String,
    lease: Duration,
    /// The claims this handle holds (the heartbeat drops those it finds taken over).
    claims: claims::Claims,
    /// The providers whose deliveries this coordinator claims; `None`: all.
    served: RwLock<Option<Vec<String>>>,
    caches: records::Caches,
    /// Fired by the LISTEN task when another coordinator scheduled work.
    wake: Arc<Notify>,
    /// Stops the heartbeat and the LISTEN task.
    stop: CancellationToken,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A driver or pool error as a [`StoreError`].
pub(super) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// The database's clock in milliseconds (leases are measured in it, so that coordinators whose
/// clocks differ agree on when one expired).
pub(super) const DB_NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// A unique claimer id for this process.
fn claimer_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".into());
    let random = Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &random[..8])
}

impl PgStore {
    /// Connects, migrates the schema (under an advisory lock) and starts the lease heartbeat
    /// and the LISTEN task.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the URL does not parse, the database cannot be reached or
    /// the schema is newer than this coordinator knows.
    pub fn open(options: PgOptions) -> StoreResult<Self> {
        let mut config: tokio_postgres::Config = options
            .url
            .parse()
            .map_err(|e| backend(format!("store.url is not a PostgreSQL URL: {e}")))?;
        if let Some(schema) = &options.schema {
            config.options(format!("-c search_path={schema}"));
        }
        config.application_name("switchyard");
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(2))
            .build()
            .map_err(backend)?;
        let bridge = bridge::Bridge::new()?;
        let migrated = bridge.run(schema::migrate(&pool))?;
        if migrated > 0 {
            tracing::info!(migrations = migrated, "migrated the PostgreSQL schema");
        }
        let store = Self {
            me: claimer_id(),
            lease: options.lease,
            claims: claims::Claims::default(),
            served: RwLock::new(None),
            caches: records::Caches::default(),
            wake: Arc::new(Notify::new()),
            stop: CancellationToken::new(),
            pool,
            bridge,
        };
        store.start_background(config);
        tracing::info!(claimer = %store.me, "opened the PostgreSQL store");
        Ok(store)
    }

    fn start_background(&self, config: tokio_postgres::Config) {
        let Some(handle) = self.bridge.handle() else {
            return;
        };
        handle.spawn(claims::heartbeat(
            self.pool.clone(),
            self.me.clone(),
            self.lease,
            Arc::clone(&self.claims),
            self.stop.clone(),
        ));
        handle.spawn(listen::run(
            config,
            Arc::clone(&self.wake),
            self.caches.generation(),
            self.stop.clone(),
        ));
    }

    /// Stops the heartbeat and the LISTEN task, as if this coordinator hung: its leases are
    /// no longer renewed.
    #[cfg(test)]
    pub(crate) fn stop_heartbeat(&self) {
        self.stop.cancel();
    }

    /// This handle's claimer id.
    pub fn claimer(&self) -> &str {
        &self.me
    }

    /// A pooled connection.
    pub(super) async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(backend)
    }

    fn my_claims(&self) -> std::sync::MutexGuard<'_, HashMap<DeliveryId, claims::Held>> {
        claims::lock(&self.claims)
    }

    fn served(&self) -> Option<Vec<String>> {
        self.served
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// A status from its stored name.
pub(super) fn parse_status(name: &str) -> StoreResult<DeliveryStatus> {
    DeliveryStatus::ALL
        .into_iter()
        .find(|s| s.as_str() == name)
        .ok_or_else(|| StoreError::Corrupt {
            tree: "deliveries",
            message: format!("unknown status {name:?}"),
        })
}

// Each call is implemented in the module of its job (see the module doc); `PgStore::name` is
// that inherent method (inherent methods take precedence over the trait's).
impl Store for PgStore {
    fn put_event_type(&self, event_type: &EventType) -> StoreResult<EventType> {
        self.bridge.run(PgStore::put_event_type(self, event_type))
    }

    fn get_event_type(&self, id: &str) -> StoreResult<Option<EventType>> {
        self.bridge.run(PgStore::get_event_type(self, id))
    }

    fn list_event_types(&self) -> StoreResult<Vec<EventType>> {
        self.bridge.run(PgStore::list_event_types(self))
    }

    fn insert_connection(&self, c: &Connection) -> StoreResult<()> {
        self.bridge.run(PgStore::insert_connection(self, c))
    }

    fn update_connection(&self, c: &Connection) -> StoreResult<()> {
        self.bridge.run(PgStore::update_connection(self, c))
    }

    fn get_connection(&self, id: ConnectionId) -> StoreResult<Option<Connection>> {
        self.bridge.run(PgStore::get_connection(self, id))
    }

    fn list_connections(&self, provider_id: Option<&str>) -> StoreResult<Vec<Connection>> {
        self.bridge
            .run(PgStore::list_connections(self, provider_id))
    }

    fn delete_connection(&self, id: ConnectionId) -> StoreResult<bool> {
        self.bridge.run(PgStore::delete_connection(self, id))
    }

    fn modify_connection(
        &self,
        id: ConnectionId,
        f: &mut dyn FnMut(&Connection) -> Option<Connection>,
    ) -> StoreResult<bool> {
        self.bridge.run(PgStore::modify_connection(self, id, f))
    }

    fn insert_subscription(&self, s: &Subscription) -> StoreResult<()> {
        self.bridge.run(PgStore::insert_subscription(self, s))
    }

    fn update_subscription(&self, s: &Subscription) -> StoreResult<()> {
        self.bridge.run(PgStore::update_subscription(self, s))
    }

    fn get_subscription(&self, id: SubscriptionId) -> StoreResult<Option<Subscription>> {
        self.bridge.run(PgStore::get_subscription(self, id))
    }

    fn delete_subscription(&self, id: SubscriptionId) -> StoreResult<bool> {
        self.bridge.run(PgStore::delete_subscription(self, id))
    }

    fn modify_subscription(
        &self,
        id: SubscriptionId,
        f: &mut dyn FnMut(&Subscription) -> Option<Subscription>,
    ) -> StoreResult<bool> {
        self.bridge.run(PgStore::modify_subscription(self, id, f))
    }

    fn list_subscriptions(
        &self,
        filter: &SubscriptionFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Subscription>> {
        let all = Store::subscriptions(self)?;
        let matching = all
            .iter()
            .filter(|s| records::subscription_matches(s, filter))
            .cloned();
        Ok(Page::from_filtered(matching, page))
    }

    fn subscriptions(&self) -> StoreResult<Arc<[Subscription]>> {
        self.bridge.run(PgStore::subscriptions(self))
    }

    fn insert_event(&self, event: &Event, deliveries: &[Delivery]) -> StoreResult<InsertEvent> {
        let one = NewEventRecord {
            event: event.clone(),
            deliveries: deliveries.to_vec(),
        };
        Store::write_batch(self, std::slice::from_ref(&one), &[])
            .events
            .pop()
            .unwrap_or_else(|| Err(StoreError::Conflict("nothing was written".into())))
    }

    fn get_event(&self, id: EventId) -> StoreResult<Option<Event>> {
        self.bridge.run(PgStore::get_event(self, id))
    }

    fn find_by_idempotency_key(&self, key: &str) -> StoreResult<Option<(Event, Vec<Delivery>)>> {
        self.bridge.run(PgStore::find_by_idempotency_key(self, key))
    }

    fn event_deliveries(&self, id: EventId) -> StoreResult<Vec<Delivery>> {
        self.bridge.run(PgStore::event_deliveries(self, id))
    }

    fn get_delivery(&self, id: DeliveryId) -> StoreResult<Option<Delivery>> {
        self.bridge.run(PgStore::get_delivery(self, id))
    }

    fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Delivery>> {
        self.bridge
            .run(PgStore::list_deliveries(self, filter, page))
    }

    fn attempts(&self, id: DeliveryId) -> StoreResult<Vec<Attempt>> {
        self.bridge.run(PgStore::attempts(self, id))
    }

    fn stats(&self, since: DateTime<Utc>) -> StoreResult<Stats> {
        self.bridge.run(PgStore::stats(self, since))
    }

    fn claim_due(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Delivery>> {
        self.bridge.run(PgStore::claim_due(self, now, limit))
    }

    fn claim(&self, id: DeliveryId, now: DateTime<Utc>) -> StoreResult<Claimed> {
        self.bridge.run(PgStore::claim(self, id, now))
    }

    fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        self.bridge.run(PgStore::next_due(self))
    }

    fn save_delivery(
        &self,
        delivery: &Delivery,
        attempt: Option<&Attempt>,
        expected: DeliveryStatus,
    ) -> StoreResult<()> {
        let save = SaveDelivery {
            delivery: delivery.clone(),
            attempt: attempt.cloned(),
            expected,
        };
        Store::write_batch(self, &[], std::slice::from_ref(&save))
            .saves
            .pop()
            .unwrap_or_else(|| Err(StoreError::Conflict("nothing was written".into())))
    }

    fn write_batch(&self, events: &[NewEventRecord], saves: &[SaveDelivery]) -> BatchResults {
        self.bridge.run(PgStore::write_batch(self, events, saves))
    }

    fn correlation_history(
        &self,
        subscription: SubscriptionId,
        key: &str,
    ) -> StoreResult<Vec<CorrelatedDelivery>> {
        self.bridge
            .run(PgStore::correlation_history(self, subscription, key))
    }

    fn scheduled_of_subscription(&self, id: SubscriptionId) -> StoreResult<Vec<Delivery>> {
        self.bridge
            .run(PgStore::scheduled_of_subscription(self, id))
    }

    fn purge_finished(&self, before: DateTime<Utc>) -> StoreResult<Purged> {
        self.bridge.run(PgStore::purge_finished(self, before))
    }

    fn flush(&self) -> StoreResult<()> {
        // Every write is a committed transaction, durable when it returns
        // (`synchronous_commit`, the server's default): nothing is left to flush.
        Ok(())
    }

    fn backlog(&self, now: DateTime<Utc>) -> StoreResult<Backlog> {
        self.bridge.run(PgStore::backlog(self, now))
    }

    fn save_subscription_checked(&self, s: &Subscription, new: bool) -> StoreResult<()> {
        self.bridge
            .run(PgStore::save_subscription_checked(self, s, new))
    }

    fn disable_subscription(
        &self,
        id: SubscriptionId,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SubscriptionCancelled>> {
        self.bridge
            .run(PgStore::disable_subscription(self, id, reason, now))
    }

    fn delete_subscription_cancelling(
        &self,
        id: SubscriptionId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SubscriptionCancelled>> {
        self.bridge
            .run(PgStore::delete_subscription_cancelling(self, id, now))
    }

    fn delete_unused_connection(&self, id: ConnectionId) -> StoreResult<bool> {
        self.bridge.run(PgStore::delete_unused_connection(self, id))
    }

    fn serve_providers(&self, providers: &[String]) {
        *self
            .served
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(providers.to_vec());
    }

    fn wake_signal(&self) -> Option<Arc<Notify>> {
        Some(Arc::clone(&self.wake))
    }

    fn holds_claim(&self, id: DeliveryId) -> bool {
        self.bridge.run(PgStore::holds_claim(self, id))
    }
}
