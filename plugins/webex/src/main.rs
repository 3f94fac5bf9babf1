//! `switchyard-plugin-webex`: the Webex provider plugin binary. Started by the Switchyard
//! coordinator (go-plugin handshake); run by hand, it explains itself and exits 1.

use std::process::ExitCode;

fn main() -> ExitCode {
    switchyard_plugin_sdk::serve(switchyard_plugin_webex::plugin())
}
