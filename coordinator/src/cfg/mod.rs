//! Configuration: the embedded, commented defaults (`default.toml`, which doubles as the
//! reference documentation), overridden by an optional TOML file, then by `SWITCHYARD_*`
//! environment variables. Everything is validated once, here, into typed values (`Duration`,
//! `NonZero*`, enums, resolved paths); the rest of the coordinator receives an `Arc<Config>` and
//! never parses a string again. This module reads the environment it is handed and never
//! writes the process environment.

mod access;
mod env;
mod guard;
mod plugin_limits;
mod shell;
mod store;

pub use guard::GuardConfig;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use access::{Role, ScopedToken, TlsFiles};
pub use plugin_limits::{LimitsConfig, Pins, pin_of};
pub use shell::{SHELL_COMMANDS_ENV, SHELL_PLUGIN, ShellCommand, ShellConfig};
pub use store::{DatabaseUrl, StoreBackend, StoreConfig};

/// The embedded default configuration, with a comment on every key.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// The environment variable that may carry the secret-encryption key (base64 of 32 bytes).
pub const SECRET_KEY_ENV: &str = "SWITCHYARD_SECRET_KEY";

/// Test hook, never for production: pauses a secret-key rotation after this many re-encrypted
/// records (see `secrets::rotate::RotationOptions`), so that a test can SIGKILL mid-rotation.
pub const ROTATION_PAUSE_ENV: &str = "SWITCHYARD_TEST_ROTATION_PAUSE_AFTER";

/// Why the configuration could not be loaded. Each message names the key or variable to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A TOML document is malformed or has unknown keys or wrong types.
    #[error("invalid configuration in {origin}: {message}")]
    Syntax {
        /// "the embedded defaults", the file name, or "the environment".
        origin: String,
        /// The parser's message (with line and column for files).
        message: String,
    },
    /// A `SWITCHYARD_*` variable names no key or has a value of the wrong type.
    #[error("environment variable {var}: {message}")]
    Env {
        /// The variable name.
        var: String,
        /// What is wrong.
        message: String,
    },
    /// A value parsed but is not allowed.
    #[error("configuration key `{key}`: {message}")]
    Invalid {
        /// Dotted key, e.g. `delivery.retry_delays`.
        key: String,
        /// What is wrong and what to write instead.
        message: String,
    },
}

/// The validated configuration of one coordinator.
#[derive(Debug, Clone)]
pub struct Config {
    /// Root of all state.
    pub data_dir: PathBuf,
    /// The platform API listeners.
    pub api: ApiConfig,
    /// Plugin discovery and host limits.
    pub plugins: PluginsConfig,
    /// The default delivery policy and engine limits.
    pub delivery: DeliveryConfig,
    /// Where the secret key comes from.
    pub secrets: SecretsConfig,
    /// Logging.
    pub log: LogConfig,
    /// The commands the shell provider may run.
    pub shell: ShellConfig,
    /// The operator's HTTP listener (metrics, health).
    pub observability: ObservabilityConfig,
    /// Circuit breakers and auto-disable of subscriptions.
    pub guard: guard::GuardConfig,
    /// Where the state lives (sled or a shared PostgreSQL).
    pub store: StoreConfig,
    /// Limits past which publishes are refused.
    pub storage: StorageConfig,
}

/// Limits past which publishes are refused (RESOURCE_EXHAUSTED); `None` for none.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// Most deliveries not yet finished.
    pub max_pending_deliveries: Option<usize>,
    /// Most bytes the data dir may hold.
    pub max_data_dir_bytes: Option<u64>,
    /// Least free bytes on the data dir's filesystem.
    pub min_free_disk_bytes: Option<u64>,
    /// How often the figures are measured.
    pub check_interval: Duration,
}

/// The operator's HTTP listener.
#[derive(Debug, Clone)]
pub struct ObservabilityConfig {
    /// Where `/metrics`, `/healthz` and `/readyz` are served; `None`: nowhere.
    pub listen: Option<SocketAddr>,
}

/// The platform API listeners.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The Unix socket path (resolved against the data dir).
    pub socket: PathBuf,
    /// The TCP address, if any.
    pub tcp_listen: Option<SocketAddr>,
    /// TLS of the TCP listener, if configured.
    pub tls: Option<TlsFiles>,
    /// The accepted bearer tokens (`api.auth_token` as admin, then `[[api.tokens]]`); empty:
    /// no authentication.
    pub tokens: Vec<ScopedToken>,
    /// Largest accepted event payload in bytes.
    pub max_payload_bytes: NonZeroUsize,
}

