//! The engine's writes: publishes and attempt results in batches of one transaction each
//! ([`PgStore::write_batch`]), every write checked on its own, a deadlock or serialization
//! failure retried as a whole; this handle's claims are updated after the commit.
//!
//! A save is fenced by its claim: when this handle holds the delivery's claim, the update
//! names the claim token, so it only succeeds while the claim is still this handle's; after a
//! lease was taken over, the late result is refused ("late result rejected by the lease
//! fence"). Without a claim, the stored status must be the expected one and no live lease may
//! be on the row.
//!
//! Correlation chains: the deliveries of one subscription and key that have not ended, in
//! insertion order (`seq`); only the head is scheduled, the others `Waiting`. Each write that
//! touches a chain holds a transaction-scoped advisory lock on the chain (taken at the start of
//! the batch, in sorted order), so two coordinators publishing or ending deliveries of one key
//! at once serialize on it.

use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use sha2::{Digest, Sha256};
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use super::delivery_row::{StateColumns, columns};
use super::records::{dec, enc};
use super::{DB_NOW_MS, PgStore, backend};
use crate::model::{
    Attempt, CorrelatedDelivery, Delivery, DeliveryState, DeliveryStatus, Event, EventId,
    SubscriptionId, to_millis,
};
use crate::store::{
    BatchResults, InsertEvent, NewEventRecord, SaveDelivery, StoreError, StoreResult,
};

/// The advisory lock class of correlation chains (the second key is the chain's hash).
const CHAIN_LOCK: i32 = 0x5359_0003;

/// How often a batch that deadlocked (or failed to serialize) is tried again.
pub(super) const BATCH_TRIES: usize = 5;

/// Why a batch's transaction failed.
#[derive(Debug)]
pub(super) enum TxError {
    Db(tokio_postgres::Error),
    Store(StoreError),
}

impl From<tokio_postgres::Error> for TxError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Db(e)
    }
}

impl TxError {
    pub(super) fn retryable(&self) -> bool {
        matches!(self, Self::Db(e) if e.code().is_some_and(|c| {
            *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
        }))
    }

    pub(super) fn into_store(self) -> StoreError {
        match self {
            Self::Db(e) => backend(e),
            Self::Store(e) => e,
        }
    }
}

/// What inserting one event did.
enum Written {
    Inserted(Vec<crate::model::DeliveryId>),
    /// The idempotency key was taken by this event.
    Duplicate(Uuid),
}

/// A save that was written: whether this handle keeps the claim, and whether something is
/// due now that was not (the others are told).
pub(super) struct SaveOutcome {
    keep_claim: bool,
    pub(super) scheduled: bool,
}

/// A save that wrote nothing.
pub(super) enum Refusal {
    Refused(StoreError),
    /// This handle's claim was taken over (its lease had expired); the owner now.
    Fenced(Option<String>),
}

/// The second advisory lock key of a chain (the first is [`CHAIN_LOCK`]).
fn chain_lock_key(subscription: SubscriptionId, key: &str) -> i32 {
    let mut h = Sha256::new();
    h.update(subscription.to_bytes());
    h.update(key.as_bytes());
    let d = h.finalize();
    i32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn millis(at: DateTime<Utc>) -> i64 {
    i64::try_from(to_millis(at)).unwrap_or(i64::MAX)
}

fn chains_of<'a>(
    events: &'a [NewEventRecord],
    saves: &'a [SaveDelivery],
) -> impl Iterator<Item = &'a Delivery> {
    events
        .iter()
        .flat_map(|e| e.deliveries.iter())
        .chain(saves.iter().map(|w| &w.delivery))
}

/// Locks every chain the batch touches, in one order (fewer deadlocks between coordinators).
pub(super) async fn lock_chains(
    tx: &Transaction<'_>,
    events: &[NewEventRecord],
    saves: &[SaveDelivery],
) -> Result<(), TxError> {
    let mut keys: Vec<i32> = chains_of(events, saves)
        .filter_map(|d| {
            let key = d.correlation_key.as_deref()?;
            Some(chain_lock_key(d.subscription_id, key))
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        tx.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&CHAIN_LOCK, &key])
            .await?;
    }
    Ok(())
}

