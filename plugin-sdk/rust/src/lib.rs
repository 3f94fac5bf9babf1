//! The Switchyard plugin SDK for Rust: write a provider plugin as a typed [`Provider`] and serve
//! it with one call to [`serve`].
//!
//! A plugin is an executable that the Switchyard coordinator starts as a child process. The
//! SDK does everything but the provider itself: the go-plugin handshake ([`handshake`]), the
//! gRPC services ([`service`]: `ProviderPlugin`, health, `GRPCController/Shutdown`), turning
//! config JSON into your typed config (with every schema violation answered in-band, with its
//! JSON path — see [`schema`]), JSON logs on stderr in hclog's format ([`log`]), and exiting on
//! Shutdown, SIGTERM/SIGINT or the parent's death. [`http`] holds what HTTP providers share:
//! a client with timeouts, `Retry-After` parsing and status classification;
//! [`http::policy_client`] is that client held to the operator's [`net_policy`] (public
//! addresses only, no proxy, no redirects). [`template`] renders config fields such as
//! `{{ payload.title }}` in a sandbox with bounded output.
//!
//! # A provider in a few lines
//!
//! ```no_run
//! use schemars::JsonSchema;
//! use serde::Deserialize;
//! use switchyard_plugin_sdk::{
//!     DeliveryContext, DeliveryResult, NoConnection, Plugin, Provider, Secret, http,
//! };
//!
//! /// What a subscription configures.
//! #[derive(Clone, Deserialize, JsonSchema)]
//! #[serde(rename_all = "camelCase")]
//! struct EchoConfig {
//!     /// Where to send events.
//!     #[schemars(extend("format" = "uri"))]
//!     url: String,
//!     /// Sent as a bearer token. A `Secret` carries `x-secret: true` in the schema (the host
//!     /// encrypts and redacts it) and prints as `***`.
//!     token: Secret,
//! }
//!
//! struct Echo {
//!     client: reqwest::Client,
//! }
//!
//! impl Provider for Echo {
//!     type Config = EchoConfig;
//!     type Connection = NoConnection;
//!
//!     fn id(&self) -> &'static str { "echo" }
//!     fn display_name(&self) -> &'static str { "Echo" }
//!     fn description(&self) -> &'static str { "Posts each event's payload to a URL." }
//!
//!     async fn deliver(&self, ctx: DeliveryContext<EchoConfig, NoConnection>) -> DeliveryResult {
//!         let response = self
//!             .client
//!             .post(&ctx.config.url)
//!             .bearer_auth(ctx.config.token.expose())
//!             .json(&ctx.event.payload)
//!             .send()
//!             .await;
//!         http::delivery_result(response, |body| http::external_id_from_json(body, &["id"])).await
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     let Ok(client) = http::client(std::time::Duration::from_secs(10)) else {
//!         return std::process::ExitCode::FAILURE;
//!     };
//!     switchyard_plugin_sdk::serve(
//!         Plugin::new("echo", env!("CARGO_PKG_VERSION")).provider(Echo { client }),
//!     )
//! }
//! ```
//!
//! Test it with the conformance harness: `switchyard-conformance target/debug/my-plugin`.
//! In-process tests call `deliver` directly; the `testkit` feature provides an HTTP sink that
//! stands in for the vendor (`testkit::HttpSink`). See `docs/writing-a-plugin.md`.
//!
//! # Switchyard's schema keys
//!
//! Attach them with `#[schemars(extend("x-hidden" = true))]` and the like; the table is in
//! [`schema`]. For secrets, use the [`Secret`] type (or `extend("x-secret" = true)`). Fields marked `x-secret` are never logged by the SDK, and error messages never
//! quote config values. Their values (and usual encodings) are also scrubbed from everything a
//! provider returns and logs during a call, should a receiver echo them.
//!
//! # Optional calls
//!
//! Override [`Provider::test_connection`], [`Provider::get_connection_options`],
//! [`Provider::migrate_config`], [`Provider::validate_config`] or [`Provider::preview`] *and*
//! declare it in [`Provider::capabilities`]. Undeclared
//! calls are answered `UNIMPLEMENTED` without reaching the provider; resolver names not used
//! by any `x-options-resolver` in the schemas get `NOT_FOUND`.

pub mod byte_limit;
pub mod chat;
mod config_cache;
mod deferred;
mod erased;
pub mod handshake;
pub mod http;
pub mod lifecycle;
pub mod log;
pub mod net_policy;
mod plugin;
mod provider;
mod redact;
mod rendered;
mod result;
pub mod schema;
mod secret;
mod serve;
pub mod service;
pub mod template;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod trace;

pub use erased::{BoxFuture, ErasedProvider};
pub use plugin::{BuiltPlugin, Plugin, PluginError};
pub use provider::{
    Capabilities, ConfigKind, ConnectionConfig, CorrelatedDelivery, Correlation, DeliveryContext,
    Documentation, Event, HeaderDoc, NoConnection, OptionsRequest, Provider, Subscription,
    TestTarget,
};
pub use rendered::{REDACTED, RenderedRequest};
pub use result::{ConnectionOption, DeliveryResult, Diagnostic, Outcome, TestConnectionResult};
pub use secret::Secret;
pub use serve::{
    DRAIN_TIMEOUT, ServeError, run_server, serve, serve_async, watch_parent, watch_signals,
};

/// Re-exported so plugins use the same versions as the SDK.
/// The allocator the bundled plugins use: declare it in a plugin's `main.rs` with
/// `#[global_allocator] static GLOBAL: switchyard_plugin_sdk::MiMalloc = switchyard_plugin_sdk::MiMalloc;`.
/// Every `Deliver` allocates and frees many short-lived buffers (protobuf, JSON, HTTP), where
/// glibc's malloc took about a sixth of the webhook plugin's CPU under load
/// (docs/benchmarks.md, "Batch publish: where a delivery's time goes"). Not declared by the
/// SDK itself, so that a plugin may choose its own.
pub use mimalloc::MiMalloc;
pub use schemars;
pub use serde_json;
pub use switchyard_proto as proto;