/// A bearer token; its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthToken(String);

impl AuthToken {
    /// Wraps a token; `None` when it is empty.
    #[must_use]
    pub fn new(token: &str) -> Option<Self> {
        (!token.is_empty()).then(|| Self(token.to_owned()))
    }

    /// The token text, for comparison with a request's header.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthToken(********)")
    }
}

/// Plugin discovery and host limits.
#[derive(Debug, Clone)]
pub struct PluginsConfig {
    /// Start every `switchyard-plugin-*` next to the binary.
    pub discover_next_to_binary: bool,
    /// More directories searched for `switchyard-plugin-*`.
    pub search_dirs: Vec<PathBuf>,
    /// Handshake + Describe deadline.
    pub start_timeout: Duration,
    /// Default per-call deadline.
    pub call_timeout: Duration,
    /// Calls in flight per plugin.
    pub max_in_flight: NonZeroUsize,
    /// Grace period of each stop step.
    pub stop_grace: Duration,
    /// Explicitly configured plugins.
    pub extra: Vec<PluginEntry>,
    /// Non-public subnets plugins may reach (checked CIDRs or addresses).
    pub network_allow: Vec<String>,
    /// How often the plugins' files are checked for a replaced binary (which is then
    /// reloaded); `None` (configured as "0s") turns the check off.
    pub watch_interval: Option<Duration>,
    /// Resource limits of every plugin process (`[plugins.limits]`), unless its entry says.
    pub limits: LimitsConfig,
    /// SHA-256 pins of plugin executables by file name or path (`[plugins.sha256]`).
    pub sha256: Pins,
}

/// One explicitly configured plugin.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginEntry {
    /// The executable.
    pub command: PathBuf,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// The only environment variables it gets (besides the handshake's).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The executable's SHA-256 (64 hex digits): checked before every start; a mismatch
    /// refuses to start it.
    #[serde(default, deserialize_with = "plugin_limits::digest")]
    pub sha256: Option<crate::host::Sha256>,
    /// Its resource limits, over `[plugins.limits]` key by key.
    #[serde(default)]
    pub limits: LimitsConfig,
}

/// The default delivery policy and engine limits.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Delays before each retry.
    pub retry_delays: Vec<Duration>,
    /// Jitter as a fraction of each delay, in `0.0..=1.0`.
    pub jitter: f64,
    /// Cap of a plugin's retry-after hint.
    pub max_retry_after: Duration,
    /// Deadline of rate-limited deferrals, from the delivery's creation.
    pub delivery_deadline: Duration,
    /// Attempts in flight per subscription.
    pub max_in_flight_per_subscription: NonZeroUsize,
    /// How long finished deliveries are kept.
    pub retention: Duration,
    /// How often finished deliveries older than the retention are purged.
    pub purge_interval: Duration,
}

/// Where the secret key comes from.
#[derive(Debug, Clone)]
pub struct SecretsConfig {
    /// The key file (resolved against the data dir); `None` for `<data_dir>/secret.key`.
    pub key_file: Option<PathBuf>,
}

/// Logging.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// EnvFilter directives.
    pub level: String,
    /// Output format.
    pub format: LogFormat,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

