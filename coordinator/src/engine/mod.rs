//! The delivery engine: fan-out of published events into deliveries, the dispatcher that pulls
//! due work from the store's schedule index, one task per attempt bounded per plugin and per
//! subscription, retries by the pure policy in [`retry`], crash recovery, retention purges, and
//! config upgrades ([`migrate`]).
//!
//! It depends on `store`, `secrets`, `schema` and (through the [`Providers`] seam) on the
//! plugin host; it never sees the API layer or tonic. Shutdown comes from the caller's
//! `CancellationToken`; the engine cancels only at safe points (waits for work, for a permit,
//! for a retry) and never between a plugin's answer and the durable write of its result.
//!
//! Guarantees: `publish` returns after the event and its deliveries are flushed; an attempt's
//! result is flushed before it counts as settled — before `watch` reports it and its claim is
//! released. Both go through the [`writer`], which writes whatever is queued in one
//! transaction and flushes it once (group commit). Every accepted delivery ends succeeded,
//! failed or cancelled, at least once attempted unless cancelled — deliveries in flight at a
//! crash are resumed at the next start.

mod admission;
mod attempt;
mod batch;
mod breaker;
mod call_config;
mod clock;
mod dispatch;
mod event_cache;
mod fanout;
mod guard;
mod host_adapter;
mod limits;
mod migrate;
pub mod operational;
mod providers;
mod rate_limit;
pub mod retry;
#[cfg(test)]
mod tests;
mod upgrade;
mod writer;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use admission::StorageLimits;
pub use breaker::{BreakerConfig, Snapshot as CircuitSnapshot, State as CircuitState};
pub use clock::Clock;
pub use guard::GuardConfig;
pub use providers::{BoxFuture, PluginCallError, ProviderHandle, Providers};

use crate::model::{
    Attempt, Delivery, DeliveryFilter, DeliveryId, DeliveryState, DeliveryStatus, Event, EventId,
    NewEvent, PageRequest, RetryPolicy, Stats, SubscriptionId,
};
use crate::secrets::Secrets;
use crate::store::{InsertEvent, NewEventRecord, Store, StoreError};
use event_cache::EventCache;
use limits::Limits;
use providers::ProviderCache;
use writer::Writer;

/// Tunables of the engine. Durations are `Duration`s (the config layer parses "250ms").
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// The default retry policy (a subscription's own policy overrides it).
    pub retry: RetryPolicy,
    /// Upper bound for a plugin's retry-after hint.
    pub retry_after_cap: Duration,
    /// How long after its creation a delivery may still be attempted; bounds rate-limited
    /// deferrals (which do not use up the retry budget).
    pub delivery_deadline: Duration,
    /// Concurrent attempts per plugin.
    pub plugin_concurrency: usize,
    /// Concurrent attempts per subscription.
    pub subscription_concurrency: usize,
    /// Deliveries claimed from the store and not yet finished, at most (memory bound).
    pub max_claimed: usize,
    /// Deliveries claimed per dispatcher round.
    pub dispatch_batch: usize,
    /// Finished deliveries and their events are purged after this age.
    pub retention: Duration,
    /// How often the purge runs.
    pub purge_interval: Duration,
    /// Largest accepted payload, in bytes of JSON text.
    pub payload_limit: usize,
    /// Capacity of the `watch()` channel; slow watchers miss updates beyond it (lagged).
    pub watch_capacity: usize,
    /// Group commit: write rounds (one transaction and one flush for whatever publishes and
    /// results are queued) start at most this often. The default, zero, starts a round as soon
    /// as the previous one is done: under load rounds run back to back and grow by themselves,
    /// and a lone publish does not wait (docs/benchmarks.md).
    pub commit_window: Duration,
    /// Per-subscription protection: circuit breaker thresholds and auto-disable.
    pub guard: GuardConfig,
    /// Past these limits publishes are refused ([`EngineError::StorageFull`]).
    pub storage: StorageLimits,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            retry_after_cap: Duration::from_secs(3600),
            delivery_deadline: Duration::from_secs(24 * 3600),
            plugin_concurrency: 64,
            subscription_concurrency: 32,
            max_claimed: 50_000,
            dispatch_batch: 512,
            retention: Duration::from_secs(7 * 24 * 3600),
            purge_interval: Duration::from_secs(3600),
            payload_limit: 512 * 1024,
            watch_capacity: 4096,
            commit_window: Duration::ZERO,
            guard: GuardConfig::default(),
            storage: StorageLimits::default(),
        }
    }
}

