//! Which plugins to start: every executable named `switchyard-plugin-*` next to the
//! `switchyard` binary (when enabled) and in the configured search dirs, plus the plugins
//! listed explicitly with their arguments and environment. An explicit entry wins over a
//! discovered binary of the same path. The shell plugin (`switchyard-plugin-shell`) alone is
//! handed the operator's allowed commands (`[shell.commands]`); a discovered shell plugin is
//! not started while that list is empty, so a host offers no shell provider until its
//! operator says what may run. Every spec carries its SHA-256 pin, if one is configured, and
//! its resource limits.

use std::path::{Path, PathBuf};

use super::{ServeFailure, spec_of};
use crate::cfg::{PluginsConfig, SHELL_COMMANDS_ENV, SHELL_PLUGIN, ShellConfig};
use crate::host::PluginSpec;

/// File-name prefix of bundled plugins.
pub(crate) const PLUGIN_PREFIX: &str = "switchyard-plugin-";

/// The plugins to start, in a stable order.
pub(super) fn discover(
    cfg: &PluginsConfig,
    shell: &ShellConfig,
) -> Result<Vec<PluginSpec>, ServeFailure> {
    let mut dirs: Vec<PathBuf> = cfg.search_dirs.clone();
    if cfg.discover_next_to_binary
        && let Some(dir) = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_owned))
    {
        dirs.insert(0, dir);
    }
    let mut specs: Vec<PluginSpec> = cfg.extra.iter().map(|e| spec_of(e, cfg)).collect();
    for dir in dirs {
        for path in executables_in(&dir)? {
            if specs.iter().any(|s| s.command == path) {
                continue;
            }
            if is_shell(&path) && shell.commands.is_empty() {
                tracing::info!(plugin = %path.display(), "not starting the shell plugin: no [shell.commands] are configured");
                continue;
            }
            specs.push(PluginSpec {
                sha256: crate::cfg::pin_of(&cfg.sha256, &path),
                limits: cfg.limits.to_host(),
                ..PluginSpec::new(path)
            });
        }
    }
    let telemetry = crate::observe::traces::plugin_env(std::env::vars());
    for spec in &mut specs {
        for (name, value) in &telemetry {
            // A plugin's own `env` entry wins.
            spec.env
                .entry(name.clone())
                .or_insert_with(|| value.clone());
        }
    }
    for spec in specs.iter_mut().filter(|s| is_shell(&s.command)) {
        // Set over the entry's own `env`: the list comes from `[shell.commands]` only.
        spec.env
            .insert(SHELL_COMMANDS_ENV.to_owned(), shell.to_env_json());
    }
    Ok(specs)
}

fn is_shell(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == SHELL_PLUGIN)
}

/// Executables named `switchyard-plugin-*` in `dir`, sorted.
fn executables_in(dir: &Path) -> Result<Vec<PathBuf>, ServeFailure> {
    use std::os::unix::fs::PermissionsExt as _;
    let entries = std::fs::read_dir(dir).map_err(|source| ServeFailure::Discover {
        path: dir.to_owned(),
        source,
    })?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            // Skip build artefacts such as `switchyard-plugin-webhook.d`.
            name.starts_with(PLUGIN_PREFIX) && !name.contains('.')
        })
        .filter(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .collect();
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn finds_only_executable_plugins() {
        let dir = tempfile::tempdir().unwrap();
        for (name, mode) in [
            ("switchyard-plugin-a", 0o755),
            ("switchyard-plugin-a.d", 0o755),
            ("switchyard-plugin-b", 0o644),
            ("other", 0o755),
        ] {
            let p = dir.path().join(name);
            std::fs::write(&p, "").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let found = executables_in(dir.path()).unwrap();
        assert_eq!(found, vec![dir.path().join("switchyard-plugin-a")]);
    }

    fn plugins_in(dir: &Path) -> PluginsConfig {
        let mut cfg = crate::cfg::load(None, Vec::new()).unwrap().plugins;
        cfg.discover_next_to_binary = false;
        cfg.search_dirs = vec![dir.to_owned()];
        cfg
    }

    #[test]
    fn only_the_shell_plugin_gets_the_commands_and_only_when_there_are_some() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["switchyard-plugin-shell", "switchyard-plugin-webhook"] {
            let p = dir.path().join(name);
            std::fs::write(&p, "").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let cfg = plugins_in(dir.path());
        let none = discover(&cfg, &ShellConfig::default()).unwrap();
        let names: Vec<String> = none.iter().map(PluginSpec::name).collect();
        assert_eq!(names, ["switchyard-plugin-webhook"]);

        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[shell.commands.hi]\npath = \"/bin/echo\"\n").unwrap();
        let shell = crate::cfg::load(Some(&file), Vec::new()).unwrap().shell;
        let specs = discover(&cfg, &shell).unwrap();
        let (with, without): (Vec<_>, Vec<_>) = specs
            .iter()
            .partition(|s| s.env.contains_key(SHELL_COMMANDS_ENV));
        assert_eq!(with.len(), 1);
        assert_eq!(with[0].name(), "switchyard-plugin-shell");
        assert!(with[0].env[SHELL_COMMANDS_ENV].contains("/bin/echo"));
        assert_eq!(without[0].name(), "switchyard-plugin-webhook");
    }
}
