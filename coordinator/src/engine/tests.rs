//! Engine behaviour against a real sled store and scripted in-process providers (the
//! end-to-end tests with the real webhook plugin live in tests/e2e). Every wait is on the
//! engine's own update stream, with a generous timeout; nothing sleeps to synchronise.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use switchyard_proto::plugin::v1 as pb;
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

use super::*;
use crate::model::{
    AttemptOutcome, AttemptTrigger, Delivery, DeliveryState, DeliveryStatus, NewEvent,
    Subscription, SubscriptionId,
};
use crate::store::SledStore;

const WAIT: Duration = Duration::from_secs(30);

type Answer = Result<pb::DeliverResponse, PluginCallError>;

/// A provider whose answers are scripted; it records every request.
#[derive(Debug)]
struct Fake {
    provider: pb::Provider,
    script: Mutex<VecDeque<Answer>>,
    requests: Mutex<Vec<pb::DeliverRequest>>,
    /// When set, `deliver` waits for a notification before answering.
    gate: Option<Arc<Notify>>,
    migrate: Mutex<Option<pb::MigrateConfigResponse>>,
}

impl Fake {
    fn new(local_id: &str, schema: Value, version: u32) -> Self {
        Self {
            provider: pb::Provider {
                id: local_id.into(),
                config_schema: Some(pb::VersionedSchema {
                    version,
                    json_schema: schema.to_string(),
                }),
                capabilities: Some(pb::Capabilities {
                    migrate_config: true,
                    ..pb::Capabilities::default()
                }),
                ..pb::Provider::default()
            },
            script: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Vec::new()),
            gate: None,
            migrate: Mutex::new(None),
        }
    }

    fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.script.lock().expect("lock").extend(answers);
    }

    fn requests(&self) -> Vec<pb::DeliverRequest> {
        self.requests.lock().expect("lock").clone()
    }
}

fn answer(outcome: pb::Outcome, status: u32, retry_after_ms: Option<u64>) -> Answer {
    Ok(pb::DeliverResponse {
        success: outcome == pb::Outcome::Delivered,
        outcome: outcome as i32,
        status_code: status,
        retry_after_ms,
        error: if outcome == pb::Outcome::Delivered {
            String::new()
        } else {
            format!("HTTP {status}")
        },
        external_id: if outcome == pb::Outcome::Delivered {
            "ext-1".into()
        } else {
            String::new()
        },
        diagnostics: vec![],
        ..Default::default()
    })
}

impl ProviderHandle for Fake {
    fn provider(&self) -> &pb::Provider {
        &self.provider
    }

    fn deliver(&self, req: pb::DeliverRequest) -> BoxFuture<'_, Answer> {
        Box::pin(async move {
            if let Some(gate) = &self.gate {
                gate.notified().await;
            }
            self.requests.lock().expect("lock").push(req);
            let next = self.script.lock().expect("lock").pop_front();
            next.unwrap_or_else(|| answer(pb::Outcome::Delivered, 200, None))
        })
    }

    fn migrate_config(
        &self,
        req: pb::MigrateConfigRequest,
    ) -> BoxFuture<'_, Result<pb::MigrateConfigResponse, PluginCallError>> {
        Box::pin(async move {
            let scripted = self.migrate.lock().expect("lock").clone();
            Ok(scripted.unwrap_or(pb::MigrateConfigResponse {
                version: 2,
                config_json: req.config_json,
                diagnostics: vec![],
            }))
        })
    }
}

#[derive(Debug, Default)]
struct FakeProviders {
    map: Mutex<HashMap<String, Arc<Fake>>>,
}

impl FakeProviders {
    fn add(&self, qualified: &str, fake: Fake) -> Arc<Fake> {
        let fake = Arc::new(fake);
        self.map
            .lock()
            .expect("lock")
            .insert(qualified.into(), Arc::clone(&fake));
        fake
    }
}

impl Providers for FakeProviders {
    fn resolve(&self, qualified_id: &str) -> Option<Arc<dyn ProviderHandle>> {
        let fake = self.map.lock().expect("lock").get(qualified_id).cloned()?;
        Some(fake)
    }
}

fn secret_schema() -> Value {
    json!({"type": "object", "properties": {
        "url": {"type": "string"},
        "token": {"type": "string", "x-secret": true}
    }})
}

fn fast_config() -> EngineConfig {
    EngineConfig {
        retry: RetryPolicy {
            delays: vec![
                Duration::from_millis(20),
                Duration::from_millis(20),
                Duration::from_millis(20),
            ],
            jitter: 0.1,
        },
        ..EngineConfig::default()
    }
}

/// The store an engine test runs on (the tests named in [`on_both_stores`] run on each).
enum Backend {
    Sled,
    Postgres(crate::store::PgTestDb),
}

struct Harness {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    secrets: Arc<Secrets>,
    engine: Engine,
    shutdown: CancellationToken,
    updates: broadcast::Receiver<DeliveryUpdate>,
}

