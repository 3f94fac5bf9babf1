//! The plugin host benchmark (a bench binary, not a timed test). Against the fixture plugin in
//! mode `good` (Deliver answers without I/O) it measures, in one run:
//! - the Deliver round trip through the host, p50/p99 with one caller, and calls/s with 32
//!   concurrent callers;
//! - beside it, the same Deliver as a plain tonic unary call on the same plugin's Unix socket,
//!   dialed directly without the host layer;
//! - spawn-to-ready: `Plugin::start` (spawn → handshake → health → Describe and its checks).
//!
//! Compared measurements are interleaved (ABAB rounds, alternating which goes first) against
//! machine noise; medians over rounds are reported with their ratio.
//!
//! Run: `cargo build --release -p switchyard-test-fixtures && cargo bench -p switchyard-e2e --bench host`

use hyper_util::rt::TokioIo;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use switchyard::host::{HostOptions, Plugin};
use switchyard_proto::plugin::v1::DeliverRequest;
use switchyard_proto::plugin::v1::provider_plugin_client::ProviderPluginClient;
use tonic::transport::{Channel, Endpoint, Uri};

const CALLERS: usize = 32;

/// How much to measure: the full run under `cargo bench`, a quick smoke run under `cargo test`
/// (which runs bench targets without `--bench`, in the debug profile).
#[derive(Debug, Clone, Copy)]
struct Sizes {
    rounds: usize,
    calls_per_round: usize,
    calls_per_caller: usize,
    spawns: usize,
}

const FULL: Sizes = Sizes {
    rounds: 10,
    calls_per_round: 2_000,
    calls_per_caller: 250,
    spawns: 50,
};
const SMOKE: Sizes = Sizes {
    rounds: 2,
    calls_per_round: 20,
    calls_per_caller: 2,
    spawns: 2,
};

fn main() {
    let sizes = if std::env::args().any(|a| a == "--bench") {
        FULL
    } else {
        SMOKE
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(sizes));
}

async fn run(sizes: Sizes) {
    let root = switchyard_e2e::socket_root();
    let opts = HostOptions {
        socket_root: root.path().to_path_buf(),
        ..HostOptions::default()
    };
    let plugin = Plugin::start(switchyard_e2e::fixture("good"), opts.clone())
        .await
        .expect("start fixture");
    let plain = ProviderPluginClient::new(dial(plugin.socket_path().expect("running")).await);
    let request = switchyard_e2e::deliver_request("echo", &serde_json::json!({}));
    let a = Side::Host(plugin.clone());
    let b = Side::Plain(plain);
    // Warm both paths (connections, allocator, branch predictors).
    a.sequential(&request, sizes.calls_per_round).await;
    b.sequential(&request, sizes.calls_per_round).await;

    latency(&a, &b, &request, sizes).await;
    throughput(&a, &b, &request, sizes).await;
    plugin.stop().await;
    spawn_to_ready(&opts, sizes.spawns).await;
}

/// One way to make the call.
#[derive(Clone)]
enum Side {
    Host(Plugin),
    Plain(ProviderPluginClient<Channel>),
}

impl Side {
    async fn call(&self, request: &DeliverRequest) {
        let ok = match self {
            Side::Host(plugin) => plugin
                .deliver(request.clone())
                .await
                .is_ok_and(|r| r.success),
            Side::Plain(client) => client
                .clone()
                .deliver(request.clone())
                .await
                .is_ok_and(|r| r.get_ref().success),
        };
        assert!(ok, "a benchmark call failed");
    }

    /// Latencies of `n` calls one after the other, in microseconds.
    async fn sequential(&self, request: &DeliverRequest, n: usize) -> Vec<f64> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let start = Instant::now();
            self.call(request).await;
            out.push(start.elapsed().as_secs_f64() * 1e6);
        }
        out
    }

    /// Calls per second with `CALLERS` concurrent callers.
    async fn concurrent(&self, request: &DeliverRequest, per_caller: usize) -> f64 {
        let request = Arc::new(request.clone());
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..CALLERS {
            let (side, request) = (self.clone(), Arc::clone(&request));
            tasks.spawn(async move {
                for _ in 0..per_caller {
                    side.call(&request).await;
                }
            });
        }
        tasks.join_all().await;
        (CALLERS * per_caller) as f64 / start.elapsed().as_secs_f64()
    }
}

