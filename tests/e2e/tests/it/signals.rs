//! The coordinator's signals, with the real `switchyard serve`: a SIGHUP that arrives while it is
//! still starting its plugins (before the reload handler runs) must not kill it, as the default
//! action of an unhandled SIGHUP would.

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use switchyard_e2e::coordinator::{Coordinator, CoordinatorOptions};

const WAIT: Duration = Duration::from_secs(60);

/// The pid of the process whose command line mentions `needle`, and its parent's.
fn process_mentioning(needle: &str) -> Option<(u32, u32)> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if !String::from_utf8_lossy(&cmdline).contains(needle) {
            continue;
        }
        let ppid = switchyard_e2e::parent_of(pid)?;
        return Some((pid, ppid));
    }
    None
}

/// A plugin entry that blocks on `gate` (a FIFO) before it execs the fixture plugin: the
/// coordinator is then provably inside its plugin start.
fn gated_plugin(gate: &Path) -> String {
    let fixture = switchyard_e2e::binary(switchyard_e2e::FIXTURE);
    let script = format!(
        "read _ < '{}'; exec '{}' good",
        gate.display(),
        fixture.display()
    );
    format!("[[plugins.extra]]\ncommand = \"/bin/sh\"\nargs = [\"-c\", {script:?}]\n")
}

async fn wait_for_gated(gate: &Path) -> (u32, u32) {
    let needle = gate.display().to_string();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(found) = process_mentioning(&needle) {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the gated plugin never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Lets the gated plugin go on; keep the answer until it has read the line. Opened for reading
/// and writing, which a FIFO never blocks on (Linux): had the coordinator died, its plugin
/// would be gone and a write-only open would wait for a reader forever. Held open, because the
/// plugin may not have opened its end yet, and a FIFO's data is dropped when its last
/// descriptor closes.
fn open_gate(gate: &Path) -> std::fs::File {
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(gate)
        .expect("open the gate");
    f.write_all(b"go\n").expect("write the gate");
    f
}

#[tokio::test]
async fn a_sighup_during_the_plugin_start_does_not_kill_the_coordinator() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gate = dir.path().join("gate");
    nix::unistd::mkfifo(&gate, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    let opts = CoordinatorOptions {
        extra_config: gated_plugin(&gate),
        ..CoordinatorOptions::default()
    };
    // Panics (and so fails this test) if the coordinator exits during its start.
    let starting = tokio::spawn(Coordinator::start(opts));
    let (gated, coordinator) = wait_for_gated(&gate).await;
    let coordinator_pid = Pid::from_raw(i32::try_from(coordinator).expect("pid"));
    kill(coordinator_pid, Signal::SIGHUP).expect("SIGHUP");
    let gate = open_gate(&gate);
    let coord = starting
        .await
        .expect("the coordinator started despite the SIGHUP");
    drop(gate);
    assert_eq!(coord.pid(), Some(coordinator), "gated plugin {gated}");
    let mut c = coord.clients().await;
    let providers = c
        .providers
        .list_providers(switchyard_proto::coordinator::v1::ListProvidersRequest::default())
        .await
        .expect("list providers")
        .into_inner()
        .providers;
    let plugins: Vec<&str> = providers.iter().map(|p| p.plugin_id.as_str()).collect();
    assert!(
        plugins.contains(&"webhook") && plugins.iter().any(|p| *p != "webhook"),
        "the webhook and the gated fixture plugin serve: {plugins:?}; stderr:\n{}",
        coord.stderr()
    );
}
