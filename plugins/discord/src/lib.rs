//! The Discord provider plugin (`discord.webhook`): posts an embed per incident through a
//! channel's execute-webhook URL (`?wait=true`, so Discord answers with the message id) and,
//! as the incident is updated and resolved, edits that message (or posts new ones, as the
//! config says). The embed is the SDK's chat brief cut to Discord's limits (`embed`); the
//! answers are read the way Discord means them (`answer`). The binary (`src/main.rs`) serves
//! [`DiscordProvider`] under plugin id `discord`; the library exists for in-process tests.

mod answer;
mod config;
mod docs;
mod embed;
mod provider;
mod request;

pub use answer::{UNKNOWN_MESSAGE, UNKNOWN_WEBHOOK, retry_delay};
pub use config::{DEFAULT_TIMEOUT_MS, DISCORD_API, DiscordConfig, FollowUp, WebhookAddress};
pub use embed::{
    CONTENT_LIMIT, DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT, FIELD_NAME_LIMIT, FIELD_VALUE_LIMIT,
    FOOTER_LIMIT, MAX_FIELDS, TITLE_LIMIT, escape,
};
pub use provider::DiscordProvider;
pub use request::{Kind, Outgoing, Posted, outgoing};

/// The plugin id.
pub const PLUGIN_ID: &str = "discord";

/// The plugin definition the binary serves.
#[must_use]
pub fn plugin() -> switchyard_plugin_sdk::Plugin {
    switchyard_plugin_sdk::Plugin::new(PLUGIN_ID, env!("CARGO_PKG_VERSION"))
        .provider(DiscordProvider::new())
}
