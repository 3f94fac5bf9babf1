//! The shell provider plugin: runs, for each event, one of the commands the operator lists in
//! the coordinator's `[shell.commands]` — handed to this plugin alone in
//! `SWITCHYARD_SHELL_COMMANDS` ([`allowed`]) — with a clean environment ([`environment`]), in
//! its own process group under resource limits ([`run`], [`limits`]), its exit code mapped to
//! the outcome ([`outcome`]). The binary (`src/main.rs`) serves [`ShellProvider`] under plugin
//! id `shell`; the library exists for in-process tests.

pub mod allowed;
mod config;
mod docs;
pub mod environment;
mod limits;
pub mod outcome;
mod provider;
pub mod run;

pub use allowed::{Allowed, Command, Limits, SHELL_COMMANDS_ENV};
pub use config::{COMMAND_RESOLVER, ShellConfig};
pub use provider::ShellProvider;

/// The plugin id.
pub const PLUGIN_ID: &str = "shell";

/// The plugin definition the binary serves, over the operator's `allowed` commands.
#[must_use]
pub fn plugin(allowed: Allowed) -> switchyard_plugin_sdk::Plugin {
    switchyard_plugin_sdk::Plugin::new(PLUGIN_ID, env!("CARGO_PKG_VERSION"))
        .provider(ShellProvider::new(allowed))
}