/// Errors of the engine's operations.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The payload is larger than the configured limit.
    #[error("the payload is {size} bytes, more than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// Size of the payload's JSON text.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The payload is not a JSON object.
    #[error("the payload must be a JSON object, not {found}")]
    PayloadNotObject {
        /// What it was ("array", "string", ...).
        found: &'static str,
    },
    /// The idempotency key was used before for an event with another type or payload. A
    /// retry must send the same event; a new event needs a new key (Stripe's rule).
    #[error(
        "idempotency_key {key} was already used for event {earlier} with a different {differs}; \
         a retry must send the same event type and payload, a new event needs a new key"
    )]
    IdempotencyConflict {
        /// The key, shortened for display.
        key: String,
        /// The event stored under it.
        earlier: EventId,
        /// What differs: "event type" or "payload".
        differs: &'static str,
    },
    /// A storage limit is reached: the message says which and what to do. Nothing was stored.
    #[error("storage is full: {0}")]
    StorageFull(String),
    /// The engine is shutting down and takes no new work.
    #[error("the coordinator is shutting down")]
    ShuttingDown,
    /// A store error (`NotFound`, `Conflict`, I/O ...).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The result of [`Engine::publish`].
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// The event (the earlier one, for a duplicate).
    pub event: Event,
    /// Its deliveries, one per matching enabled subscription.
    pub deliveries: Vec<Delivery>,
    /// True when the idempotency key was seen before and nothing was created.
    pub duplicate: bool,
}

/// A delivery's new state, broadcast by [`Engine::watch`].
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryUpdate {
    /// The delivery after the change.
    pub delivery: Delivery,
    /// The attempt that caused it, if any.
    pub attempt: Option<Attempt>,
}

/// Shared state of the engine's tasks.
#[derive(Debug)]
struct Inner {
    store: Arc<dyn Store>,
    providers: ProviderCache,
    secrets: Arc<Secrets>,
    cfg: EngineConfig,
    clock: Clock,
    wake: Notify,
    updates: broadcast::Sender<DeliveryUpdate>,
    /// Writes publishes and attempt results in batches, durably ([`writer`]).
    writer: Writer,
    event_cache: EventCache,
    /// Whether storage may take more publishes ([`admission`]).
    admission: admission::Admission,
    limits: Limits,
    /// Rate limits, circuit breakers and auto-disable, per subscription, in memory.
    guard: guard::Guard,
    claimed: Arc<tokio::sync::Semaphore>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    rng: Mutex<StdRng>,
    sub_index: Mutex<SubIndex>,
    /// Decrypted subscription configs as plugins get them ([`call_config`]).
    call_configs: call_config::CallConfigs,
}

/// A subscription inside the store's snapshot (no copy of its config per attempt).
#[derive(Debug, Clone)]
struct SubRef {
    snapshot: Arc<[crate::model::Subscription]>,
    /// A valid index into `snapshot` (made by [`Inner::subscription`] from the same snapshot).
    index: usize,
}

impl std::ops::Deref for SubRef {
    type Target = crate::model::Subscription;

    fn deref(&self) -> &Self::Target {
        &self.snapshot[self.index]
    }
}

/// Subscriptions by id over the store's snapshot, rebuilt when the snapshot changes (saves
/// decoding a subscription from the store twice per attempt).
#[derive(Debug, Default)]
struct SubIndex {
    snapshot: Option<Arc<[crate::model::Subscription]>>,
    by_id: std::collections::HashMap<SubscriptionId, usize>,
}

