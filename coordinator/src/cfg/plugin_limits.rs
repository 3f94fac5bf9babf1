//! What every plugin process is held to: resource limits (`[plugins.limits]`, overridable per
//! `[[plugins.extra]]` entry) and SHA-256 pins (`[plugins.sha256]` by file name or path, or an
//! entry's own `sha256`). Both are turned into the host's types here, once.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Deserializer};

use crate::host::Sha256;

/// Resource limits as the config writes them; each key left out keeps the default (in
/// `[plugins.limits]`, the embedded default's). 0 means unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// RLIMIT_AS, in MiB.
    pub address_space_mb: Option<u64>,
    /// RLIMIT_NOFILE.
    pub open_files: Option<u64>,
    /// Processes and threads the plugin may add to its user's count (RLIMIT_NPROC).
    pub processes: Option<u64>,
    /// RLIMIT_CPU: CPU seconds over the process's life.
    pub cpu_seconds: Option<u64>,
}

impl LimitsConfig {
    /// These limits with the keys left out taken from `defaults`.
    #[must_use]
    pub fn over(self, defaults: LimitsConfig) -> LimitsConfig {
        LimitsConfig {
            address_space_mb: self.address_space_mb.or(defaults.address_space_mb),
            open_files: self.open_files.or(defaults.open_files),
            processes: self.processes.or(defaults.processes),
            cpu_seconds: self.cpu_seconds.or(defaults.cpu_seconds),
        }
    }

    /// The host's form: 0 or unset is no limit.
    #[must_use]
    pub fn to_host(self) -> switchyard_rlimit::Limits {
        let limit = |v: Option<u64>| v.filter(|&n| n > 0);
        switchyard_rlimit::Limits {
            cpu_seconds: limit(self.cpu_seconds),
            address_space_bytes: limit(self.address_space_mb).map(|mb| mb.saturating_mul(1 << 20)),
            open_files: limit(self.open_files),
            processes: limit(self.processes),
        }
    }
}

/// Pins of discovered plugins: executable file name (`switchyard-plugin-webhook`) or path →
/// digest.
pub type Pins = BTreeMap<String, Sha256>;

/// The pin of `command`: by its full path first, then by its file name.
#[must_use]
pub fn pin_of(pins: &Pins, command: &Path) -> Option<Sha256> {
    pins.get(&*command.to_string_lossy())
        .or_else(|| {
            command
                .file_name()
                .and_then(|n| pins.get(&*n.to_string_lossy()))
        })
        .copied()
}

/// Reads a digest from its 64 hex digits (for `sha256` keys).
pub(super) fn digest<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Sha256>, D::Error> {
    let text = Option::<String>::deserialize(d)?;
    text.map(|t| Sha256::parse(&t).map_err(serde::de::Error::custom))
        .transpose()
}

/// Reads the `[plugins.sha256]` table.
pub(super) fn digests<'de, D: Deserializer<'de>>(d: D) -> Result<Pins, D::Error> {
    let texts = BTreeMap::<String, String>::deserialize(d)?;
    texts
        .into_iter()
        .map(|(name, text)| {
            Sha256::parse(&text)
                .map(|pin| (name.clone(), pin))
                .map_err(|e| serde::de::Error::custom(format!("plugins.sha256.{name}: {e}")))
        })
        .collect()
}
