//! Which plugins to start: every executable named `switchyard-plugin-*` next to the
//! `switchyard` binary (when enabled) and in the configured search dirs, plus the plugins
//! listed explicitly with their arguments and environment. An explicit entry wins over a
//! discovered binary of the same path.

use std::path::{Path, PathBuf};

use super::{ServeFailure, spec_of};
use crate::cfg::PluginsConfig;
use crate::host::PluginSpec;

/// File-name prefix of bundled plugins.
pub(crate) const PLUGIN_PREFIX: &str = "switchyard-plugin-";

/// The plugins to start, in a stable order.
pub(super) fn discover(cfg: &PluginsConfig) -> Result<Vec<PluginSpec>, ServeFailure> {
    let mut dirs: Vec<PathBuf> = cfg.search_dirs.clone();
    if cfg.discover_next_to_binary
        && let Some(dir) = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_owned))
    {
        dirs.insert(0, dir);
    }
    let mut specs: Vec<PluginSpec> = cfg.extra.iter().map(spec_of).collect();
    for dir in dirs {
        for path in executables_in(&dir)? {
            if !specs.iter().any(|s| s.command == path) {
                specs.push(PluginSpec::new(path));
            }
        }
    }
    Ok(specs)
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
}
