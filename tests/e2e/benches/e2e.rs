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
//! output, with their ratios to the first scenario's. `E2E_BENCH_BUILDS` (comma-separated
//! directories, e.g. "/work/base17/target/release,target/release") runs every scenario against
//! each directory's `switchyard` and plugins in turn, the order alternating from round to round,
//! and ends with the per-round ratios of the last build's figures to the first's (the config
//! file leaves out `plugins.network_allow` for a build that does not know it).
//! Figures go to docs/benchmarks.md ("End to end"). Not a test: nothing here asserts a speed.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use switchyard::cli::client::Clients;
use switchyard_e2e::bench::{
    Cpu, EPOCH, Shape, delivered_latencies, env_usize, median, percentiles, publish_all,
    quantile_ms, wait_for_count,
};
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
    // `E2E_BENCH_BUILDS=/old/target/release,target/release` runs every scenario against each
    // build's binaries, interleaved (the order alternates from round to round).
    let builds: Vec<Option<PathBuf>> = match std::env::var("E2E_BENCH_BUILDS") {
        Ok(dirs) => dirs
            .split(',')
            .filter(|d| !d.trim().is_empty())
            .map(|d| Some(PathBuf::from(d.trim())))
            .collect(),
        Err(_) => vec![None],
    };
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
            let mut order: Vec<&Option<PathBuf>> = builds.iter().collect();
            if round % 2 == 0 {
                order.reverse();
            }
            for build in order {
                let label = build_label(&scenario, build.as_deref(), builds.len());
                let f = run(&scenario, &label, n_events, publishers, build.as_deref()).await;
                match figures.iter_mut().find(|(l, _)| *l == label) {
                    Some((_, all)) => all.push(f),
                    None => figures.push((label, vec![f])),
                }
            }
        }
    }
    if rounds > 1 {
        print_medians(&figures);
    }
    if builds.len() > 1 {
        print_build_ratios(&figures, &builds);
    }
}

/// The scenario's label, with the build's directory when several builds are compared.
fn build_label(scenario: &Scenario, build: Option<&Path>, builds: usize) -> String {
    match build {
        Some(dir) if builds > 1 => format!("{} [{}]", scenario.label(), dir.display()),
        _ => scenario.label(),
    }
}

/// For each scenario, the per-round ratios of the last build's figures to the first build's
/// (deliveries/s, coordinator and plugin CPU per delivery, publish → delivered p50 and p99),
/// and their medians.
fn print_build_ratios(figures: &[(String, Vec<Figures>)], builds: &[Option<PathBuf>]) {
    let dir = |b: &Option<PathBuf>| {
        b.as_ref()
            .map_or(String::new(), |d| d.display().to_string())
    };
    let (Some(first), Some(last)) = (builds.first().map(dir), builds.last().map(dir)) else {
        return;
    };
    println!("## per-round ratios, [{last}] / [{first}] (median last)");
    let suffix = format!(" [{first}]");
    for (label, base) in figures {
        let Some(scenario) = label.strip_suffix(&suffix) else {
            continue;
        };
        let Some((_, other)) = figures
            .iter()
            .find(|(l, _)| *l == format!("{scenario} [{last}]"))
        else {
            continue;
        };
        let ratios = |f: fn(&Figures) -> f64| {
            let r: Vec<f64> = other.iter().zip(base).map(|(o, b)| f(o) / f(b)).collect();
            let shown: Vec<String> = r.iter().map(|x| format!("{x:.2}")).collect();
            format!("{} → {:.2}", shown.join(", "), median(r.into_iter()))
        };
        println!(
            "{scenario}: deliveries/s {}; coordinator CPU per delivery {}; plugins CPU per \
             delivery {}; publish → delivered p50 {}, p99 {}",
            ratios(|f| f.deliveries_per_s),
            ratios(|f| f.coordinator_cpu_per_k),
            ratios(|f| f.plugins_cpu_per_k),
            ratios(|f| f.delivered_p50_ms),
            ratios(|f| f.delivered_p99_ms),
        );
    }
}

/// What one run of a scenario measured.
#[derive(Debug, Clone, Copy)]
struct Figures {
    deliveries_per_s: f64,
    coordinator_cpu_per_k: f64,
    plugins_cpu_per_k: f64,
    delivered_p50_ms: f64,
    delivered_p99_ms: f64,
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

/// One run of `scenario` (printed as `label`), with the binaries of `build` (`None`: next to
/// this executable).
async fn run(
    scenario: &Scenario,
    label: &str,
    events: usize,
    publishers: usize,
    build: Option<&Path>,
) -> Figures {
    let (env, receiver) = scenario_env(scenario).await;
    let coord = Coordinator::start(CoordinatorOptions {
        env,
        bin_dir: build.map(Path::to_path_buf),
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
    let cpu_before = Cpu::of(coord.pid());
    let start = Instant::now();
    let incidents = if scenario.keyed { INCIDENTS } else { events };
    let shape = Shape {
        events,
        incidents,
        publishers,
        batch: scenario.batch,
    };
    let mut latencies = publish_all(std::slice::from_ref(&addr), &shape).await;
    let published_in = start.elapsed();
    let received = wait_for_count(&sink, expected, Duration::from_secs(600)).await;
    let delivered_in = start.elapsed();
    let cpu = Cpu::of(coord.pid()).since(&cpu_before);
    assert_eq!(received, expected, "not every delivery arrived");
    // Per 1,000 deliveries; per 1,000 events when nothing is delivered (publish only).
    let per_k = |s: f64| s * 1000.0 / expected.max(events).max(1) as f64;
    println!(
        "{}: {expected} deliveries of {events} events in {:.2} s = {:.0} deliveries/s end to end; \
         publishing took {:.2} s ({:.0} events/s); latency of one call {}; publish → delivered {}; \
         CPU s per 1,000 deliveries (events if none): coordinator {:.3}, plugins {:.3}",
        label,
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
        delivered_p50_ms: quantile_ms(&delivered, 0.50),
        delivered_p99_ms: quantile_ms(&delivered, 0.99),
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