impl Inner {
    fn publish_update(&self, delivery: &Delivery, attempt: Option<&Attempt>) {
        if self.updates.receiver_count() > 0 {
            let _ = self.updates.send(DeliveryUpdate {
                delivery: delivery.clone(),
                attempt: attempt.cloned(),
            });
        }
    }

    /// The current state of a subscription (`None`: deleted).
    fn subscription(&self, id: SubscriptionId) -> Result<Option<SubRef>, StoreError> {
        let snapshot = self.store.subscriptions()?;
        let mut index = self
            .sub_index
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !index
            .snapshot
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, &snapshot))
        {
            index.by_id = snapshot
                .iter()
                .enumerate()
                .map(|(i, s)| (s.id, i))
                .collect();
            index.snapshot = Some(Arc::clone(&snapshot));
        }
        let found = index.by_id.get(&id).copied();
        Ok(found
            .filter(|&i| i < snapshot.len())
            .map(|index| SubRef { snapshot, index }))
    }

    /// Cancels the pending and retrying deliveries of a subscription that was deleted or
    /// disabled; returns how many. One claimed meanwhile is left to its attempt task, which
    /// sees the subscription's state when it settles.
    fn cancel_scheduled(&self, subscription: SubscriptionId) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let mut n = 0;
        // The waiting ones first: a chain's head cancelled before the deliveries waiting behind
        // it would promote the next (id order alone does not say which is behind within one
        // millisecond).
        let (behind, heads): (Vec<_>, Vec<_>) = self
            .store
            .scheduled_of_subscription(subscription)?
            .into_iter()
            .partition(|d| d.status() == DeliveryStatus::Waiting);
        for d in behind.into_iter().chain(heads) {
            let expected = d.status();
            let d = crate::store::lifecycle::cancelled(&d, now);
            match self.store.save_delivery(&d, None, expected) {
                Ok(()) => {
                    n += 1;
                    self.publish_update(&d, None);
                }
                Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    /// Announces to the watchers the deliveries a store operation cancelled with their
    /// subscription ([`Store::disable_subscription`], [`Store::delete_subscription_cancelling`]).
    fn announce_cancelled(&self, done: &crate::store::SubscriptionCancelled) {
        for d in &done.cancelled {
            self.publish_update(d, None);
        }
    }

    fn policy_for(&self, sub: Option<&crate::model::Subscription>) -> RetryPolicy {
        sub.and_then(|s| s.retry_policy.clone())
            .unwrap_or_else(|| self.cfg.retry.clone())
    }
}

/// Handle to the running engine. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    /// Starts the engine over the plugins of `registry`: upgrades stored configs whose schema
    /// version is older than the provider's ([`migrate`]), resumes deliveries that a crash left
    /// in flight, then starts the dispatcher and the retention purge. Stops when `shutdown` is
    /// cancelled; await [`Engine::stopped`] afterwards.
    pub async fn start(
        store: Arc<dyn Store>,
        registry: crate::host::Registry,
        secrets: Arc<Secrets>,
        cfg: EngineConfig,
        shutdown: CancellationToken,
    ) -> Result<Engine, EngineError> {
        let providers: Arc<dyn Providers> =
            Arc::new(host_adapter::RegistryProviders::new(registry));
        Self::start_with(store, providers, secrets, cfg, shutdown).await
    }

    /// [`Engine::start`] over any [`Providers`] (tests use in-process fakes).
    pub async fn start_with(
        store: Arc<dyn Store>,
        providers: Arc<dyn Providers>,
        secrets: Arc<Secrets>,
        cfg: EngineConfig,
        shutdown: CancellationToken,
    ) -> Result<Engine, EngineError> {
        let (updates, _) = broadcast::channel(cfg.watch_capacity.max(16));
        let inner = Arc::new(Inner {
            writer: Writer::start(Arc::clone(&store), cfg.commit_window),
            event_cache: EventCache::default(),
            admission: admission::Admission::default(),
            limits: Limits::new(cfg.plugin_concurrency, cfg.subscription_concurrency),
            guard: guard::Guard::new(cfg.guard.clone()),
            claimed: Arc::new(tokio::sync::Semaphore::new(cfg.max_claimed.max(1))),
            providers: ProviderCache::new(providers),
            clock: Clock::new(),
            wake: Notify::new(),
            rng: Mutex::new(StdRng::from_os_rng()),
            sub_index: Mutex::new(SubIndex::default()),
            call_configs: call_config::CallConfigs::default(),
            tracker: TaskTracker::new(),
            store,
            secrets,
            cfg,
            updates,
            shutdown,
        });
        operational::register(&inner);
        migrate::upgrade_all(&inner).await;
        admission::measure(&inner);
        inner.tracker.spawn(admission::monitor(Arc::clone(&inner)));
        inner.tracker.spawn(dispatch::run(Arc::clone(&inner)));
        if let Some(signal) = inner.store.wake_signal() {
            inner
                .tracker
                .spawn(dispatch::forward_wakes(Arc::clone(&inner), signal));
        }
        inner
            .tracker
            .spawn(dispatch::purge_loop(Arc::clone(&inner)));
        Ok(Engine { inner })
    }

    /// Accepts an event: one delivery per matching enabled subscription (event type patterns,
    /// system filter, the provider's supported events). Returns once the event and its
    /// deliveries are durable. The same idempotency key again returns the earlier event and
    /// deliveries and creates nothing.
    pub async fn publish(&self, new: NewEvent) -> Result<Published, EngineError> {
        if self.inner.shutdown.is_cancelled() {
            return Err(EngineError::ShuttingDown);
        }
        let subs = self.inner.store.subscriptions()?;
        let (event, deliveries, payload_json) = match self.prepare(new, &subs)? {
            batch::Prepared::Seen(seen) => {
                self.inner.writer.flush().await?;
                return seen.answer();
            }
            batch::Prepared::New(record, payload_json) => {
                (record.event, record.deliveries, payload_json)
            }
        };
        // After the idempotency check: a retry of an accepted event is answered even when full.
        self.inner.admission.check(&self.inner.cfg.storage)?;
        let started = std::time::Instant::now();
        let published = self.record(event, deliveries, payload_json).await;
        crate::observe::metrics::published(started.elapsed().as_secs_f64());
        published
    }

    /// Accepts a test event for one subscription (SendTestEvent): stored like a published
    /// event, but without fan-out, so no other subscription sees it, and without an idempotency
    /// key. Its one delivery is marked as a test, which gives it one attempt, never retried,
    /// even when the subscription is disabled. Returns once both are durable.
    pub async fn send_test(
        &self,
        subscription: &crate::model::Subscription,
        new: NewEvent,
    ) -> Result<Published, EngineError> {
        let inner = &self.inner;
        if inner.shutdown.is_cancelled() {
            return Err(EngineError::ShuttingDown);
        }
        let payload_json = fanout::check_payload(&new.payload, inner.cfg.payload_limit)?;
        let now = inner.clock.now();
        let event = fanout::event(
            NewEvent {
                idempotency_key: None,
                ..new
            },
            now,
        );
        let deliveries = vec![fanout::test_delivery(subscription, &event, now)];
        self.record(event, deliveries, payload_json).await
    }

    /// Writes a new event with its deliveries (durable when it returns), then wakes the
    /// dispatcher and tells the watchers.
    async fn record(
        &self,
        event: Event,
        deliveries: Vec<Delivery>,
        payload_json: String,
    ) -> Result<Published, EngineError> {
        let record = self.cache_for_write(event, deliveries, payload_json);
        let event_id = record.event.id;
        let written = self.inner.writer.publish(record).await;
        self.settle(event_id, written)
    }

    /// Caches the event's payload for its deliveries' first attempts, before the write, so the
    /// dispatcher finds it whenever it claims a delivery.
    fn cache_for_write(
        &self,
        event: Event,
        deliveries: Vec<Delivery>,
        payload_json: String,
    ) -> NewEventRecord {
        self.inner
            .event_cache
            .insert(&event, payload_json, deliveries.len());
        NewEventRecord { event, deliveries }
    }

    /// What a publish of `event_id` answers once the writer has written it: on success the
    /// dispatcher is woken and the watchers told.
    fn settle(
        &self,
        event_id: EventId,
        written: writer::Published,
    ) -> Result<Published, EngineError> {
        let inner = &self.inner;
        let stored = matches!(
            written,
            Ok((_, InsertEvent::Inserted { .. })) | Err(StoreError::NotDurable(_))
        );
        if !stored {
            inner.event_cache.forget(event_id);
        }
        match written? {
            (
                NewEventRecord {
                    event,
                    mut deliveries,
                },
                InsertEvent::Inserted { waiting },
            ) => {
                for d in deliveries.iter_mut().filter(|d| waiting.contains(&d.id)) {
                    d.state = DeliveryState::Waiting;
                }
                inner.wake.notify_one();
                inner.admission.accepted(deliveries.len());
                for d in &deliveries {
                    inner.publish_update(d, None);
                }
                Ok(Published {
                    event,
                    deliveries,
                    duplicate: false,
                })
            }
            (new, InsertEvent::Duplicate { event, deliveries }) => {
                duplicate_of(&new.event.event_type, &new.event.payload, event, deliveries)
            }
        }
    }

    /// Starts a manual attempt of one delivery (whatever its status, unless an attempt is in
    /// flight: `Conflict`). It is appended to the delivery's history; it never schedules
    /// retries, and a pending scheduled retry is kept if it fails. Returns the delivery, now in
    /// flight; the result arrives through [`Engine::watch`] and the attempts list.
    pub async fn redeliver(&self, id: DeliveryId) -> Result<Delivery, EngineError> {
        let inner = &self.inner;
        if inner.shutdown.is_cancelled() {
            return Err(EngineError::ShuttingDown);
        }
        let claimed = inner.store.claim(id, inner.clock.now())?;
        let delivery = claimed.delivery.clone();
        inner.publish_update(&delivery, None);
        let permit = Arc::clone(&inner.claimed).acquire_owned().await.ok();
        inner
            .tracker
            .spawn(attempt::run_manual(Arc::clone(inner), claimed, permit));
        Ok(delivery)
    }

    /// Manually redelivers every failed delivery of a subscription created in `[from, to)`.
    /// Returns the ids of the deliveries started.
    pub async fn bulk_redeliver(
        &self,
        subscription: SubscriptionId,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Vec<DeliveryId>, EngineError> {
        let filter = DeliveryFilter {
            subscription_id: Some(subscription),
            status: Some(DeliveryStatus::Failed),
            from,
            to,
            ..DeliveryFilter::default()
        };
        let mut ids = Vec::new();
        let mut page = PageRequest {
            offset: 0,
            limit: PageRequest::MAX_LIMIT,
        };
        loop {
            let p = self.inner.store.list_deliveries(&filter, page)?;
            ids.extend(p.items.iter().map(|d| d.id));
            match p.next_offset {
                Some(next) => page.offset = next,
                None => break,
            }
        }
        let mut started = Vec::with_capacity(ids.len());
        for id in ids {
            match self.redeliver(id).await {
                Ok(d) => started.push(d.id),
                Err(EngineError::Store(StoreError::Conflict(_) | StoreError::NotFound { .. })) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(started)
    }

    /// Status changes of every delivery, as they happen.
    pub fn watch(&self) -> broadcast::Receiver<DeliveryUpdate> {
        self.inner.updates.subscribe()
    }

    /// Cancels the pending and retrying deliveries of a subscription (call it when the
    /// subscription is deleted or disabled). Attempts in flight finish; they schedule no retry.
    /// Returns how many were cancelled.
    pub async fn cancel_subscription_deliveries(
        &self,
        subscription: SubscriptionId,
    ) -> Result<usize, EngineError> {
        let n = self.inner.cancel_scheduled(subscription)?;
        // Enabled again later, it starts with a closed breaker and no failures held against it.
        self.inner.guard.forget(subscription);
        if self.inner.store.get_subscription(subscription)?.is_none() {
            self.inner.limits.forget_subscription(subscription);
        }
        Ok(n)
    }

    /// Brings the engine's memory in step with a subscription that a store operation disabled
    /// or deleted together with the cancellation of its deliveries: the watchers see the
    /// cancellations, the breaker forgets its failures (enabled again later, it starts closed),
    /// and a deleted subscription's concurrency limits are dropped.
    pub fn subscription_cancelled(
        &self,
        done: &crate::store::SubscriptionCancelled,
        deleted: bool,
    ) {
        self.inner.announce_cancelled(done);
        let id = done.subscription.id;
        self.inner.guard.forget(id);
        if deleted {
            self.inner.limits.forget_subscription(id);
        }
    }

    /// Publishes `switchyard.plugin.crashed` for each crash `reports` tells of, until shutdown.
    pub fn publish_plugin_crashes(
        &self,
        mut reports: broadcast::Receiver<crate::host::PluginCrash>,
    ) {
        let inner = Arc::clone(&self.inner);
        self.inner.tracker.spawn(async move {
            loop {
                let crash = tokio::select! {
                    biased;
                    () = inner.shutdown.cancelled() => break,
                    crash = reports.recv() => crash,
                };
                match crash {
                    Ok(c) => {
                        operational::plugin_crashed(&inner, &c.plugin, Some(c.pid), &c.status, c.at)
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "plugin crash reports missed");
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
    }

    /// The circuit breaker of a subscription on this coordinator (closed when it has seen no
    /// attempt yet).
    pub fn circuit(&self, subscription: SubscriptionId) -> CircuitSnapshot {
        self.inner
            .guard
            .snapshot(subscription, self.inner.clock.now())
    }

    /// Delivery counts over the last `hours` hours, by status, event type and provider.
    pub fn stats(&self, hours: u32) -> Result<Stats, EngineError> {
        let since = self
            .inner
            .clock
            .now()
            .checked_sub_signed(chrono::Duration::hours(i64::from(hours)))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        Ok(self.inner.store.stats(since)?)
    }

    /// The event with its deliveries (convenience for the API).
    pub fn event(&self, id: EventId) -> Result<Option<(Event, Vec<Delivery>)>, EngineError> {
        let store = &self.inner.store;
        match store.get_event(id)? {
            Some(e) => Ok(Some((e, store.event_deliveries(id)?))),
            None => Ok(None),
        }
    }

    /// The store the engine writes to.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The configuration in force.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.cfg
    }

    /// The engine's clock (wall time driven by `tokio::time`).
    pub fn clock(&self) -> Clock {
        self.inner.clock
    }

    /// Waits until every engine task has ended after the shutdown token was cancelled: the
    /// dispatcher has stopped, attempts in flight have written their results, and deliveries
    /// waiting for a permit have been handed back to the schedule.
    pub async fn stopped(&self) {
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
    }
}

/// The answer to a publish whose idempotency key names an earlier event: that event and its
/// deliveries when the retry sends the same event type and payload, else a conflict.
fn duplicate_of(
    event_type: &str,
    payload: &serde_json::Value,
    earlier: Event,
    deliveries: Vec<Delivery>,
) -> Result<Published, EngineError> {
    let differs = if earlier.event_type != event_type {
        Some("event type")
    } else if earlier.payload != *payload {
        Some("payload")
    } else {
        None
    };
    if let Some(differs) = differs {
        return Err(EngineError::IdempotencyConflict {
            key: crate::text::quote(earlier.idempotency_key.as_deref().unwrap_or_default()),
            earlier: earlier.id,
            differs,
        });
    }
    Ok(Published {
        event: earlier,
        deliveries,
        duplicate: true,
    })
}
