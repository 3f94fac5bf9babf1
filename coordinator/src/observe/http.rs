//! The operator's HTTP listener (`[observability] listen`): `GET /metrics` (Prometheus text
//! format, the backlog read from the store at each scrape), `GET /healthz` (200 while the
//! process answers) and `GET /readyz` (200 once [`Readiness`] says so, else 503 naming what
//! is missing). It serves from the first moments of `serve`, before the plugins start, so that
//! an orchestrator sees "alive, not ready" rather than nothing. Nothing here reveals ids or
//! secrets, so it needs no token; keep it on loopback or a private network all the same.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio_util::sync::CancellationToken;

use super::readiness::Readiness;
use crate::store::Store;

/// What the endpoints read.
#[derive(Debug)]
pub struct Observed {
    /// Renders the metrics; `None` when the recorder could not be installed.
    pub metrics: Option<PrometheusHandle>,
    /// The start's progress.
    pub readiness: Arc<Readiness>,
    /// The store, once open (for the backlog gauges).
    pub store: OnceLock<Arc<dyn Store>>,
}

/// Binds `addr`.
///
/// # Errors
/// When the address cannot be bound.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// Serves the endpoints on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    observed: Arc<Observed>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(observed);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

async fn metrics(State(observed): State<Arc<Observed>>) -> impl IntoResponse {
    let Some(handle) = &observed.metrics else {
        return (
            StatusCode::NOT_FOUND,
            "metrics are not recorded\n".to_owned(),
        )
            .into_response();
    };
    if let Some(store) = observed.store.get() {
        let store = store.clone();
        let now = chrono::Utc::now();
        // A scan of the schedule: off the async threads.
        match tokio::task::spawn_blocking(move || store.backlog(now)).await {
            Ok(Ok(backlog)) => super::metrics::backlog(&backlog),
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot read the backlog for /metrics"),
            Err(_) => {}
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}

async fn readyz(State(observed): State<Arc<Observed>>) -> impl IntoResponse {
    let missing = observed.readiness.missing();
    if missing.is_empty() {
        (StatusCode::OK, "ready\n".to_owned())
    } else {
        let text = format!("not ready: waiting for {}\n", missing.join(", "));
        (StatusCode::SERVICE_UNAVAILABLE, text)
    }
}