impl Harness {
    async fn start_in(backend: &Backend, providers: Arc<FakeProviders>, cfg: EngineConfig) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn Store> = match backend {
            Backend::Sled => Arc::new(SledStore::open(dir.path()).expect("open")),
            Backend::Postgres(db) => Arc::new(db.open()),
        };
        Self::start_on(dir, store, providers, cfg, |_| {}).await
    }

    async fn start_on(
        dir: tempfile::TempDir,
        store: Arc<dyn Store>,
        providers: Arc<FakeProviders>,
        cfg: EngineConfig,
        before: impl FnOnce(&Arc<dyn Store>),
    ) -> Self {
        let secrets = Arc::new(Secrets::from_key([5; 32]));
        before(&store);
        let shutdown = CancellationToken::new();
        let dyn_providers: Arc<dyn Providers> = providers.clone();
        let engine = Engine::start_with(
            Arc::clone(&store),
            dyn_providers,
            Arc::clone(&secrets),
            cfg,
            shutdown.clone(),
        )
        .await
        .expect("start");
        let updates = engine.watch();
        Self {
            _dir: dir,
            store,
            secrets,
            engine,
            shutdown,
            updates,
        }
    }

    fn subscribe(
        &self,
        provider: &str,
        patterns: &[&str],
        systems: &[&str],
        enabled: bool,
    ) -> Subscription {
        let now = chrono::Utc::now();
        let mut config = json!({"url": "https://example.test/hook", "token": "tok-SECRET"});
        self.secrets
            .encrypt_secrets(&secret_schema(), &mut config)
            .expect("encrypt");
        let sub = Subscription {
            id: SubscriptionId::new(),
            name: "ops".into(),
            description: String::new(),
            provider_id: provider.into(),
            config,
            schema_version: 1,
            event_types: patterns.iter().map(|p| (*p).to_owned()).collect(),
            system_ids: systems.iter().map(|p| (*p).to_owned()).collect(),
            enabled,
            disabled_reason: None,
            retry_policy: None,
            created_at: now,
            updated_at: now,
            rate_limit: None,
        };
        self.store.insert_subscription(&sub).expect("insert");
        sub
    }

    /// Subscribes the webhook provider to every event type, publishes one incident and returns
    /// its one delivery's id.
    async fn subscribe_all_and_publish(&self) -> crate::model::DeliveryId {
        self.subscribe("webhook.webhook", &["*"], &[], true);
        let published = self.publish("incident.incident.created", json!({})).await;
        published.deliveries[0].id
    }

    async fn publish(&self, event_type: &str, payload: Value) -> Published {
        self.engine
            .publish(NewEvent {
                event_type: event_type.into(),
                payload,
                idempotency_key: None,
                timestamp: None,
                correlation_key: None,
            })
            .await
            .expect("publish")
    }

    /// Waits until the delivery reaches `status` (checking the store first).
    async fn wait_status(
        &mut self,
        id: crate::model::DeliveryId,
        status: DeliveryStatus,
    ) -> Delivery {
        let wait = async {
            loop {
                if let Some(d) = self.store.get_delivery(id).expect("get")
                    && d.status() == status
                {
                    return d;
                }
                match self.updates.recv().await {
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => panic!("engine stopped"),
                }
            }
        };
        tokio::time::timeout(WAIT, wait).await.unwrap_or_else(|_| {
            let d = self.store.get_delivery(id).expect("get");
            panic!("delivery never became {status}: {d:?}")
        })
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.engine.stopped())
            .await
            .expect("engine stops");
    }
}

fn providers_with_webhook() -> (Arc<FakeProviders>, Arc<Fake>) {
    let providers = Arc::new(FakeProviders::default());
    let fake = providers.add("webhook.webhook", Fake::new("webhook", secret_schema(), 1));
    (providers, fake)
}

async fn a_published_event_is_delivered_with_the_decrypted_config_in_memory_only(backend: Backend) {
    let (providers, fake) = providers_with_webhook();
    let mut h = Harness::start_in(&backend, providers, fast_config()).await;
    let sub = h.subscribe("webhook.webhook", &["incident.*"], &[], true);
    let published = h
        .publish("incident.incident.created", json!({"incidentId": "i-1"}))
        .await;
    assert_eq!(published.deliveries.len(), 1);
    let id = published.deliveries[0].id;
    let d = h.wait_status(id, DeliveryStatus::Succeeded).await;
    assert_eq!(d.attempts, 1);
    let req = &fake.requests()[0];
    assert_eq!(req.provider_id, "webhook");
    let config: Value = serde_json::from_str(&req.config_json).expect("json");
    assert_eq!(config["token"], "tok-SECRET");
    let ev = req.event.as_ref().expect("event");
    assert_eq!(ev.delivery_id, id.to_string());
    assert_eq!(ev.attempt, 1);
    assert_eq!(
        req.subscription.as_ref().expect("sub").id,
        sub.id.to_string()
    );
    let attempts = h.store.attempts(id).expect("attempts");
    assert_eq!(attempts[0].external_id.as_deref(), Some("ext-1"));
    assert_eq!(attempts[0].trigger, AttemptTrigger::Scheduled);
    h.stop().await;
}

