//! The supervisor: one task per plugin that owns its process. It publishes the [`State`],
//! notices a crash by waiting on the child, fails the calls in flight (they see `Crashed`),
//! restarts the plugin with exponential backoff, and on request stops it gracefully.

use super::launch::{Instance, launch};
use super::log_secrets::LogSecrets;
use super::options::{HostOptions, PluginSpec};
use super::state::{Live, StartFailure, State};
use super::stop::graceful_stop;
use std::sync::Arc;
use std::time::Duration;
use switchyard_proto::plugin::v1::provider_plugin_client::ProviderPluginClient;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A plugin that stayed up this long is considered healthy again: the next crash restarts it
/// after the minimum delay.
const HEALTHY_UPTIME: Duration = Duration::from_secs(10);

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
    /// Why the last restart failed (shown by the API), cleared by the next that succeeds.
    pub(crate) start_failure: StartFailure,
}

/// What ended a running period.
enum Event {
    Exited(String),
    StopRequested,
}

impl Supervisor {
    /// Supervises `instance` until a stop is requested; returns when the plugin is stopped.
    pub(crate) async fn run(self, mut instance: Instance) {
        let mut backoff = self.opts.restart_backoff_min;
        loop {
            let live = self.publish(&instance);
            crate::observe::metrics::plugin_started(&self.spec.name());
            let started = Instant::now();
            let event = tokio::select! {
                status = instance.process.child.wait() => {
                    Event::Exited(status.map_or_else(|e| e.to_string(), |s| s.to_string()))
                }
                () = self.stop.cancelled() => Event::StopRequested,
            };
            match event {
                Event::StopRequested => {
                    self.state.send_replace(State::Stopping);
                    crate::observe::metrics::plugin_stopped(&self.spec.name());
                    graceful_stop(instance, self.opts.stop_grace).await;
                    live.died.cancel();
                    break;
                }
                Event::Exited(status) => {
                    self.state.send_replace(State::Restarting);
                    crate::observe::metrics::plugin_crashed(&self.spec.name());
                    live.died.cancel();
                    tracing::error!(plugin = %self.spec.name(), pid = live.pid, %status, "plugin crashed; restarting it");
                    instance.process.kill_and_reap().await;
                    drop(instance);
                    if started.elapsed() >= HEALTHY_UPTIME {
                        backoff = self.opts.restart_backoff_min;
                    }
                    match self.restart(&mut backoff).await {
                        Some(next) => instance = next,
                        None => break,
                    }
                }
            }
        }
        self.state.send_replace(State::Stopped);
    }

    /// Makes `instance` the one calls go to.
    fn publish(&self, instance: &Instance) -> Arc<Live> {
        let live = Arc::new(Live {
            client: ProviderPluginClient::new(instance.channel.clone()),
            died: CancellationToken::new(),
            pid: instance.process.pid,
            socket: instance.socket.clone(),
        });
        self.state.send_replace(State::Running(Arc::clone(&live)));
        live
    }

    /// Starts the plugin again, waiting `backoff` (doubled each time) before each attempt.
    /// None when a stop was requested meanwhile.
    async fn restart(&self, backoff: &mut Duration) -> Option<Instance> {
        loop {
            tokio::select! {
                () = tokio::time::sleep(*backoff) => {}
                () = self.stop.cancelled() => return None,
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
                    return Some(instance);
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