async fn insert_delivery(tx: &Transaction<'_>, d: &Delivery) -> Result<(), TxError> {
    let body = enc(d).map_err(TxError::Store)?;
    let StateColumns { status, due_ms } = columns(d);
    tx.execute(
        "INSERT INTO deliveries (id, event_id, subscription_id, provider_id, event_type, \
         status, due_ms, correlation_key, created_us, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            d.id.as_uuid(),
            d.event_id.as_uuid(),
            d.subscription_id.as_uuid(),
            &d.provider_id,
            &d.event_type,
            &status,
            &due_ms,
            &d.correlation_key,
            &micros(d.created_at),
            &body,
        ],
    )
    .await?;
    Ok(())
}

/// Whether a chain has a delivery that has not ended.
async fn chain_busy(
    tx: &Transaction<'_>,
    subscription: SubscriptionId,
    key: &str,
) -> Result<bool, TxError> {
    let row = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM deliveries WHERE subscription_id = $1 \
             AND correlation_key = $2 AND status NOT IN ('succeeded', 'failed', 'cancelled'))",
            &[subscription.as_uuid(), &key],
        )
        .await?;
    Ok(row.get(0))
}

/// The first delivery of a chain that has not ended, with its status and body.
async fn chain_head(
    tx: &Transaction<'_>,
    subscription: SubscriptionId,
    key: &str,
) -> Result<Option<(Uuid, String, Vec<u8>)>, TxError> {
    let row = tx
        .query_opt(
            "SELECT id, status, body FROM deliveries WHERE subscription_id = $1 \
             AND correlation_key = $2 AND status NOT IN ('succeeded', 'failed', 'cancelled') \
             ORDER BY seq LIMIT 1",
            &[subscription.as_uuid(), &key],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1), r.get(2))))
}

/// Schedules the chain's head if it is `Waiting`, due at `at`; true if it did.
async fn promote_head(
    tx: &Transaction<'_>,
    subscription: SubscriptionId,
    key: &str,
    at: DateTime<Utc>,
) -> Result<bool, TxError> {
    let Some((id, status, body)) = chain_head(tx, subscription, key).await? else {
        return Ok(false);
    };
    if status != DeliveryStatus::Waiting.as_str() {
        // Started by hand meanwhile: it is scheduled (or running) already.
        return Ok(false);
    }
    let mut next: Delivery = dec("deliveries", &body).map_err(TxError::Store)?;
    next.state = DeliveryState::Pending { due: at };
    next.updated_at = at;
    let StateColumns { status, due_ms } = columns(&next);
    let n = tx
        .execute(
            "UPDATE deliveries SET status = $2, due_ms = $3, body = $4 \
             WHERE id = $1 AND status = 'waiting'",
            &[&id, &status, &due_ms, &enc(&next).map_err(TxError::Store)?],
        )
        .await?;
    Ok(n == 1)
}

/// Keeps the chain in step with a saved delivery; true when it scheduled another one. A
/// final delivery joins the history and, when it was the head, lets the next one go; a
/// delivery put back to `Waiting` that is the head by now is scheduled at once.
async fn chain_after_save(
    tx: &Transaction<'_>,
    d: &Delivery,
    attempt: Option<&Attempt>,
    head_before: Option<Uuid>,
) -> Result<bool, TxError> {
    let Some(key) = d.correlation_key.as_deref() else {
        return Ok(false);
    };
    if d.state.is_final() {
        let last = match attempt {
            Some(a) => Some(a.clone()),
            None => last_attempt(tx, d).await?,
        };
        if let Some(entry) = CorrelatedDelivery::of_ended(d, last.as_ref()) {
            tx.execute(
                "INSERT INTO chain_history (subscription_id, key, ended_ms, delivery_id, body) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                &[
                    d.subscription_id.as_uuid(),
                    &key,
                    &millis(entry.ended_at),
                    d.id.as_uuid(),
                    &enc(&entry).map_err(TxError::Store)?,
                ],
            )
            .await?;
        }
        if head_before == Some(*d.id.as_uuid()) {
            return promote_head(tx, d.subscription_id, key, d.updated_at).await;
        }
        return Ok(false);
    }
    if d.state == DeliveryState::Waiting {
        let head = chain_head(tx, d.subscription_id, key).await?;
        if head.is_some_and(|(id, _, _)| id == *d.id.as_uuid()) {
            return promote_head(tx, d.subscription_id, key, d.updated_at).await;
        }
    }
    Ok(false)
}

