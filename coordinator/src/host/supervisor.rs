//! The supervisor: one task per plugin that owns its process. It publishes the [`State`],
//! notices a crash by waiting on the child, fails the calls in flight (they see `Crashed`),
//! restarts the plugin with exponential backoff, and on request stops it gracefully.
//!
//! It also takes over a new version of the plugin that `reload` started and checked (a
//! [`Swap`]): the new process becomes the one calls go to at once, and the old one is retired
//! in the background — once no call and no handle pinned to it is left (or the call deadline
//! has passed), it is stopped gracefully and reaped. A stop waits for those retirements too.

use super::launch::{Instance, launch};
use super::log_secrets::LogSecrets;
use super::options::{HostOptions, PluginSpec};
use super::state::{Live, StartFailure, State};
use super::stop::graceful_stop;
use std::sync::Arc;
use std::time::Duration;
use switchyard_proto::plugin::v1::provider_plugin_client::ProviderPluginClient;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A plugin that stayed up this long is considered healthy again: the next crash restarts it
/// after the minimum delay.
const HEALTHY_UPTIME: Duration = Duration::from_secs(10);

/// How often a retiring process is checked for calls and handles still using it. Its users are
/// many and short-lived (calls, engine attempts), so they are counted, not made to signal.
const DRAIN_POLL: Duration = Duration::from_millis(10);

/// A new version of the plugin, started and accepted, to take over from the running one.
#[derive(Debug)]
pub(crate) struct Swap {
    pub(crate) instance: Instance,
    /// Already handed out to pinned handles (the checks before the swap called it).
    pub(crate) live: Arc<Live>,
    /// Gets the pid of the replaced process once it is stopped and reaped (`None`: none was
    /// running, the swap ended a restart).
    pub(crate) done: oneshot::Sender<Option<u32>>,
}

/// Everything the supervisor task needs.
#[derive(Debug)]
pub(crate) struct Supervisor {
    pub(crate) spec: PluginSpec,
    pub(crate) opts: HostOptions,
    /// The plugin id the first start described; a restart must describe the same.
    pub(crate) plugin_id: String,
    pub(crate) state: Arc<watch::Sender<State>>,
    /// Cancelled to ask for a graceful stop.
    pub(crate) stop: CancellationToken,
    /// Hidden in the stderr lines of every process it starts.
    pub(crate) secrets: LogSecrets,
    /// New versions to take over.
    pub(crate) swaps: mpsc::Receiver<Swap>,
    /// Replaced processes being drained and stopped.
    pub(crate) retiring: TaskTracker,
    /// Why the last restart failed (shown by the API), cleared by the next that succeeds.
    pub(crate) start_failure: StartFailure,
}

/// What ended a running period.
enum Event {
    Exited(String),
    StopRequested,
    Swap(Box<Swap>),
}

/// The [`Live`] view of an instance.
pub(crate) fn live_of(instance: &Instance) -> Arc<Live> {
    Arc::new(Live {
        client: ProviderPluginClient::new(instance.channel.clone()),
        died: CancellationToken::new(),
        pid: instance.process.pid,
        socket: instance.socket.clone(),
        describe: Arc::new(instance.describe.clone()),
        retired: CancellationToken::new(),
    })
}

impl Supervisor {
    /// Supervises `instance` until a stop is requested; returns when the plugin is stopped.
    pub(crate) async fn run(mut self, instance: Instance) {
        let mut backoff = self.opts.restart_backoff_min;
        let mut live = live_of(&instance);
        let mut instance = instance;
        loop {
            self.state.send_replace(State::Running(Arc::clone(&live)));
            crate::observe::metrics::plugin_started(&self.spec.name());
            let started = Instant::now();
            let event = tokio::select! {
                status = instance.process.child.wait() => {
                    Event::Exited(status.map_or_else(|e| e.to_string(), |s| s.to_string()))
                }
                () = self.stop.cancelled() => Event::StopRequested,
                Some(swap) = self.swaps.recv() => Event::Swap(Box::new(swap)),
            };
            match event {
                Event::StopRequested => {
                    self.state.send_replace(State::Stopping);
                    crate::observe::metrics::plugin_stopped(&self.spec.name());
                    graceful_stop(instance, self.opts.stop_grace).await;
                    live.died.cancel();
                    break;
                }
                Event::Swap(swap) => {
                    let swap = *swap;
                    let old = std::mem::replace(&mut instance, swap.instance);
                    let old_live = std::mem::replace(&mut live, swap.live);
                    tracing::info!(plugin = %self.spec.name(), old_pid = old_live.pid, pid = live.pid, "new plugin version took over; retiring the old one");
                    self.retire(old, old_live, swap.done);
                }
                Event::Exited(status) => {
                    self.state.send_replace(State::Restarting);
                    crate::observe::metrics::plugin_crashed(&self.spec.name());
                    self.opts.crashes.report(super::PluginCrash {
                        plugin: self.spec.name(),
                        pid: live.pid,
                        status: status.clone(),
                        at: chrono::Utc::now(),
                    });
                    live.died.cancel();
                    tracing::error!(plugin = %self.spec.name(), pid = live.pid, %status, "plugin crashed; restarting it");
                    instance.process.kill_and_reap().await;
                    drop(instance);
                    if started.elapsed() >= HEALTHY_UPTIME {
                        backoff = self.opts.restart_backoff_min;
                    }
                    match self.restart(&mut backoff).await {
                        Some((next, next_live)) => (instance, live) = (next, next_live),
                        None => break,
                    }
                }
            }
        }
        self.finish().await;
    }

