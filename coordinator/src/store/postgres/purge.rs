//! Retention, one coordinator at a time: the purge holds a session advisory lock (per schema)
//! and a coordinator that finds it taken skips its round. Events received before the cutoff
//! whose deliveries are all final and unclaimed go with their deliveries and attempts
//! (cascade), in chunks of one transaction each (an event a manual claim holds is skipped);
//! then the chains' history, as sled bounds it.

use chrono::{DateTime, Utc};

use super::{PgStore, backend};
use crate::model::{CORRELATION_HISTORY, to_millis};
use crate::store::{Purged, StoreResult};

/// The advisory lock class of the purge (the second key is the schema's name hash).
const PURGE_LOCK: i32 = 0x5359_0002;

/// Events removed per transaction.
const CHUNK: i64 = 1000;

const PURGE_EVENTS: &str = "WITH victims AS ( \
       SELECT e.id FROM events e WHERE e.received_ms < $1 AND NOT EXISTS ( \
         SELECT 1 FROM deliveries d WHERE d.event_id = e.id \
         AND (d.status NOT IN ('succeeded', 'failed', 'cancelled') OR d.claim_token IS NOT NULL)) \
       ORDER BY e.id LIMIT $2 FOR UPDATE SKIP LOCKED), \
     gone AS (DELETE FROM deliveries d USING victims v WHERE d.event_id = v.id RETURNING 1), \
     events_gone AS (DELETE FROM events e USING victims v WHERE e.id = v.id RETURNING 1) \
     SELECT (SELECT count(*) FROM events_gone), (SELECT count(*) FROM gone)";

/// Forgets history that ended before the cutoff: all of a chain's when nothing of it is
/// pending and its newest entry ended before then, else what is older than both the cutoff
/// and the newest [`CORRELATION_HISTORY`] entries.
const PURGE_HISTORY: &str = "DELETE FROM chain_history h USING ( \
       SELECT subscription_id, key, ended_ms, delivery_id, \
         row_number() OVER (PARTITION BY subscription_id, key \
                            ORDER BY ended_ms DESC, delivery_id DESC) AS rank, \
         max(ended_ms) OVER (PARTITION BY subscription_id, key) AS newest \
       FROM chain_history) r \
     WHERE h.subscription_id = r.subscription_id AND h.key = r.key \
       AND h.ended_ms = r.ended_ms AND h.delivery_id = r.delivery_id AND h.ended_ms < $1 \
       AND (r.rank > $2 OR (r.newest < $1 AND NOT EXISTS ( \
         SELECT 1 FROM deliveries d WHERE d.subscription_id = h.subscription_id \
         AND d.correlation_key = h.key \
         AND d.status NOT IN ('succeeded', 'failed', 'cancelled'))))";

impl PgStore {
    pub(super) async fn purge_finished(&self, before: DateTime<Utc>) -> StoreResult<Purged> {
        let client = self.client().await?;
        let locked: bool = client
            .query_one(
                "SELECT pg_try_advisory_lock($1, hashtext(current_schema()))",
                &[&PURGE_LOCK],
            )
            .await
            .map_err(backend)?
            .get(0);
        if !locked {
            tracing::debug!("another coordinator is purging; skipping this round");
            return Ok(Purged::default());
        }
        let purged = purge_locked(&client, before).await;
        let unlocked = client
            .execute(
                "SELECT pg_advisory_unlock($1, hashtext(current_schema()))",
                &[&PURGE_LOCK],
            )
            .await;
        let purged = purged?;
        unlocked.map_err(backend)?;
        Ok(purged)
    }
}

async fn purge_locked(
    client: &deadpool_postgres::Object,
    before: DateTime<Utc>,
) -> StoreResult<Purged> {
    let cutoff = i64::try_from(to_millis(before)).unwrap_or(i64::MAX);
    let mut purged = Purged::default();
    loop {
        let row = client
            .query_one(PURGE_EVENTS, &[&cutoff, &CHUNK])
            .await
            .map_err(backend)?;
        let events = usize::try_from(row.get::<_, i64>(0)).unwrap_or(0);
        purged.events += events;
        purged.deliveries += usize::try_from(row.get::<_, i64>(1)).unwrap_or(0);
        if i64::try_from(events).unwrap_or(0) < CHUNK {
            break;
        }
    }
    let keep = i64::try_from(CORRELATION_HISTORY).unwrap_or(20);
    client
        .execute(PURGE_HISTORY, &[&cutoff, &keep])
        .await
        .map_err(backend)?;
    Ok(purged)
}
