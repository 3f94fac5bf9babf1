//! Durable state behind a small trait: event types, connections, subscriptions, events,
//! deliveries, attempts, and the time-ordered schedule index the engine pulls due work from.
//!
//! [`Store`] is object-safe so that a shared database can later back several coordinators; the
//! one implementation today is [`SledStore`]. Every state change is atomic (one sled
//! transaction across trees). The store keeps its indexes (schedule, per subscription,
//! idempotency keys) consistent with the records itself, from each delivery's typed state
//! ([`crate::model::DeliveryState`]: the status with its due time), so callers cannot forget one. It never sees
//! tonic, and it only ever holds configs in their stored (secrets-encrypted) form.
//!
//! Writes are not flushed one by one: callers that need durability call [`Store::flush`]. The
//! engine writes what its callers queue meanwhile in one [`Store::write_batch`] and shares one
//! flush among them (group commit).

#[cfg(test)]
mod compat_tests;
mod keys;
pub mod lifecycle;
mod postgres;
mod sled_store;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use lifecycle::SubscriptionCancelled;
#[cfg(test)]
pub(crate) use postgres::testing::TestDb as PgTestDb;
pub use postgres::{PgOptions, PgStore};
pub use sled_store::SledStore;

use crate::model::{
    Attempt, Connection, ConnectionId, CorrelatedDelivery, Delivery, DeliveryFilter, DeliveryId,
    DeliveryState, DeliveryStatus, Event, EventId, EventType, Page, PageRequest, Stats,
    Subscription, SubscriptionFilter, SubscriptionId,
};

/// Errors of the store. `NotFound`/`AlreadyExists`/`Conflict` are about the request; `Io` and
/// `Corrupt` are internal and should be logged, not shown in detail.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record does not exist.
    #[error("{kind} {id} not found")]
    NotFound {
        /// Kind of record, e.g. "subscription".
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// A record with that id already exists.
    #[error("{kind} {id} already exists")]
    AlreadyExists {
        /// Kind of record.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// The record changed under us or the status machine forbids the change (e.g. redelivering a
    /// delivery that is in flight).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database failed.
    #[error("storage error: {0}")]
    Io(#[from] sled::Error),
    /// The write was made but could not be made durable (the flush failed).
    #[error("the write could not be made durable: {0}")]
    NotDurable(String),
    /// The PostgreSQL database failed (connection, query, pool); the message is the
    /// driver's, which never contains the connection URL or its password.
    #[error("database error: {0}")]
    Backend(String),
    /// A connection cannot be deleted while subscriptions use it (they would fail at delivery).
    #[error(
        "connection {connection} is used by subscriptions {}; delete them or point them at \
         another connection first",
        list_ids(subscriptions)
    )]
    ConnectionInUse {
        /// The connection.
        connection: ConnectionId,
        /// The subscriptions whose config names it.
        subscriptions: Vec<SubscriptionId>,
    },
    /// A stored record could not be decoded.
    #[error("corrupt record in {tree}: {message}")]
    Corrupt {
        /// The tree (table) holding it.
        tree: &'static str,
        /// What failed to decode.
        message: String,
    },
}

fn list_ids(ids: &[SubscriptionId]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Result alias for the store.
pub type StoreResult<T> = Result<T, StoreError>;

/// What [`Store::insert_event`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum InsertEvent {
    /// The event and its deliveries were written. The deliveries listed wait (status
    /// `Waiting`, unscheduled) behind an earlier delivery of their correlation key.
    Inserted {
        /// Ids of the deliveries that were written as `Waiting`.
        waiting: Vec<DeliveryId>,
    },
    /// An event with the same idempotency key exists; nothing was written. Carries that event
    /// and its deliveries.
    Duplicate {
        /// The earlier event.
        event: Event,
        /// Its deliveries.
        deliveries: Vec<Delivery>,
    },
}

/// A delivery the engine has taken out of the schedule (now `InFlight`), with the state it had
/// before, so a manual attempt can restore a pending retry.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    /// The delivery, state `InFlight`.
    pub delivery: Delivery,
    /// Its state before the claim (with its due time, if it was scheduled).
    pub previous: DeliveryState,
}

