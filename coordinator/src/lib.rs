//! The Switchyard coordinator: it runs provider plugins as child processes and delivers
//! platform events through them, durably.
//!
//! Module map (each module owns one concern):
//! - [`host`]: starts plugin processes, speaks the go-plugin handshake, supervises and stops them.
//! - [`schema`]: JSON Schema checks: the meta-schema and Switchyard's `x-` key rules for plugin
//!   schemas, validating configs with JSON paths, applying defaults.
//! - [`model`]: the domain types (ids, subscriptions, events, deliveries, attempts, filters).
//! - [`secrets`]: AEAD encryption and redaction of `x-secret` fields.
//! - [`store`]: durable state in sled behind a small trait.
//! - [`engine`]: the delivery engine: fan-out, attempts, retries, scheduling.
//! - [`api`]: the platform gRPC API; the one place that maps errors to gRPC status codes.
//! - [`observe`]: Prometheus metrics and health endpoints on the operator's HTTP listener.
//! - [`cfg`]: configuration: embedded defaults, a TOML file, `SWITCHYARD_*` variables.
//! - [`cli`]: the `switchyard` command line (server and client).
//! - [`text`]: untrusted text made safe to show (short quotes in errors, escaped controls).

pub mod api;
pub mod app;
pub mod cfg;
pub mod cli;
pub mod engine;
pub mod host;
pub mod model;
pub mod observe;
pub mod schema;
pub mod secrets;
pub mod store;
pub mod text;

/// The messages of `err` and of each of its sources, joined by ": ". For errors whose own
/// message is generic (tonic's transport errors say only "transport error"), so that the
/// operator sees the cause, e.g. an unknown certificate issuer.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(e) = source {
        parts.push(e.to_string());
        source = e.source();
    }
    parts.join(": ")
}