/// The decrypted config is made once per subscription and reused ([`super::call_config`]);
/// a change of the subscription must reach the next attempt all the same.
async fn a_changed_secret_reaches_the_next_delivery(backend: Backend) {
    let (providers, fake) = providers_with_webhook();
    let mut h = Harness::start_in(&backend, providers, fast_config()).await;
    let mut sub = h.subscribe("webhook.webhook", &["incident.*"], &[], true);
    let token = |n: usize, fake: &Fake| -> Value {
        let config: Value = serde_json::from_str(&fake.requests()[n].config_json).expect("json");
        config["token"].clone()
    };
    for n in 0..2 {
        let published = h.publish("incident.incident.created", json!({})).await;
        h.wait_status(published.deliveries[0].id, DeliveryStatus::Succeeded)
            .await;
        assert_eq!(token(n, &fake), "tok-SECRET", "delivery {n}");
    }
    let mut config = json!({"url": "https://example.test/hook", "token": "tok-ROTATED"});
    h.secrets
        .encrypt_secrets(&secret_schema(), &mut config)
        .expect("encrypt");
    sub.config = config;
    sub.updated_at = chrono::Utc::now();
    h.store.update_subscription(&sub).expect("update");
    let published = h.publish("incident.incident.created", json!({})).await;
    let d = h
        .wait_status(published.deliveries[0].id, DeliveryStatus::Succeeded)
        .await;
    assert_eq!(d.attempts, 1);
    assert_eq!(token(2, &fake), "tok-ROTATED");
    h.stop().await;
}

async fn retryable_failures_are_retried_with_the_same_delivery_id_until_success(backend: Backend) {
    let (providers, fake) = providers_with_webhook();
    fake.script([
        answer(pb::Outcome::Retryable, 503, None),
        answer(pb::Outcome::Retryable, 500, None),
    ]);
    let mut h = Harness::start_in(&backend, providers, fast_config()).await;
    let id = h.subscribe_all_and_publish().await;
    let d = h.wait_status(id, DeliveryStatus::Succeeded).await;
    assert_eq!(d.attempts, 3);
    let reqs = fake.requests();
    let ids: Vec<&str> = reqs
        .iter()
        .map(|r| r.event.as_ref().expect("event").delivery_id.as_str())
        .collect();
    assert!(ids.iter().all(|i| *i == id.to_string()));
    let numbers: Vec<u32> = reqs
        .iter()
        .map(|r| r.event.as_ref().expect("event").attempt)
        .collect();
    assert_eq!(numbers, vec![1, 2, 3]);
    let attempts = h.store.attempts(id).expect("attempts");
    assert_eq!(attempts[0].status_code, Some(503));
    assert_eq!(attempts[0].outcome, AttemptOutcome::Retryable);
    assert!(attempts[0].next_attempt_at.is_some());
    h.stop().await;
}

async fn a_permanent_failure_stops_at_once(backend: Backend) {
    let (providers, fake) = providers_with_webhook();
    fake.script([answer(pb::Outcome::Permanent, 404, None)]);
    let mut h = Harness::start_in(&backend, providers, fast_config()).await;
    let id = h.subscribe_all_and_publish().await;
    let d = h.wait_status(id, DeliveryStatus::Failed).await;
    assert_eq!(d.attempts, 1);
    assert!(
        d.last_error
            .as_deref()
            .is_some_and(|e| e.contains("permanent")),
        "{d:?}"
    );
    h.stop().await;
}

async fn retries_exhausted_after_four_attempts_fail_the_delivery(backend: Backend) {
    let (providers, fake) = providers_with_webhook();
    fake.script((0..10).map(|_| answer(pb::Outcome::Retryable, 500, None)));
    let mut h = Harness::start_in(&backend, providers, fast_config()).await;
    let id = h.subscribe_all_and_publish().await;
    let d = h.wait_status(id, DeliveryStatus::Failed).await;
    assert_eq!(d.attempts, 4);
    assert!(
        d.last_error
            .as_deref()
            .is_some_and(|e| e.contains("exhausted")),
        "{d:?}"
    );
    h.stop().await;
}

async fn rate_limited_attempts_do_not_use_up_the_retry_budget(backend: Backend) {
    let (providers, fake) = providers_with_webhook();
    let limited = || answer(pb::Outcome::RateLimited, 429, Some(10));
    fake.script([
        limited(),
        limited(),
        limited(),
        limited(),
        answer(pb::Outcome::Retryable, 503, None),
    ]);
    let cfg = EngineConfig {
        retry: RetryPolicy {
            delays: vec![Duration::from_millis(10)],
            jitter: 0.0,
        },
        ..EngineConfig::default()
    };
    let mut h = Harness::start_in(&backend, providers, cfg).await;
    let id = h.subscribe_all_and_publish().await;
    let d = h.wait_status(id, DeliveryStatus::Succeeded).await;
    assert_eq!(d.attempts, 6);
    assert_eq!(d.budget_used, 1);
    let attempts = h.store.attempts(id).expect("attempts");
    assert_eq!(attempts[0].outcome, AttemptOutcome::RateLimited);
    assert_eq!(attempts[0].retry_after_ms, Some(10));
    h.stop().await;
}

