//! `switchyard-plugin-teams`: the Microsoft Teams provider plugin binary (Workflows webhook
//! and Graph providers). Started by the Switchyard coordinator (go-plugin handshake); run by
//! hand, it explains itself and exits 1.

use std::process::ExitCode;

/// See [`switchyard_plugin_sdk::MiMalloc`].
#[global_allocator]
static GLOBAL: switchyard_plugin_sdk::MiMalloc = switchyard_plugin_sdk::MiMalloc;

fn main() -> ExitCode {
    switchyard_plugin_sdk::serve(switchyard_plugin_teams::plugin())
}
