//! [`Plugin`]: the handle to one supervised plugin process. Cheap to clone; every clone talks to
//! the same process. Dropping the last handle stops the plugin in the background; call
//! [`Plugin::stop`] to wait for it.
//!
//! A handle may be *pinned* to one process ([`Plugin::pinned`]): the registry's provider entries
//! are, so an attempt that read a provider's description (its schemas) calls the process that
//! gave it, even when a reload swaps in a new version meanwhile; once that process is retired or
//! dead, pinned calls go to the current one.

use super::binary_watch::{Fingerprint, watched_files};
use super::calls::Calls;
use super::error::{CallError, StartError};
use super::launch::launch;
use super::log_secrets::{HiddenInLogs, LogSecrets};
use super::options::{HostOptions, PluginSpec};
use super::socket_dir::sweep_stale;
use super::state::{Live, StartFailure, State};
use super::supervisor::{Supervisor, Swap};
use crate::observe::traces;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use switchyard_proto::plugin::v1::{
    DeliverRequest, DeliverResponse, DescribeResponse, GetConnectionOptionsRequest,
    GetConnectionOptionsResponse, MigrateConfigRequest, MigrateConfigResponse, PreviewRequest,
    PreviewResponse, Provider, TestConnectionRequest, TestConnectionResponse,
    ValidateConfigRequest, ValidateConfigResponse,
};
use switchyard_scrub::Scrubber;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;

/// One supervised plugin process, restarted on crash.
#[derive(Debug, Clone)]
pub struct Plugin {
    pub(super) shared: Arc<Shared>,
    /// The process this handle's calls go to while it serves (else the current one).
    pub(super) pin: Option<Arc<Live>>,
}

#[derive(Debug)]
pub(super) struct Shared {
    pub(super) name: String,
    /// The plugin id (the same for every version: a reload to another id is refused).
    pub(super) id: String,
    /// The Describe answer of the current version.
    pub(super) describe: RwLock<Arc<DescribeResponse>>,
    pub(super) calls: Calls,
    /// Hidden in the process's stderr lines, across restarts.
    pub(super) secrets: LogSecrets,
    pub(super) spec: PluginSpec,
    pub(super) opts: HostOptions,
    /// New versions for the supervisor to take over.
    pub(super) swaps: mpsc::Sender<Swap>,
    /// One reload at a time.
    pub(super) reloading: tokio::sync::Mutex<()>,
    /// The outcome of the last reload, for the API.
    pub(super) last_reload: Mutex<Option<super::reload::LastReload>>,
    /// The files it is started from, and how they looked at the last (re)load.
    pub(super) watched: Vec<PathBuf>,
    pub(super) loaded_from: Mutex<Fingerprint>,
    /// Why its last restart failed, if it did.
    pub(super) start_failure: StartFailure,
    pub(super) stop: CancellationToken,
    /// Asks the supervisor to stop when the last handle goes away.
    _stop_on_drop: DropGuard,
}

impl Plugin {
    /// Starts the plugin: spawn, handshake, health check, Describe and its checks. Socket
    /// directories left under `socket_root` by dead coordinators are removed first.
    pub async fn start(spec: PluginSpec, opts: HostOptions) -> Result<Plugin, StartError> {
        sweep_stale(&opts.socket_root);
        let secrets = LogSecrets::default();
        let watched = watched_files(&spec.command, &spec.args);
        let loaded_from = Mutex::new(Fingerprint::of(&watched));
        let instance = launch(&spec, &opts, &secrets).await?;
        let describe = Arc::new(instance.describe.clone());
        let state = Arc::new(watch::Sender::new(State::Restarting));
        let stop = CancellationToken::new();
        let (swaps, swapped) = mpsc::channel(1);
        let start_failure = StartFailure::default();
        let supervisor = Supervisor {
            swaps: swapped,
            retiring: TaskTracker::new(),
            start_failure: Arc::clone(&start_failure),
            plugin_id: describe.plugin_id.clone(),
            state: Arc::clone(&state),
            stop: stop.clone(),
            spec: spec.clone(),
            opts: opts.clone(),
            secrets: secrets.clone(),
        };
        let mut ready = state.subscribe();
        // Made before the supervisor runs: if this future is dropped while waiting below, the
        // guard stops the plugin instead of leaking it.
        let stop_on_drop = stop.clone().drop_guard();
        tokio::spawn(supervisor.run(instance));
        // The supervisor publishes the running state first thing; wait for it so the handle
        // returned is immediately usable.
        let _ = ready.wait_for(|s| !matches!(s, State::Restarting)).await;
        tracing::info!(plugin = %spec.name(), id = %describe.plugin_id, "plugin started");
        Ok(Plugin {
            pin: None,
            shared: Arc::new(Shared {
                name: spec.name(),
                id: describe.plugin_id.clone(),
                describe: RwLock::new(describe),
                spec,
                opts: opts.clone(),
                swaps,
                reloading: tokio::sync::Mutex::new(()),
                last_reload: Mutex::new(None),
                watched,
                loaded_from,
                calls: Calls {
                    permits: Semaphore::new(opts.max_in_flight.max(1)),
                    timeout: opts.call_timeout,
                    state,
                },
                secrets,
                start_failure,
                _stop_on_drop: stop_on_drop,
                stop,
            }),
        })
    }

