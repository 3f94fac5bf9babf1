//! The webhook provider plugin: delivers Switchyard events as JSON over HTTP to any URL, with
//! bearer / basic / custom-header / query-parameter authentication, custom headers, a
//! timeout and Standard Webhooks signing. It previews what it would send (secrets masked)
//! and checks configs at save time beyond their schema. The binary
//! (`src/main.rs`) serves [`WebhookProvider`] under plugin id `webhook`; the library exists so
//! tests can call the provider in-process.

mod body;
mod config;
mod docs;
mod encode;
mod provider;
pub mod signing;
mod validate;

pub use config::{
    Auth, ContentType, CustomHeader, DEFAULT_TIMEOUT_MS, Method, Signing, WebhookConfig,
};
pub use docs::documentation;
pub use provider::{
    Body, DELIVERY_ID_HEADER, EVENT_TYPE_HEADER, EXTERNAL_ID_KEYS, Outgoing, SubscriptionRef,
    WebhookProvider, headers, retry_listed, target_url,
};
pub use validate::problems;

/// The plugin id.
pub const PLUGIN_ID: &str = "webhook";

/// The plugin definition the binary serves. Cheap: the HTTP client is built on the first
/// delivery, after the handshake.
#[must_use]
pub fn plugin() -> switchyard_plugin_sdk::Plugin {
    switchyard_plugin_sdk::Plugin::new(PLUGIN_ID, env!("CARGO_PKG_VERSION"))
        .provider(WebhookProvider::new())
}
