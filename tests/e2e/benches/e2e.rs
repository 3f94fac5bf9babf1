//! End-to-end benchmark of the real coordinator: durable deliveries per second (publish →
//! sled → webhook plugin → local HTTP server → recorded) with 1 and with 100 subscriptions,
//! and the latency of `PublishEvent` (which returns only once the event and its deliveries
//! are durable), p50 and p99.
//!
//! Run: `cargo build --release --workspace --bins && cargo bench -p switchyard-e2e --bench e2e`.
//! Knobs (environment): `E2E_BENCH_EVENTS` (20000), `E2E_BENCH_PUBLISHERS` (64),
//! `E2E_BENCH_SCENARIOS` (subscription counts, "0,1,100"; 0 = publish only; a `k` suffix, as in
//! "1k", makes the events correlated: the event type declares `/incidentId` as its correlation
//! path and the events belong to 1,000 incidents, so each incident's deliveries go in order),
//! `E2E_BENCH_ROUNDS`
//! (1; rounds interleave the scenarios), `E2E_BENCH_PER_SUB` (per-subscription in-flight limit, 64).
//! Figures go to docs/benchmarks.md ("End to end"). Not a test: nothing here asserts a speed.

use std::time::{Duration, Instant};

use serde_json::json;
use switchyard::cli::client::Clients;
use switchyard_e2e::coordinator::{
    Coordinator, CoordinatorOptions, INCIDENT, create_subscription, register_incident,
    webhook_subscription,
};
use switchyard_plugin_sdk::testkit::HttpSink;
use switchyard_proto::coordinator::v1 as api;

// The load generator competes with the coordinator and the plugin for the same cores, so it
// uses a cheaper allocator than the system one.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Concurrent publishers (the platform's API clients) unless `E2E_BENCH_PUBLISHERS` says.
const PUBLISHERS: usize = 64;

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; under `cargo test --all-targets` this is only a smoke run
    // that checks the benchmark still works, with figures that mean nothing.
    let measuring = std::env::args().any(|a| a == "--bench");
    let events = env_usize("E2E_BENCH_EVENTS", if measuring { 20_000 } else { 200 });
    let publishers = env_usize("E2E_BENCH_PUBLISHERS", PUBLISHERS).max(1);
    println!(
        "# switchyard end-to-end benchmark ({publishers} concurrent publishers){}",
        if measuring {
            ""
        } else {
            " -- smoke run, use `cargo bench`"
        }
    );
    // `E2E_BENCH_SCENARIOS=1,100` picks scenarios by subscription count (0 = publish only).
    let wanted = std::env::var("E2E_BENCH_SCENARIOS").unwrap_or_else(|_| "0,1,100".into());
    let rounds = env_usize("E2E_BENCH_ROUNDS", 1).max(1);
    for round in 1..=rounds {
        if rounds > 1 {
            println!("## round {round} of {rounds}");
        }
        for (subs, keyed) in wanted.split(',').filter_map(scenario) {
            let label = match subs {
                0 => "publish only (no subscription)".to_owned(),
                1 => "1 subscription".to_owned(),
                n => format!("{n} subscriptions"),
            };
            let label = if keyed {
                format!("{label}, correlated ({INCIDENTS} incidents)")
            } else {
                label
            };
            let n_events = if subs > 1 {
                (events / subs).max(1)
            } else {
                events
            };
            run(&label, subs, keyed, n_events, publishers).await;
        }
    }
}

/// How many incidents the events of a correlated scenario belong to.
const INCIDENTS: usize = 1000;

/// A scenario token: a subscription count, `k`-suffixed for correlated events.
fn scenario(token: &str) -> Option<(usize, bool)> {
    let token = token.trim();
    match token.strip_suffix('k') {
        Some(n) => n.parse().ok().map(|n| (n, true)),
        None => token.parse().ok().map(|n| (n, false)),
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run(label: &str, subscriptions: usize, keyed: bool, events: usize, publishers: usize) {
    let coord = Coordinator::start(CoordinatorOptions {
        env: vec![
            ("RUST_LOG".into(), "warn".into()),
            (
                "SWITCHYARD_DELIVERY__MAX_IN_FLIGHT_PER_SUBSCRIPTION".into(),
                std::env::var("E2E_BENCH_PER_SUB").unwrap_or_else(|_| "64".into()),
            ),
            ("SWITCHYARD_PLUGINS__MAX_IN_FLIGHT".into(), "256".into()),
        ],
        ..CoordinatorOptions::default()
    })
    .await;
    let mut c = coord.clients().await;
    let sink = HttpSink::start().await;
    register_incident(&mut c).await;
    if keyed {
        correlate_incidents(&mut c).await;
    }
    for n in 0..subscriptions {
        create_subscription(
            &mut c,
            webhook_subscription(&format!("bench-{n}"), &sink.url()),
        )
        .await;
    }
    let expected = events * subscriptions;

    let start = Instant::now();
    let incidents = if keyed { INCIDENTS } else { events };
    let mut latencies = publish_all(&coord, events, incidents, publishers).await;
    let published_in = start.elapsed();
    let received = wait_for_count(&sink, expected, Duration::from_secs(600)).await;
    let delivered_in = start.elapsed();
    assert_eq!(received, expected, "not every delivery arrived");

    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p) as usize];
    println!(
        "{label}: {expected} deliveries of {events} events in {:.2} s = {:.0} deliveries/s end to end; \
         publishing took {:.2} s ({:.0} events/s); PublishEvent latency p50 {:.2} ms, p99 {:.2} ms",
        delivered_in.as_secs_f64(),
        expected as f64 / delivered_in.as_secs_f64(),
        published_in.as_secs_f64(),
        events as f64 / published_in.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
    );
}

/// Waits until the sink has recorded `n` requests (or `timeout`), returns the count. Polls every
/// 2 ms instead of waking on each request: at thousands of requests a second the per-request
/// wake-up would cost the machine more CPU than the check (and this is a bench, not a test).
async fn wait_for_count(sink: &HttpSink, n: usize, timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let count = sink.request_count();
        if count >= n || Instant::now() >= deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Registers the incident event type again, with `/incidentId` as its correlation path.
async fn correlate_incidents(c: &mut Clients) {
    let mut t = c
        .event_types
        .get_event_type(api::GetEventTypeRequest {
            id: INCIDENT.into(),
        })
        .await
        .expect("the incident event type")
        .into_inner()
        .event_type
        .expect("an event type");
    t.correlation_path = "/incidentId".into();
    c.event_types
        .register_event_type(api::RegisterEventTypeRequest {
            event_type: Some(t),
        })
        .await
        .expect("declare the correlation path");
}

/// Publishes `events` events of `incidents` incidents (event n is of incident n mod
/// `incidents`) from `publishers` concurrent clients; returns each call's latency.
async fn publish_all(
    coord: &Coordinator,
    events: usize,
    incidents: usize,
    publishers: usize,
) -> Vec<Duration> {
    let mut tasks = Vec::new();
    for worker in 0..publishers {
        let mut c: Clients = coord.clients().await;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for n in (worker..events).step_by(publishers) {
                let req = api::PublishEventRequest {
                    event_type: INCIDENT.into(),
                    payload_json: json!({"incidentId": format!("inc-{}", n % incidents), "title": "bench", "severity": "major"}).to_string(),
                    idempotency_key: String::new(),
                    timestamp: None,
                };
                let t = Instant::now();
                c.events.publish_event(req).await.expect("publish");
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::with_capacity(events);
    for t in tasks {
        all.extend(t.await.expect("publisher task"));
    }
    all
}
