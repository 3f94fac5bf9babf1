//! The application layer, between the API and the engine and store: it owns the lifecycles of
//! subscriptions ([`subscriptions`]: create, update, enable, disable, delete) and connections
//! ([`connections`]: create, update, delete) with their rules — a disable or delete cancels
//! the subscription's scheduled deliveries, a connection is deleted only while unused, a
//! subscription is not enabled on a connection whose migration failed — and the one config
//! pipeline ([`config_pipeline`], with the plugin's ValidateConfig in [`plugin_check`]) that the
//! API's saves and the engine's config migrations share.
//!
//! It takes domain values (the API converts requests and responses), returns [`AppError`]
//! (mapped to a gRPC status in `api/status.rs` only), and depends on `engine`, `store`,
//! `schema`, `secrets` and `host` — never on `api` or tonic. Each rule that must hold against
//! a concurrent call is one atomic store operation (see the `Store` trait's lifecycle part).

pub mod config_pipeline;
pub mod connections;
mod error;
pub mod plugin_check;
pub mod subscriptions;

use std::str::FromStr;

use crate::engine::Engine;
use crate::host::Registry;
use crate::model::InvalidId;
use crate::secrets::Secrets;
use crate::store::Store;

pub use error::{AppError, AppResult};

/// What the application layer works with, borrowed from its caller for one operation.
#[derive(Debug, Clone, Copy)]
pub struct App<'a> {
    /// Durable records.
    pub store: &'a dyn Store,
    /// The delivery engine (its in-memory state follows the lifecycles).
    pub engine: &'a Engine,
    /// Encryption and redaction of `x-secret` values.
    pub secrets: &'a Secrets,
    /// The running plugins.
    pub registry: &'a Registry,
}

/// Parses an id given in `field` (INVALID_ARGUMENT naming the field when empty or malformed).
pub fn parse_id<T: FromStr<Err = InvalidId>>(field: &str, text: &str) -> AppResult<T> {
    if text.is_empty() {
        return Err(AppError::field(field, "is required"));
    }
    text.parse()
        .map_err(|e: InvalidId| AppError::field(field, e))
}

/// The running provider with this qualified id, or NOT_FOUND naming the known ones.
pub fn provider(app: &App<'_>, id: &str) -> AppResult<crate::host::ProviderEntry> {
    app.registry.resolve(id).ok_or_else(|| {
        let mut known: Vec<String> = app
            .registry
            .providers()
            .into_iter()
            .map(|p| p.qualified_id)
            .collect();
        known.sort();
        AppError::NotFound(format!(
            "unknown provider {}; known providers: {}",
            crate::text::quote(id),
            if known.is_empty() {
                "none (no plugin is running)".to_owned()
            } else {
                known.join(", ")
            }
        ))
    })
}
