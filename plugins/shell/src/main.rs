//! `switchyard-plugin-shell`: the shell provider plugin binary. Started by the Switchyard
//! coordinator (go-plugin handshake), which hands it the operator's allowed commands; run by
//! hand, it explains itself and exits 1.

use std::process::ExitCode;

use switchyard_plugin_shell::Allowed;

/// See [`switchyard_plugin_sdk::MiMalloc`].
#[global_allocator]
static GLOBAL: switchyard_plugin_sdk::MiMalloc = switchyard_plugin_sdk::MiMalloc;

fn main() -> ExitCode {
    let allowed = match Allowed::from_env() {
        Ok(allowed) => allowed,
        Err(error) => {
            eprintln!("switchyard-plugin-shell: {error}");
            return ExitCode::FAILURE;
        }
    };
    switchyard_plugin_sdk::serve(switchyard_plugin_shell::plugin(allowed))
}
