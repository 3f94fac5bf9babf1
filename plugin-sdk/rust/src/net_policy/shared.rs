//! [`SharedClient`]: the one [`PolicyClient`] a provider keeps for all its deliveries, built
//! on first use rather than at start. Building it (TLS backend, root certificates) is the
//! costliest part of a plugin's start and the host waits for the handshake line; built once,
//! it pools connections. A failed build is not kept: the next delivery tries again.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

use super::NetworkPolicy;
use super::client::PolicyClient;

/// The overall per-request timeout of a shared client; providers set a shorter one per
/// request from their config.
pub const SHARED_CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// A lazily built, shared [`PolicyClient`]; clones share the client.
#[derive(Debug, Clone, Default)]
pub struct SharedClient {
    cell: Arc<OnceCell<PolicyClient>>,
    /// `None`: the policy the coordinator set in the environment (`SWITCHYARD_NETWORK_ALLOW`).
    policy: Option<NetworkPolicy>,
}

impl SharedClient {
    /// A client held to the policy in the plugin's environment.
    #[must_use]
    pub fn from_env() -> Self {
        Self::default()
    }

    /// A client held to `policy` (in-process tests delivering to a local server).
    #[must_use]
    pub fn with_policy(policy: NetworkPolicy) -> Self {
        Self {
            cell: Arc::default(),
            policy: Some(policy),
        }
    }

    /// The client, built by the first caller (others wait for it).
    ///
    /// # Errors
    /// A text for the log when the allow-list cannot be read or TLS cannot be initialised.
    pub async fn get(&self) -> Result<&PolicyClient, String> {
        self.cell
            .get_or_try_init(|| async {
                let policy = match &self.policy {
                    Some(policy) => policy.clone(),
                    None => NetworkPolicy::from_env().map_err(|e| e.to_string())?,
                };
                PolicyClient::new(SHARED_CLIENT_TIMEOUT, &policy).map_err(|e| e.to_string())
            })
            .await
    }
}