async fn last_attempt(tx: &Transaction<'_>, d: &Delivery) -> Result<Option<Attempt>, TxError> {
    let row = tx
        .query_opt(
            "SELECT body FROM attempts WHERE delivery_id = $1 ORDER BY seq DESC LIMIT 1",
            &[d.id.as_uuid()],
        )
        .await?;
    row.map(|r| dec("attempts", r.get::<_, &[u8]>(0)))
        .transpose()
        .map_err(TxError::Store)
}

/// Why a save that matched no row wrote nothing.
async fn refusal(
    tx: &Transaction<'_>,
    w: &SaveDelivery,
    token: Option<Uuid>,
) -> Result<Refusal, TxError> {
    let sql = format!(
        "SELECT CASE WHEN claim_token IS NOT NULL AND lease_ms > {DB_NOW_MS} \
         THEN 'in_flight' ELSE status END, claimed_by FROM deliveries WHERE id = $1"
    );
    let Some(row) = tx.query_opt(&sql, &[w.delivery.id.as_uuid()]).await? else {
        return Ok(Refusal::Refused(StoreError::NotFound {
            kind: "delivery",
            id: w.delivery.id.to_string(),
        }));
    };
    if token.is_some() {
        return Ok(Refusal::Fenced(row.get(1)));
    }
    let status: String = row.get(0);
    Ok(Refusal::Refused(StoreError::Conflict(format!(
        "delivery {} is {status} (expected {})",
        w.delivery.id, w.expected
    ))))
}

/// Checks the status machine and writes one delivery's new state (with its attempt).
/// `token`: the claim this handle holds on it.
pub(super) async fn save(
    tx: &Transaction<'_>,
    w: &SaveDelivery,
    token: Option<Uuid>,
) -> Result<Result<SaveOutcome, Refusal>, TxError> {
    let d = &w.delivery;
    let from = if token.is_some() {
        DeliveryStatus::InFlight
    } else {
        w.expected
    };
    if from != w.expected {
        return Ok(Err(Refusal::Refused(StoreError::Conflict(format!(
            "delivery {} is {from} (expected {})",
            d.id, w.expected
        )))));
    }
    let to = d.status();
    if from != to && !from.can_become(to) {
        return Ok(Err(Refusal::Refused(StoreError::Conflict(format!(
            "delivery {} cannot go from {from} to {to}",
            d.id
        )))));
    }
    let head_before = match d.correlation_key.as_deref() {
        Some(key) if d.state.is_final() => chain_head(tx, d.subscription_id, key)
            .await?
            .map(|(id, _, _)| id),
        _ => None,
    };
    let keep_claim = to == DeliveryStatus::InFlight;
    let StateColumns {
        status,
        due_ms: due,
    } = columns(d);
    let sql = format!(
        "UPDATE deliveries SET status = $2, due_ms = $3, body = $4, \
         claimed_by = CASE WHEN $5 THEN claimed_by END, \
         claim_token = CASE WHEN $5 THEN claim_token END, \
         lease_ms = CASE WHEN $5 THEN lease_ms END \
         WHERE id = $1 AND CASE WHEN $6::uuid IS NULL \
         THEN status = $7 AND (claim_token IS NULL OR lease_ms <= {DB_NOW_MS}) \
         ELSE claim_token IS NOT DISTINCT FROM $6 END"
    );
    let body = enc(d).map_err(TxError::Store)?;
    let n = tx
        .execute(
            &sql,
            &[
                d.id.as_uuid(),
                &status,
                &due,
                &body,
                &keep_claim,
                &token,
                &w.expected.as_str(),
            ],
        )
        .await?;
    if n == 0 {
        return Ok(Err(refusal(tx, w, token).await?));
    }
    if let Some(a) = &w.attempt {
        tx.execute(
            "INSERT INTO attempts (delivery_id, body) VALUES ($1, $2)",
            &[d.id.as_uuid(), &enc(a).map_err(TxError::Store)?],
        )
        .await?;
    }
    let promoted = chain_after_save(tx, d, w.attempt.as_ref(), head_before).await?;
    Ok(Ok(SaveOutcome {
        keep_claim,
        scheduled: promoted || (due.is_some() && !keep_claim),
    }))
}

