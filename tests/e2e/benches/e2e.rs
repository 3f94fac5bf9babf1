//! End-to-end benchmark of the real coordinator: durable deliveries per second (publish →
//! sled → webhook plugin → local HTTP server → recorded) with 1, 10 and 100 subscriptions, the
//! latency of `PublishEvent` (which returns only once the event and its deliveries are
//! durable) and of publish → delivered (the sink's arrival time against the publisher's clock,
//! carried in the payload), p50 and p99, and the CPU seconds per 1,000 deliveries of the
//! coordinator and of its plugins (from `/proc/<pid>/stat`).
//!
//! Run: `cargo build --release --workspace --bins && cargo bench -p switchyard-e2e --bench e2e`.
//! Knobs (environment): `E2E_BENCH_EVENTS` (20000), `E2E_BENCH_PUBLISHERS` (64),
//! `E2E_BENCH_SCENARIOS` (subscription counts, "0,1,10,100"; 0 = publish only; a `k` suffix, as in
//! "1k", makes the events correlated: the event type declares `/incidentId` as its correlation
//! path and the events belong to 1,000 incidents, so each incident's deliveries go in order;
//! a `b<N>` suffix, as in "1b100", publishes through `PublishEvents` in batches of N events
//! (each publisher sends one batch at a time; the latency is then one call's, for N events);
//! a `t` suffix, as in "1t" or "1kt", publishes over the API's TCP listener instead of the Unix
//! socket), `E2E_BENCH_ROUNDS`
//! (1; rounds interleave the scenarios), `E2E_BENCH_PER_SUB` (per-subscription in-flight limit, 64).
//! Figures go to docs/benchmarks.md ("End to end"). Not a test: nothing here asserts a speed.

use std::sync::LazyLock;
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

/// The publishers' clock: payloads carry their publish time as microseconds since it.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// Concurrent publishers (the platform's API clients) unless `E2E_BENCH_PUBLISHERS` says.
const PUBLISHERS: usize = 64;

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; under `cargo test --all-targets` this is only a smoke run
    // that checks the benchmark still works, with figures that mean nothing.
    let measuring = std::env::args().any(|a| a == "--bench");
    LazyLock::force(&EPOCH);
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
    // `E2E_BENCH_SCENARIOS=1,10t` picks scenarios (see the module's doc).
    let wanted = std::env::var("E2E_BENCH_SCENARIOS").unwrap_or_else(|_| "0,1,10,100".into());
    let rounds = env_usize("E2E_BENCH_ROUNDS", 1).max(1);
    for round in 1..=rounds {
        if rounds > 1 {
            println!("## round {round} of {rounds}");
        }
        for scenario in wanted.split(',').filter_map(Scenario::parse) {
            let n_events = if scenario.subs > 1 {
                (events / scenario.subs).max(1)
            } else {
                events
            };
            run(&scenario, n_events, publishers).await;
        }
    }
}

/// How many incidents the events of a correlated scenario belong to.
const INCIDENTS: usize = 1000;

/// One scenario: how many subscriptions, whether events are correlated, which transport,
/// and how many events per call.
struct Scenario {
    subs: usize,
    keyed: bool,
    tcp: bool,
    /// `Some(n)`: `PublishEvents` with n events per call; `None`: `PublishEvent`.
    batch: Option<usize>,
}

impl Scenario {
    /// A token: a subscription count, then `k` for correlated events, then `b<N>` for batches
    /// of N, then `t` for TCP.
    fn parse(token: &str) -> Option<Scenario> {
        let token = token.trim();
        let (token, tcp) = token
            .strip_suffix('t')
            .map_or((token, false), |t| (t, true));
        let (token, batch) = match token.split_once('b') {
            Some((head, n)) => (head, Some(n.parse::<usize>().ok()?.max(1))),
            None => (token, None),
        };
        let (token, keyed) = token
            .strip_suffix('k')
            .map_or((token, false), |t| (t, true));
        Some(Scenario {
            subs: token.parse().ok()?,
            keyed,
            tcp,
            batch,
        })
    }