/// One save of [`Store::write_batch`]: a delivery's new state, the attempt that led to it
/// (if any) and the status the stored record must have.
#[derive(Debug, Clone, PartialEq)]
pub struct SaveDelivery {
    /// The delivery's new state.
    pub delivery: Delivery,
    /// The attempt to append, if any.
    pub attempt: Option<Attempt>,
    /// The status the stored delivery must have (`Conflict` otherwise).
    pub expected: DeliveryStatus,
}

/// One new event of [`Store::write_batch`], with its deliveries.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEventRecord {
    /// The event.
    pub event: Event,
    /// Its deliveries, scheduled at their state's due time.
    pub deliveries: Vec<Delivery>,
}

/// What [`Store::write_batch`] did, write by write, in the order given.
#[derive(Debug)]
pub struct BatchResults {
    /// One per event.
    pub events: Vec<StoreResult<InsertEvent>>,
    /// One per save.
    pub saves: Vec<StoreResult<()>>,
}

/// What [`Store::purge_finished`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Events removed (with their payloads).
    pub events: usize,
    /// Deliveries removed (with their attempts).
    pub deliveries: usize,
}

/// The delivery backlog at one moment ([`Store::backlog`]), for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Backlog {
    /// Scheduled deliveries due now and not claimed.
    pub due: usize,
    /// Scheduled deliveries due later.
    pub scheduled: usize,
    /// Claimed deliveries (an attempt in flight).
    pub in_flight: usize,
    /// How long the oldest due delivery has been due, in seconds; 0 when none is.
    pub oldest_due_seconds: f64,
}

/// Durable state of one coordinator. Object-safe; `Arc<dyn Store>` is what the engine and the
/// API hold. All methods are synchronous and fast (no fsync) except [`Store::flush`].
pub trait Store: Send + Sync + std::fmt::Debug {
    // ---- event types ----
    /// Registers an event type, replacing one with the same id (keeps its `created_at`).
    fn put_event_type(&self, event_type: &EventType) -> StoreResult<EventType>;
    /// One event type.
    fn get_event_type(&self, id: &str) -> StoreResult<Option<EventType>>;
    /// Every event type, ordered by id.
    fn list_event_types(&self) -> StoreResult<Vec<EventType>>;

    // ---- connections ----
    /// Stores a new connection (`AlreadyExists` if the id is taken).
    fn insert_connection(&self, connection: &Connection) -> StoreResult<()>;
    /// Replaces a connection (`NotFound` if absent).
    fn update_connection(&self, connection: &Connection) -> StoreResult<()>;
    /// One connection.
    fn get_connection(&self, id: ConnectionId) -> StoreResult<Option<Connection>>;
    /// Connections, optionally of one provider, oldest first.
    fn list_connections(&self, provider_id: Option<&str>) -> StoreResult<Vec<Connection>>;
    /// Deletes a connection; false if it did not exist.
    fn delete_connection(&self, id: ConnectionId) -> StoreResult<bool>;
    /// Rewrites a connection through `f` by compare-and-swap: `f` gets the stored record and
    /// returns its new state, or `None` to leave it. When the record changed between the read
    /// and the write, `f` runs again on the newer one, so a concurrent update is never
    /// overwritten (`f` must only compute). False when nothing was written or it is absent.
    fn modify_connection(
        &self,
        id: ConnectionId,
        f: &mut dyn FnMut(&Connection) -> Option<Connection>,
    ) -> StoreResult<bool>;