async fn rate_limited_deferrals_end_at_the_delivery_deadline(backend: Backend) {
    let (providers, fake) = providers_with_webhook();
    fake.script((0..50).map(|_| answer(pb::Outcome::RateLimited, 429, Some(60_000))));
    let cfg = EngineConfig {
        delivery_deadline: Duration::from_secs(30),
        ..fast_config()
    };
    let mut h = Harness::start_in(&backend, providers, cfg).await;
    let id = h.subscribe_all_and_publish().await;
    let d = h.wait_status(id, DeliveryStatus::Failed).await;
    assert!(
        d.last_error
            .as_deref()
            .is_some_and(|e| e.contains("deadline")),
        "{d:?}"
    );
    h.stop().await;
}

async fn a_plugin_crash_is_retryable_and_a_vanished_provider_fails_with_the_reason(
    backend: Backend,
) {
    let (providers, fake) = providers_with_webhook();
    fake.script([Err(PluginCallError {
        retryable: true,
        message: "the plugin process exited during the call".into(),
    })]);
    let mut h = Harness::start_in(&backend, providers, fast_config()).await;
    h.subscribe("webhook.webhook", &["*"], &[], true);
    h.subscribe("gone.gone", &["*"], &[], true);
    let published = h.publish("incident.incident.created", json!({})).await;
    assert_eq!(published.deliveries.len(), 2);
    for d in &published.deliveries {
        if d.provider_id == "gone.gone" {
            let done = h.wait_status(d.id, DeliveryStatus::Failed).await;
            assert!(
                done.last_error
                    .as_deref()
                    .is_some_and(|e| e.contains("gone.gone is not available")),
                "{done:?}"
            );
        } else {
            let done = h.wait_status(d.id, DeliveryStatus::Succeeded).await;
            assert_eq!(done.attempts, 2);
        }
    }
    h.stop().await;
}

async fn fan_out_respects_enabled_patterns_system_filter_and_idempotency(backend: Backend) {
    let (providers, _fake) = providers_with_webhook();
    let h = Harness::start_in(&backend, providers, fast_config()).await;
    let wanted = h.subscribe("webhook.webhook", &["incident.*"], &["sys-1"], true);
    h.subscribe("webhook.webhook", &["incident.*"], &[], false);
    h.subscribe("webhook.webhook", &["maintenance.*"], &[], true);
    let by_array = h
        .publish(
            "incident.incident.created",
            json!({"systemIds": ["sys-0", "sys-1"]}),
        )
        .await;
    assert_eq!(by_array.deliveries.len(), 1);
    assert_eq!(by_array.deliveries[0].subscription_id, wanted.id);
    let other = h
        .publish("incident.incident.created", json!({"systemId": "sys-9"}))
        .await;
    assert!(other.deliveries.is_empty());
    let new = || NewEvent {
        event_type: "incident.incident.created".into(),
        payload: json!({"systemId": "sys-1"}),
        idempotency_key: Some("evt-42".into()),
        timestamp: None,
        correlation_key: None,
    };
    let first = h.engine.publish(new()).await.expect("publish");
    let again = h.engine.publish(new()).await.expect("publish again");
    assert!(!first.duplicate && again.duplicate);
    assert_eq!(first.event.id, again.event.id);
    assert_eq!(
        first.deliveries.iter().map(|d| d.id).collect::<Vec<_>>(),
        again.deliveries.iter().map(|d| d.id).collect::<Vec<_>>()
    );
    let big = json!({"blob": "x".repeat(600 * 1024)});
    let err = h
        .engine
        .publish(NewEvent {
            payload: big,
            ..new()
        })
        .await
        .expect_err("too large");
    assert!(matches!(err, EngineError::PayloadTooLarge { .. }));
    h.stop().await;
}

/// Publishes `payloads` concurrently under one idempotency key, in one write round (a long
/// commit window), and returns each answer.
async fn publish_concurrently(
    h: &Harness,
    key: &str,
    payloads: Vec<serde_json::Value>,
) -> Vec<Result<Published, EngineError>> {
    let mut publishes = tokio::task::JoinSet::new();
    for payload in payloads {
        let (engine, key) = (h.engine.clone(), key.to_owned());
        publishes.spawn(async move {
            engine
                .publish(NewEvent {
                    event_type: "incident.incident.created".into(),
                    payload,
                    idempotency_key: Some(key),
                    timestamp: None,
                    correlation_key: None,
                })
                .await
        });
    }
    publishes.join_all().await
}

