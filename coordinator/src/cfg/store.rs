//! `[store]`: where the coordinator keeps its state — the embedded sled database in the data
//! dir (one coordinator), or a PostgreSQL database that several coordinators share, with the
//! lease that bounds how long a dead coordinator's deliveries wait, and the pool size.

use std::fmt;
use std::num::NonZeroUsize;
use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, duration, invalid, non_zero};

/// The shortest lease accepted: the heartbeat renews every third of it.
const MIN_LEASE: Duration = Duration::from_millis(300);

/// A PostgreSQL connection string; its `Debug` never shows it (it may hold a password).
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL, to connect with.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DatabaseUrl(********)")
    }
}

/// Which store backs the coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreBackend {
    /// sled in `<data_dir>/db`.
    Sled,
    /// A shared PostgreSQL database.
    Postgres(DatabaseUrl),
}

/// The validated `[store]` section.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The backend.
    pub backend: StoreBackend,
    /// PostgreSQL: how long a claim lasts without renewal.
    pub lease: Duration,
    /// PostgreSQL: connections in the pool.
    pub pool_size: NonZeroUsize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    url: String,
    lease: String,
    pool_size: usize,
}

pub(super) fn validate(raw: RawStore) -> Result<StoreConfig, ConfigError> {
    let backend = if raw.url.trim().is_empty() {
        StoreBackend::Sled
    } else {
        // Parsed here for the error message; the driver's message never repeats the URL.
        raw.url.parse::<tokio_postgres::Config>().map_err(|e| {
            invalid(
                "store.url",
                format!(
                    "not a PostgreSQL connection string ({e}); write \
                         \"postgres://user:password@host:5432/dbname\" or \"\" for sled"
                ),
            )
        })?;
        StoreBackend::Postgres(DatabaseUrl(raw.url))
    };
    let lease = duration("store.lease", &raw.lease)?;
    if lease < MIN_LEASE {
        return Err(invalid(
            "store.lease",
            format!("{lease:?} is too short; at least {MIN_LEASE:?} (e.g. \"30s\")"),
        ));
    }
    Ok(StoreConfig {
        backend,
        lease,
        pool_size: non_zero("store.pool_size", raw.pool_size)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(url: &str, lease: &str) -> RawStore {
        RawStore {
            url: url.into(),
            lease: lease.into(),
            pool_size: 4,
        }
    }

    #[test]
    fn an_empty_url_is_sled_and_a_postgres_url_is_kept_out_of_debug_output() {
        assert_eq!(
            validate(raw("", "30s")).unwrap().backend,
            StoreBackend::Sled
        );
        let url = "postgres://sy:hunter2@db.internal:5432/switchyard";
        let cfg = validate(raw(url, "30s")).unwrap();
        assert_eq!(cfg.backend, StoreBackend::Postgres(DatabaseUrl(url.into())));
        assert!(!format!("{cfg:?}").contains("hunter2"));
    }

    #[test]
    fn a_bad_url_or_lease_names_the_key_and_not_the_password() {
        let err = validate(raw("postgres://sy:hunter2@db:notaport/x", "30s")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("store.url"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        let err = validate(raw("", "10ms")).unwrap_err().to_string();
        assert!(err.contains("store.lease"), "{err}");
    }
}
