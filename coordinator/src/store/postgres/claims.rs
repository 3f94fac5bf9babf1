//! Claims as leases. A claim writes the claimer's id, a fresh claim token and a lease expiry
//! (the database's clock) on the delivery's row, picked with `FOR UPDATE SKIP LOCKED` so that
//! coordinators claiming at once never wait for each other; the row stays due (its `due_ms`
//! is kept), and no transaction is held during the attempt. The [`heartbeat`] renews this
//! coordinator's leases every third of the lease; a lease that expired (its coordinator died or
//! hung) makes the delivery due again for every coordinator — except the one that held it, which
//! never takes back its own claim while it may still be attempting it. The token is the save's
//! fence ([`super::writes`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::delivery_row::{StateColumns, columns};
use super::records::{dec, enc};
use super::{DB_NOW_MS, PgStore, backend};
use crate::model::{Delivery, DeliveryId, from_millis, to_millis};
use crate::store::{Backlog, Claimed, StoreError, StoreResult};

/// A claim this handle holds: its token (the fence of the save) and the latest moment its
/// lease is known to have been set from (taken before the claim's or renewal's query was
/// sent, so it errs early).
#[derive(Debug, Clone, Copy)]
pub(super) struct Held {
    pub(super) token: Uuid,
    pub(super) since: Instant,
    /// The heartbeat found it taken over; kept until its attempt ends, so that a late
    /// result is recognised (and refused) by its token.
    pub(super) lost: bool,
}

/// This handle's claims, shared with the heartbeat.
pub(super) type Claims = Arc<Mutex<HashMap<DeliveryId, Held>>>;

pub(super) fn lock(
    claims: &Mutex<HashMap<DeliveryId, Held>>,
) -> MutexGuard<'_, HashMap<DeliveryId, Held>> {
    // A panic while holding the lock leaves at worst a forgotten claim, whose lease then
    // expires and whose delivery is attempted again.
    claims.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A claim whose lease is this close to its end counts as lost already (clocks and the
/// heartbeat's own latency).
fn margin(lease: Duration) -> Duration {
    lease / 10
}

fn lease_ms(lease: Duration) -> i64 {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 4)
}

fn ms(at: DateTime<Utc>) -> i64 {
    i64::try_from(to_millis(at)).unwrap_or(i64::MAX)
}

/// A row this coordinator may claim: unclaimed, or claimed by another one whose lease expired.
const CLAIMABLE: &str = "(claim_token IS NULL OR (lease_ms <= \
     (extract(epoch from clock_timestamp()) * 1000)::bigint AND claimed_by <> $me))";

/// [`CLAIMABLE`] with `$me` as parameter `n`.
fn claimable(n: usize) -> String {
    CLAIMABLE.replace("$me", &format!("${n}"))
}

/// Renews this coordinator's leases until `stop`, and drops from `claims` those the renewal
/// no longer finds this coordinator's (taken over while it did not renew them, e.g. paused).
pub(super) async fn heartbeat(
    pool: Pool,
    me: String,
    lease: Duration,
    claims: Claims,
    stop: CancellationToken,
) {
    let every = (lease / 3).max(Duration::from_millis(50));
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            () = tokio::time::sleep(every) => {}
        }
        let sent = Instant::now();
        match renew(&pool, &me, lease).await {
            Ok(rows) => reconcile(&claims, &rows, sent),
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    lease = ?lease,
                    "cannot renew this coordinator's leases; other coordinators take its \
                     deliveries over once they expire"
                );
            }
        }
    }
}

/// Renews this coordinator's leases and returns the claims it still holds (id, token). Rows
/// a transaction of this coordinator is saving right now are skipped, not waited for: waiting
/// could deadlock with that transaction, and their save ends or keeps the claim anyway. What
/// is still held is read without locks, as committed.
async fn renew(pool: &Pool, me: &str, lease: Duration) -> StoreResult<Vec<tokio_postgres::Row>> {
    let client = pool.get().await.map_err(backend)?;
    let sql = format!(
        "UPDATE deliveries SET lease_ms = {DB_NOW_MS} + $2 WHERE id IN ( \
           SELECT id FROM deliveries WHERE claimed_by = $1 AND claim_token IS NOT NULL \
           FOR UPDATE SKIP LOCKED)"
    );
    client
        .execute(&sql, &[&me, &lease_ms(lease)])
        .await
        .map_err(backend)?;
    client
        .query(
            "SELECT id, claim_token FROM deliveries \
             WHERE claimed_by = $1 AND claim_token IS NOT NULL",
            &[&me],
        )
        .await
        .map_err(backend)
}