async fn latency(a: &Side, b: &Side, request: &DeliverRequest, sizes: Sizes) {
    let (rounds, n) = (sizes.rounds, sizes.calls_per_round);
    let (mut all_a, mut all_b, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (la, lb) = if round % 2 == 0 {
            let la = a.sequential(request, n).await;
            (la, b.sequential(request, n).await)
        } else {
            let lb = b.sequential(request, n).await;
            (a.sequential(request, n).await, lb)
        };
        ratios.push(percentile(&la, 50.0) / percentile(&lb, 50.0));
        all_a.extend(la);
        all_b.extend(lb);
    }
    println!("## Deliver round trip, one caller ({rounds} rounds x {n} calls each, ABAB)");
    println!("| path | p50 µs | p99 µs |");
    println!("|---|---|---|");
    println!(
        "| host (Plugin::deliver) | {:.1} | {:.1} |",
        percentile(&all_a, 50.0),
        percentile(&all_a, 99.0)
    );
    println!(
        "| plain tonic, same socket | {:.1} | {:.1} |",
        percentile(&all_b, 50.0),
        percentile(&all_b, 99.0)
    );
    println!(
        "median of per-round p50 ratios host/plain: {:.3}\n",
        median(&mut ratios)
    );
}

async fn throughput(a: &Side, b: &Side, request: &DeliverRequest, sizes: Sizes) {
    let (rounds, per_caller) = (sizes.rounds, sizes.calls_per_caller);
    let (mut ra, mut rb, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (x, y) = if round % 2 == 0 {
            let x = a.concurrent(request, per_caller).await;
            (x, b.concurrent(request, per_caller).await)
        } else {
            let y = b.concurrent(request, per_caller).await;
            (a.concurrent(request, per_caller).await, y)
        };
        ratios.push(x / y);
        ra.push(x);
        rb.push(y);
    }
    println!(
        "## Deliver throughput, {CALLERS} concurrent callers x {per_caller} calls ({rounds} rounds, ABAB)"
    );
    println!("| path | median calls/s |");
    println!("|---|---|");
    println!("| host (Plugin::deliver) | {:.0} |", median(&mut ra));
    println!("| plain tonic, same socket | {:.0} |", median(&mut rb));
    println!(
        "median of per-round ratios host/plain: {:.3}\n",
        median(&mut ratios)
    );
}

async fn spawn_to_ready(opts: &HostOptions, spawns: usize) {
    let (mut host, mut raw) = (Vec::with_capacity(spawns), Vec::with_capacity(spawns));
    for _ in 0..spawns {
        let start = Instant::now();
        let plugin = Plugin::start(switchyard_e2e::fixture("good"), opts.clone())
            .await
            .expect("start");
        host.push(start.elapsed().as_secs_f64() * 1e3);
        plugin.stop().await;
        raw.push(raw_handshake(&opts.socket_root).await);
    }
    println!("## Spawn-to-ready, {spawns} spawns (interleaved)");
    println!("| what | median ms | p90 ms | min ms |");
    println!("|---|---|---|---|");
    for (what, times) in [
        (
            "host: Plugin::start (spawn → handshake → health → Describe checked)",
            &host,
        ),
        ("plugin alone: spawn → handshake line read (no host)", &raw),
    ] {
        let (p50, p90, min) = (
            percentile(times, 50.0),
            percentile(times, 90.0),
            percentile(times, 0.0),
        );
        println!("| {what} | {p50:.2} | {p90:.2} | {min:.2} |");
    }
    println!();
}

/// Milliseconds from spawning the fixture by hand (handshake variables set) to reading its
/// handshake line: the plugin's own share of spawn-to-ready.
async fn raw_handshake(root: &std::path::Path) -> f64 {
    use switchyard_proto::handshake as hs;
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir_in(root).expect("socket dir");
    let start = Instant::now();
    let mut child = tokio::process::Command::new(switchyard_e2e::binary(switchyard_e2e::FIXTURE))
        .arg("good")
        .env_clear()
        .env(hs::MAGIC_COOKIE_KEY, hs::MAGIC_COOKIE_VALUE)
        .env(hs::PROTOCOL_VERSIONS_ENV, "1")
        .env(hs::UNIX_SOCKET_DIR_ENV, dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn the fixture");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::io::BufReader::new(stdout).lines().next_line().await;
    let elapsed = start.elapsed().as_secs_f64() * 1e3;
    assert!(matches!(line, Ok(Some(_))), "no handshake line");
    let _ = child.kill().await;
    elapsed
}

/// A plain tonic channel to the socket, as any gRPC client would dial it.
async fn dial(path: PathBuf) -> Channel {
    Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move {
                Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(path).await?))
            }
        }))
        .await
        .expect("dial the plugin socket")
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn median(values: &mut [f64]) -> f64 {
    percentile(values, 50.0)
}
