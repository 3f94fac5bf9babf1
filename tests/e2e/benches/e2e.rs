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
//! socket; an `m` suffix turns metrics on — the `[observability]` listener, which installs the
//! Prometheus recorder — and an `o` suffix turns OpenTelemetry traces on, exported over OTLP to a
//! receiver in this process: "1,1m,1o" measures their overhead side by side), `E2E_BENCH_ROUNDS`
//! (1; rounds interleave the scenarios), `E2E_BENCH_PER_SUB` (per-subscription in-flight limit, 64).
//! With more than one round, the medians of each scenario's figures over the rounds end the
//! output, with their ratios to the first scenario's.
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
    let mut figures: Vec<(String, Vec<Figures>)> = Vec::new();
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
            let f = run(&scenario, n_events, publishers).await;
            match figures
                .iter_mut()
                .find(|(label, _)| *label == scenario.label())
            {
                Some((_, all)) => all.push(f),
                None => figures.push((scenario.label(), vec![f])),
            }
        }
    }
    if rounds > 1 {
        print_medians(&figures);
    }
}

/// What one run of a scenario measured.
#[derive(Debug, Clone, Copy)]
struct Figures {
    deliveries_per_s: f64,
    coordinator_cpu_per_k: f64,
    plugins_cpu_per_k: f64,
    delivered_p50_ms: f64,
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The medians over the rounds of each scenario, and their ratios to the first scenario's.
fn print_medians(figures: &[(String, Vec<Figures>)]) {
    println!("## medians over the rounds (ratio to the first scenario)");
    let med = |all: &[Figures], f: fn(&Figures) -> f64| median(all.iter().map(f));
    let Some((_, first)) = figures.first() else {
        return;
    };
    let base = [
        med(first, |f| f.deliveries_per_s),
        med(first, |f| f.coordinator_cpu_per_k),
        med(first, |f| f.plugins_cpu_per_k),
        med(first, |f| f.delivered_p50_ms),
    ];
    for (label, all) in figures {
        let m = [
            med(all, |f| f.deliveries_per_s),
            med(all, |f| f.coordinator_cpu_per_k),
            med(all, |f| f.plugins_cpu_per_k),
            med(all, |f| f.delivered_p50_ms),
        ];
        println!(
            "{label}: {:.0} deliveries/s ({:.3}); CPU s per 1,000: coordinator {:.3} ({:.3}), \
             plugins {:.3} ({:.3}); publish → delivered p50 {:.2} ms ({:.3})",
            m[0],
            m[0] / base[0],
            m[1],
            m[1] / base[1],
            m[2],
            m[2] / base[2],
            m[3],
            m[3] / base[3],
        );
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
    metrics: bool,
    traces: bool,
    /// `Some(n)`: `PublishEvents` with n events per call; `None`: `PublishEvent`.
    batch: Option<usize>,
}

impl Scenario {
    /// A token: a subscription count, then any of `k` (correlated events), `t` (TCP), `m`
    /// (metrics on), `o` (traces on) and `b<N>` (`PublishEvents` batches of N).
    fn parse(token: &str) -> Option<Scenario> {
        let token = token.trim();
        let digits = token
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(token.len());
        let (count, mut flags) = token.split_at(digits);
        let mut scenario = Scenario {
            subs: count.parse().ok()?,
            keyed: false,
            tcp: false,
            metrics: false,
            traces: false,
            batch: None,
        };
        while let Some(flag) = flags.chars().next() {
            flags = &flags[flag.len_utf8()..];
            match flag {
                'k' => scenario.keyed = true,
                't' => scenario.tcp = true,
                'm' => scenario.metrics = true,
                'o' => scenario.traces = true,
                'b' => {
                    let n = flags
                        .find(|c: char| !c.is_ascii_digit())
                        .unwrap_or(flags.len());
                    let (size, rest) = flags.split_at(n);
                    scenario.batch = Some(size.parse::<usize>().ok()?.max(1));
                    flags = rest;
                }
                _ => return None,
            }
        }
        Some(scenario)
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
        if self.metrics {
            label.push_str(", metrics on");
        }
        if self.traces {
            label.push_str(", traces on (OTLP to a local receiver)");
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

/// The coordinator's environment for `scenario`, and the OTLP receiver it exports to (keep it
/// until the run ends) when traces are on.
async fn scenario_env(
    scenario: &Scenario,
) -> (
    Vec<(String, String)>,
    Option<switchyard_e2e::otlp::OtlpReceiver>,
) {
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
    if scenario.metrics {
        env.push((
            "SWITCHYARD_OBSERVABILITY__LISTEN".into(),
            "127.0.0.1:0".into(),
        ));
    }
    let receiver = if scenario.traces {
        let receiver = switchyard_e2e::otlp::OtlpReceiver::start().await;
        env.push(("OTEL_EXPORTER_OTLP_ENDPOINT".into(), receiver.endpoint()));
        Some(receiver)
    } else {
        None
    };
    (env, receiver)
}

async fn run(scenario: &Scenario, events: usize, publishers: usize) -> Figures {
    let (env, receiver) = scenario_env(scenario).await;
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
    if let Some(receiver) = receiver {
        println!("  spans received so far: {}", receiver.spans().len());
    }
    let mut delivered = delivered_latencies(&sink);
    delivered.sort_unstable();
    Figures {
        deliveries_per_s: expected as f64 / delivered_in.as_secs_f64(),
        coordinator_cpu_per_k: per_k(cpu.coordinator),
        plugins_cpu_per_k: per_k(cpu.plugins),
        delivered_p50_ms: delivered
            .get(delivered.len() / 2)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0),
    }
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
