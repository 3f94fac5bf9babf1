//! `switchyard-plugin-teams`: the Microsoft Teams provider plugin binary (Workflows webhook
//! and Graph providers). Started by the Switchyard coordinator (go-plugin handshake); run by
//! hand, it explains itself and exits 1.

use std::process::ExitCode;

fn main() -> ExitCode {
    switchyard_plugin_sdk::serve(switchyard_plugin_teams::plugin())
}
