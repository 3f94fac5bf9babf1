//! One call to a plugin: a slot from the per-plugin in-flight limit, the live client (or
//! `NotRunning` at once), the call itself under the per-call deadline, and the mapping of its
//! `tonic::Status` to [`CallError`]. A transport failure is reported as `Crashed` when the
//! process turns out to have died.

use super::error::CallError;
use super::state::{Live, State};
use crate::observe::traces;
use std::sync::Arc;
use std::time::Duration;
use switchyard_proto::plugin::v1::provider_plugin_client::ProviderPluginClient;
use tokio::sync::{Semaphore, watch};
use tonic::transport::Channel;
use tonic::{Code, Status};

/// How long a call that failed on the transport waits to learn whether the process died.
const CRASH_GRACE: Duration = Duration::from_secs(1);

/// The per-plugin call limits and the live state they read.
#[derive(Debug)]
pub(crate) struct Calls {
    /// Bounds the calls in flight; a permit is held for the length of one call.
    pub(crate) permits: Semaphore,
    /// The deadline of each call.
    pub(crate) timeout: Duration,
    /// Published by the supervisor.
    pub(crate) state: Arc<watch::Sender<State>>,
}

impl Calls {
    /// The running process, if any. The read lock is released before this returns.
    pub(crate) fn live(&self) -> Option<Arc<Live>> {
        match &*self.state.borrow() {
            State::Running(live) => Some(Arc::clone(live)),
            _ => None,
        }
    }

    /// Runs `rpc` against the live client with the in-flight limit and the deadline: against
    /// `pin` (the process a handle was made for) while it serves, else the current process;
    /// under a client span named for `method` while traces are on (build the request with
    /// [`crate::observe::traces::request`] to send its context along).
    pub(crate) async fn call<T, F, Fut>(
        &self,
        method: &'static str,
        pin: Option<&Arc<Live>>,
        rpc: F,
    ) -> Result<T, CallError>
    where
        F: FnOnce(ProviderPluginClient<Channel>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        use opentelemetry::context::FutureExt as _;
        let Some(cx) = traces::plugin_call(method) else {
            return self.call_untraced(pin, rpc).await;
        };
        let result = self.call_untraced(pin, rpc).with_context(cx.clone()).await;
        // The kind of failure only: the plugin's own words may quote a secret (they are
        // scrubbed later, by the caller that knows the call's secrets).
        traces::end(&cx, result.as_ref().err().map(CallError::kind));
        result
    }

    async fn call_untraced<T, F, Fut>(
        &self,
        pin: Option<&Arc<Live>>,
        rpc: F,
    ) -> Result<T, CallError>
    where
        F: FnOnce(ProviderPluginClient<Channel>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        // Checked before waiting for a slot, so calls fail fast while the plugin is down.
        let pinned = pin.filter(|live| live.serves()).map(Arc::clone);
        let live = pinned
            .or_else(|| self.live())
            .ok_or(CallError::NotRunning)?;
        let work = async {
            let _permit = self
                .permits
                .acquire()
                .await
                .map_err(|_| CallError::NotRunning)?;
            match rpc(live.client.clone()).await {
                Ok(response) => Ok(response.into_inner()),
                Err(status) => Err(classify(status, &live).await),
            }
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or(Err(CallError::DeadlineExceeded))
    }
}

/// Maps a failed call's status to a [`CallError`].
async fn classify(status: Status, live: &Live) -> CallError {
    match status.code() {
        Code::NotFound => CallError::NotFound(status.message().to_owned()),
        Code::Unimplemented => CallError::Unimplemented(status.message().to_owned()),
        Code::DeadlineExceeded => CallError::DeadlineExceeded,
        Code::Unavailable | Code::Unknown | Code::Cancelled | Code::Internal
            if from_transport(&status) =>
        {
            if died_soon(live).await {
                CallError::Crashed
            } else {
                CallError::Rpc(status)
            }
        }
        _ if live.died.is_cancelled() => CallError::Crashed,
        _ => CallError::Rpc(status),
    }
}

/// Whether tonic made this status from a connection error (the plugin did not send it).
fn from_transport(status: &Status) -> bool {
    std::error::Error::source(status).is_some()
}

/// Whether the process died, or dies within [`CRASH_GRACE`] (the supervisor reaps it a moment
/// after the connection drops).
async fn died_soon(live: &Live) -> bool {
    tokio::time::timeout(CRASH_GRACE, live.died.cancelled())
        .await
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_util::sync::CancellationToken;

    fn live() -> Live {
        // Never dialed: classify only reads the token.
        let channel = tonic::transport::Endpoint::from_static("http://localhost").connect_lazy();
        Live {
            client: ProviderPluginClient::new(channel),
            died: CancellationToken::new(),
            pid: 0,
            socket: std::path::PathBuf::new(),
            describe: Arc::default(),
            retired: CancellationToken::new(),
        }
    }

    #[tokio::test]
    async fn protocol_codes_map_to_their_variants() {
        let live = live();
        let not_found = classify(Status::not_found("no provider \"x\""), &live).await;
        assert!(matches!(not_found, CallError::NotFound(m) if m.contains("\"x\"")));
        let unimplemented = classify(Status::unimplemented("no"), &live).await;
        assert!(matches!(unimplemented, CallError::Unimplemented(_)));
        let deadline = classify(Status::deadline_exceeded("late"), &live).await;
        assert!(matches!(deadline, CallError::DeadlineExceeded));
    }

    #[tokio::test]
    async fn an_internal_error_from_a_live_plugin_is_an_rpc_error() {
        let err = classify(Status::internal("bug"), &live()).await;
        assert!(matches!(err, CallError::Rpc(s) if s.code() == Code::Internal));
    }

    #[tokio::test]
    async fn a_failure_after_the_process_died_is_a_crash() {
        let live = live();
        live.died.cancel();
        assert!(matches!(
            classify(Status::unavailable("gone"), &live).await,
            CallError::Crashed
        ));
    }
}