async fn one_round_harness(backend: &Backend) -> Harness {
    let (providers, _fake) = providers_with_webhook();
    // A long window, so that the concurrent publishes land in one write round.
    let cfg = EngineConfig {
        commit_window: Duration::from_millis(50),
        ..fast_config()
    };
    let h = Harness::start_in(backend, providers, cfg).await;
    h.subscribe("webhook.webhook", &["incident.*"], &[], true);
    h
}

async fn concurrent_publishes_with_one_idempotency_key_create_one_event(backend: Backend) {
    let h = one_round_harness(&backend).await;
    // Retries of one event: same type and payload.
    let retries = vec![json!({"n": 7}); 16];
    let results: Vec<Published> = publish_concurrently(&h, "evt-7", retries)
        .await
        .into_iter()
        .map(|r| r.expect("publish"))
        .collect();
    assert_eq!(results.iter().filter(|p| !p.duplicate).count(), 1);
    let first = results.iter().find(|p| !p.duplicate).expect("one original");
    for p in &results {
        assert_eq!(p.event.id, first.event.id);
        assert_eq!(p.deliveries.len(), 1);
        assert_eq!(p.deliveries[0].id, first.deliveries[0].id);
    }
    let all = h
        .store
        .list_deliveries(&DeliveryFilter::default(), PageRequest::default())
        .expect("list");
    assert_eq!(all.total, 1, "one delivery in the store");
    h.stop().await;
}

async fn concurrent_publishes_of_different_events_under_one_key_create_one_and_refuse_the_rest(
    backend: Backend,
) {
    let h = one_round_harness(&backend).await;
    let results =
        publish_concurrently(&h, "evt-8", (0..8).map(|n| json!({"n": n})).collect()).await;
    let created: Vec<&Published> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(created.len(), 1, "{results:?}");
    assert!(!created[0].duplicate);
    for r in &results {
        if let Err(e) = r {
            assert!(
                matches!(e, EngineError::IdempotencyConflict { differs: "payload", earlier, .. } if *earlier == created[0].event.id),
                "{e:?}"
            );
        }
    }
    h.stop().await;
}

#[tokio::test]
async fn a_publish_whose_flush_fails_is_an_error_and_its_retry_gets_the_same_event() {
    let (providers, _fake) = providers_with_webhook();
    let dir = tempfile::tempdir().expect("tempdir");
    let sled = Arc::new(SledStore::open(dir.path()).expect("open"));
    let store: Arc<dyn Store> = sled.clone();
    let h = Harness::start_on(dir, store, providers, fast_config(), |_| {}).await;
    h.subscribe("webhook.webhook", &["incident.*"], &[], true);
    let new = || NewEvent {
        event_type: "incident.incident.created".into(),
        payload: json!({"incidentId": "i-1"}),
        idempotency_key: Some("evt-flush".into()),
        timestamp: None,
        correlation_key: None,
    };
    sled.fail_flushes(true);
    let err = h.engine.publish(new()).await.expect_err("not durable");
    assert!(
        matches!(err, EngineError::Store(StoreError::NotDurable(ref e)) if e.contains("injected")),
        "{err:?}"
    );
    sled.fail_flushes(false);
    // The client was told it failed, so it retries with its key: the same event, once.
    let again = h.engine.publish(new()).await.expect("publish again");
    assert!(again.duplicate);
    assert_eq!(again.deliveries.len(), 1);
    let all = h
        .store
        .list_deliveries(&DeliveryFilter::default(), PageRequest::default())
        .expect("list");
    assert_eq!(all.total, 1);
    h.stop().await;
}

async fn a_manual_redeliver_appends_a_manual_attempt_and_never_schedules_retries(backend: Backend) {
    let (providers, fake) = providers_with_webhook();
    fake.script([
        answer(pb::Outcome::Permanent, 400, None),
        answer(pb::Outcome::Retryable, 503, None),
    ]);
    let mut h = Harness::start_in(&backend, providers, fast_config()).await;
    let id = h.subscribe_all_and_publish().await;
    h.wait_status(id, DeliveryStatus::Failed).await;
    let started = h.engine.redeliver(id).await.expect("redeliver");
    assert_eq!(started.status(), DeliveryStatus::InFlight);
    let d = h.wait_status(id, DeliveryStatus::Failed).await;
    assert_eq!(d.attempts, 2);
    assert_eq!(d.next_attempt_at(), None);
    h.engine.redeliver(id).await.expect("redeliver again");
    let d = h.wait_status(id, DeliveryStatus::Succeeded).await;
    assert_eq!(d.attempts, 3);
    let triggers: Vec<AttemptTrigger> = h
        .store
        .attempts(id)
        .expect("attempts")
        .iter()
        .map(|a| a.trigger)
        .collect();
    assert_eq!(
        triggers,
        vec![
            AttemptTrigger::Scheduled,
            AttemptTrigger::Manual,
            AttemptTrigger::Manual
        ]
    );
    h.stop().await;
}

