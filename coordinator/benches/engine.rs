//! Engine benchmarks (not timed tests), run in release mode:
//!
//! ```text
//! cargo bench -p switchyard --bench engine -- due          # cost of finding due work
//! cargo bench -p switchyard --bench engine -- throughput   # publish → deliver → record
//! cargo bench -p switchyard --bench engine -- ops          # cost per store operation
//! ```
//!
//! `BENCH_COMMIT_WINDOW_MS` overrides the group-commit window for `throughput` experiments.
//!
//! `due`: a store holding 1,000 and then 1,000,000 scheduled retries (due hours ahead) plus
//! 10 that are due now; the median over repeated runs of claiming the due ones, and of reading
//! the next due time. `throughput`: the engine over a real sled store with an in-process
//! provider that answers at once, so the figure is the engine's own ceiling (publish with
//! group commit, fan-out, dispatch, attempt records); the plugin round trip is measured by the
//! end-to-end benchmark. Figures go to docs/benchmarks.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use switchyard::engine::{
    BoxFuture, DeliveryUpdate, Engine, EngineConfig, PluginCallError, ProviderHandle, Providers,
};
use switchyard::model::{
    Delivery, DeliveryId, DeliveryState, DeliveryStatus, Event, EventId, NewEvent, Subscription,
    SubscriptionId,
};
use switchyard::secrets::Secrets;
use switchyard::store::{SaveDelivery, SledStore, Store};
use switchyard_proto::plugin::v1 as pb;
use tokio_util::sync::CancellationToken;

/// `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it, in the
/// debug profile, where only a smoke run with tiny sizes makes sense.
fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let all = args.is_empty();
    if all || args.iter().any(|a| a == "due") {
        due_work();
    }
    if args.iter().any(|a| a == "ops") {
        store_ops();
    }
    if all || args.iter().any(|a| a == "throughput") {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(throughput());
    }
}

// ---------------------------------------------------------------- due work

fn delivery_for(event: &Event, state: DeliveryState) -> Delivery {
    Delivery {
        id: DeliveryId::new_at(event.received_at),
        event_id: event.id,
        event_type: event.event_type.clone(),
        subscription_id: SubscriptionId::new(),
        provider_id: "webhook.webhook".into(),
        state,
        attempts: 1,
        budget_used: 1,
        last_error: Some("HTTP 503".into()),
        created_at: event.received_at,
        updated_at: event.received_at,
        test: false,
        correlation_key: None,
    }
}

fn event_now() -> Event {
    let now = Utc::now();
    Event {
        id: EventId::new_at(now),
        event_type: "incident.incident.created".into(),
        payload: json!({"incidentId": "i-1", "systemIds": ["sys-1"]}),
        idempotency_key: None,
        timestamp: now,
        received_at: now,
        correlation_key: None,
        trace: None,
    }
}