// === raw (unvalidated) shape, mirroring default.toml ===

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    data_dir: PathBuf,
    api: RawApi,
    plugins: RawPlugins,
    delivery: RawDelivery,
    secrets: RawSecrets,
    log: RawLog,
    #[serde(default)]
    shell: shell::RawShell,
    observability: RawObservability,
    #[serde(default)]
    guard: guard::RawGuard,
    store: store::RawStore,
    storage: RawStorage,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    max_pending_deliveries: usize,
    max_data_dir_mb: u64,
    min_free_disk_mb: u64,
    check_interval: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObservability {
    listen: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApi {
    socket: PathBuf,
    tcp_listen: String,
    auth_token: String,
    max_payload_bytes: usize,
    tls: access::RawTls,
    #[serde(default)]
    tokens: Vec<access::RawToken>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlugins {
    discover_next_to_binary: bool,
    search_dirs: Vec<PathBuf>,
    start_timeout: String,
    call_timeout: String,
    max_in_flight: usize,
    stop_grace: String,
    #[serde(default)]
    extra: Vec<PluginEntry>,
    #[serde(default)]
    network_allow: Vec<String>,
    watch_interval: String,
    limits: LimitsConfig,
    #[serde(default, deserialize_with = "plugin_limits::digests")]
    sha256: Pins,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDelivery {
    retry_delays: Vec<String>,
    jitter: f64,
    max_retry_after: String,
    delivery_deadline: String,
    max_in_flight_per_subscription: usize,
    retention: String,
    purge_interval: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecrets {
    key_file: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    level: String,
    format: LogFormat,
}

// === loading ===

/// Loads the configuration: embedded defaults, then `file` if given, then the `SWITCHYARD_*`
/// variables among `env` (pass `std::env::vars()`; tests pass their own).
///
/// # Errors
/// A [`ConfigError`] naming the file, key or variable to fix.
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    // Kept: `[[api.tokens]]` may name a variable holding a token.
    let env: Vec<(String, String)> = env.into_iter().collect();
    let mut table = parse_toml(DEFAULT_TOML, "the embedded defaults")?;
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let overrides = parse_toml(&text, &path.display().to_string())?;
        merge(&mut table, overrides);
    }
    env::apply(&mut table, env.iter().cloned())?;
    let origin = file.map_or_else(
        || "the defaults and environment".to_owned(),
        |p| format!("{} or the environment", p.display()),
    );
    let raw: Raw = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Syntax {
            origin,
            message: e.message().to_owned(),
        })?;
    validate(raw, &env)
}

fn parse_toml(text: &str, origin: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>()
        .map_err(|e| ConfigError::Syntax {
            origin: origin.to_owned(),
            message: e.to_string(),
        })
}

/// Deep-merges `over` into `base`: tables merge key by key, anything else replaces.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn validate(raw: Raw, env: &[(String, String)]) -> Result<Config, ConfigError> {
    let data_dir = raw.data_dir;
    let api = validate_api(raw.api, &data_dir, env)?;
    let plugins = validate_plugins(raw.plugins)?;
    Ok(Config {
        api,
        shell: shell::validate(raw.shell, plugins.call_timeout, env)?,
        plugins,
        delivery: validate_delivery(raw.delivery)?,
        secrets: SecretsConfig {
            key_file: (!raw.secrets.key_file.as_os_str().is_empty())
                .then(|| data_dir.join(&raw.secrets.key_file)),
        },
        log: LogConfig {
            level: raw.log.level,
            format: raw.log.format,
        },
        observability: ObservabilityConfig {
            listen: optional_addr("observability.listen", &raw.observability.listen)?,
        },
        guard: guard::validate(raw.guard)?,
        store: store::validate(raw.store)?,
        storage: validate_storage(&raw.storage)?,
        data_dir,
    })
}

/// An address, or none for "".
fn optional_addr(key: &str, text: &str) -> Result<Option<SocketAddr>, ConfigError> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|e| ConfigError::Invalid {
        key: key.to_owned(),
        message: format!("{text:?} is not an address like 127.0.0.1:9464 ({e}); \"\" for none"),
    })
}

fn validate_api(
    raw: RawApi,
    data_dir: &Path,
    env: &[(String, String)],
) -> Result<ApiConfig, ConfigError> {
    let tcp_listen = if raw.tcp_listen.is_empty() {
        None
    } else {
        Some(raw.tcp_listen.parse::<SocketAddr>().map_err(|e| {
            invalid(
                "api.tcp_listen",
                format!(
                    "{:?} is not an address like \"127.0.0.1:7400\": {e}",
                    raw.tcp_listen
                ),
            )
        })?)
    };
    let tokens = access::tokens(&raw.auth_token, raw.tokens, env, data_dir)?;
    if let Some(addr) = tcp_listen
        && !addr.ip().is_loopback()
        && tokens.is_empty()
    {
        return Err(invalid(
            "api.tcp_listen",
            format!(
                "{addr} is not a loopback address, so the API would be open to the network; \
                 set api.auth_token (or SWITCHYARD_API__AUTH_TOKEN) or [[api.tokens]] to \
                 require a bearer token"
            ),
        ));
    }
    Ok(ApiConfig {
        socket: data_dir.join(raw.socket),
        tls: access::tls(raw.tls, data_dir, tcp_listen.is_some())?,
        tcp_listen,
        tokens,
        max_payload_bytes: non_zero("api.max_payload_bytes", raw.max_payload_bytes)?,
    })
}