    fn label(&self) -> String {
        let mut label = match self.subs {
            0 => "publish only (no subscription)".to_owned(),
            1 => "1 subscription".to_owned(),
            n => format!("{n} subscriptions"),
        };
        if self.keyed {
            label.push_str(&format!(", correlated ({INCIDENTS} incidents)"));
        }
        if let Some(n) = self.batch {
            label.push_str(&format!(", PublishEvents batches of {n}"));
        }
        if self.tcp {
            label.push_str(", over TCP");
        }
        label
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run(scenario: &Scenario, events: usize, publishers: usize) {
    // The TCP address is known from the "listening" line only (the port is picked at start).
    let log = if scenario.tcp {
        "warn,switchyard::cli::serve=info"
    } else {
        "warn"
    };
    let mut env = vec![
        ("RUST_LOG".into(), log.into()),
        (
            "SWITCHYARD_DELIVERY__MAX_IN_FLIGHT_PER_SUBSCRIPTION".into(),
            std::env::var("E2E_BENCH_PER_SUB").unwrap_or_else(|_| "64".into()),
        ),
        ("SWITCHYARD_PLUGINS__MAX_IN_FLIGHT".into(), "256".into()),
    ];
    if scenario.tcp {
        env.push(("SWITCHYARD_API__TCP_LISTEN".into(), "127.0.0.1:0".into()));
    }
    let coord = Coordinator::start(CoordinatorOptions {
        env,
        ..CoordinatorOptions::default()
    })
    .await;
    let addr = if scenario.tcp {
        format!("http://{}", coord.tcp_addr())
    } else {
        coord.addr()
    };
    let sink = HttpSink::start().await;
    set_up(&coord, scenario, &sink).await;
    let expected = events * scenario.subs;
    let cpu_before = Cpu::of(&coord);
    let start = Instant::now();
    let incidents = if scenario.keyed { INCIDENTS } else { events };
    let shape = Shape {
        events,
        incidents,
        publishers,
        batch: scenario.batch,
    };
    let mut latencies = publish_all(&addr, &shape).await;
    let published_in = start.elapsed();
    let received = wait_for_count(&sink, expected, Duration::from_secs(600)).await;
    let delivered_in = start.elapsed();
    let cpu = Cpu::of(&coord).since(&cpu_before);
    assert_eq!(received, expected, "not every delivery arrived");
    // Per 1,000 deliveries; per 1,000 events when nothing is delivered (publish only).
    let per_k = |s: f64| s * 1000.0 / expected.max(events).max(1) as f64;
    println!(
        "{}: {expected} deliveries of {events} events in {:.2} s = {:.0} deliveries/s end to end; \
         publishing took {:.2} s ({:.0} events/s); latency of one call {}; publish → delivered {}; \
         CPU s per 1,000 deliveries (events if none): coordinator {:.3}, plugins {:.3}",
        scenario.label(),
        delivered_in.as_secs_f64(),
        expected as f64 / delivered_in.as_secs_f64(),
        published_in.as_secs_f64(),
        events as f64 / published_in.as_secs_f64(),
        percentiles(&mut latencies),
        percentiles(&mut delivered_latencies(&sink)),
        per_k(cpu.coordinator),
        per_k(cpu.plugins),
    );
}

/// Registers the event type (correlated if the scenario says) and the subscriptions.
async fn set_up(coord: &Coordinator, scenario: &Scenario, sink: &HttpSink) {
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    if scenario.keyed {
        correlate_incidents(&mut c).await;
    }
    for n in 0..scenario.subs {
        create_subscription(
            &mut c,
            webhook_subscription(&format!("bench-{n}"), &sink.url()),
        )
        .await;
    }
}

/// "p50 1.23 ms, p99 4.56 ms" of `latencies` (sorted here); "n/a" when empty.
fn percentiles(latencies: &mut [Duration]) -> String {
    if latencies.is_empty() {
        return "n/a".into();
    }
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p) as usize];
    format!(
        "p50 {:.2} ms, p99 {:.2} ms",
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0
    )
}

