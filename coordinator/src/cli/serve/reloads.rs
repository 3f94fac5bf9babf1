//! The reloads the coordinator starts by itself: every plugin on SIGHUP, and one whose files
//! were replaced on disk (`plugins.watch_interval`). Both go through the engine's upgrade gate,
//! like `switchyard plugins reload`; outcomes are logged and kept for the API.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use crate::host::{BinaryWatch, Registry};

/// Starts the SIGHUP handler and, with an interval, the binary watch; both end at `shutdown`.
pub(super) fn start(
    registry: &Registry,
    engine: &Engine,
    watch_interval: Option<Duration>,
    shutdown: &CancellationToken,
) -> Vec<JoinHandle<()>> {
    let mut tasks = vec![tokio::spawn(on_sighup(
        registry.clone(),
        engine.clone(),
        shutdown.clone(),
    ))];
    if let Some(interval) = watch_interval {
        let (registry, gate, shutdown) =
            (registry.clone(), engine.upgrade_gate(), shutdown.clone());
        tasks.push(tokio::spawn(async move {
            BinaryWatch::run(registry, gate.as_ref(), interval, shutdown).await;
        }));
    }
    tasks
}

/// Reloads every plugin on each SIGHUP (one after the other; a SIGHUP during a round starts
/// another round after it).
async fn on_sighup(registry: Registry, engine: Engine, shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::error!(
            "cannot install the SIGHUP handler; reload plugins with `switchyard plugins reload`"
        );
        return;
    };
    let gate = engine.upgrade_gate();
    loop {
        tokio::select! {
            received = hup.recv() => if received.is_none() { return },
            () = shutdown.cancelled() => return,
        }
        tracing::info!("SIGHUP received: reloading every plugin");
        registry.reload_all(gate.as_ref()).await;
    }
}
