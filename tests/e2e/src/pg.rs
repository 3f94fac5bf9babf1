//! A database of its own in the throwaway PostgreSQL cluster that `scripts/with-postgres.sh`
//! starts (its admin connection string in `SWITCHYARD_TEST_PG_URL`), for tests and benches that
//! run several coordinators on one database; and the few figures the cluster's own statistics
//! views give about a run (no extension needed).

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio_postgres::NoTls;

/// The variable `scripts/with-postgres.sh` exports.
pub const PG_URL_VAR: &str = "SWITCHYARD_TEST_PG_URL";

/// Databases created by this process so far (their names must differ).
static CREATED: AtomicUsize = AtomicUsize::new(0);

/// A fresh database in the test cluster; [`Database::remove`] drops it.
#[derive(Debug)]
pub struct Database {
    admin: String,
    name: String,
    /// The cluster's WAL counters when the database was created (they are cluster-wide).
    wal_before: (i64, i64),
}

/// Connects to `url` and returns the client (its connection runs on a task of its own).
///
/// # Panics
/// When the cluster cannot be reached.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connect to the test cluster");
    tokio::spawn(connection);
    client
}

async fn execute(url: &str, sql: &str) {
    connect(url)
        .await
        .batch_execute(sql)
        .await
        .expect("run SQL");
}

impl Database {
    /// Creates a database named for this process, or `None` (with a line on stderr saying so)
    /// when `SWITCHYARD_TEST_PG_URL` is not set.
    pub async fn create() -> Option<Self> {
        let Ok(admin) = std::env::var(PG_URL_VAR) else {
            eprintln!("{PG_URL_VAR} is not set: run under scripts/with-postgres.sh");
            return None;
        };
        let n = CREATED.fetch_add(1, Ordering::Relaxed);
        let name = format!("sy_{}_{n}", std::process::id());
        execute(&admin, &format!("CREATE DATABASE {name}")).await;
        let wal_before = wal(&connect(&admin).await).await;
        Some(Self {
            admin,
            name,
            wal_before,
        })
    }

    /// A client connected to the cluster's admin database (for its statistics views).
    pub async fn admin_client(&self) -> tokio_postgres::Client {
        connect(&self.admin).await
    }

    /// The database's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The coordinators' `store.url` (key-value form: a later `dbname` wins).
    #[must_use]
    pub fn url(&self) -> String {
        format!("{} dbname={}", self.admin, self.name)
    }

    /// A client connected to this database.
    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&self.url()).await
    }

    /// Counters since the database was created: committed transactions, rows inserted and
    /// rows updated (`pg_stat_database`), and the cluster's WAL syncs and bytes (`pg_stat_wal`,
    /// cluster-wide: run nothing else on the cluster meanwhile). A backend publishes its
    /// counts at most once a second while busy and at its exit, so read them once the
    /// database's connections are closed.
    pub async fn stats(&self) -> DbStats {
        let admin = connect(&self.admin).await;
        let (syncs, bytes) = wal(&admin).await;
        let row = admin
            .query_one(
                "SELECT xact_commit, tup_inserted, tup_updated FROM pg_stat_database \
                 WHERE datname = $1",
                &[&self.name],
            )
            .await
            .expect("read pg_stat_database");
        DbStats {
            commits: row.get(0),
            inserted: row.get(1),
            updated: row.get(2),
            wal_syncs: syncs - self.wal_before.0,
            wal_bytes: bytes - self.wal_before.1,
        }
    }

    /// Drops the database (and the connections still open to it).
    pub async fn remove(self) {
        execute(
            &self.admin,
            &format!("DROP DATABASE {} WITH (FORCE)", self.name),
        )
        .await;
    }
}

/// Counters of `pg_stat_database`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DbStats {
    /// Committed transactions.
    pub commits: i64,
    /// Rows inserted.
    pub inserted: i64,
    /// Rows updated.
    pub updated: i64,
    /// WAL syncs to disk (zero with `fsync = off`), cluster-wide.
    pub wal_syncs: i64,
    /// WAL bytes written, cluster-wide.
    pub wal_bytes: i64,
}

/// The cluster's (WAL syncs, WAL bytes) so far.
async fn wal(admin: &tokio_postgres::Client) -> (i64, i64) {
    let row = admin
        .query_one("SELECT wal_sync, wal_bytes::bigint FROM pg_stat_wal", &[])
        .await
        .expect("read pg_stat_wal");
    (row.get(0), row.get(1))
}

/// The PostgreSQL server's processes (the postmaster of the test cluster and its children, the
/// backends), found from the socket directory of `SWITCHYARD_TEST_PG_URL` (`host=<dir>`, whose
/// `data/postmaster.pid` names the postmaster); empty when it cannot be found.
#[must_use]
pub fn server_pids() -> Vec<u32> {
    let Ok(url) = std::env::var(PG_URL_VAR) else {
        return Vec::new();
    };
    let Some(dir) = url
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("host="))
    else {
        return Vec::new();
    };
    let Some(postmaster) = std::fs::read_to_string(format!("{dir}/data/postmaster.pid"))
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.trim().parse::<u32>().ok()))
    else {
        return Vec::new();
    };
    let mut pids = vec![postmaster];
    pids.extend(crate::children(postmaster));
    pids
}