/// After a renewal sent at `sent` that renewed `rows` (id, token): those claims are renewed,
/// the others held since before it are lost.
fn reconcile(
    claims: &Mutex<HashMap<DeliveryId, Held>>,
    rows: &[tokio_postgres::Row],
    sent: Instant,
) {
    let still: HashMap<Uuid, Uuid> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let mut lost = 0usize;
    for (id, held) in lock(claims).iter_mut() {
        if held.lost || held.since > sent {
            continue;
        }
        if still.get(id.as_uuid()) == Some(&held.token) {
            held.since = sent;
        } else {
            held.lost = true;
            lost += 1;
        }
    }
    if lost > 0 {
        tracing::warn!(
            lost,
            "claims taken over by other coordinators while this one did not renew them; \
             their late results will be rejected by the lease fence"
        );
    }
}

impl PgStore {
    pub(super) async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Delivery>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = format!(
            "WITH c AS (SELECT id FROM deliveries \
               WHERE due_ms IS NOT NULL AND due_ms <= $1 AND {} \
               AND ($2::text[] IS NULL OR provider_id = ANY($2)) \
               ORDER BY due_ms LIMIT $3 FOR UPDATE SKIP LOCKED) \
             UPDATE deliveries d SET claimed_by = $4, claim_token = gen_random_uuid(), \
               lease_ms = {DB_NOW_MS} + $5 \
             FROM c WHERE d.id = c.id RETURNING d.id, d.claim_token, d.body",
            claimable(4)
        );
        let client = self.client().await?;
        let sent = Instant::now();
        let rows = client
            .query(
                &sql,
                &[
                    &ms(now),
                    &self.served(),
                    &limit,
                    &self.me,
                    &lease_ms(self.lease),
                ],
            )
            .await
            .map_err(backend)?;
        let mut claimed = Vec::with_capacity(rows.len());
        let mut tokens = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut d: Delivery = dec("deliveries", row.get::<_, &[u8]>(2))?;
            // The body stays due (where the schedule resumes it if the lease expires).
            d.state = d.state.claimed(now);
            let token = row.get::<_, Uuid>(1);
            tokens.push((
                d.id,
                Held {
                    token,
                    since: sent,
                    lost: false,
                },
            ));
            claimed.push(d);
        }
        self.my_claims().extend(tokens);
        claimed.sort_by_key(|d| (d.next_attempt_at(), d.id));
        Ok(claimed)
    }

    pub(super) async fn claim(&self, id: DeliveryId, now: DateTime<Utc>) -> StoreResult<Claimed> {
        let in_flight = || {
            StoreError::Conflict(format!(
                "delivery {id} has an attempt in flight; wait for it to finish"
            ))
        };
        if self.my_claims().get(&id).is_some_and(|h| !h.lost) {
            return Err(in_flight());
        }
        let sent = Instant::now();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let sql = format!(
            "SELECT body, event_id, \
             (claim_token IS NOT NULL AND lease_ms > {DB_NOW_MS}) \
             FROM deliveries WHERE id = $1 FOR UPDATE"
        );
        let Some(row) = tx.query_opt(&sql, &[id.as_uuid()]).await.map_err(backend)? else {
            return Err(StoreError::NotFound {
                kind: "delivery",
                id: id.to_string(),
            });
        };
        if row.get::<_, bool>(2) {
            return Err(in_flight());
        }
        // Held until the commit: the retention purge skips an event locked this way.
        tx.execute(
            "SELECT 1 FROM events WHERE id = $1 FOR SHARE",
            &[&row.get::<_, Uuid>(1)],
        )
        .await
        .map_err(backend)?;
        let old: Delivery = dec("deliveries", row.get::<_, &[u8]>(0))?;
        let mut new = old.clone();
        new.state = old.state.claimed(now);
        new.updated_at = now;
        let sql = format!(
            "UPDATE deliveries SET status = 'in_flight', due_ms = $2, body = $3, \
             claimed_by = $4, claim_token = gen_random_uuid(), lease_ms = {DB_NOW_MS} + $5 \
             WHERE id = $1 RETURNING claim_token"
        );
        let StateColumns { due_ms: due, .. } = columns(&new);
        let token_row = tx
            .query_one(
                &sql,
                &[
                    id.as_uuid(),
                    &due,
                    &enc(&new)?,
                    &self.me,
                    &lease_ms(self.lease),
                ],
            )
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        let held = Held {
            token: token_row.get(0),
            since: sent,
            lost: false,
        };
        self.my_claims().insert(id, held);
        Ok(Claimed {
            delivery: new,
            previous: old.state,
        })
    }

    /// Whether the claim on `id` is still this handle's with time to spare; a lost one is
    /// forgotten and released (fenced by its token, in case it was not taken over).
    pub(super) async fn holds_claim(&self, id: DeliveryId) -> bool {
        let lost = {
            let mut claims = self.my_claims();
            match claims.get(&id) {
                None => return false,
                Some(held)
                    if !held.lost && held.since.elapsed() + margin(self.lease) < self.lease =>
                {
                    return true;
                }
                Some(held) => {
                    let token = held.token;
                    claims.remove(&id);
                    token
                }
            }
        };
        tracing::warn!(
            delivery = %id,
            "this coordinator's lease on the delivery ran out before its attempt; leaving it \
             to the coordinator that takes it over"
        );
        let released = async {
            let client = self.client().await?;
            client
                .execute(
                    "UPDATE deliveries SET claimed_by = NULL, claim_token = NULL, \
                     lease_ms = NULL WHERE id = $1 AND claim_token = $2",
                    &[id.as_uuid(), &lost],
                )
                .await
                .map_err(backend)
        }
        .await;
        if let Err(e) = released {
            tracing::warn!(delivery = %id, error = %e, "cannot release a lost claim; it expires");
        }
        false
    }

    pub(super) async fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        // The earliest claimable due time, or the earliest expiry of another coordinator's
        // lease on due work (then it becomes claimable).
        let sql = format!(
            "SELECT least( \
               (SELECT min(due_ms) FROM deliveries WHERE due_ms IS NOT NULL AND {} \
                AND ($1::text[] IS NULL OR provider_id = ANY($1))), \
               (SELECT min(greatest(due_ms, lease_ms)) FROM deliveries \
                WHERE due_ms IS NOT NULL AND claim_token IS NOT NULL AND claimed_by <> $2 \
                AND lease_ms > {DB_NOW_MS} \
                AND ($1::text[] IS NULL OR provider_id = ANY($1))))",
            claimable(2)
        );
        let client = self.client().await?;
        let row = client
            .query_one(&sql, &[&self.served(), &self.me])
            .await
            .map_err(backend)?;
        Ok(row
            .get::<_, Option<i64>>(0)
            .map(|due| from_millis(u64::try_from(due).unwrap_or(0))))
    }

    pub(super) async fn backlog(&self, now: DateTime<Utc>) -> StoreResult<Backlog> {
        let sql = format!(
            "SELECT count(*) FILTER (WHERE free AND due_ms <= $1), \
                    count(*) FILTER (WHERE free AND due_ms > $1), \
                    count(*) FILTER (WHERE NOT free), \
                    min(due_ms) FILTER (WHERE free AND due_ms <= $1) \
             FROM (SELECT due_ms, (claim_token IS NULL OR lease_ms <= {DB_NOW_MS}) AS free \
                   FROM deliveries WHERE due_ms IS NOT NULL) s"
        );
        let client = self.client().await?;
        let now_ms = ms(now);
        let row = client.query_one(&sql, &[&now_ms]).await.map_err(backend)?;
        let count = |i: usize| usize::try_from(row.get::<_, i64>(i)).unwrap_or(0);
        #[allow(clippy::cast_precision_loss)]
        let oldest_due_seconds = row
            .get::<_, Option<i64>>(3)
            .map_or(0.0, |oldest| (now_ms - oldest).max(0) as f64 / 1000.0);
        Ok(Backlog {
            due: count(0),
            scheduled: count(1),
            in_flight: count(2),
            oldest_due_seconds,
        })
    }
}
