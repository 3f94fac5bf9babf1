//! The private directory a plugin creates its Unix socket in: `<socket_root>/sy-<our pid>-<n>`,
//! mode 0700, checked against the `sun_path` limit before the plugin is spawned and removed when
//! the plugin stops. A socket the plugin made outside it (go-plugin < 1.5 uses its temp dir) is
//! adopted ([`SocketDir::adopt`]) and removed with the directory; a symlink to it inside the
//! directory lets [`sweep_stale`] remove it too when a dead coordinator could not.
//!
//! A coordinator killed with SIGKILL cannot remove its directories (and its plugins, killed by
//! the parent-death signal, cannot remove their sockets). The next host that starts under the
//! same root sweeps them: [`sweep_stale`] removes every `sy-<pid>-*` directory we own whose pid
//! is no longer alive.

use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// `sun_path` holds 108 bytes including the terminating NUL.
pub const SUN_PATH_MAX: usize = 107;
/// Room kept for the socket's file name inside the directory (go-plugin style names such as
/// `plugin1234567890.sock` fit with margin).
const SOCKET_NAME_ROOM: usize = 32;
/// Prefix of every directory we create.
const PREFIX: &str = "sy-";
/// The symlink, inside the directory, to an adopted socket outside it.
const ADOPTED_LINK: &str = "adopted-socket";

/// A private socket directory, removed (with its contents) on drop.
#[derive(Debug)]
pub(crate) struct SocketDir {
    path: PathBuf,
    /// A socket of this plugin outside the directory, removed on drop too.
    adopted: Option<PathBuf>,
}

impl SocketDir {
    /// Creates `<root>/sy-<pid>-<n>` with mode 0700 (`n` random), refusing roots too long for a
    /// socket path.
    pub(crate) fn create(root: &Path) -> Result<Self, String> {
        let name = format!("{PREFIX}{}-{}", std::process::id(), rand::random::<u32>());
        let path = root.join(name);
        let room = path.as_os_str().len() + 1 + SOCKET_NAME_ROOM;
        if room > SUN_PATH_MAX {
            return Err(format!(
                "socket directory {path:?} is too long for a Unix socket path ({} bytes + room for \
                 the socket name > {SUN_PATH_MAX}); set a shorter socket_root (e.g. /tmp)",
                path.as_os_str().len()
            ));
        }
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|e| format!("cannot create socket directory {path:?}: {e}"))?;
        Ok(Self {
            path,
            adopted: None,
        })
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Takes charge of the plugin's socket at `socket`, outside the directory: it is removed
    /// on drop, if it is then still a socket (never another kind of file that took its name).
    pub(crate) fn adopt(&mut self, socket: PathBuf) {
        // Best effort: without the link only a SIGKILLed coordinator's sweep misses it.
        let _ = std::os::unix::fs::symlink(&socket, self.path.join(ADOPTED_LINK));
        self.adopted = Some(socket);
    }
}

impl Drop for SocketDir {
    fn drop(&mut self) {
        if let Some(socket) = self.adopted.take()
            && let Err(err) = remove_socket(&socket)
        {
            tracing::warn!(socket = %socket.display(), %err, "could not remove the plugin's socket");
        }
        if let Err(err) = std::fs::remove_dir_all(&self.path)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %self.path.display(), %err, "could not remove socket directory");
        }
    }
}

/// Removes the socket directories under `root` left behind by dead coordinators.
pub(crate) fn sweep_stale(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    // /proc/self belongs to our effective uid; this avoids an unsafe getuid call.
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = owner_pid(&name.to_string_lossy()) else {
            continue;
        };
        let ours = entry.metadata().is_ok_and(|m| m.is_dir() && m.uid() == uid);
        if ours && !pid_alive(pid) {
            tracing::info!(dir = %entry.path().display(), "removing a stale plugin socket directory");
            if let Ok(adopted) = std::fs::read_link(entry.path().join(ADOPTED_LINK)) {
                let _ = remove_socket(&adopted);
            }
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Removes `path` if it is a socket (never another kind of file that took its name); a path
/// that is gone already is fine.
fn remove_socket(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path),
        _ => Ok(()),
    }
}

/// The coordinator pid in a `sy-<pid>-<n>` name.
fn owner_pid(name: &str) -> Option<i32> {
    let rest = name.strip_prefix(PREFIX)?;
    let (pid, n) = rest.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Whether a process with this pid exists (signal 0 probes without sending anything).
fn pid_alive(pid: i32) -> bool {
    use nix::errno::Errno;
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(errno) => errno != Errno::ESRCH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_is_private_and_removed_on_drop() {
        let root = tempfile::tempdir().unwrap();
        let dir = SocketDir::create(root.path()).unwrap();
        let mode = std::fs::metadata(dir.path()).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let path = dir.path().to_path_buf();
        std::fs::write(path.join("plugin.sock"), b"").unwrap();
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn an_adopted_socket_is_removed_on_drop_but_not_another_file() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let socket = outside.path().join("plugin123");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let mut dir = SocketDir::create(root.path()).unwrap();
        dir.adopt(socket.clone());
        drop(dir);
        assert!(!socket.exists());

        let plain = outside.path().join("plugin456");
        std::fs::write(&plain, b"not a socket").unwrap();
        let mut dir = SocketDir::create(root.path()).unwrap();
        dir.adopt(plain.clone());
        drop(dir);
        assert!(plain.exists());
    }

    #[test]
    fn a_long_root_is_refused_before_anything_is_created() {
        let root = tempfile::tempdir().unwrap();
        let long = root.path().join("x".repeat(90));
        let err = SocketDir::create(&long).unwrap_err();
        assert!(err.contains("too long"), "{err}");
    }

    #[test]
    fn stale_dirs_of_dead_owners_are_swept() {
        let root = tempfile::tempdir().unwrap();
        // pid 0x7fff_fff0 is above pid_max on Linux, so it is never alive.
        let stale = root.path().join("sy-2147483632-0");
        let live = root.path().join(format!("sy-{}-999", std::process::id()));
        std::fs::create_dir(&stale).unwrap();
        std::fs::create_dir(&live).unwrap();
        sweep_stale(root.path());
        assert!(!stale.exists());
        assert!(live.exists());
    }

    #[test]
    fn the_sweep_removes_a_dead_coordinators_adopted_socket() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let socket = outside.path().join("plugin789");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let stale = root.path().join("sy-2147483632-1");
        std::fs::create_dir(&stale).unwrap();
        std::os::unix::fs::symlink(&socket, stale.join(ADOPTED_LINK)).unwrap();
        sweep_stale(root.path());
        assert!(!stale.exists());
        assert!(!socket.exists());
    }

    #[test]
    fn owner_pid_parses_only_our_names() {
        assert_eq!(owner_pid("sy-42-7"), Some(42));
        assert_eq!(owner_pid("sy-42"), None);
        assert_eq!(owner_pid("other-42-7"), None);
    }
}