    /// After the stop: refuses swaps still queued (stopping their processes), waits for the
    /// retirements, then reports the plugin stopped.
    async fn finish(&mut self) {
        self.swaps.close();
        while let Ok(swap) = self.swaps.try_recv() {
            swap.live.died.cancel();
            graceful_stop(swap.instance, self.opts.stop_grace).await;
        }
        self.retiring.close();
        self.retiring.wait().await;
        self.state.send_replace(State::Stopped);
    }

    /// Drains and stops a replaced process in the background: waits until no call or handle
    /// uses it any more (at most one call deadline, after which every call it had has ended
    /// anyway), marks it retired, stops it gracefully and reports its pid.
    fn retire(&self, instance: Instance, live: Arc<Live>, done: oneshot::Sender<Option<u32>>) {
        let (name, grace, drain) = (
            self.spec.name(),
            self.opts.stop_grace,
            self.opts.call_timeout,
        );
        self.retiring.spawn(async move {
            let deadline = Instant::now() + drain;
            while Arc::strong_count(&live) > 1 && Instant::now() < deadline {
                tokio::time::sleep(DRAIN_POLL).await;
            }
            if Arc::strong_count(&live) > 1 {
                tracing::warn!(plugin = %name, pid = live.pid, "calls to the replaced plugin version still running after the call deadline; stopping it anyway");
            }
            live.retired.cancel();
            graceful_stop(instance, grace).await;
            live.died.cancel();
            tracing::info!(plugin = %name, pid = live.pid, "replaced plugin version stopped and reaped");
            let _ = done.send(Some(live.pid));
        });
    }

    /// Starts the plugin again, waiting `backoff` (doubled each time) before each attempt; a
    /// new version swapped in meanwhile ends the wait. None when a stop was requested meanwhile.
    async fn restart(&mut self, backoff: &mut Duration) -> Option<(Instance, Arc<Live>)> {
        loop {
            tokio::select! {
                () = tokio::time::sleep(*backoff) => {}
                () = self.stop.cancelled() => return None,
                Some(swap) = self.swaps.recv() => {
                    tracing::info!(plugin = %self.spec.name(), pid = swap.live.pid, "new plugin version took over from the crashed one");
                    let _ = swap.done.send(None);
                    return Some((swap.instance, swap.live));
                }
            }
            *backoff = (*backoff * 2).min(self.opts.restart_backoff_max);
            match launch(&self.spec, &self.opts, &self.secrets).await {
                Ok(instance) if self.stop.is_cancelled() => {
                    graceful_stop(instance, self.opts.stop_grace).await;
                    return None;
                }
                Ok(instance) if instance.describe.plugin_id == self.plugin_id => {
                    self.note_start_failure(None);
                    tracing::info!(plugin = %self.spec.name(), pid = instance.process.pid, "plugin restarted");
                    let live = live_of(&instance);
                    return Some((instance, live));
                }
                Ok(instance) => {
                    tracing::error!(plugin = %self.spec.name(), described = %instance.describe.plugin_id,
                        expected = %self.plugin_id, "restarted plugin describes another plugin id; stopping it");
                    graceful_stop(instance, self.opts.stop_grace).await;
                }
                Err(err) => {
                    tracing::error!(plugin = %self.spec.name(), %err, retry_in = ?*backoff, "plugin restart failed");
                    self.note_start_failure(Some(err.to_string()));
                }
            }
        }
    }

    fn note_start_failure(&self, failure: Option<String>) {
        *self
            .start_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = failure;
    }
}