/// Fills a store with `pending` retries due 1–24 h from now and 10 due now.
fn fill(store: &SledStore, pending: usize) -> Duration {
    let started = Instant::now();
    let now = Utc::now();
    let per_event = 1000.min(pending);
    let mut left = pending;
    let mut n = 0u64;
    while left > 0 {
        let ev = event_now();
        let batch: Vec<Delivery> = (0..per_event.min(left))
            .map(|_| {
                n += 1;
                let due = now + chrono::Duration::seconds(3600 + (n * 7919 % 82_800) as i64);
                delivery_for(&ev, DeliveryState::Retrying { due })
            })
            .collect();
        left -= batch.len();
        store.insert_event(&ev, &batch).expect("insert");
    }
    let ev = event_now();
    let due: Vec<Delivery> = (0..10)
        .map(|_| delivery_for(&ev, DeliveryState::Retrying { due: now }))
        .collect();
    store.insert_event(&ev, &due).expect("insert due");
    store.flush().expect("flush");
    started.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median time of claiming the 10 due deliveries (they are put back between runs), and of
/// `next_due`.
fn time_claims(store: &SledStore, runs: usize) -> (Duration, Duration) {
    let mut claims = Vec::with_capacity(runs);
    let mut nexts = Vec::with_capacity(runs);
    for _ in 0..runs {
        let now = Utc::now();
        let t = Instant::now();
        let claimed = store.claim_due(now, 512).expect("claim");
        claims.push(t.elapsed());
        assert_eq!(claimed.len(), 10, "exactly the due ones are claimed");
        for mut d in claimed {
            d.state = DeliveryState::Retrying { due: now };
            store
                .save_delivery(&d, None, DeliveryStatus::InFlight)
                .expect("put back");
        }
        let t = Instant::now();
        let next = store.next_due().expect("next");
        nexts.push(t.elapsed());
        assert!(next.is_some());
    }
    (median(claims), median(nexts))
}

fn due_work() {
    println!("## finding due work (10 due, N scheduled for later), median of 201 runs");
    println!("| scheduled retries | fill time | claim the 10 due | next due time |");
    println!("|---:|---:|---:|---:|");
    let sizes: &[usize] = if measuring() {
        &[1_000, 1_000_000]
    } else {
        &[100]
    };
    for &pending in sizes {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SledStore::open(dir.path()).expect("open");
        let fill_time = fill(&store, pending);
        let (claim, next) = time_claims(&store, 201);
        println!(
            "| {pending} | {:.1} s | {:.1} µs | {:.1} µs |",
            fill_time.as_secs_f64(),
            claim.as_secs_f64() * 1e6,
            next.as_secs_f64() * 1e6
        );
    }
}

/// Raw sled cost on this machine, for comparison: a 5-key batch vs 5 single inserts.
fn raw_sled(dir: &std::path::Path, n: usize) {
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    let db = sled::open(dir.join("raw")).expect("raw");
    let tree = db.open_tree("t").expect("tree");
    let t = Instant::now();
    for i in 0..n as u64 {
        let mut b = sled::Batch::default();
        for j in 0..5u64 {
            b.insert(&(i * 8 + j).to_be_bytes()[..], vec![0u8; 300]);
        }
        tree.apply_batch(b).expect("batch");
    }
    let batch = t.elapsed();
    let t2 = db.open_tree("t2").expect("tree");
    let t = Instant::now();
    for i in 0..n as u64 {
        for j in 0..5u64 {
            t2.insert(&(i * 8 + j).to_be_bytes()[..], vec![0u8; 300])
                .expect("insert");
        }
    }
    let plain = t.elapsed();
    println!(
        "raw: batch of 5 {:.1} µs, 5 plain inserts {:.1} µs",
        per(batch),
        per(plain)
    );
}

/// Cost of each store operation on the delivery path (diagnostics for tuning).
fn store_ops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SledStore::open(dir.path()).expect("open");
    let n = 20_000;
    let now = Utc::now();
    let t = Instant::now();
    for _ in 0..n {
        let ev = event_now();
        let d = delivery_for(&ev, DeliveryState::Pending { due: now });
        store.insert_event(&ev, &[d]).expect("insert");
    }
    let insert = t.elapsed();
    let t = Instant::now();
    let mut claimed = Vec::new();
    loop {
        let c = store.claim_due(Utc::now(), 512).expect("claim");
        if c.is_empty() {
            break;
        }
        claimed.extend(c);
    }
    let claim = t.elapsed();
    let t = Instant::now();
    for d in &claimed {
        let _ = store.get_event(d.event_id).expect("event");
    }
    let get = t.elapsed();
    let t = Instant::now();
    for mut d in claimed {
        d.state = DeliveryState::Succeeded;
        store
            .save_delivery(&d, None, DeliveryStatus::InFlight)
            .expect("save");
    }
    let save = t.elapsed();
    let batched = time_batched_saves(&store, n);
    let mut flushes = Vec::new();
    for _ in 0..21 {
        let ev = event_now();
        store
            .insert_event(
                &ev,
                &[delivery_for(&ev, DeliveryState::Pending { due: now })],
            )
            .expect("insert");
        let t = Instant::now();
        store.flush().expect("flush");
        flushes.push(t.elapsed());
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    raw_sled(dir.path(), n);
    println!(
        "insert_event {:.1} µs, claim_due {:.1} µs, get_event {:.1} µs, save_delivery {:.1} µs, \
         write_batch saves (batches of 256) {:.1} µs per delivery; flush median {:.2} ms",
        per(insert),
        per(claim),
        per(get),
        per(save),
        per(batched),
        median(flushes).as_secs_f64() * 1e3
    );
}

/// `n` more deliveries published, claimed and saved through `write_batch` in batches of
/// 256 (as the engine's result recorder does); returns the time of the saves.
fn time_batched_saves(store: &SledStore, n: usize) -> Duration {
    let now = Utc::now();
    for _ in 0..n {
        let ev = event_now();
        let d = delivery_for(&ev, DeliveryState::Pending { due: now });
        store.insert_event(&ev, &[d]).expect("insert");
    }
    let mut claimed = Vec::new();
    loop {
        let c = store.claim_due(Utc::now(), 512).expect("claim");
        if c.is_empty() {
            break;
        }
        claimed.extend(c);
    }
    let writes: Vec<SaveDelivery> = claimed
        .into_iter()
        .map(|mut d| {
            d.state = DeliveryState::Succeeded;
            SaveDelivery {
                delivery: d,
                attempt: None,
                expected: DeliveryStatus::InFlight,
            }
        })
        .collect();
    let t = Instant::now();
    for chunk in writes.chunks(256) {
        for r in store.write_batch(&[], chunk).saves {
            r.expect("save");
        }
    }
    t.elapsed()
}

// ---------------------------------------------------------------- throughput

#[derive(Debug)]
struct Instant200 {
    provider: pb::Provider,
}

impl ProviderHandle for Instant200 {
    fn provider(&self) -> &pb::Provider {
        &self.provider
    }

    fn deliver(
        &self,
        _req: pb::DeliverRequest,
    ) -> BoxFuture<'_, Result<pb::DeliverResponse, PluginCallError>> {
        Box::pin(async {
            Ok(pb::DeliverResponse {
                success: true,
                outcome: pb::Outcome::Delivered as i32,
                status_code: 200,
                ..pb::DeliverResponse::default()
            })
        })
    }

    fn migrate_config(
        &self,
        _req: pb::MigrateConfigRequest,
    ) -> BoxFuture<'_, Result<pb::MigrateConfigResponse, PluginCallError>> {
        Box::pin(async {
            Err(PluginCallError {
                retryable: false,
                message: "unused".into(),
            })
        })
    }
}

