//! The Jira Cloud provider plugin (REST API v3). An incident's events act on one Jira issue:
//! "created" creates it (never twice for one delivery, even when a retry follows a timeout),
//! "updated" comments on it, "resolved" comments and applies the configured transition. The
//! issue key is the external id and the state the later events find. The subscription's
//! choices (project, issue type, priority, mapped fields) come from resolvers over the shared
//! connection. The binary (`src/main.rs`) serves [`JiraProvider`] under plugin id `jira`; the
//! library exists for in-process tests.

pub mod adf;
mod api;
mod config;
mod docs;
mod fields;
mod flow;
mod issue;
mod meta;
mod pages;
mod probe;
mod provider;
mod resolvers;
mod validate;

pub use api::{Failure, jira_messages, refusal};
pub use config::{DEFAULT_TIMEOUT_MS, FieldMapping, JiraConfig, JiraConnection, resolver};
pub use fields::convert;
pub use flow::known_issue;
pub use issue::{LABEL_PREFIX, SUMMARY_LIMIT, delivery_label};
pub use meta::{FieldMeta, FieldSchema};
pub use provider::JiraProvider;

/// The plugin id.
pub const PLUGIN_ID: &str = "jira";

/// The plugin definition the binary serves.
#[must_use]
pub fn plugin() -> switchyard_plugin_sdk::Plugin {
    switchyard_plugin_sdk::Plugin::new(PLUGIN_ID, env!("CARGO_PKG_VERSION"))
        .provider(JiraProvider::new())
}
