//! Test support: PostgreSQL stores on a fresh schema of the database that
//! `SWITCHYARD_TEST_PG_URL` names (`scripts/with-postgres.sh` starts a throwaway cluster and
//! sets it), dropped with everything in it at the end. Without the variable the PostgreSQL
//! tests are skipped with a note on stderr; `scripts/test.sh` (and so CI) always sets it.

use std::time::Duration;

use tokio_postgres::NoTls;

use super::bridge::Bridge;
use super::{PgOptions, PgStore};

/// The variable naming the test database.
pub(crate) const PG_URL_ENV: &str = "SWITCHYARD_TEST_PG_URL";

/// A schema of its own in the test database; several stores (coordinators) may open it.
#[derive(Debug)]
pub(crate) struct TestDb {
    url: String,
    schema: String,
}

/// Runs `sql` on its own connection to `url`.
fn execute(url: &str, sql: &str) -> Result<(), String> {
    let bridge = Bridge::new().map_err(|e| e.to_string())?;
    bridge.run(async {
        let (client, connection) = tokio_postgres::connect(url, NoTls)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        client.batch_execute(sql).await.map_err(|e| e.to_string())
    })
}

impl TestDb {
    /// A fresh schema, or `None` (with a note) when the variable is not set.
    pub(crate) fn new() -> Option<Self> {
        let Ok(url) = std::env::var(PG_URL_ENV) else {
            eprintln!("{PG_URL_ENV} is not set: skipping a PostgreSQL test");
            return None;
        };
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        if let Err(e) = execute(&url, &format!("CREATE SCHEMA {schema}")) {
            panic!("{PG_URL_ENV} is set but the test database cannot be used: {e}");
        }
        Some(Self { url, schema })
    }

    /// A store (one coordinator) on this schema whose leases last `lease`.
    pub(crate) fn open_with_lease(&self, lease: Duration) -> PgStore {
        PgStore::open(PgOptions {
            url: self.url.clone(),
            lease,
            pool_size: 4,
            schema: Some(self.schema.clone()),
        })
        .expect("open the PostgreSQL store")
    }

    /// A store with the default lease of 30 s.
    pub(crate) fn open(&self) -> PgStore {
        self.open_with_lease(Duration::from_secs(30))
    }

    /// Runs `sql` in this schema, as another version of the coordinator (or an operator)
    /// would write it; panics on failure.
    pub(crate) fn execute(&self, sql: &str) {
        let sql = format!("SET search_path TO {}; {sql}", self.schema);
        if let Err(e) = execute(&self.url, &sql) {
            panic!("cannot run {sql:?}: {e}");
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = execute(&self.url, &format!("DROP SCHEMA {} CASCADE", self.schema));
    }
}