/// Writes an event with its deliveries unless its idempotency key is taken (also by an event
/// earlier in this transaction).
async fn insert_event(
    tx: &Transaction<'_>,
    event: &Event,
    deliveries: &[Delivery],
    body: &[u8],
) -> Result<Written, TxError> {
    let n = tx
        .execute(
            "INSERT INTO events (id, idempotency_key, received_ms, body) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (idempotency_key) DO NOTHING",
            &[
                event.id.as_uuid(),
                &event.idempotency_key,
                &millis(event.received_at),
                &body,
            ],
        )
        .await?;
    if n == 0 {
        let row = tx
            .query_one(
                "SELECT id FROM events WHERE idempotency_key = $1",
                &[&event.idempotency_key],
            )
            .await?;
        return Ok(Written::Duplicate(row.get(0)));
    }
    let mut waiting = Vec::new();
    for d in deliveries {
        let mut d = d.clone();
        if let Some(key) = d.correlation_key.as_deref()
            && chain_busy(tx, d.subscription_id, key).await?
        {
            d.state = DeliveryState::Waiting;
            waiting.push(d.id);
        }
        insert_delivery(tx, &d).await?;
    }
    Ok(Written::Inserted(waiting))
}

/// The results of one batch transaction, write by write.
type Applied = (Vec<Option<Written>>, Vec<Result<SaveOutcome, Refusal>>);

impl PgStore {
    async fn batch_tx(
        &self,
        events: &[NewEventRecord],
        encoded: &[StoreResult<Vec<u8>>],
        saves: &[SaveDelivery],
        tokens: &[Option<Uuid>],
    ) -> Result<Applied, TxError> {
        let mut client = self.client().await.map_err(TxError::Store)?;
        let tx = client.transaction().await?;
        lock_chains(&tx, events, saves).await?;
        let mut notify = false;
        let mut inserted = Vec::with_capacity(events.len());
        for (new, body) in events.iter().zip(encoded) {
            inserted.push(match body {
                Ok(body) => {
                    let w = insert_event(&tx, &new.event, &new.deliveries, body).await?;
                    notify |= matches!(w, Written::Inserted(_));
                    Some(w)
                }
                Err(_) => None,
            });
        }
        let mut saved = Vec::with_capacity(saves.len());
        for (w, token) in saves.iter().zip(tokens) {
            let r = save(&tx, w, *token).await?;
            notify |= r.as_ref().is_ok_and(|o| o.scheduled);
            saved.push(r);
        }
        if notify {
            tx.execute("SELECT pg_notify('switchyard_due', '')", &[])
                .await?;
        }
        tx.commit().await?;
        Ok((inserted, saved))
    }

    /// The earlier event an idempotency key points to, with its deliveries.
    async fn duplicate_of(&self, id: Uuid) -> StoreResult<InsertEvent> {
        let id = EventId::from_bytes(id.into_bytes());
        let event = self.get_event(id).await?.ok_or(StoreError::Corrupt {
            tree: "events",
            message: "an idempotency key points to a missing event".into(),
        })?;
        let deliveries = self.event_deliveries(id).await?;
        Ok(InsertEvent::Duplicate { event, deliveries })
    }

