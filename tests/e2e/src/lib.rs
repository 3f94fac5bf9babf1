//! The end-to-end test kit shared by every module of the `it` test binary (and the host bench):
//! finding the workspace's built binaries, host options suited to tests (a short private socket
//! root, generous timeouts for a loaded machine), request builders, and `/proc` checks for
//! processes that must be gone.
//!
//! Binaries of other packages are found next to the running test executable
//! (`target/<profile>/`); build them first with `cargo build --workspace --bins`.

/// Measuring helpers shared by the end-to-end benches.
pub mod bench;
/// Running the real `switchyard serve` in tests: [`coordinator::Coordinator`] and API helpers.
pub mod coordinator;
/// An OTLP trace receiver in the test process.
pub mod otlp;
/// A database of its own in the test PostgreSQL cluster.
pub mod pg;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use switchyard::host::{HostOptions, PluginSpec};
use switchyard_proto::plugin::v1::{DeliverRequest, Event, Subscription};

/// The fixture plugin binary's name.
pub const FIXTURE: &str = "switchyard-fixture-plugin";
/// The webhook plugin binary's name.
pub const WEBHOOK: &str = "switchyard-plugin-webhook";
/// The stand-in coordinator binary's name.
pub const E2E_HOST: &str = "switchyard-e2e-host";

/// The path of a workspace binary in the same target directory and profile as the running
/// executable. Panics with the command to run when it has not been built.
#[must_use]
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the running test executable");
    // target/<profile>/deps/<test> or target/<profile>/<bin>: look in both directories.
    for dir in exe.ancestors().skip(1).take(2) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "binary {name:?} not found next to {}: run `cargo build --workspace --bins` first \
         (add --release for benchmarks)",
        exe.display()
    );
}

/// A spec for the fixture plugin in `mode`.
#[must_use]
pub fn fixture(mode: &str) -> PluginSpec {
    PluginSpec {
        command: binary(FIXTURE),
        args: vec![mode.to_owned()],
        env: BTreeMap::new(),
        ..PluginSpec::default()
    }
}

/// A spec for the real webhook plugin.
#[must_use]
pub fn webhook() -> PluginSpec {
    PluginSpec::new(binary(WEBHOOK))
}

/// A private, short socket root for one test (removed when dropped); every socket directory
/// the host makes lives under it, so a test can check that nothing is left.
#[must_use]
pub fn socket_root() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("sy-e2e.")
        .tempdir_in("/tmp")
        .expect("create a socket root under /tmp")
}

/// Host options for tests: the given socket root, fast restarts, timeouts generous enough for
/// a loaded 2-core machine.
#[must_use]
pub fn options(root: &Path) -> HostOptions {
    HostOptions {
        start_timeout: Duration::from_secs(20),
        call_timeout: Duration::from_secs(20),
        restart_backoff_min: Duration::from_millis(50),
        restart_backoff_max: Duration::from_secs(1),
        stop_grace: Duration::from_secs(2),
        socket_root: root.to_path_buf(),
        // The tests' receivers listen on loopback, which the network policy refuses otherwise.
        network_allow: vec!["127.0.0.0/8".into()],
        ..HostOptions::default()
    }
}

/// The entries left under a socket root (empty when the host cleaned up).
#[must_use]
pub fn leftovers(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        found.push(entry.path());
        if entry.path().is_dir() {
            found.extend(leftovers(&entry.path()));
        }
    }
    found
}

/// A Deliver request for `provider` with `config`, as the engine would send it.
#[must_use]
pub fn deliver_request(provider: &str, config: &serde_json::Value) -> DeliverRequest {
    DeliverRequest {
        provider_id: provider.to_owned(),
        event: Some(Event {
            event_type: "incident.incident.created".to_owned(),
            payload_json: serde_json::json!({"incidentId": "inc-1", "systemIds": ["sys-1"], "title": "Disk full"})
                .to_string(),
            timestamp: Some(prost_types::Timestamp { seconds: 1_790_000_000, nanos: 0 }),
            delivery_id: "dlv-0001".to_owned(),
            attempt: 1,
            event_id: "evt-0001".to_owned(),
        }),
        subscription: Some(Subscription { id: "sub-1".to_owned(), name: "On-call hook".to_owned() }),
        config_json: config.to_string(),
        connection_json: String::new(),
        correlation: None,
    }
}

/// Whether `/proc/<pid>` exists: a live process or a zombie (an unreaped child).
#[must_use]
pub fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The child processes of `pid` (from each of its threads' `children` list).
#[must_use]
pub fn children(pid: u32) -> Vec<u32> {
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

/// The parent of `pid`, from `/proc/<pid>/stat`.
#[must_use]
pub fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`; comm may hold spaces, so split after the last ')'.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The pid of a child of `parent` whose executable (`/proc/<pid>/exe`) satisfies `is_it`.
#[must_use]
pub fn child_pid(parent: u32, is_it: impl Fn(&Path) -> bool) -> Option<u32> {
    children(parent)
        .into_iter()
        .find(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| is_it(&exe)))
}

/// Waits up to `limit` for `/proc/<pid>` to disappear; true when it did. (Polls: the death of
/// a process we are not the parent of cannot be awaited.)
pub async fn wait_gone(pid: u32, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while process_exists(pid) {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// Sends logs (plugin stderr included) to the test harness's captured output; idempotent.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_test_writer()
        .try_init();
}

/// Asserts that an API call failed with `code` and a message mentioning `needle`.
///
/// # Panics
/// When the call succeeded, or failed otherwise.
#[track_caller]
pub fn assert_status<T: std::fmt::Debug>(
    result: Result<T, tonic::Status>,
    code: tonic::Code,
    needle: &str,
) {
    let status = result.expect_err("the call must fail");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().contains(needle),
        "message {:?} should mention {needle:?}",
        status.message()
    );
}
