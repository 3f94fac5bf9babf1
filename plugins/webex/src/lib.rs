//! The Webex provider plugin (Webex Messaging API, bot token). Each event becomes one Markdown
//! message in the room the subscription picked; the later events of an incident (updated,
//! resolved) reply in the thread of the message its first event posted (`parentId`). The
//! binary (`src/main.rs`) serves [`WebexProvider`] under plugin id `webex`; the library exists
//! for in-process tests.

mod api;
mod config;
mod docs;
mod link;
mod markdown;
mod message;
mod provider;

pub use config::{DEFAULT_BASE_URL, DEFAULT_TIMEOUT_MS, WebexConfig, WebexConnection};
pub use link::next_link;
pub use markdown::MARKDOWN_LIMIT;
pub use message::{Outgoing, Thread, outgoing};
pub use provider::WebexProvider;

/// The plugin id.
pub const PLUGIN_ID: &str = "webex";

/// The plugin definition the binary serves.
#[must_use]
pub fn plugin() -> switchyard_plugin_sdk::Plugin {
    switchyard_plugin_sdk::Plugin::new(PLUGIN_ID, env!("CARGO_PKG_VERSION"))
        .provider(WebexProvider::new())
}