fn validate_plugins(raw: RawPlugins) -> Result<PluginsConfig, ConfigError> {
    Ok(PluginsConfig {
        discover_next_to_binary: raw.discover_next_to_binary,
        search_dirs: raw.search_dirs,
        start_timeout: duration("plugins.start_timeout", &raw.start_timeout)?,
        call_timeout: duration("plugins.call_timeout", &raw.call_timeout)?,
        max_in_flight: non_zero("plugins.max_in_flight", raw.max_in_flight)?,
        stop_grace: duration("plugins.stop_grace", &raw.stop_grace)?,
        extra: raw.extra,
        network_allow: network_allow(raw.network_allow)?,
        watch_interval: Some(duration("plugins.watch_interval", &raw.watch_interval)?)
            .filter(|d| !d.is_zero()),
        limits: raw.limits,
        sha256: raw.sha256,
    })
}

/// Each entry a subnet (`10.0.0.0/8`) or one address; anything else is refused at start, so
/// a typo never silently narrows or widens what plugins may reach.
fn network_allow(entries: Vec<String>) -> Result<Vec<String>, ConfigError> {
    for entry in &entries {
        let ok = entry.parse::<ipnet::IpNet>().is_ok() || entry.parse::<std::net::IpAddr>().is_ok();
        if !ok {
            return Err(invalid(
                "plugins.network_allow",
                format!("{entry:?} is not a subnet like \"127.0.0.0/8\" or an address"),
            ));
        }
    }
    Ok(entries)
}

fn validate_delivery(raw: RawDelivery) -> Result<DeliveryConfig, ConfigError> {
    let retry_delays = raw
        .retry_delays
        .iter()
        .map(|d| duration("delivery.retry_delays", d))
        .collect::<Result<Vec<_>, _>>()?;
    if !(0.0..=1.0).contains(&raw.jitter) {
        return Err(invalid(
            "delivery.jitter",
            format!("{} is not a fraction between 0.0 and 1.0", raw.jitter),
        ));
    }
    Ok(DeliveryConfig {
        retry_delays,
        jitter: raw.jitter,
        max_retry_after: duration("delivery.max_retry_after", &raw.max_retry_after)?,
        delivery_deadline: duration("delivery.delivery_deadline", &raw.delivery_deadline)?,
        max_in_flight_per_subscription: non_zero(
            "delivery.max_in_flight_per_subscription",
            raw.max_in_flight_per_subscription,
        )?,
        retention: duration("delivery.retention", &raw.retention)?,
        purge_interval: positive("delivery.purge_interval", &raw.purge_interval)?,
    })
}

fn validate_storage(raw: &RawStorage) -> Result<StorageConfig, ConfigError> {
    let mib = |n: u64| (n > 0).then(|| n.saturating_mul(1 << 20));
    Ok(StorageConfig {
        max_pending_deliveries: (raw.max_pending_deliveries > 0)
            .then_some(raw.max_pending_deliveries),
        max_data_dir_bytes: mib(raw.max_data_dir_mb),
        min_free_disk_bytes: mib(raw.min_free_disk_mb),
        check_interval: positive("storage.check_interval", &raw.check_interval)?,
    })
}

/// A duration that must not be zero.
fn positive(key: &str, text: &str) -> Result<Duration, ConfigError> {
    let d = duration(key, text)?;
    if d.is_zero() {
        return Err(invalid(key, format!("{text:?} must be longer than zero")));
    }
    Ok(d)
}

/// Parses a humantime duration such as "250ms" or "1m 30s".
///
/// # Errors
/// [`ConfigError::Invalid`] naming `key`.
pub fn duration(key: &str, text: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(text).map_err(|e| {
        invalid(
            key,
            format!("{text:?} is not a duration like \"250ms\", \"5s\" or \"1m 30s\": {e}"),
        )
    })
}

fn non_zero(key: &str, value: usize) -> Result<NonZeroUsize, ConfigError> {
    NonZeroUsize::new(value).ok_or_else(|| invalid(key, "must be at least 1".to_owned()))
}

fn invalid(key: &str, message: String) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests;
