//! The versioned schema, migrated when a store opens: under a session advisory lock (per
//! database schema), so that coordinators starting together migrate one at a time; each
//! migration runs in its own transaction with the version it reaches.
//!
//! Tables: `event_types`, `connections`, `subscriptions` (configuration: id and the JSON body);
//! `events` (with the unique idempotency key); `deliveries` (the body as saved, plus status,
//! due time — set exactly when the delivery is scheduled —, the claim: claimer, token, lease
//! expiry; and `seq`, the insertion order that orders a correlation chain); `attempts`;
//! `chain_history` (what ended correlated deliveries left behind for later ones).

use deadpool_postgres::Pool;

use super::backend;
use crate::store::StoreResult;

/// The advisory lock class of the migration (the second key is the schema's name hash).
const MIGRATION_LOCK: i32 = 0x5359_0001;

/// Migration `n` (1-based) brings the schema to version `n`. Append only: a released
/// migration is never edited.
const MIGRATIONS: &[&str] = &[r"
CREATE TABLE event_types (
    id text PRIMARY KEY,
    body bytea NOT NULL
);
CREATE TABLE connections (
    id uuid PRIMARY KEY,
    provider_id text NOT NULL,
    body bytea NOT NULL
);
CREATE TABLE subscriptions (
    id uuid PRIMARY KEY,
    body bytea NOT NULL
);
CREATE TABLE events (
    id uuid PRIMARY KEY,
    idempotency_key text UNIQUE,
    received_ms bigint NOT NULL,
    body bytea NOT NULL
);
CREATE INDEX events_received ON events (received_ms);
CREATE TABLE deliveries (
    id uuid PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    subscription_id uuid NOT NULL,
    provider_id text NOT NULL,
    event_type text NOT NULL,
    status text NOT NULL,
    due_ms bigint,
    correlation_key text,
    created_us bigint NOT NULL,
    claimed_by text,
    claim_token uuid,
    lease_ms bigint,
    body bytea NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (due_ms) WHERE due_ms IS NOT NULL;
CREATE INDEX deliveries_event ON deliveries (event_id, seq);
CREATE INDEX deliveries_subscription ON deliveries (subscription_id, id);
CREATE INDEX deliveries_created ON deliveries (created_us);
CREATE INDEX deliveries_claimer ON deliveries (claimed_by) WHERE claimed_by IS NOT NULL;
CREATE INDEX deliveries_chain ON deliveries (subscription_id, correlation_key, seq)
    WHERE correlation_key IS NOT NULL AND status NOT IN ('succeeded', 'failed', 'cancelled');
CREATE TABLE attempts (
    delivery_id uuid NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    body bytea NOT NULL,
    PRIMARY KEY (delivery_id, seq)
);
CREATE TABLE chain_history (
    subscription_id uuid NOT NULL,
    key text NOT NULL,
    ended_ms bigint NOT NULL,
    delivery_id uuid NOT NULL,
    body bytea NOT NULL,
    PRIMARY KEY (subscription_id, key, ended_ms, delivery_id)
);
"];

/// Brings the schema to the newest version; returns how many migrations ran.
pub(super) async fn migrate(pool: &Pool) -> StoreResult<usize> {
    let mut client = pool.get().await.map_err(backend)?;
    client
        .execute(
            "SELECT pg_advisory_lock($1, hashtext(current_schema()))",
            &[&MIGRATION_LOCK],
        )
        .await
        .map_err(backend)?;
    let result = migrate_locked(&mut client).await;
    let unlocked = client
        .execute(
            "SELECT pg_advisory_unlock($1, hashtext(current_schema()))",
            &[&MIGRATION_LOCK],
        )
        .await;
    let ran = result?;
    unlocked.map_err(backend)?;
    Ok(ran)
}

async fn migrate_locked(client: &mut deadpool_postgres::Object) -> StoreResult<usize> {
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS switchyard_schema (version integer NOT NULL)")
        .await
        .map_err(backend)?;
    let row = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM switchyard_schema",
            &[],
        )
        .await
        .map_err(backend)?;
    let current = usize::try_from(row.get::<_, i32>(0)).unwrap_or(0);
    if current > MIGRATIONS.len() {
        return Err(backend(format!(
            "the database schema is at version {current}, newer than this coordinator knows \
             ({}); upgrade the coordinator",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
        let tx = client.transaction().await.map_err(backend)?;
        tx.batch_execute(sql).await.map_err(backend)?;
        tx.execute(
            "INSERT INTO switchyard_schema (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
    }
    Ok(MIGRATIONS.len() - current)
}
