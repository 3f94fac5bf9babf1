//! The Opsgenie provider plugin (Alert API v2). An incident's events act on one Opsgenie alert
//! whose `alias` is the correlation key: "created" creates it (Opsgenie de-duplicates on the
//! alias), "updated" adds a note, "resolved" closes it. The binary (`src/main.rs`) serves
//! [`OpsgenieProvider`] under plugin id `opsgenie`; the library exists for in-process tests.

mod config;
mod docs;
mod provider;
mod request;

pub use config::{DEFAULT_TIMEOUT_MS, OpsgenieConfig, Priority, Region};
pub use provider::OpsgenieProvider;
pub use request::{Outgoing, alias, outgoing};

/// The plugin id.
pub const PLUGIN_ID: &str = "opsgenie";

/// The plugin definition the binary serves.
#[must_use]
pub fn plugin() -> switchyard_plugin_sdk::Plugin {
    switchyard_plugin_sdk::Plugin::new(PLUGIN_ID, env!("CARGO_PKG_VERSION"))
        .provider(OpsgenieProvider::new())
}