    // ---- subscriptions ----
    /// Stores a new subscription (`AlreadyExists` if the id is taken).
    fn insert_subscription(&self, subscription: &Subscription) -> StoreResult<()>;
    /// Replaces a subscription (`NotFound` if absent).
    fn update_subscription(&self, subscription: &Subscription) -> StoreResult<()>;
    /// One subscription.
    fn get_subscription(&self, id: SubscriptionId) -> StoreResult<Option<Subscription>>;
    /// Deletes a subscription (its deliveries stay, for history); false if it did not exist.
    fn delete_subscription(&self, id: SubscriptionId) -> StoreResult<bool>;
    /// Rewrites a subscription through `f` by compare-and-swap, as
    /// [`Store::modify_connection`].
    fn modify_subscription(
        &self,
        id: SubscriptionId,
        f: &mut dyn FnMut(&Subscription) -> Option<Subscription>,
    ) -> StoreResult<bool>;
    /// Subscriptions matching `filter`, oldest first, one page; `total` counts every match.
    fn list_subscriptions(
        &self,
        filter: &SubscriptionFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Subscription>>;
    /// Every subscription, from an in-memory snapshot refreshed on each change (for fan-out).
    fn subscriptions(&self) -> StoreResult<Arc<[Subscription]>>;

    // ---- events and deliveries ----
    /// Atomically stores an event with its deliveries (scheduled at their state's due time),
    /// unless its idempotency key is taken: then nothing is written and the earlier event is
    /// returned.
    fn insert_event(&self, event: &Event, deliveries: &[Delivery]) -> StoreResult<InsertEvent>;
    /// One event.
    fn get_event(&self, id: EventId) -> StoreResult<Option<Event>>;
    /// The event stored under an idempotency key, with its deliveries.
    fn find_by_idempotency_key(&self, key: &str) -> StoreResult<Option<(Event, Vec<Delivery>)>>;
    /// The deliveries of an event.
    fn event_deliveries(&self, id: EventId) -> StoreResult<Vec<Delivery>>;
    /// One delivery.
    fn get_delivery(&self, id: DeliveryId) -> StoreResult<Option<Delivery>>;
    /// Deliveries matching `filter`, newest first, one page; `total` counts every match.
    fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Delivery>>;
    /// The attempts of a delivery, in order.
    fn attempts(&self, id: DeliveryId) -> StoreResult<Vec<Attempt>>;
    /// Counts of deliveries created since `since`, by status, event type and provider.
    fn stats(&self, since: DateTime<Utc>) -> StoreResult<Stats>;

    // ---- engine: scheduling and state changes ----
    /// Claims up to `limit` deliveries due at or before `now` that this store handle has not
    /// claimed yet, and returns them as `InFlight`. The claim is held in memory (reads show the
    /// delivery `InFlight` until its result is saved); the durable record stays due, so a crash
    /// before the result is saved leaves it due for the next start: at-least-once. Cost is
    /// O(claimed), not O(all scheduled).
    fn claim_due(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Delivery>>;
    /// Claims one delivery for a manual attempt, whatever its status, unless this handle has it
    /// claimed already (`Conflict`). A delivery that had no due time gets `now`, so that a crash
    /// during the manual attempt resumes it.
    fn claim(&self, id: DeliveryId, now: DateTime<Utc>) -> StoreResult<Claimed>;
    /// The earliest due time in the schedule, if any.
    fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>>;
    /// Writes a delivery's new state (and appends the attempt that led to it, if any)
    /// atomically, keeping the schedule index in step: a delivery is scheduled exactly when it is
    /// `Pending`, `Retrying` or `InFlight` (the states with a due time). `expected` guards
    /// against races: the stored status must equal it (`Conflict` otherwise). Saving a claimed
    /// delivery in another status than `InFlight` releases the claim. A new due time must not
    /// lie in the past (use `now` instead).
    fn save_delivery(
        &self,
        delivery: &Delivery,
        attempt: Option<&Attempt>,
        expected: DeliveryStatus,
    ) -> StoreResult<()>;
    /// Stores new events with their deliveries (as [`Store::insert_event`]) and saves
    /// deliveries' new states (as [`Store::save_delivery`]), all in one transaction if the store
    /// can: the engine writes whatever its callers queued meanwhile as one batch. Each write is
    /// checked on its own: a refused one (a duplicate idempotency key — also of an event earlier
    /// in the batch —, a conflicting save) does not fail the others. An I/O error fails every
    /// write.
    fn write_batch(&self, events: &[NewEventRecord], saves: &[SaveDelivery]) -> BatchResults {
        BatchResults {
            events: events
                .iter()
                .map(|n| self.insert_event(&n.event, &n.deliveries))
                .collect(),
            saves: saves
                .iter()
                .map(|w| self.save_delivery(&w.delivery, w.attempt.as_ref(), w.expected))
                .collect(),
        }
    }
    /// What the deliveries of `subscription` with correlation `key` that ended left behind,
    /// most recent first (at most [`crate::model::CORRELATION_HISTORY`]).
    fn correlation_history(
        &self,
        subscription: SubscriptionId,
        key: &str,
    ) -> StoreResult<Vec<CorrelatedDelivery>>;
    /// The deliveries of a subscription that are `Pending`, `Retrying` or `Waiting`, oldest
    /// first.
    fn scheduled_of_subscription(&self, id: SubscriptionId) -> StoreResult<Vec<Delivery>>;
    /// Deletes events received before `before` whose deliveries are all final, with their
    /// deliveries, attempts and payloads.
    fn purge_finished(&self, before: DateTime<Utc>) -> StoreResult<Purged>;
    /// Makes every write so far durable (fsync). Slow: share one call among many writers.
    fn flush(&self) -> StoreResult<()>;

    /// Restricts [`Store::claim_due`] and [`Store::next_due`] to deliveries of these providers
    /// (qualified ids): a coordinator that shares its store with others claims only the work
    /// of the plugins it runs. A store that serves one coordinator (sled) ignores it.
    fn serve_providers(&self, _providers: &[String]) {}

    // ---- lifecycles: each one atomic operation ----
    /// Stores `subscription`, new (`new`: `AlreadyExists` if the id is taken) or replacing the
    /// stored one (`NotFound` if absent), only if the connection its config names, if any,
    /// exists (`NotFound` naming the connection otherwise). Atomic with
    /// [`Store::delete_unused_connection`]: a subscription never names a deleted connection.
    fn save_subscription_checked(&self, subscription: &Subscription, new: bool) -> StoreResult<()>;
    /// Disables subscription `id` (`updated_at` = `now`; `reason`, when given, becomes its
    /// disabled reason, else the stored one stays) and cancels its pending, retrying and
    /// waiting deliveries, in one transaction. A delivery claimed meanwhile (in flight) is left
    /// to its attempt. `None` when the subscription does not exist.
    fn disable_subscription(
        &self,
        id: SubscriptionId,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SubscriptionCancelled>>;
    /// Deletes subscription `id` (its deliveries stay, for history) and cancels its pending,
    /// retrying and waiting deliveries, in one transaction, as [`Store::disable_subscription`].
    /// `None` when it does not exist.
    fn delete_subscription_cancelling(
        &self,
        id: SubscriptionId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SubscriptionCancelled>>;
    /// Deletes connection `id` unless a subscription's config names it (`ConnectionInUse`,
    /// naming them), in one operation that no concurrent
    /// [`Store::save_subscription_checked`] can slip into. False when it does not exist.
    fn delete_unused_connection(&self, id: ConnectionId) -> StoreResult<bool>;

    /// Fires when another coordinator sharing the store scheduled work (PostgreSQL
    /// LISTEN/NOTIFY), so an idle dispatcher wakes at once instead of at its next poll. `None`
    /// for a store only this process writes.
    fn wake_signal(&self) -> Option<Arc<tokio::sync::Notify>> {
        None
    }

    /// Whether this handle still holds its claim on `id`: checked just before a plugin call,
    /// so that a coordinator that hung past its lease does not attempt what another one took
    /// over (a lost claim is released). Always true for a store only this process uses.
    fn holds_claim(&self, _id: DeliveryId) -> bool {
        true
    }

    /// The backlog at `now`: a scan of the schedule (O(scheduled deliveries)), for a scrape
    /// now and then, not for the hot path. Deliveries waiting behind an earlier one of their
    /// correlation key are not scheduled, so not counted.
    fn backlog(&self, now: DateTime<Utc>) -> StoreResult<Backlog>;

    /// Bytes of the records the store holds (keys and values), when it can tell; `None` by
    /// default. A store's files may stay larger than this after a purge (sled reuses the space
    /// it frees rather than shrinking its file), so the storage limit asks for it once the data
    /// dir is over its size. A full scan: now and then, never on the hot path.
    fn stored_bytes(&self) -> StoreResult<Option<u64>> {
        Ok(None)
    }
}
