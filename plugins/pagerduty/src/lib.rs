//! The PagerDuty provider plugin (Events API v2). An incident's events become one PagerDuty
//! alert: its `dedup_key` is derived from the correlation key, so "created" triggers,
//! "updated" re-triggers (or acknowledges) and "resolved" resolves the same alert; maintenance
//! events become change events. The binary (`src/main.rs`) serves [`PagerDutyProvider`] under
//! plugin id `pagerduty`; the library exists so tests can call the provider in-process.

mod config;
mod docs;
mod event;
mod provider;

pub use config::{DEFAULT_TIMEOUT_MS, PagerDutyConfig, Region, Severity, UpdateAction};
pub use event::{Action, Outgoing, dedup_key, outgoing};
pub use provider::PagerDutyProvider;

/// The plugin id.
pub const PLUGIN_ID: &str = "pagerduty";

/// The plugin definition the binary serves.
#[must_use]
pub fn plugin() -> switchyard_plugin_sdk::Plugin {
    switchyard_plugin_sdk::Plugin::new(PLUGIN_ID, env!("CARGO_PKG_VERSION"))
        .provider(PagerDutyProvider::new())
}
