//! The SDKs side by side (a bench binary, not a timed test): for the example plugin of each
//! SDK — Rust (the webhook plugin), Python (`pyexample`), TypeScript (`tsexample`) and Go (the
//! Go SDK's example) — spawn-to-ready through the host (`Plugin::start`: spawn → handshake →
//! health → Describe and its checks) and the Deliver round trip through the host of a provider
//! that POSTs the event to a local HTTP server, p50 and p99 with one caller. Every plugin does
//! the same work per call (parse the config, build a JSON body, one HTTP request held to the
//! network policy, classify the answer). Rounds interleave the plugins, each round in another
//! order, against machine noise; medians over rounds are reported with the ratio to Rust.
//!
//! Run: `cargo build --release --workspace --bins && scripts/test-typescript.sh && scripts/test-go.sh
//! && cargo bench -p switchyard-e2e --bench sdks` (the TypeScript and Go scripts build those
//! plugins; a plugin whose executable is missing is reported as skipped).

use std::path::PathBuf;
use std::time::Instant;

use serde_json::{Value, json};
use switchyard::host::{HostOptions, Plugin, PluginSpec};
use switchyard_plugin_sdk::testkit::HttpSink;

/// One SDK's example plugin and how to call it.
struct Example {
    sdk: &'static str,
    command: PathBuf,
    /// A file the plugin needs besides its executable (a venv, compiled JavaScript).
    needs: Option<PathBuf>,
    provider: &'static str,
    config: fn(&str) -> Value,
}

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn examples() -> Vec<Example> {
    vec![
        Example {
            sdk: "Rust (webhook plugin)",
            command: switchyard_e2e::binary(switchyard_e2e::WEBHOOK),
            needs: None,
            provider: "webhook",
            config: |url| json!({"url": url}),
        },
        Example {
            sdk: "Python (pyexample)",
            command: repo("plugin-sdk/python/switchyard-plugin-pyexample"),
            needs: Some(repo("plugin-sdk/python/.venv-py/bin/python")),
            provider: "http-post",
            config: |url| json!({"url": url, "timeoutSeconds": 10}),
        },
        Example {
            sdk: "TypeScript (tsexample)",
            command: repo("plugin-sdk/typescript/switchyard-plugin-tsexample"),
            needs: Some(repo(
                "plugin-sdk/typescript/dist/examples/tsexample/main.js",
            )),
            provider: "http-post",
            config: |url| json!({"url": url, "token": "bench-token", "timeoutMs": 10_000}),
        },
        Example {
            sdk: "Go (example)",
            command: repo("target/debug/go-plugins/switchyard-plugin-go-example"),
            needs: None,
            provider: "notify",
            config: |url| json!({"url": url, "text": "{{ payload.title }}"}),
        },
    ]
}

/// How much to measure: the full run under `cargo bench`, a smoke run under `cargo test`.
struct Sizes {
    rounds: usize,
    calls: usize,
}

fn main() {
    let sizes = if std::env::args().any(|a| a == "--bench") {
        Sizes {
            rounds: 7,
            calls: 300,
        }
    } else {
        Sizes {
            rounds: 1,
            calls: 3,
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(&sizes));
}

/// Per plugin and round: spawn-to-ready (ms) and the p50 and p99 of its round trips (µs).
#[derive(Default)]
struct Figures {
    spawn_ms: Vec<f64>,
    p50_us: Vec<f64>,
    p99_us: Vec<f64>,
}

async fn run(sizes: &Sizes) {
    let sink = HttpSink::start().await;
    let root = switchyard_e2e::socket_root();
    let opts = HostOptions {
        socket_root: root.path().to_path_buf(),
        network_allow: vec!["127.0.0.0/8".into()],
        ..switchyard_e2e::options(root.path())
    };
    let present: Vec<Example> = examples()
        .into_iter()
        .filter(|e| {
            let missing = std::iter::once(&e.command)
                .chain(e.needs.as_ref())
                .find(|p| !p.exists());
            if let Some(path) = missing {
                println!("skipped {}: {} is missing", e.sdk, path.display());
            }
            missing.is_none()
        })
        .collect();
    let mut figures: Vec<Figures> = present.iter().map(|_| Figures::default()).collect();
    for round in 0..sizes.rounds {
        for k in 0..present.len() {
            let i = (k + round) % present.len();
            measure(&present[i], &opts, &sink, sizes.calls, &mut figures[i]).await;
            let _ = sink.take_requests();
        }
    }
    report(&present, &figures, sizes);
}

async fn measure(e: &Example, opts: &HostOptions, sink: &HttpSink, calls: usize, f: &mut Figures) {
    let start = Instant::now();
    let plugin = Plugin::start(PluginSpec::new(&e.command), opts.clone())
        .await
        .unwrap_or_else(|err| panic!("start {}: {err}", e.sdk));
    f.spawn_ms.push(start.elapsed().as_secs_f64() * 1e3);
    let request = switchyard_e2e::deliver_request(e.provider, &(e.config)(&sink.url()));
    // One call first: connections, lazily built clients, JIT warm-up are not the steady state.
    let mut times = Vec::with_capacity(calls);
    for n in 0..=calls {
        let t = Instant::now();
        let answer = plugin.deliver(request.clone()).await;
        let ok = answer.as_ref().is_ok_and(|r| r.success);
        assert!(ok, "{}: a delivery failed: {answer:?}", e.sdk);
        if n > 0 {
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    times.sort_unstable_by(f64::total_cmp);
    f.p50_us.push(percentile(&times, 50.0));
    f.p99_us.push(percentile(&times, 99.0));
    plugin.stop().await;
}

fn report(present: &[Example], figures: &[Figures], sizes: &Sizes) {
    println!(
        "## The SDKs' example plugins through the host ({} rounds, {} sequential Deliver calls each, medians over rounds)",
        sizes.rounds, sizes.calls
    );
    println!("| SDK | spawn-to-ready ms | × Rust | Deliver p50 µs | × Rust | Deliver p99 µs |");
    println!("|---|---|---|---|---|---|");
    let base = figures
        .first()
        .map(|f| (median(&f.spawn_ms), median(&f.p50_us)));
    for (e, f) in present.iter().zip(figures) {
        let (spawn, p50, p99) = (median(&f.spawn_ms), median(&f.p50_us), median(&f.p99_us));
        let (spawn_x, p50_x) = base.map_or((1.0, 1.0), |(s, d)| (spawn / s, p50 / d));
        println!(
            "| {} | {spawn:.1} | {spawn_x:.1} | {p50:.0} | {p50_x:.1} | {p99:.0} |",
            e.sdk
        );
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_unstable_by(f64::total_cmp);
    percentile(&v, 50.0)
}
