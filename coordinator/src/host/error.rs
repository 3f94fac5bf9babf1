//! The host's two error types: [`StartError`] (a plugin could not be started; every variant says
//! what went wrong and what to look at) and [`CallError`] (one call to a running plugin failed;
//! [`CallError::is_retryable`] drives the delivery engine's retry decision).

use crate::schema::SchemaProblem;
use std::path::PathBuf;
use std::time::Duration;

/// Why a plugin could not be started (or restarted).
#[derive(thiserror::Error, Debug)]
pub enum StartError {
    /// The executable could not be started at all.
    #[error(
        "could not start plugin {command:?}: {source}; check the path and that it is executable"
    )]
    Spawn {
        /// The executable.
        command: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The private socket directory could not be created or its path is too long.
    #[error("{0}")]
    SocketDir(String),
    /// The plugin exited before it completed the handshake.
    #[error(
        "plugin {command:?} exited before the handshake ({status}); likely causes: it was started \
         without the magic cookie, it crashed while starting, or it is not a Switchyard plugin. \
         Last stderr lines:\n{stderr_tail}"
    )]
    ExitedEarly {
        /// The executable.
        command: PathBuf,
        /// How it exited, e.g. "exit status: 3".
        status: String,
        /// The last lines it wrote to stderr.
        stderr_tail: String,
    },
    /// The first stdout line is not a valid handshake line.
    #[error(
        "plugin {command:?} printed a malformed handshake line {line:?}: {reason}. Expected \
         `1|<app version>|unix|<socket path>|grpc|`; likely causes: the plugin (or a library it \
         uses) writes to stdout before the handshake, or it is not a Switchyard plugin"
    )]
    MalformedHandshake {
        /// The executable.
        command: PathBuf,
        /// The line, as read.
        line: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A well-formed handshake line whose socket is in neither directory the host accepts.
    #[error(
        "plugin {command:?} announced the socket {socket:?}, which is neither inside the \
         directory the host gave it in PLUGIN_UNIX_SOCKET_DIR ({dir:?}) nor directly in its temp \
         dir ({temp_dir:?}, where go-plugin < 1.5 puts it); create the socket in \
         PLUGIN_UNIX_SOCKET_DIR"
    )]
    SocketElsewhere {
        /// The executable.
        command: PathBuf,
        /// The announced socket.
        socket: PathBuf,
        /// The host's socket directory.
        dir: PathBuf,
        /// The plugin's temp dir.
        temp_dir: PathBuf,
    },
    /// The plugin announced an app protocol version the host did not offer.
    #[error(
        "plugin {command:?} speaks protocol version {announced}, but this coordinator offered \
         {offered:?}; upgrade the plugin or the coordinator so they share a version"
    )]
    VersionMismatch {
        /// The executable.
        command: PathBuf,
        /// Versions the host offered.
        offered: Vec<u32>,
        /// Version the plugin announced.
        announced: u32,
    },
    /// The plugin did not complete the start sequence in time.
    #[error(
        "plugin {command:?} did not {stage} within {timeout:?}; it may be hung, or the start \
         timeout is too short for this machine"
    )]
    Timeout {
        /// The executable.
        command: PathBuf,
        /// The step that timed out, e.g. "print its handshake line".
        stage: &'static str,
        /// The start timeout.
        timeout: Duration,
    },
    /// Connecting, the health check or Describe failed.
    #[error("plugin {command:?}: {stage} failed: {detail}")]
    Protocol {
        /// The executable.
        command: PathBuf,
        /// The step, e.g. "health check".
        stage: &'static str,
        /// What happened.
        detail: String,
    },
    /// Describe returned something the host refuses (bad ids, invalid schemas).
    #[error("plugin {plugin_id:?} refused: provider {provider:?}: {}", format_problems(.problems))]
    InvalidDescribe {
        /// The plugin id from Describe.
        plugin_id: String,
        /// The provider at fault ("" for the plugin itself).
        provider: String,
        /// Each problem, with its JSON path (schema problems are prefixed with the schema field,
        /// e.g. `config_schema/properties/url/type`).
        problems: Vec<SchemaProblem>,
    },
    /// The executable's SHA-256 is not the one the configuration pins: it was not started.
    #[error(
        "refused to start plugin {command:?}: its SHA-256 is {actual}, but the configuration pins \
         {expected}; if this binary is the intended one, pin its hash (`sha256sum {command:?}`), \
         otherwise restore the pinned binary"
    )]
    PinMismatch {
        /// The executable.
        command: PathBuf,
        /// The pinned digest.
        expected: super::pin::Sha256,
        /// The digest of the file found.
        actual: super::pin::Sha256,
    },
    /// A pinned executable could not be read to check its hash.
    #[error("cannot read plugin {command:?} to check its pinned SHA-256: {source}")]
    PinUnreadable {
        /// The executable.
        command: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Another plugin already serves this plugin id.
    #[error("plugin id {0:?} is served by more than one plugin binary; ids must be unique")]
    DuplicatePluginId(String),
}

fn format_problems(problems: &[SchemaProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why one call to a plugin failed.
#[derive(thiserror::Error, Debug)]
pub enum CallError {
    /// The plugin is down (restarting after a crash, or stopped). Retryable.
    #[error("the plugin is not running (restarting or stopped)")]
    NotRunning,
    /// The plugin process died while the call was in flight. Retryable.
    #[error("the plugin process exited during the call")]
    Crashed,
    /// The per-call deadline passed. Retryable.
    #[error("the call did not complete before its deadline")]
    DeadlineExceeded,
    /// The plugin does not know the provider or resolver named in the request. Not retryable.
    #[error("not found: {0}")]
    NotFound(String),
    /// The provider does not implement the capability the call needs. Not retryable.
    #[error("not implemented by the plugin: {0}")]
    Unimplemented(String),
    /// Any other gRPC failure (INTERNAL, UNAVAILABLE...). Retryable.
    #[error("plugin call failed: {0}")]
    Rpc(tonic::Status),
}

impl CallError {
    /// Whether trying again later can help.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::NotFound(_) | Self::Unimplemented(_))
    }

    /// What kind of failure it was, without the plugin's words (for spans).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotRunning => "the plugin is not running",
            Self::Crashed => "the plugin process exited during the call",
            Self::DeadlineExceeded => "deadline exceeded",
            Self::NotFound(_) => "not found",
            Self::Unimplemented(_) => "not implemented by the plugin",
            Self::Rpc(_) => "plugin call failed",
        }
    }

    /// The same error with the plugin's own words scrubbed of `secrets` (a plugin may quote a
    /// receiver's answer in a status message).
    #[must_use]
    pub fn scrubbed(self, secrets: &switchyard_scrub::Scrubber) -> Self {
        match self {
            Self::NotFound(text) => Self::NotFound(secrets.scrub(&text).into_owned()),
            Self::Unimplemented(text) => Self::Unimplemented(secrets.scrub(&text).into_owned()),
            Self::Rpc(status) => {
                let message = secrets.scrub(status.message()).into_owned();
                Self::Rpc(tonic::Status::new(status.code(), message))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_not_found_and_unimplemented_are_final() {
        assert!(CallError::NotRunning.is_retryable());
        assert!(CallError::Crashed.is_retryable());
        assert!(CallError::DeadlineExceeded.is_retryable());
        assert!(CallError::Rpc(tonic::Status::internal("x")).is_retryable());
        assert!(!CallError::NotFound("p".into()).is_retryable());
        assert!(!CallError::Unimplemented("p".into()).is_retryable());
    }
}