async fn a_slow_provider_does_not_delay_deliveries_to_others(backend: Backend) {
    let providers = Arc::new(FakeProviders::default());
    let gate = Arc::new(Notify::new());
    let mut slow = Fake::new("slow", secret_schema(), 1);
    slow.gate = Some(Arc::clone(&gate));
    providers.add("slow.slow", slow);
    providers.add("webhook.webhook", Fake::new("webhook", secret_schema(), 1));
    let cfg = EngineConfig {
        plugin_concurrency: 2,
        ..fast_config()
    };
    let mut h = Harness::start_in(&backend, providers, cfg).await;
    h.subscribe("slow.slow", &["*"], &[], true);
    h.subscribe("webhook.webhook", &["*"], &[], true);
    let mut fast_ids = Vec::new();
    for _ in 0..20 {
        let p = h.publish("incident.incident.created", json!({})).await;
        fast_ids.extend(
            p.deliveries
                .iter()
                .filter(|d| d.provider_id == "webhook.webhook")
                .map(|d| d.id),
        );
    }
    for id in fast_ids {
        h.wait_status(id, DeliveryStatus::Succeeded).await;
    }
    h.shutdown.cancel();
    // Attempts in flight finish before the engine stops; release the stuck ones.
    let releaser = tokio::spawn(async move {
        loop {
            gate.notify_waiters();
            tokio::task::yield_now().await;
        }
    });
    tokio::time::timeout(WAIT, h.engine.stopped())
        .await
        .expect("engine stops");
    releaser.abort();
}

#[tokio::test]
async fn deliveries_in_flight_at_a_crash_are_resumed_at_start() {
    let (providers, fake) = providers_with_webhook();
    let dir = tempfile::tempdir().expect("tempdir");
    let secrets = Secrets::from_key([5; 32]);
    let delivery_id = {
        // A previous run: accepted an event, claimed its delivery, and died before a result.
        let store = SledStore::open(dir.path()).expect("open");
        let sub = sub_v1(&secrets);
        store.insert_subscription(&sub).expect("insert");
        let now = chrono::Utc::now();
        let (event, deliveries) = planned(&sub, &providers, now);
        store.insert_event(&event, &deliveries).expect("insert");
        assert_eq!(store.claim_due(now, 10).expect("claim").len(), 1);
        store.flush().expect("flush");
        deliveries[0].id
    };
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).expect("reopen"));
    // Claims live in memory: after the crash the durable record is simply due again.
    assert_eq!(
        store
            .get_delivery(delivery_id)
            .expect("get")
            .map(|d| d.status()),
        Some(DeliveryStatus::Pending)
    );
    let mut h = Harness::start_on(dir, store, providers, fast_config(), |_| {}).await;
    let d = h.wait_status(delivery_id, DeliveryStatus::Succeeded).await;
    assert_eq!(d.attempts, 1);
    assert_eq!(fake.requests().len(), 1);
    h.stop().await;
}

async fn cancelling_a_subscription_cancels_its_scheduled_deliveries(backend: Backend) {
    let (providers, fake) = providers_with_webhook();
    fake.script([answer(pb::Outcome::Retryable, 503, None)]);
    let cfg = EngineConfig {
        retry: RetryPolicy {
            delays: vec![Duration::from_secs(3600)],
            jitter: 0.0,
        },
        ..EngineConfig::default()
    };
    let mut h = Harness::start_in(&backend, providers, cfg).await;
    let sub = h.subscribe("webhook.webhook", &["*"], &[], true);
    let id = h
        .publish("incident.incident.created", json!({}))
        .await
        .deliveries[0]
        .id;
    h.wait_status(id, DeliveryStatus::Retrying).await;
    assert!(h.store.delete_subscription(sub.id).expect("delete"));
    assert_eq!(
        h.engine
            .cancel_subscription_deliveries(sub.id)
            .await
            .expect("cancel"),
        1
    );
    let d = h.wait_status(id, DeliveryStatus::Cancelled).await;
    assert_eq!(d.next_attempt_at(), None);
    assert_eq!(h.store.next_due().expect("next"), None);
    h.stop().await;
}

fn sub_v1(secrets: &Secrets) -> Subscription {
    let now = chrono::Utc::now();
    let mut config = json!({"url": "https://example.test", "token": "tok-OLD"});
    secrets
        .encrypt_secrets(&secret_schema(), &mut config)
        .expect("encrypt");
    Subscription {
        id: SubscriptionId::new(),
        name: "old".into(),
        description: String::new(),
        provider_id: "webhook.webhook".into(),
        config,
        schema_version: 1,
        event_types: vec!["*".into()],
        system_ids: vec![],
        enabled: true,
        disabled_reason: None,
        retry_policy: None,
        created_at: now,
        updated_at: now,
        rate_limit: None,
    }
}

