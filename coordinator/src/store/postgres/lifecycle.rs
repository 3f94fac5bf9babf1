//! The lifecycle operations on PostgreSQL, each one transaction: a subscription's disable or
//! deletion with the cancellation of its scheduled deliveries (the subscription's row locked,
//! each delivery saved as [`super::writes`] saves a result — its chain's advisory lock held,
//! its status checked, a delivery under a live lease left to its attempt), retried as a whole
//! on a deadlock; and the save of a subscription against the deletion of the connection it
//! names: the save holds the connection's row `FOR SHARE`, the deletion `FOR UPDATE` before
//! it reads which subscriptions use it, so whichever comes second sees the other's commit.

use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;

use super::records::{dec, enc};
use super::writes::{BATCH_TRIES, TxError, lock_chains, save};
use super::{PgStore, backend, parse_status};
use crate::model::{ConnectionId, Delivery, Subscription, SubscriptionId};
use crate::store::lifecycle::{SubscriptionCancelled, cancelled, users_of};
use crate::store::{SaveDelivery, StoreError, StoreResult};

/// What to do with the subscription whose deliveries are cancelled.
#[derive(Clone, Copy)]
enum Change<'a> {
    /// Disable it, with this reason when given.
    Disable(Option<&'a str>),
    /// Delete it.
    Delete,
}

/// Cancels the subscription's pending, retrying and waiting deliveries in `tx`, the waiting
/// ones first: a chain's head cancelled before the deliveries waiting behind it would promote
/// the next. Returns them, and whether something became due (the others are told).
async fn cancel_in(
    tx: &Transaction<'_>,
    id: SubscriptionId,
    now: DateTime<Utc>,
) -> Result<(Vec<Delivery>, bool), TxError> {
    let rows = tx
        .query(
            "SELECT body, status FROM deliveries WHERE subscription_id = $1 \
             AND status IN ('pending', 'retrying', 'waiting') \
             ORDER BY status = 'waiting' DESC, id DESC",
            &[id.as_uuid()],
        )
        .await?;
    let mut saves = Vec::with_capacity(rows.len());
    for row in &rows {
        let d: Delivery = dec("deliveries", row.get::<_, &[u8]>(0)).map_err(TxError::Store)?;
        let expected = parse_status(row.get(1)).map_err(TxError::Store)?;
        saves.push(SaveDelivery {
            delivery: cancelled(&d, now),
            attempt: None,
            expected,
        });
    }
    lock_chains(tx, &[], &saves).await?;
    let (mut done, mut scheduled) = (Vec::with_capacity(saves.len()), false);
    for w in saves {
        // No token: a delivery under a live lease (any coordinator's) is refused, and left.
        if let Ok(outcome) = save(tx, &w, None).await? {
            scheduled |= outcome.scheduled;
            done.push(w.delivery);
        }
    }
    Ok((done, scheduled))
}

impl PgStore {
    async fn cancelling_tx(
        &self,
        id: SubscriptionId,
        now: DateTime<Utc>,
        change: Change<'_>,
    ) -> Result<Option<SubscriptionCancelled>, TxError> {
        let mut client = self.client().await.map_err(TxError::Store)?;
        let tx = client.transaction().await?;
        let row = tx
            .query_opt(
                "SELECT body FROM subscriptions WHERE id = $1 FOR UPDATE",
                &[id.as_uuid()],
            )
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut sub: Subscription =
            dec("subscriptions", row.get::<_, &[u8]>(0)).map_err(TxError::Store)?;
        match change {
            Change::Delete => {
                tx.execute("DELETE FROM subscriptions WHERE id = $1", &[id.as_uuid()])
                    .await?;
            }
            Change::Disable(reason) => {
                sub.enabled = false;
                if let Some(reason) = reason {
                    sub.disabled_reason = Some(reason.to_owned());
                }
                sub.updated_at = now;
                let body = enc(&sub).map_err(TxError::Store)?;
                tx.execute(
                    "UPDATE subscriptions SET body = $2 WHERE id = $1",
                    &[id.as_uuid(), &body],
                )
                .await?;
            }
        }
        let (cancelled, scheduled) = cancel_in(&tx, id, now).await?;
        if scheduled {
            tx.execute("SELECT pg_notify('switchyard_due', '')", &[])
                .await?;
        }
        tx.commit().await?;
        Ok(Some(SubscriptionCancelled {
            subscription: sub,
            cancelled,
        }))
    }

    async fn cancelling(
        &self,
        id: SubscriptionId,
        now: DateTime<Utc>,
        change: Change<'_>,
    ) -> StoreResult<Option<SubscriptionCancelled>> {
        let mut tries = 0;
        let done = loop {
            match self.cancelling_tx(id, now, change).await {
                Err(e) if e.retryable() && tries + 1 < BATCH_TRIES => tries += 1,
                other => break other.map_err(TxError::into_store)?,
            }
        };
        if let Some(done) = &done {
            // A lease of this handle's that had expired may have been among them.
            let mut claims = self.my_claims();
            for d in &done.cancelled {
                claims.remove(&d.id);
            }
        }
        self.config_changed().await?;
        Ok(done)
    }

    pub(super) async fn disable_subscription(
        &self,
        id: SubscriptionId,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SubscriptionCancelled>> {
        self.cancelling(id, now, Change::Disable(reason)).await
    }

    pub(super) async fn delete_subscription_cancelling(
        &self,
        id: SubscriptionId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SubscriptionCancelled>> {
        self.cancelling(id, now, Change::Delete).await
    }

    pub(super) async fn save_subscription_checked(
        &self,
        s: &Subscription,
        new: bool,
    ) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        if let Some(c) = s.connection_id() {
            let sql = "SELECT 1 FROM connections WHERE id = $1 FOR SHARE";
            if tx
                .query_opt(sql, &[c.as_uuid()])
                .await
                .map_err(backend)?
                .is_none()
            {
                return Err(StoreError::NotFound {
                    kind: "connection",
                    id: c.to_string(),
                });
            }
        }
        let body = enc(s)?;
        let sql = if new {
            "INSERT INTO subscriptions (id, body) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING"
        } else {
            "UPDATE subscriptions SET body = $2 WHERE id = $1"
        };
        let n = tx
            .execute(sql, &[s.id.as_uuid(), &body])
            .await
            .map_err(backend)?;
        let (kind, id) = ("subscription", s.id.to_string());
        match (n, new) {
            (0, true) => return Err(StoreError::AlreadyExists { kind, id }),
            (0, false) => return Err(StoreError::NotFound { kind, id }),
            _ => {}
        }
        tx.commit().await.map_err(backend)?;
        self.config_changed().await
    }

    pub(super) async fn delete_unused_connection(&self, id: ConnectionId) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let sql = "SELECT 1 FROM connections WHERE id = $1 FOR UPDATE";
        if tx
            .query_opt(sql, &[id.as_uuid()])
            .await
            .map_err(backend)?
            .is_none()
        {
            return Ok(false);
        }
        // After the row lock: a save that held it committed before this statement's snapshot.
        let rows = tx
            .query("SELECT body FROM subscriptions", &[])
            .await
            .map_err(backend)?;
        let all = rows
            .iter()
            .map(|r| dec("subscriptions", r.get::<_, &[u8]>(0)))
            .collect::<StoreResult<Vec<Subscription>>>()?;
        let users = users_of(&all, id);
        if !users.is_empty() {
            return Err(StoreError::ConnectionInUse {
                connection: id,
                subscriptions: users,
            });
        }
        tx.execute("DELETE FROM connections WHERE id = $1", &[id.as_uuid()])
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }
}