    /// The plugin id from Describe.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// The executable's file name, for logs.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The validated Describe answer: of the process this handle is pinned to, else of the
    /// current version.
    #[must_use]
    pub fn describe(&self) -> Arc<DescribeResponse> {
        match &self.pin {
            Some(live) => Arc::clone(&live.describe),
            None => Arc::clone(
                &self
                    .shared
                    .describe
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            ),
        }
    }

    /// How the plugin's files looked when the running version was (re)loaded from them.
    pub(super) fn loaded_from(&self) -> Fingerprint {
        self.shared
            .loaded_from
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// A handle pinned to the current process (see the module doc).
    #[must_use]
    pub fn pinned(&self) -> Plugin {
        Plugin {
            shared: Arc::clone(&self.shared),
            pin: self.shared.calls.live(),
        }
    }

    /// The provider with this local id.
    #[must_use]
    pub fn provider(&self, local_id: &str) -> Option<Provider> {
        self.describe()
            .providers
            .iter()
            .find(|p| p.id == local_id)
            .cloned()
    }

    /// Whether the process is up and taking calls.
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.shared.calls.live().is_some()
    }

    /// Why the plugin's last restart failed (e.g. a SHA-256 mismatch), while it is down; `None`
    /// once a start succeeds.
    #[must_use]
    pub fn start_error(&self) -> Option<String> {
        self.shared
            .start_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The current process id (also its process group id), while running.
    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        self.shared.calls.live().map(|l| l.pid)
    }

    /// The current process's Unix socket, while running.
    #[must_use]
    pub fn socket_path(&self) -> Option<PathBuf> {
        self.shared.calls.live().map(|l| l.socket.clone())
    }

    /// Waits until the plugin is running again (after a crash); false once it is stopped.
    pub async fn wait_running(&self) -> bool {
        let mut rx = self.shared.calls.state.subscribe();
        let state = rx
            .wait_for(|s| matches!(s, State::Running(_) | State::Stopped))
            .await;
        state.is_ok_and(|s| matches!(*s, State::Running(_)))
    }

    /// Hides `secrets` in the plugin's log lines while the guard lives, and for the next
    /// [`RECENT_CALLS`](super::RECENT_CALLS) calls after it is dropped: take one around a call
    /// whose request carries secrets.
    #[must_use]
    pub fn hide_in_logs(&self, secrets: Scrubber) -> HiddenInLogs {
        self.shared.secrets.hide(secrets)
    }

    /// Delivers one event (one attempt).
    pub async fn deliver(&self, req: DeliverRequest) -> Result<DeliverResponse, CallError> {
        self.shared
            .calls
            .call("Deliver", self.pin.as_ref(), |mut c| async move {
                c.deliver(traces::request(req)).await
            })
            .await
    }

    /// Tests a provider or connection config against the external system.
    pub async fn test_connection(
        &self,
        req: TestConnectionRequest,
    ) -> Result<TestConnectionResponse, CallError> {
        self.shared
            .calls
            .call("TestConnection", self.pin.as_ref(), |mut c| async move {
                c.test_connection(traces::request(req)).await
            })
            .await
    }

    /// Resolves the options of an `x-options-resolver` field.
    pub async fn get_connection_options(
        &self,
        req: GetConnectionOptionsRequest,
    ) -> Result<GetConnectionOptionsResponse, CallError> {
        self.shared
            .calls
            .call(
                "GetConnectionOptions",
                self.pin.as_ref(),
                |mut c| async move { c.get_connection_options(traces::request(req)).await },
            )
            .await
    }

    /// Upgrades a stored config to the provider's current schema version.
    pub async fn migrate_config(
        &self,
        req: MigrateConfigRequest,
    ) -> Result<MigrateConfigResponse, CallError> {
        self.shared
            .calls
            .call("MigrateConfig", self.pin.as_ref(), |mut c| async move {
                c.migrate_config(traces::request(req)).await
            })
            .await
    }

    /// Checks a config beyond its schema (at save time).
    pub async fn validate_config(
        &self,
        req: ValidateConfigRequest,
    ) -> Result<ValidateConfigResponse, CallError> {
        self.shared
            .calls
            .call("ValidateConfig", self.pin.as_ref(), |mut c| async move {
                c.validate_config(traces::request(req)).await
            })
            .await
    }

    /// Renders the request a delivery would send, without sending it.
    pub async fn preview(&self, req: PreviewRequest) -> Result<PreviewResponse, CallError> {
        self.shared
            .calls
            .call("Preview", self.pin.as_ref(), |mut c| async move {
                c.preview(traces::request(req)).await
            })
            .await
    }

    /// Stops the plugin gracefully (Shutdown, SIGTERM, SIGKILL of its process group) and waits
    /// until it is reaped and its socket directory removed. Idempotent.
    pub async fn stop(&self) {
        self.shared.stop.cancel();
        let mut rx = self.shared.calls.state.subscribe();
        let _ = rx.wait_for(|s| matches!(s, State::Stopped)).await;
    }
}
