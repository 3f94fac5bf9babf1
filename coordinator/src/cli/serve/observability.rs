//! Starts the operator's HTTP listener for `serve` (see `observe::http`): first of all, so that
//! probes see the coordinator as alive and not ready while it opens its store and starts its
//! plugins.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;

use super::ServeFailure;
use crate::cfg::Config;
use crate::observe::http::{self, Observed};
use crate::observe::metrics;
use crate::observe::readiness::Readiness;

/// Installs the metrics recorder and serves the listener of `[observability] listen`, if any;
/// returns what the endpoints read and the bound address.
///
/// # Errors
/// [`ServeFailure::Observability`] when the address cannot be bound.
pub(super) async fn start(
    cfg: &Config,
    shutdown: &CancellationToken,
) -> Result<(Arc<Observed>, Option<SocketAddr>), ServeFailure> {
    let Some(addr) = cfg.observability.listen else {
        let observed = Observed {
            metrics: None,
            readiness: Arc::new(Readiness::default()),
            store: OnceLock::new(),
        };
        return Ok((Arc::new(observed), None));
    };
    let listener = http::bind(addr)
        .await
        .map_err(|source| ServeFailure::Observability {
            addr: addr.to_string(),
            source,
        })?;
    let bound = listener.local_addr().ok();
    tracing::info!(addr = ?bound, "observability listener: /metrics, /healthz, /readyz");
    let recorder = metrics::install()
        .map_err(|e| tracing::warn!(error = %e, "metrics are not recorded"))
        .ok();
    let observed = Arc::new(Observed {
        metrics: recorder,
        readiness: Arc::new(Readiness::default()),
        store: OnceLock::new(),
    });
    let serving = observed.clone();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        if let Err(e) = http::serve(listener, serving, stop).await {
            tracing::error!(error = %e, "the observability listener failed");
        }
    });
    Ok((observed, bound))
}
