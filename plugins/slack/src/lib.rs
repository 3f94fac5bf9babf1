//! The Slack provider plugin, two providers in one binary, as teams have Slack: `slack.webhook`
//! posts through an incoming webhook (a URL, nothing to install beyond the webhook), and
//! `slack.bot` posts with a bot token through the Web API, which adds threads (an incident's
//! updates and resolution reply under its first message), a channel picker and a connection
//! test. Both render the SDK's chat brief as Block Kit (`blocks`), read Slack's answers the
//! way Slack means them (`answer`) and share one template cache. The binary (`src/main.rs`)
//! serves [`plugin`] under plugin id `slack`; the library exists for in-process tests.

mod answer;
mod blocks;
mod bot;
mod config;
mod docs;
mod web;
mod webhook;

use std::sync::Arc;

pub use blocks::{FIELD_LIMIT, HEADER_LIMIT, MAX_BLOCKS, SECTION_LIMIT, escape};
pub use bot::{SlackBot, Thread, parent_update, post_body};
pub use config::{
    BotConfig, BotConnection, CHANNEL_OPTIONS, DEFAULT_TIMEOUT_MS, OnResolve, SLACK_API,
    WebhookConfig,
};
pub use web::{MAX_PAGES, PAGE_SIZE};
pub use webhook::{Outgoing, SlackWebhook, outgoing};

/// The plugin id.
pub const PLUGIN_ID: &str = "slack";

/// The plugin definition the binary serves.
#[must_use]
pub fn plugin() -> switchyard_plugin_sdk::Plugin {
    let templates = Arc::new(switchyard_plugin_sdk::template::TemplateCache::default());
    switchyard_plugin_sdk::Plugin::new(PLUGIN_ID, env!("CARGO_PKG_VERSION"))
        .provider(SlackWebhook::new(templates.clone()))
        .provider(SlackBot::new(templates))
}
