//! The plugin side of go-plugin's handshake, in three steps a test fixture can also use one by
//! one: [`negotiate`] (magic cookie and app protocol version, from the environment), [`bind`]
//! (the Unix socket inside `PLUGIN_UNIX_SOCKET_DIR`) and [`announce`] (the one stdout line
//! `1|<version>|unix|<socket path>|grpc|`). Nothing else is ever written to stdout.
//!
//! The socket is removed on every way out, followed by its directory if that is then empty
//! (never recursively): by [`BoundSocket`]'s drop, and — when the process must exit at once
//! because its parent died — by [`remove_live_socket`], which finds it through a process-wide
//! record that [`bind`] keeps.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use switchyard_proto::PLUGIN_PROTOCOL_VERSIONS;
use switchyard_proto::handshake::{
    CORE_PROTOCOL_VERSION, MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE, PROTOCOL_VERSIONS_ENV,
    UNIX_SOCKET_DIR_ENV,
};
use tokio::net::UnixListener;

/// The longest socket path the kernel accepts (`sun_path` is 108 bytes with the NUL).
pub const MAX_SOCKET_PATH: usize = 107;

/// The outcome of a successful negotiation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The app protocol version both sides speak (the highest common one).
    pub protocol_version: u32,
    /// The directory in which to create the socket.
    pub socket_dir: PathBuf,
}

/// Why the handshake cannot proceed. Its `Display` is written for a human on stderr.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// Started without the magic cookie: most likely by hand.
    #[error(
        "This binary is a Switchyard provider plugin. It is not meant to be run directly: the \
         Switchyard coordinator starts it as a child process and talks gRPC to it over a Unix \
         socket (the go-plugin handshake; the environment variable {MAGIC_COOKIE_KEY} is missing \
         or wrong).\nTo check that it works, run the conformance harness:\n    \
         switchyard-conformance {program}"
    )]
    NotLaunchedByHost {
        /// This program's path, for the suggested command.
        program: String,
    },
    /// The host's `PLUGIN_PROTOCOL_VERSIONS` is not a comma-separated list of numbers.
    #[error("{PROTOCOL_VERSIONS_ENV}={0:?} is not a comma-separated list of protocol versions")]
    BadVersionList(String),
    /// No app protocol version in common.
    #[error(
        "no common plugin protocol version: the host speaks {host:?}, this plugin speaks {ours:?}; \
         upgrade whichever side is older"
    )]
    NoCommonVersion {
        /// The versions the host offered.
        host: Vec<u32>,
        /// The versions this plugin speaks.
        ours: Vec<u32>,
    },
    /// The socket path would not fit into `sun_path`.
    #[error(
        "the socket path {path:?} is {len} bytes, over the {MAX_SOCKET_PATH}-byte limit; use a shorter {UNIX_SOCKET_DIR_ENV}"
    )]
    SocketPathTooLong {
        /// The path that is too long.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
    },
    /// The socket could not be created.
    #[error("cannot listen on {path:?}: {source}")]
    Bind {
        /// The socket path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The handshake line could not be written.
    #[error("cannot write the handshake line to stdout: {0}")]
    Announce(#[source] std::io::Error),
}

/// Negotiates with the host from the process environment.
///
/// # Errors
/// [`HandshakeError::NotLaunchedByHost`] without the cookie; version errors otherwise.
pub fn negotiate() -> Result<Negotiated, HandshakeError> {
    negotiate_with(|key| std::env::var(key).ok())
}

/// [`negotiate`] over any variable lookup (for tests).
///
/// # Errors
/// As [`negotiate`].
pub fn negotiate_with(env: impl Fn(&str) -> Option<String>) -> Result<Negotiated, HandshakeError> {
    if env(MAGIC_COOKIE_KEY).as_deref() != Some(MAGIC_COOKIE_VALUE) {
        let program = std::env::args()
            .next()
            .unwrap_or_else(|| "path/to/this-plugin".to_owned());
        return Err(HandshakeError::NotLaunchedByHost { program });
    }
    let protocol_version = pick_version(env(PROTOCOL_VERSIONS_ENV).as_deref().unwrap_or(""))?;
    let socket_dir = env(UNIX_SOCKET_DIR_ENV)
        .filter(|dir| !dir.is_empty())
        .map_or_else(std::env::temp_dir, PathBuf::from);
    Ok(Negotiated {
        protocol_version,
        socket_dir,
    })
}

/// The highest version in both the host's list and ours. An empty list (a host that does not
/// say) means our newest, as go-plugin does.
fn pick_version(list: &str) -> Result<u32, HandshakeError> {
    let ours = PLUGIN_PROTOCOL_VERSIONS;
    let newest = ours.iter().copied().max().unwrap_or(1);
    if list.trim().is_empty() {
        return Ok(newest);
    }
    let host = list
        .split(',')
        .map(|v| v.trim().parse::<u32>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| HandshakeError::BadVersionList(list.to_owned()))?;
    host.iter()
        .copied()
        .filter(|v| ours.contains(v))
        .max()
        .ok_or_else(|| HandshakeError::NoCommonVersion {
            host,
            ours: ours.to_vec(),
        })
}

/// A listening Unix socket that removes its file when dropped.
#[derive(Debug)]
pub struct BoundSocket {
    listener: Option<UnixListener>,
    path: PathBuf,
}

impl BoundSocket {
    /// The socket's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the listener out to serve on; the file is still removed when `self` drops.
    pub fn take_listener(&mut self) -> Option<UnixListener> {
        self.listener.take()
    }
}

impl Drop for BoundSocket {
    fn drop(&mut self) {
        remove_socket(&self.path);
        let mut live = LIVE_SOCKET.lock().unwrap_or_else(PoisonError::into_inner);
        if live.as_deref() == Some(self.path.as_path()) {
            *live = None;
        }
    }
}

/// The socket this process listens on, for [`remove_live_socket`].
static LIVE_SOCKET: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Removes the socket `path`, then its directory if it is now empty. Errors are ignored: the
/// host may have removed either already, and a directory still holding files is the host's.
pub fn remove_socket(path: &Path) {
    let _ = std::fs::remove_file(path);
    if let Some(dir) = path.parent() {
        // `remove_dir` only removes an empty directory: nothing but the socket is ever lost.
        let _ = std::fs::remove_dir(dir);
    }
}

/// Removes the socket of the live [`BoundSocket`] (and its directory, if then empty), for a
/// process about to exit without running destructors. Does nothing when none is bound.
pub fn remove_live_socket() {
    let live = LIVE_SOCKET.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(path) = live.as_deref() {
        remove_socket(path);
    }
}

/// Creates the socket `plugin-<pid>.sock` inside `negotiated.socket_dir`. Must be called
/// inside a tokio runtime.
///
/// # Errors
/// [`HandshakeError::SocketPathTooLong`] or [`HandshakeError::Bind`].
pub fn bind(negotiated: &Negotiated) -> Result<BoundSocket, HandshakeError> {
    let path = negotiated
        .socket_dir
        .join(format!("plugin-{}.sock", std::process::id()));
    let len = path.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        return Err(HandshakeError::SocketPathTooLong { path, len });
    }
    // A stale socket from a crashed process with our pid would make bind fail.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).map_err(|source| HandshakeError::Bind {
        path: path.clone(),
        source,
    })?;
    *LIVE_SOCKET.lock().unwrap_or_else(PoisonError::into_inner) = Some(path.clone());
    Ok(BoundSocket {
        listener: Some(listener),
        path,
    })
}

