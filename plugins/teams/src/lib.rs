//! The Microsoft Teams provider plugin, two providers sharing one Adaptive Card
//! ([`card`]): `teams.workflow` posts it to a Teams workflow's webhook URL (no id, no
//! threads), `teams.graph` posts it as a channel message through Microsoft Graph with a cached
//! client-credentials token ([`token`]) and replies in the thread for an incident's later
//! events. The binary (`src/main.rs`) serves both under plugin id `teams`; the library exists
//! for in-process tests.

pub mod card;
mod checks;
mod config;
mod docs;
mod graph;
mod graph_provider;
mod message;
pub mod token;
mod workflow;

pub use config::{
    DEFAULT_AUTHORITY_URL, DEFAULT_GRAPH_BASE_URL, DEFAULT_TIMEOUT_MS, GraphConfig,
    GraphConnection, WorkflowConfig,
};
pub use graph::{scope, token_url};
pub use graph_provider::GraphProvider;
pub use message::{GraphOutgoing, GraphThread, graph_outgoing, workflow_body};
pub use workflow::WorkflowProvider;

/// The plugin id.
pub const PLUGIN_ID: &str = "teams";

/// The plugin definition the binary serves.
#[must_use]
pub fn plugin() -> switchyard_plugin_sdk::Plugin {
    switchyard_plugin_sdk::Plugin::new(PLUGIN_ID, env!("CARGO_PKG_VERSION"))
        .provider(WorkflowProvider::new())
        .provider(GraphProvider::new())
}
