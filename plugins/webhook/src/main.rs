//! `switchyard-plugin-webhook`: the webhook provider plugin binary. Started by the Switchyard
//! coordinator (go-plugin handshake); run by hand, it explains itself on stderr and exits 1.

use std::process::ExitCode;

fn main() -> ExitCode {
    switchyard_plugin_sdk::serve(switchyard_plugin_webhook::plugin())
}
