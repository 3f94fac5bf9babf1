//! Noticing a plugin's executable replaced on disk, to reload it ([`BinaryWatch`]).
//!
//! A periodic `stat` of each plugin's files — the executable and every argument naming an
//! existing file (a script run by an interpreter) — compared by device, inode, size and
//! modification time: an installer that writes a new file and renames it over the old one
//! changes the inode; an in-place rewrite changes size or mtime. Polling rather than inotify
//! (the `notify` crate): one `stat` per file every couple of seconds costs nothing, needs no
//! watch descriptors (their limit is per user), works on every file system (overlay, NFS), and
//! sees a replaced symlink target, which a watch on the directory would not.
//!
//! A change is acted on once the files look the same on two checks in a row and none is
//! missing, so a binary still being copied is not started half-written. Whatever a reload
//! decides, its files' state is remembered: a refused version is not retried until the files
//! change again.

use super::plugin::Plugin;
use super::registry::Registry;
use super::reload::UpgradeGate;
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What identifies the contents of a plugin's files without reading them: per file, its
/// state (`None` while it is missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(Vec<(PathBuf, Option<FileState>)>);

/// One file's identity and version, as `stat` tells them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileState {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
}

impl Fingerprint {
    /// The fingerprint of `files` now (following symlinks).
    #[must_use]
    pub fn of(files: &[PathBuf]) -> Fingerprint {
        Fingerprint(
            files
                .iter()
                .map(|path| {
                    let meta = std::fs::metadata(path).ok().map(|m| FileState {
                        dev: m.dev(),
                        ino: m.ino(),
                        size: m.size(),
                        mtime: (m.mtime(), m.mtime_nsec()),
                    });
                    (path.clone(), meta)
                })
                .collect(),
        )
    }

    /// Whether a file is missing (being replaced, or removed).
    fn incomplete(&self) -> bool {
        self.0.iter().any(|(_, meta)| meta.is_none())
    }
}

/// The files a plugin is started from: its executable and the arguments that name a file.
pub(super) fn watched_files(command: &Path, args: &[String]) -> Vec<PathBuf> {
    let mut files = vec![command.to_path_buf()];
    files.extend(
        args.iter()
            .map(PathBuf::from)
            .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file())),
    );
    files
}

/// Reloads every plugin whose files changed, checking every `interval`.
#[derive(Debug)]
pub struct BinaryWatch {
    /// Per plugin id: a changed fingerprint seen at the last check, waiting to be confirmed.
    pending: HashMap<String, Fingerprint>,
}

impl BinaryWatch {
    /// Checks until `shutdown`; each reload runs through `gate` and is logged and recorded as
    /// any other.
    pub async fn run(
        registry: Registry,
        gate: &dyn UpgradeGate,
        interval: Duration,
        shutdown: CancellationToken,
    ) {
        let mut watch = BinaryWatch {
            pending: HashMap::new(),
        };
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = shutdown.cancelled() => return,
            }
            for plugin in registry.plugins() {
                if watch.changed(&plugin) {
                    tracing::info!(plugin = %plugin.name(), id = plugin.id(), "plugin files replaced on disk; reloading it");
                    let _ = registry.reload(plugin.id(), gate).await;
                }
            }
        }
    }

    /// Whether `plugin`'s files changed since it was last (re)loaded, and look the same as at
    /// the previous check.
    fn changed(&mut self, plugin: &Plugin) -> bool {
        let now = Fingerprint::of(&plugin.shared.watched);
        self.confirm(plugin.id(), &plugin.loaded_from(), now)
    }

    /// Whether `now` differs from `loaded`, is complete, and was seen at the previous check.
    fn confirm(&mut self, id: &str, loaded: &Fingerprint, now: Fingerprint) -> bool {
        if now == *loaded || now.incomplete() {
            self.pending.remove(id);
            return false;
        }
        match self.pending.insert(id.to_owned(), now.clone()) {
            Some(before) if before == now => {
                self.pending.remove(id);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rename_over_the_file_changes_the_fingerprint() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("plugin");
        std::fs::write(&path, b"one").expect("write");
        let files = vec![path.clone()];
        let before = Fingerprint::of(&files);
        assert_eq!(before, Fingerprint::of(&files), "stable while untouched");
        let temp = dir.path().join("plugin.new");
        std::fs::write(&temp, b"two").expect("write");
        std::fs::rename(&temp, &path).expect("rename");
        let after = Fingerprint::of(&files);
        assert_ne!(before, after);
        assert!(!after.incomplete());
        std::fs::remove_file(&path).expect("remove");
        assert!(Fingerprint::of(&files).incomplete());
    }

    #[test]
    fn a_change_counts_once_it_is_stable_and_complete() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("plugin");
        let files = vec![path.clone()];
        std::fs::write(&path, b"one").expect("write");
        let loaded = Fingerprint::of(&files);
        let mut watch = BinaryWatch {
            pending: HashMap::new(),
        };
        assert!(
            !watch.confirm("p", &loaded, Fingerprint::of(&files)),
            "unchanged"
        );
        std::fs::write(&path, b"two, longer").expect("write");
        let first = Fingerprint::of(&files);
        assert!(!watch.confirm("p", &loaded, first.clone()), "seen once");
        std::fs::write(&path, b"three, longer still").expect("write");
        assert!(
            !watch.confirm("p", &loaded, Fingerprint::of(&files)),
            "still changing"
        );
        assert!(
            watch.confirm("p", &loaded, Fingerprint::of(&files)),
            "stable: reload"
        );
        assert!(
            !watch.confirm("p", &loaded, first),
            "a new change starts over"
        );
        std::fs::remove_file(&path).expect("remove");
        assert!(
            !watch.confirm("p", &loaded, Fingerprint::of(&files)),
            "missing"
        );
        assert!(
            !watch.confirm("p", &loaded, Fingerprint::of(&files)),
            "still missing"
        );
    }

    #[test]
    fn arguments_naming_files_are_watched() {
        let dir = tempfile::tempdir().expect("temp dir");
        let script = dir.path().join("plugin.py");
        std::fs::write(&script, b"print()").expect("write");
        let args = vec![
            "-u".to_owned(),
            script.display().to_string(),
            "--verbose".to_owned(),
        ];
        let files = watched_files(Path::new("/usr/bin/python3"), &args);
        assert_eq!(files, vec![PathBuf::from("/usr/bin/python3"), script]);
    }
}
