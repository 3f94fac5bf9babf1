//! Stopping: a graceful stop leaves no process, zombie, socket file or directory; a plugin that
//! ignores Shutdown and SIGTERM is still killed; a SIGKILLed coordinator leaves no plugin
//! process behind, and its socket directory is swept by the next host.

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use switchyard::host::{CallError, HostOptions, Plugin};
use switchyard_e2e::{
    E2E_HOST, FIXTURE, binary, deliver_request, fixture, leftovers, options, process_exists,
    socket_root, wait_gone,
};

#[tokio::test]
async fn a_graceful_stop_leaves_no_process_zombie_socket_or_directory() {
    let root = socket_root();
    let plugin = Plugin::start(fixture("good"), options(root.path()))
        .await
        .expect("start");
    let pid = plugin.pid().expect("running");
    let socket = plugin.socket_path().expect("running");
    assert!(socket.exists());
    // The plugin leads its own process group (the host signals the whole group).
    let raw = Pid::from_raw(i32::try_from(pid).unwrap());
    assert_eq!(nix::unistd::getpgid(Some(raw)).expect("pgid"), raw);

    plugin.stop().await;
    assert!(
        !process_exists(pid),
        "plugin {pid} still in /proc (alive or zombie)"
    );
    assert!(!socket.exists());
    assert!(
        leftovers(root.path()).is_empty(),
        "{:?}",
        leftovers(root.path())
    );
    let err = plugin
        .deliver(deliver_request("echo", &serde_json::json!({})))
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::NotRunning), "{err}");
    plugin.stop().await; // idempotent
}

#[tokio::test]
async fn a_plugin_ignoring_shutdown_and_sigterm_is_still_killed_by_stop() {
    let root = socket_root();
    let opts = HostOptions {
        stop_grace: Duration::from_millis(300),
        ..options(root.path())
    };
    let plugin = Plugin::start(fixture("ignore-shutdown"), opts)
        .await
        .expect("start");
    let pid = plugin.pid().expect("running");
    plugin.stop().await;
    assert!(!process_exists(pid), "plugin {pid} survived stop()");
    assert!(
        leftovers(root.path()).is_empty(),
        "{:?}",
        leftovers(root.path())
    );
}

/// Starts the stand-in coordinator with the fixture `good` and returns it with the plugin pid.
fn start_coordinator(root: &std::path::Path) -> (Child, u32) {
    let mut child = Command::new(binary(E2E_HOST))
        .arg(root)
        .arg(binary(FIXTURE))
        .arg("good")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the stand-in coordinator");
    let stdout = child.stdout.take().expect("stdout");
    let first = BufReader::new(stdout)
        .lines()
        .next()
        .expect("a line")
        .expect("read");
    let pid = first
        .strip_prefix("pid ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{first}"));
    (child, pid)
}

#[tokio::test]
async fn a_sigkilled_coordinator_leaves_no_plugin_process_after_2_seconds() {
    let root = socket_root();
    let (mut coordinator, plugin_pid) = start_coordinator(root.path());
    assert!(process_exists(plugin_pid));
    kill(
        Pid::from_raw(i32::try_from(coordinator.id()).unwrap()),
        Signal::SIGKILL,
    )
    .expect("kill");
    coordinator.wait().expect("reap the coordinator");
    assert!(
        wait_gone(plugin_pid, Duration::from_secs(2)).await,
        "plugin {plugin_pid} outlived its coordinator"
    );

    // The dead coordinator's socket directory is swept by the next host under the same root.
    let next = Plugin::start(fixture("good"), options(root.path()))
        .await
        .expect("start");
    next.stop().await;
    assert!(
        leftovers(root.path()).is_empty(),
        "{:?}",
        leftovers(root.path())
    );
}
