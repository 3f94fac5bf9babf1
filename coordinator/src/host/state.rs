//! The state a plugin handle reads on every call: whether the process is running and, if so, the
//! gRPC client to reach it. Published by the supervisor through a `watch` channel, so a call only
//! takes a short read lock to clone the client and never holds it across an await.

use std::path::PathBuf;
use std::sync::Arc;
use switchyard_proto::plugin::v1::DescribeResponse;
use switchyard_proto::plugin::v1::provider_plugin_client::ProviderPluginClient;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// Where a supervised plugin is in its life.
#[derive(Debug, Clone)]
pub(crate) enum State {
    /// Accepting calls.
    Running(std::sync::Arc<Live>),
    /// Crashed; the supervisor is restarting it (with backoff). Calls fail fast.
    Restarting,
    /// A graceful stop is in progress. Calls fail fast.
    Stopping,
    /// Stopped for good; the process is reaped and its socket directory removed.
    Stopped,
}

/// Why the plugin's last start (a restart after a crash) failed; `None` once one succeeds.
/// Shared by the supervisor, which writes it, and the plugin's handles, which read it.
pub(crate) type StartFailure = std::sync::Arc<std::sync::Mutex<Option<String>>>;

/// One running process as callers see it.
#[derive(Debug)]
pub(crate) struct Live {
    /// Cloned per call (a cheap handle onto one HTTP/2 connection).
    pub(crate) client: ProviderPluginClient<Channel>,
    /// Cancelled when this process has died (or was stopped), so a call that failed on the
    /// transport can tell a crash from an ordinary error.
    pub(crate) died: CancellationToken,
    /// The process id (and process group id).
    pub(crate) pid: u32,
    /// The plugin's Unix socket.
    pub(crate) socket: PathBuf,
    /// What this process answered to Describe (a reload may bring a different one).
    pub(crate) describe: Arc<DescribeResponse>,
    /// Cancelled when a newer version took over and this one's calls drained (or their time
    /// ran out): handles pinned to it go to the current process from then on.
    pub(crate) retired: CancellationToken,
}

impl Live {
    /// Whether calls may still go to this process.
    pub(crate) fn serves(&self) -> bool {
        !self.retired.is_cancelled() && !self.died.is_cancelled()
    }
}
