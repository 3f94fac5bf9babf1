//! Stopping a plugin process gracefully: the go-plugin `Shutdown` RPC, a wait, SIGTERM to the
//! process group, a wait, then SIGKILL to the group. The process is always reaped, its output
//! pipes drained and its socket directory removed (when the [`Process`] is dropped).
//!
//! A last SIGKILL to the group after the plugin is reaped takes any grandchildren with it. The
//! group id cannot be reused while any member lives, so this can only hit an unrelated group in
//! the microseconds after the last member died and a new group leader got the same number.

use super::launch::{Instance, Process};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::time::Duration;
use switchyard_proto::go_plugin::Empty;
use switchyard_proto::go_plugin::grpc_controller_client::GrpcControllerClient;

/// Sends `signal` to the process group led by `pid`; a group that is already gone is fine.
pub(crate) fn kill_group(pid: u32, signal: Signal) {
    let Ok(raw) = i32::try_from(pid) else { return };
    if raw > 0 {
        let _ = killpg(Pid::from_raw(raw), signal);
    }
}

/// Stops `instance`: Shutdown, wait `grace`, SIGTERM, wait `grace`, SIGKILL; always reaps.
pub(crate) async fn graceful_stop(instance: Instance, grace: Duration) {
    let Instance {
        mut process,
        channel,
        ..
    } = instance;
    let mut controller = GrpcControllerClient::new(channel);
    if tokio::time::timeout(grace, controller.shutdown(Empty {}))
        .await
        .is_err()
    {
        tracing::warn!(plugin = %process.name, pid = process.pid, "Shutdown RPC did not answer in time");
    }
    if !exited_within(&mut process, grace).await {
        tracing::warn!(plugin = %process.name, pid = process.pid, "plugin ignored Shutdown; sending SIGTERM");
        kill_group(process.pid, Signal::SIGTERM);
        if !exited_within(&mut process, grace).await {
            tracing::warn!(plugin = %process.name, pid = process.pid, "plugin ignored SIGTERM; sending SIGKILL");
        }
    }
    process.kill_and_reap().await;
    tracing::debug!(plugin = %process.name, pid = process.pid, "plugin stopped");
}

/// Whether the process exited (and was reaped) within `wait`.
async fn exited_within(process: &mut Process, wait: Duration) -> bool {
    tokio::time::timeout(wait, process.child.wait())
        .await
        .is_ok()
}
