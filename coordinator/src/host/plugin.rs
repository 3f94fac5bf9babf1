//! [`Plugin`]: the handle to one supervised plugin process. Cheap to clone; every clone talks to
//! the same process. Dropping the last handle stops the plugin in the background; call
//! [`Plugin::stop`] to wait for it.

use super::calls::Calls;
use super::error::{CallError, StartError};
use super::launch::launch;
use super::log_secrets::{HiddenInLogs, LogSecrets};
use super::options::{HostOptions, PluginSpec};
use super::socket_dir::sweep_stale;
use super::state::{StartFailure, State};
use super::supervisor::Supervisor;
use std::path::PathBuf;
use std::sync::Arc;
use switchyard_proto::plugin::v1::{
    DeliverRequest, DeliverResponse, DescribeResponse, GetConnectionOptionsRequest,
    GetConnectionOptionsResponse, MigrateConfigRequest, MigrateConfigResponse, PreviewRequest,
    PreviewResponse, Provider, TestConnectionRequest, TestConnectionResponse,
    ValidateConfigRequest, ValidateConfigResponse,
};
use switchyard_scrub::Scrubber;
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::{CancellationToken, DropGuard};

/// One supervised plugin process, restarted on crash.
#[derive(Debug, Clone)]
pub struct Plugin {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    name: String,
    describe: Arc<DescribeResponse>,
    calls: Calls,
    /// Hidden in the process's stderr lines, across restarts.
    secrets: LogSecrets,
    /// Why its last restart failed, if it did.
    start_failure: StartFailure,
    stop: CancellationToken,
    /// Asks the supervisor to stop when the last handle goes away.
    _stop_on_drop: DropGuard,
}

impl Plugin {
    /// Starts the plugin: spawn, handshake, health check, Describe and its checks. Socket
    /// directories left under `socket_root` by dead coordinators are removed first.
    pub async fn start(spec: PluginSpec, opts: HostOptions) -> Result<Plugin, StartError> {
        sweep_stale(&opts.socket_root);
        let secrets = LogSecrets::default();
        let instance = launch(&spec, &opts, &secrets).await?;
        let describe = Arc::new(instance.describe.clone());
        let state = Arc::new(watch::Sender::new(State::Restarting));
        let stop = CancellationToken::new();
        let start_failure = StartFailure::default();
        let supervisor = Supervisor {
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
            shared: Arc::new(Shared {
                name: spec.name(),
                describe,
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
        &self.shared.describe.plugin_id
    }

    /// The executable's file name, for logs.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The validated Describe answer of the first start.
    #[must_use]
    pub fn describe(&self) -> Arc<DescribeResponse> {
        Arc::clone(&self.shared.describe)
    }

    /// The provider with this local id.
    #[must_use]
    pub fn provider(&self, local_id: &str) -> Option<Provider> {
        self.shared
            .describe
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
            .call(|mut c| async move { c.deliver(req).await })
            .await
    }

    /// Tests a provider or connection config against the external system.
    pub async fn test_connection(
        &self,
        req: TestConnectionRequest,
    ) -> Result<TestConnectionResponse, CallError> {
        self.shared
            .calls
            .call(|mut c| async move { c.test_connection(req).await })
            .await
    }

    /// Resolves the options of an `x-options-resolver` field.
    pub async fn get_connection_options(
        &self,
        req: GetConnectionOptionsRequest,
    ) -> Result<GetConnectionOptionsResponse, CallError> {
        self.shared
            .calls
            .call(|mut c| async move { c.get_connection_options(req).await })
            .await
    }

    /// Upgrades a stored config to the provider's current schema version.
    pub async fn migrate_config(
        &self,
        req: MigrateConfigRequest,
    ) -> Result<MigrateConfigResponse, CallError> {
        self.shared
            .calls
            .call(|mut c| async move { c.migrate_config(req).await })
            .await
    }

    /// Checks a config beyond its schema (at save time).
    pub async fn validate_config(
        &self,
        req: ValidateConfigRequest,
    ) -> Result<ValidateConfigResponse, CallError> {
        self.shared
            .calls
            .call(|mut c| async move { c.validate_config(req).await })
            .await
    }

    /// Renders the request a delivery would send, without sending it.
    pub async fn preview(&self, req: PreviewRequest) -> Result<PreviewResponse, CallError> {
        self.shared
            .calls
            .call(|mut c| async move { c.preview(req).await })
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