#[tokio::test]
async fn configs_behind_the_schema_version_are_migrated_and_failures_disable_with_a_reason() {
    let v2 = json!({"type": "object", "required": ["endpoint"], "properties": {
        "endpoint": {"type": "string"},
        "token": {"type": "string", "x-secret": true}
    }});
    let providers = Arc::new(FakeProviders::default());
    let fake = providers.add("webhook.webhook", Fake::new("webhook", v2, 2));
    *fake.migrate.lock().expect("lock") = Some(pb::MigrateConfigResponse {
        version: 2,
        config_json: json!({"endpoint": "https://example.test", "token": "tok-OLD"}).to_string(),
        diagnostics: vec![],
    });
    let secrets = Secrets::from_key([5; 32]);
    let (good, bad) = (sub_v1(&secrets), sub_v1(&secrets));
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).expect("open"));
    store.insert_subscription(&good).expect("insert");
    let h = Harness::start_on(dir, store, Arc::clone(&providers), fast_config(), |_| {}).await;
    let migrated = h
        .store
        .get_subscription(good.id)
        .expect("get")
        .expect("exists");
    assert_eq!(migrated.schema_version, 2);
    assert!(!migrated.config.to_string().contains("tok-OLD"));
    let mut plain = migrated.config.clone();
    h.secrets
        .decrypt_secrets(
            &json!({"properties": {"token": {"x-secret": true}}}),
            &mut plain,
        )
        .expect("decrypt");
    assert_eq!(plain["token"], "tok-OLD");
    h.stop().await;

    *fake.migrate.lock().expect("lock") = Some(pb::MigrateConfigResponse {
        version: 2,
        config_json: String::new(),
        diagnostics: vec![pb::Diagnostic {
            json_path: "/url".into(),
            message: "unknown version".into(),
        }],
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).expect("open"));
    store.insert_subscription(&bad).expect("insert");
    let waiting = retrying_in_an_hour(&*store, &bad, &providers);
    let h = Harness::start_on(dir, store, providers, fast_config(), |_| {}).await;
    // Cancelled at start, not left `retrying` until it is due.
    let cancelled = h.store.get_delivery(waiting).expect("get").expect("kept");
    assert_eq!(
        cancelled.status(),
        DeliveryStatus::Cancelled,
        "{cancelled:?}"
    );
    let disabled = h
        .store
        .get_subscription(bad.id)
        .expect("get")
        .expect("exists");
    assert!(!disabled.enabled);
    let reason = disabled.disabled_reason.clone().expect("reason");
    assert!(
        reason.contains("version 1 to 2") && reason.contains("/url"),
        "{reason}"
    );
    assert_eq!(disabled.config, bad.config, "the stored config is kept");
    h.stop().await;
}

/// Stores an event for `sub` whose one delivery waits in `retrying`, due in an hour.
fn retrying_in_an_hour(
    store: &dyn Store,
    sub: &Subscription,
    providers: &Arc<FakeProviders>,
) -> crate::model::DeliveryId {
    let now = chrono::Utc::now();
    let (event, mut deliveries) = planned(sub, providers, now);
    assert_eq!(deliveries.len(), 1, "the subscription matches the event");
    deliveries[0].state = DeliveryState::Retrying {
        due: now + chrono::Duration::hours(1),
    };
    deliveries[0].attempts = 1;
    store.insert_event(&event, &deliveries).expect("insert");
    deliveries[0].id
}

/// An event of type `a.b.c` received at `now`, with the deliveries fan-out plans for `sub`.
fn planned(
    sub: &Subscription,
    providers: &Arc<FakeProviders>,
    now: chrono::DateTime<chrono::Utc>,
) -> (Event, Vec<Delivery>) {
    let new = NewEvent {
        event_type: "a.b.c".into(),
        payload: json!({}),
        idempotency_key: None,
        timestamp: None,
        correlation_key: None,
    };
    let event = fanout::event(new, now);
    let cache = ProviderCache::new(providers.clone());
    let deliveries = fanout::plan(std::slice::from_ref(sub), &event, &cache, now);
    (event, deliveries)
}

async fn an_open_breaker_defers_without_budget_but_never_past_the_deadline(backend: Backend) {
    let (providers, fake) = providers_with_webhook();
    fake.script([answer(pb::Outcome::Retryable, 500, None)]);
    let cfg = EngineConfig {
        delivery_deadline: Duration::from_secs(3),
        guard: GuardConfig {
            breaker: BreakerConfig {
                min_attempts: 1,
                cool_down: Duration::from_secs(60),
                max_cool_down: Duration::from_secs(60),
                ..BreakerConfig::default()
            },
            auto_disable_after: None,
        },
        ..fast_config()
    };
    let mut h = Harness::start_in(&backend, providers, cfg).await;
    let id = h.subscribe_all_and_publish().await;
    // The first attempt fails and opens the breaker for a minute; its retry, due 20 ms later,
    // would be deferred past the 3 s deadline, so the delivery fails without a second call.
    let d = h.wait_status(id, DeliveryStatus::Failed).await;
    assert_eq!((d.attempts, d.budget_used), (1, 1), "{d:?}");
    let error = d.last_error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with("delivery deadline passed: the circuit breaker was open"),
        "{error}"
    );
    let breaker = h.engine.circuit(d.subscription_id);
    assert!(
        matches!(breaker.state, CircuitState::Open { .. }),
        "{breaker:?}"
    );
    assert_eq!((breaker.window_attempts, breaker.window_failures), (1, 1));
    h.stop().await;
}