#[derive(Debug)]
struct One(Arc<Instant200>);

impl Providers for One {
    fn resolve(&self, qualified_id: &str) -> Option<Arc<dyn ProviderHandle>> {
        (qualified_id == "bench.instant").then(|| Arc::clone(&self.0) as Arc<dyn ProviderHandle>)
    }
}

fn schema() -> serde_json::Value {
    json!({"type": "object", "properties": {"url": {"type": "string"}, "token": {"type": "string", "x-secret": true}}})
}

fn subscription(secrets: &Secrets) -> Subscription {
    let now = Utc::now();
    let mut config = json!({"url": "http://127.0.0.1:1/hook", "token": "bench-token"});
    secrets
        .encrypt_secrets(&schema(), &mut config)
        .expect("encrypt");
    Subscription {
        id: SubscriptionId::new(),
        name: "bench".into(),
        description: String::new(),
        provider_id: "bench.instant".into(),
        config,
        schema_version: 1,
        event_types: vec!["incident.*".into()],
        system_ids: vec![],
        enabled: true,
        disabled_reason: None,
        retry_policy: None,
        created_at: now,
        updated_at: now,
        rate_limit: None,
    }
}

struct Run {
    deliveries: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

async fn run(subs: usize, events: usize, publishers: usize) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).expect("open"));
    let secrets = Arc::new(Secrets::from_key([1; 32]));
    for _ in 0..subs {
        store
            .insert_subscription(&subscription(&secrets))
            .expect("subscribe");
    }
    let provider = pb::Provider {
        id: "instant".into(),
        config_schema: Some(pb::VersionedSchema {
            version: 1,
            json_schema: schema().to_string(),
        }),
        ..pb::Provider::default()
    };
    let providers: Arc<dyn Providers> = Arc::new(One(Arc::new(Instant200 { provider })));
    let total = subs * events;
    let cfg = EngineConfig {
        watch_capacity: total * 4 + 1024,
        plugin_concurrency: 256,
        subscription_concurrency: 256,
        commit_window: std::env::var("BENCH_COMMIT_WINDOW_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(EngineConfig::default().commit_window, Duration::from_millis),
        ..EngineConfig::default()
    };
    let shutdown = CancellationToken::new();
    let engine = Engine::start_with(store, providers, secrets, cfg, shutdown.clone())
        .await
        .expect("start");
    let mut updates = engine.watch();
    let done = tokio::spawn(async move { count_succeeded(&mut updates, total).await });
    let started = Instant::now();
    let mut tasks = Vec::new();
    for p in 0..publishers {
        let engine = engine.clone();
        let mine = events / publishers + usize::from(p < events % publishers);
        tasks.push(tokio::spawn(
            async move { publish_many(&engine, mine).await },
        ));
    }
    let mut latencies = Vec::with_capacity(events);
    for t in tasks {
        latencies.extend(t.await.expect("publisher"));
    }
    done.await.expect("counter");
    let elapsed = started.elapsed();
    shutdown.cancel();
    engine.stopped().await;
    latencies.sort();
    Run {
        deliveries: total,
        elapsed,
        p50: latencies[latencies.len() / 2],
        p99: latencies[latencies.len() * 99 / 100],
    }
}

async fn publish_many(engine: &Engine, n: usize) -> Vec<Duration> {
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        engine
            .publish(NewEvent {
                event_type: "incident.incident.created".into(),
                payload: json!({"incidentId": format!("i-{i}"), "systemIds": ["sys-1"], "title": "Database down"}),
                idempotency_key: None,
                timestamp: None,
                correlation_key: None,
            })
            .await
            .expect("publish");
        lat.push(t.elapsed());
    }
    lat
}

async fn count_succeeded(
    updates: &mut tokio::sync::broadcast::Receiver<DeliveryUpdate>,
    total: usize,
) {
    let mut n = 0;
    while n < total {
        match updates.recv().await {
            Ok(u) if u.delivery.status() == DeliveryStatus::Succeeded => n += 1,
            Ok(_) => {}
            Err(e) => panic!("watch stream failed: {e}"),
        }
    }
}

async fn throughput() {
    println!("## engine throughput (in-process provider answering at once; durable publish)");
    println!(
        "| subscriptions | events | publishers | deliveries | deliveries/s | publish p50 | publish p99 |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let scenarios: &[(usize, usize, usize)] = if measuring() {
        &[(1, 20_000, 64), (100, 500, 16)]
    } else {
        &[(1, 50, 4), (10, 5, 2)]
    };
    for &(subs, events, publishers) in scenarios {
        let r = run(subs, events, publishers).await;
        println!(
            "| {subs} | {events} | {publishers} | {} | {:.0} | {:.2} ms | {:.2} ms |",
            r.deliveries,
            r.deliveries as f64 / r.elapsed.as_secs_f64(),
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3
        );
    }
}
