//! The operator's list of commands, as the coordinator hands it to this plugin alone: JSON in
//! [`SHELL_COMMANDS_ENV`], built from the coordinator's `[shell.commands]` (see
//! `coordinator/src/cfg/shell.rs`, which validated it). Read once at start; no subscription
//! config can add to it or change it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// The variable that carries the allowed commands (JSON).
pub const SHELL_COMMANDS_ENV: &str = "SWITCHYARD_SHELL_COMMANDS";

/// The allowed commands, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allowed {
    /// Name → command.
    pub commands: BTreeMap<String, Command>,
}

/// One allowed command.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Command {
    /// The executable (absolute).
    pub path: PathBuf,
    /// Arguments always passed first.
    #[serde(default)]
    pub args: Vec<String>,
    /// Whether a subscription may append arguments.
    #[serde(default)]
    pub allow_args: bool,
    /// Killed, with its process group, after this many milliseconds.
    pub timeout_ms: u64,
    /// Extra variables (the operator's).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The user it runs as (`None`: the plugin's; nobody when that is root).
    #[serde(default)]
    pub uid: Option<u32>,
    /// The group it runs as.
    #[serde(default)]
    pub gid: Option<u32>,
    /// Resource limits.
    pub limits: Limits,
}

/// Resource limits of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    /// RLIMIT_CPU, seconds.
    pub cpu_seconds: u64,
    /// RLIMIT_AS, MiB.
    pub memory_mb: u64,
    /// RLIMIT_NOFILE.
    pub open_files: u64,
    /// Processes at once (RLIMIT_NPROC is set to the user's current count plus this).
    pub processes: u64,
}

impl Command {
    /// The timeout.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// Why the list could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{SHELL_COMMANDS_ENV} is not the coordinator's list of commands: {0}")]
pub struct AllowedError(String);

impl Allowed {
    /// Parses the coordinator's JSON.
    ///
    /// # Errors
    /// When it is not the expected shape.
    pub fn parse(json: &str) -> Result<Self, AllowedError> {
        serde_json::from_str(json).map_err(|e| AllowedError(e.to_string()))
    }

    /// The list in this process's environment; none when the variable is unset (the plugin
    /// then offers nothing to run).
    ///
    /// # Errors
    /// When the variable is set but unreadable.
    pub fn from_env() -> Result<Self, AllowedError> {
        match std::env::var(SHELL_COMMANDS_ENV) {
            Ok(json) => Self::parse(&json),
            Err(std::env::VarError::NotPresent) => Ok(Self::default()),
            Err(e) => Err(AllowedError(e.to_string())),
        }
    }

    /// The names, comma-separated, for error messages.
    #[must_use]
    pub fn names(&self) -> String {
        if self.commands.is_empty() {
            return "none: the operator lists them in the coordinator's [shell.commands]".into();
        }
        self.commands.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}
