//! The platform gRPC API (`switchyard.coordinator.v1`): one file per resource
//! ([`providers`], [`event_types`], [`connections`], [`subscriptions`], [`events`],
//! [`deliveries`], [`secret_keys`]), each handler shaped decode → validate → apply → encode, and [`status`], the
//! only place that turns errors into `tonic::Status`. [`server`] binds the listeners (Unix
//! socket + TCP, with `tls` when configured) with gRPC health and `reflection`; `auth` holds
//! the role table every call is checked against; [`uds_authority`] lets standard gRPC clients
//! (grpcio, grpc-java) use the Unix socket; [`console`] serves the web console next to
//! gRPC-Web; [`bounds`] holds the documented limits of every name, id and description. Subscription and
//! connection lifecycles and the config pipeline are the application layer's (`crate::app`);
//! the handlers convert to and from it.
//!
//! Handlers validate everything before the first write, so a rejected call stores nothing.
//! They reach the state through [`ApiContext`]: the application layer ([`ApiContext::app`])
//! for subscription and connection lifecycles, the store for other records, the engine for
//! publish, redelivery and watching, the host registry for plugin calls, and the secrets module
//! for configs. Configs in responses are always redacted.

pub(crate) mod auth;
pub mod bounds;
pub mod connections;
pub mod console;
pub mod convert;
pub mod deliveries;
pub mod event_types;
pub mod events;
pub mod payload_schemas;
pub mod providers;
pub(crate) mod reflection;
pub mod request_metrics;
pub mod request_traces;
pub mod secret_keys;
pub mod server;
pub mod status;
pub mod subscriptions;
pub(crate) mod tls;
pub mod transport_errors;
pub mod uds_authority;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use crate::host::Registry;
use crate::secrets::Secrets;
use crate::secrets::rotate::Rotation;
use crate::store::Store;

pub use server::{ApiServer, ServeError};
pub use status::{ApiError, ApiResult};

/// What every handler needs; cheap to clone (everything inside is shared).
#[derive(Debug, Clone)]
pub struct ApiContext {
    /// Durable records.
    pub store: Arc<dyn Store>,
    /// The running plugins.
    pub registry: Registry,
    /// Encryption and redaction of `x-secret` values.
    pub secrets: Arc<Secrets>,
    /// Rotation of the secret key (one at a time, shared with the resume at start).
    pub rotation: Arc<Rotation>,
    /// The delivery engine.
    pub engine: Engine,
    /// Largest accepted payload (JSON text bytes).
    pub max_payload_bytes: usize,
    /// Jitter of a subscription's retry policy when the request leaves it out.
    pub default_jitter: f64,
    /// Compiled payload schemas of the event types.
    pub payload_validators: payload_schemas::PayloadValidators,
    /// Cancelled at shutdown: ends the `WatchDeliveries` streams, so that the listeners'
    /// graceful shutdown is not held up by clients that never hang up.
    pub shutdown: CancellationToken,
}

impl ApiContext {
    /// The application layer over this context's state, for one call.
    pub fn app(&self) -> crate::app::App<'_> {
        crate::app::App {
            store: &*self.store,
            engine: &self.engine,
            secrets: &self.secrets,
            registry: &self.registry,
        }
    }
}
