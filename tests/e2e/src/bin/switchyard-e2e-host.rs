//! `switchyard-e2e-host <socket_root> <plugin> [plugin args...]`: a stand-in coordinator for the
//! end-to-end tests. It starts one plugin through the real host, prints `pid <plugin pid>`,
//! delivers one event to provider `echo` and prints `external_id <id>` (or `error <text>`),
//! then waits until its stdin closes, stops the plugin and exits 0. Tests SIGKILL it to play
//! a crashed coordinator, or set variables on its environment to check the plugin's scrubbing.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use switchyard::host::{Plugin, PluginSpec};

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(root), Some(command)) = (args.next(), args.next()) else {
        eprintln!("usage: switchyard-e2e-host <socket_root> <plugin> [plugin args...]");
        return ExitCode::from(2);
    };
    let spec = PluginSpec {
        command: PathBuf::from(command),
        args: args.collect(),
        ..PluginSpec::default()
    };
    let plugin = match Plugin::start(spec, switchyard_e2e::options(&PathBuf::from(root))).await {
        Ok(plugin) => plugin,
        Err(err) => {
            eprintln!("plugin did not start: {err}");
            return ExitCode::FAILURE;
        }
    };
    say(&format!("pid {}", plugin.pid().unwrap_or_default()));
    let request = switchyard_e2e::deliver_request("echo", &serde_json::json!({}));
    match plugin.deliver(request).await {
        Ok(response) => say(&format!("external_id {}", response.external_id)),
        Err(err) => say(&format!("error {err}")),
    }
    // Blocks a runtime worker only; the host's tasks keep running on the others.
    let _ = tokio::task::spawn_blocking(|| std::io::stdin().lock().lines().count()).await;
    plugin.stop().await;
    ExitCode::SUCCESS
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