/// The handshake line for `negotiated` and `socket`, with its trailing newline.
#[must_use]
pub fn handshake_line(negotiated: &Negotiated, socket: &Path) -> String {
    format!(
        "{CORE_PROTOCOL_VERSION}|{}|unix|{}|grpc|\n",
        negotiated.protocol_version,
        socket.display()
    )
}

/// Writes the handshake line to stdout and flushes it.
///
/// # Errors
/// [`HandshakeError::Announce`] when stdout is closed.
pub fn announce(negotiated: &Negotiated, socket: &BoundSocket) -> Result<(), HandshakeError> {
    let line = handshake_line(negotiated, socket.path());
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(line.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(HandshakeError::Announce)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |key| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    #[test]
    fn refuses_without_the_cookie_and_explains_why() {
        let err = negotiate_with(env_of(&[])).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, HandshakeError::NotLaunchedByHost { .. }));
        assert!(text.contains("switchyard-conformance"), "{text}");
        assert!(text.contains(MAGIC_COOKIE_KEY), "{text}");
    }

    #[test]
    fn picks_the_highest_common_version() {
        let env = env_of(&[
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
            (PROTOCOL_VERSIONS_ENV, "7, 1"),
            (UNIX_SOCKET_DIR_ENV, "/tmp/x"),
        ]);
        let negotiated = negotiate_with(env).unwrap();
        assert_eq!(negotiated.protocol_version, 1);
        assert_eq!(negotiated.socket_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn names_both_sides_when_no_version_is_common() {
        let env = env_of(&[
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
            (PROTOCOL_VERSIONS_ENV, "7,8"),
        ]);
        let err = negotiate_with(env).unwrap_err();
        assert!(err.to_string().contains("[7, 8]"), "{err}");
        assert!(err.to_string().contains("[1]"), "{err}");
    }

    #[test]
    fn rejects_a_garbled_version_list() {
        let env = env_of(&[
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
            (PROTOCOL_VERSIONS_ENV, "one"),
        ]);
        assert!(matches!(
            negotiate_with(env),
            Err(HandshakeError::BadVersionList(_))
        ));
    }

    #[test]
    fn formats_the_line_like_go_plugin() {
        let negotiated = Negotiated {
            protocol_version: 1,
            socket_dir: PathBuf::from("/run/sy"),
        };
        let line = handshake_line(&negotiated, Path::new("/run/sy/plugin-1.sock"));
        assert_eq!(line, "1|1|unix|/run/sy/plugin-1.sock|grpc|\n");
    }
}
