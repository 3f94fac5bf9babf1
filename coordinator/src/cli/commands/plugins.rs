//! `switchyard plugins reload NAME`: a new version of a plugin (its binary replaced on disk) is
//! started beside the running one, checked, and takes over without failing a delivery; a
//! refused version leaves the running one serving, and the command fails with the reason.

use serde_json::json;
use switchyard_proto::coordinator::v1::ReloadPluginRequest;

use super::{Body, PluginsCmd};
use crate::cli::client::Clients;
use crate::cli::output::Output;

pub(super) async fn run(cmd: PluginsCmd, mut c: Clients, out: Output) -> Result<(), String> {
    match cmd {
        PluginsCmd::Reload { plugin_id } => {
            let r = c
                .providers
                .reload_plugin(ReloadPluginRequest { plugin_id })
                .await
                .body()?;
            let providers: Vec<String> = r
                .providers
                .iter()
                .map(|p| {
                    let version = p.config_schema.as_ref().map_or(0, |s| s.version);
                    format!("{} (config v{version})", p.id)
                })
                .collect();
            out.record(
                &[
                    ("PLUGIN", r.plugin_id.clone()),
                    ("VERSION", format!("{} -> {}", r.old_version, r.new_version)),
                    ("PID", format!("{} -> {}", r.old_pid, r.new_pid)),
                    ("PROVIDERS", providers.join(", ")),
                ],
                &json!({
                    "pluginId": r.plugin_id, "oldVersion": r.old_version,
                    "newVersion": r.new_version, "oldPid": r.old_pid, "newPid": r.new_pid,
                    "providers": r.providers.iter().map(|p| json!({
                        "id": p.id,
                        "configVersion": p.config_schema.as_ref().map(|s| s.version),
                        "connectionVersion": p.connection_schema.as_ref().map(|s| s.version),
                    })).collect::<Vec<_>>(),
                }),
            );
        }
    }
    Ok(())
}
