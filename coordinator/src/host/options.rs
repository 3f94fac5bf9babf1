//! What the caller configures: [`PluginSpec`] (how to start one plugin binary) and
//! [`HostOptions`] (timeouts, limits and paths shared by every plugin).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// How to start one plugin binary.
#[derive(Debug, Clone, Default)]
pub struct PluginSpec {
    /// The executable.
    pub command: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment variables passed explicitly. Nothing else of the coordinator's
    /// environment reaches the plugin; only these and the handshake variables are set.
    pub env: BTreeMap<String, String>,
    /// The executable's pinned SHA-256: checked before every start, a mismatch refuses it.
    pub sha256: Option<super::pin::Sha256>,
    /// Resource limits of the process (core dumps are always off).
    pub limits: switchyard_rlimit::Limits,
}

impl PluginSpec {
    /// A spec with no arguments and no extra environment.
    pub fn new(command: impl Into<PathBuf>) -> Self {
        Self {
            command: command.into(),
            ..Self::default()
        }
    }

    /// A short name for logs: the executable's file name.
    pub(crate) fn name(&self) -> String {
        self.command.file_name().map_or_else(
            || self.command.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }
}

/// Timeouts, limits and paths for the plugins of one host.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// How long spawn → handshake → health → Describe may take.
    pub start_timeout: Duration,
    /// The deadline of each call (waiting for an in-flight slot included).
    pub call_timeout: Duration,
    /// Calls in flight per plugin; further calls wait for a slot (within their deadline).
    pub max_in_flight: usize,
    /// The first restart delay after a crash; doubled after each failed restart.
    pub restart_backoff_min: Duration,
    /// The longest restart delay.
    pub restart_backoff_max: Duration,
    /// Each wait of a graceful stop: after the Shutdown RPC, then after SIGTERM, before SIGKILL.
    pub stop_grace: Duration,
    /// Where the private 0700 socket directories are made. Keep it short: a socket path must
    /// fit in 107 bytes.
    pub socket_root: PathBuf,
    /// App protocol versions offered to the plugin.
    pub protocol_versions: Vec<u32>,
    /// Subnets a plugin's HTTP client may reach although they are not public (e.g.
    /// `127.0.0.0/8`), handed to every plugin in [`NETWORK_ALLOW_ENV`].
    pub network_allow: Vec<String>,
    /// Where the supervisors report plugin crashes (the engine publishes them as events).
    pub crashes: super::CrashReports,
}

/// The variable that carries the network policy's allow-list to a plugin: comma-separated
/// subnets; empty for public addresses only. The SDKs enforce it in their HTTP clients (Rust:
/// `switchyard_plugin_sdk::net_policy`). The host always sets it, after the plugin's own `env`,
/// so no plugin configuration can widen it.
pub const NETWORK_ALLOW_ENV: &str = "SWITCHYARD_NETWORK_ALLOW";

impl Default for HostOptions {
    fn default() -> Self {
        Self {
            start_timeout: Duration::from_secs(10),
            call_timeout: Duration::from_secs(30),
            max_in_flight: 64,
            restart_backoff_min: Duration::from_millis(100),
            restart_backoff_max: Duration::from_secs(30),
            stop_grace: Duration::from_secs(2),
            socket_root: std::env::temp_dir(),
            network_allow: Vec::new(),
            protocol_versions: switchyard_proto::PLUGIN_PROTOCOL_VERSIONS.to_vec(),
            crashes: super::CrashReports::default(),
        }
    }
}