/// Runs each named engine test (an `async fn(Backend)`) on sled and on PostgreSQL (skipped
/// without `SWITCHYARD_TEST_PG_URL`).
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod on_sled {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::Sled).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(db) = crate::store::PgTestDb::new() {
                        super::$name(super::Backend::Postgres(db)).await;
                    }
                }
            )*
        }
    };
}

on_both_stores!(
    a_published_event_is_delivered_with_the_decrypted_config_in_memory_only,
    a_changed_secret_reaches_the_next_delivery,
    retryable_failures_are_retried_with_the_same_delivery_id_until_success,
    a_permanent_failure_stops_at_once,
    retries_exhausted_after_four_attempts_fail_the_delivery,
    rate_limited_attempts_do_not_use_up_the_retry_budget,
    rate_limited_deferrals_end_at_the_delivery_deadline,
    a_plugin_crash_is_retryable_and_a_vanished_provider_fails_with_the_reason,
    fan_out_respects_enabled_patterns_system_filter_and_idempotency,
    concurrent_publishes_with_one_idempotency_key_create_one_event,
    concurrent_publishes_of_different_events_under_one_key_create_one_and_refuse_the_rest,
    a_manual_redeliver_appends_a_manual_attempt_and_never_schedules_retries,
    cancelling_a_subscription_cancels_its_scheduled_deliveries,
    a_slow_provider_does_not_delay_deliveries_to_others,
    an_open_breaker_defers_without_budget_but_never_past_the_deadline,
);

#[tokio::test]
async fn a_batch_whose_flush_fails_acknowledges_nothing_and_its_retry_stores_each_event_once() {
    let (providers, _fake) = providers_with_webhook();
    let dir = tempfile::tempdir().expect("tempdir");
    let sled = Arc::new(SledStore::open(dir.path()).expect("open"));
    let store: Arc<dyn Store> = sled.clone();
    let h = Harness::start_on(dir, store, providers, fast_config(), |_| {}).await;
    h.subscribe("webhook.webhook", &["incident.*"], &[], true);
    let batch = || {
        (0..5)
            .map(|n| NewEvent {
                event_type: "incident.incident.created".into(),
                payload: json!({"incidentId": format!("i-{n}")}),
                idempotency_key: Some(format!("evt-batch-{n}")),
                timestamp: None,
                correlation_key: None,
            })
            .collect::<Vec<_>>()
    };
    sled.fail_flushes(true);
    let results = h.engine.publish_many(batch()).await.expect("taken");
    assert_eq!(results.len(), 5);
    for r in &results {
        assert!(
            matches!(r, Err(EngineError::Store(StoreError::NotDurable(_)))),
            "{r:?}"
        );
    }
    sled.fail_flushes(false);
    let again = h.engine.publish_many(batch()).await.expect("taken");
    assert!(again.iter().all(|r| r.as_ref().is_ok_and(|p| p.duplicate)));
    let all = h
        .store
        .list_deliveries(&DeliveryFilter::default(), PageRequest::default())
        .expect("list");
    assert_eq!(all.total, 5, "one delivery per event, none twice");
    h.stop().await;
}

#[tokio::test]
async fn past_the_pending_limit_publishes_are_refused_and_accepted_ones_still_answered() {
    let (providers, _fake) = providers_with_webhook();
    let cfg = EngineConfig {
        storage: super::StorageLimits {
            max_pending_deliveries: Some(2),
            check_interval: Duration::from_secs(3600),
            ..super::StorageLimits::default()
        },
        ..fast_config()
    };
    let h = Harness::start_in(&Backend::Sled, providers, cfg).await;
    h.subscribe("webhook.webhook", &["incident.*"], &[], true);
    let new = |n: u32| NewEvent {
        event_type: "incident.incident.created".into(),
        payload: json!({"n": n}),
        idempotency_key: Some(format!("evt-{n}")),
        timestamp: None,
        correlation_key: None,
    };
    h.engine.publish(new(1)).await.expect("room");
    h.engine.publish(new(2)).await.expect("room");
    // No scan runs meanwhile (an hour apart): the two accepted count as pending.
    let full = h.engine.publish(new(3)).await.expect_err("full");
    assert!(
        matches!(&full, EngineError::StorageFull(m) if m.contains("max_pending_deliveries")),
        "{full:?}"
    );
    let batch = h.engine.publish_many(vec![new(4)]).await;
    assert!(
        matches!(batch, Err(EngineError::StorageFull(_))),
        "{batch:?}"
    );
    let again = h.engine.publish(new(1)).await.expect("a retry is answered");
    assert!(again.duplicate);
    h.stop().await;
}