/// For each request the sink received: from the publish its payload names (`data.sentUs`, the
/// webhook's default body) to its arrival.
fn delivered_latencies(sink: &HttpSink) -> Vec<Duration> {
    let epoch = *EPOCH;
    sink.requests()
        .iter()
        .zip(sink.arrivals())
        .filter_map(|(r, arrived)| {
            let sent = Duration::from_micros(r.json()["data"]["sentUs"].as_u64()?);
            Some(arrived.duration_since(epoch).saturating_sub(sent))
        })
        .collect()
}

/// CPU seconds used so far (user + system) by the coordinator and by its child processes,
/// the plugins (alive now: read before and after a round, while they run).
struct Cpu {
    coordinator: f64,
    plugins: f64,
}

impl Cpu {
    fn of(coord: &Coordinator) -> Cpu {
        let Some(pid) = coord.pid() else {
            return Cpu {
                coordinator: 0.0,
                plugins: 0.0,
            };
        };
        Cpu {
            coordinator: cpu_seconds(pid),
            plugins: children(pid).into_iter().map(cpu_seconds).sum(),
        }
    }

    fn since(&self, before: &Cpu) -> Cpu {
        Cpu {
            coordinator: self.coordinator - before.coordinator,
            plugins: self.plugins - before.plugins,
        }
    }
}

/// utime + stime of `pid` from `/proc/<pid>/stat`, in seconds (0 when unreadable).
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name (field 2) may hold spaces; the fields after its `)` are fixed.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After `)`: state is index 0, so utime (field 14) is 11 and stime (15) is 12.
    // USER_HZ, the unit of these fields, is 100 on every Linux architecture's ABI.
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// The child processes of `pid` (from each of its threads' `children` list).
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut out: Vec<u32> = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
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

/// What the publishers send: `events` events of `incidents` incidents (event n is of incident
/// n mod `incidents`) from `publishers` concurrent clients, one per call or `batch` per call.
struct Shape {
    events: usize,
    incidents: usize,
    publishers: usize,
    batch: Option<usize>,
}

/// One event's request; its payload carries the publish time (`sentUs`).
fn event(n: usize, incidents: usize) -> api::PublishEventRequest {
    api::PublishEventRequest {
        event_type: INCIDENT.into(),
        payload_json: json!({
            "incidentId": format!("inc-{}", n % incidents),
            "title": "bench",
            "severity": "major",
            "sentUs": u64::try_from(EPOCH.elapsed().as_micros()).unwrap_or(0),
        })
        .to_string(),
        idempotency_key: String::new(),
        timestamp: None,
    }
}

/// Publishes as `shape` says; returns each call's latency.
async fn publish_all(addr: &str, shape: &Shape) -> Vec<Duration> {
    let per_call = shape.batch.unwrap_or(1);
    let calls = shape.events.div_ceil(per_call);
    let mut tasks = Vec::new();
    for worker in 0..shape.publishers {
        let mut c: Clients = switchyard::cli::client::connect(addr, None)
            .await
            .expect("connect to the coordinator");
        let (events, incidents, batch) = (shape.events, shape.incidents, shape.batch);
        let publishers = shape.publishers;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for call in (worker..calls).step_by(publishers) {
                let first = call * per_call;
                let last = (first + per_call).min(events);
                let t = Instant::now();
                if batch.is_some() {
                    let events = (first..last).map(|n| event(n, incidents)).collect();
                    let answer = c
                        .events
                        .publish_events(api::PublishEventsRequest { events })
                        .await
                        .expect("publish a batch")
                        .into_inner();
                    assert!(
                        answer.results.iter().all(|r| matches!(
                            r.outcome,
                            Some(api::publish_event_result::Outcome::Published(_))
                        )),
                        "an event of the batch was refused"
                    );
                } else {
                    let req = event(first, incidents);
                    c.events.publish_event(req).await.expect("publish");
                }
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::with_capacity(calls);
    for t in tasks {
        all.extend(t.await.expect("publisher task"));
    }
    all
}