    /// Updates this handle's claims after a committed batch; a fenced save is logged.
    ///
    /// Only the claim a save was fenced with is forgotten: once the batch committed, the
    /// delivery may already be due again (a retry 20 ms later, woken by the batch's NOTIFY)
    /// and claimed anew by the dispatcher, and forgetting that newer claim by the delivery's
    /// id alone would fence its own result out and leave it in flight until the lease expired.
    fn settle_claims(
        &self,
        saves: &[SaveDelivery],
        tokens: &[Option<Uuid>],
        saved: &[Result<SaveOutcome, Refusal>],
    ) {
        let mut claims = self.my_claims();
        for ((w, token), r) in saves.iter().zip(tokens).zip(saved) {
            let id = w.delivery.id;
            let settled = match r {
                Ok(o) => !o.keep_claim,
                Err(Refusal::Fenced(owner)) => {
                    tracing::warn!(
                        delivery = %id,
                        owner = owner.as_deref().unwrap_or("none"),
                        "late result rejected by the lease fence: the lease expired and the \
                         delivery was taken over by another coordinator"
                    );
                    true
                }
                Err(_) => false,
            };
            if settled && token.is_some() && claims.get(&id).map(|h| h.token) == *token {
                claims.remove(&id);
            }
        }
    }

    pub(super) async fn write_batch(
        &self,
        events: &[NewEventRecord],
        saves: &[SaveDelivery],
    ) -> BatchResults {
        let encoded: Vec<StoreResult<Vec<u8>>> = events.iter().map(|n| enc(&n.event)).collect();
        let tokens: Vec<Option<Uuid>> = {
            let claims = self.my_claims();
            saves
                .iter()
                .map(|w| claims.get(&w.delivery.id).map(|h| h.token))
                .collect()
        };
        let mut tries = 0;
        let applied = loop {
            match self.batch_tx(events, &encoded, saves, &tokens).await {
                Err(e) if e.retryable() && tries + 1 < BATCH_TRIES => tries += 1,
                other => break other,
            }
        };
        let (inserted, saved) = match applied {
            Ok(applied) => applied,
            Err(e) => {
                let message = e.into_store().to_string();
                let fail = || StoreError::Backend(message.clone());
                return BatchResults {
                    events: events.iter().map(|_| Err(fail())).collect(),
                    saves: saves.iter().map(|_| Err(fail())).collect(),
                };
            }
        };
        self.settle_claims(saves, &tokens, &saved);
        let mut results = Vec::with_capacity(events.len());
        for (body, written) in encoded.into_iter().zip(inserted) {
            results.push(match (body, written) {
                (Err(e), _) => Err(e),
                (Ok(_), Some(Written::Inserted(waiting))) => Ok(InsertEvent::Inserted { waiting }),
                (Ok(_), Some(Written::Duplicate(id))) => self.duplicate_of(id).await,
                (Ok(_), None) => Err(StoreError::Conflict("the event was not written".into())),
            });
        }
        let saves = saved
            .into_iter()
            .zip(saves)
            .map(|(r, w)| match r {
                Ok(_) => Ok(()),
                Err(Refusal::Refused(e)) => Err(e),
                Err(Refusal::Fenced(_)) => Err(StoreError::Conflict(format!(
                    "delivery {} was taken over by another coordinator after this one's lease \
                     expired; its late result is rejected",
                    w.delivery.id
                ))),
            })
            .collect();
        BatchResults {
            events: results,
            saves,
        }
    }

    pub(super) async fn correlation_history(
        &self,
        subscription: SubscriptionId,
        key: &str,
    ) -> StoreResult<Vec<CorrelatedDelivery>> {
        let client = self.client().await?;
        let limit = i64::try_from(crate::model::CORRELATION_HISTORY).unwrap_or(20);
        let rows = client
            .query(
                "SELECT body FROM chain_history WHERE subscription_id = $1 AND key = $2 \
                 ORDER BY ended_ms DESC, delivery_id DESC LIMIT $3",
                &[subscription.as_uuid(), &key, &limit],
            )
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|r| dec("chain_history", r.get::<_, &[u8]>(0)))
            .collect()
    }
}
