//! The lifecycle operations on sled, each atomic: a subscription's disable or deletion and the
//! cancellation of its scheduled deliveries in one transaction over the `subscriptions` tree
//! and the delivery-state trees ([`super::tx`]), with the claims lock held across it as
//! [`SledStore::save_delivery`] holds it (a delivery claimed meanwhile is left to its attempt);
//! and the save of a subscription against the deletion of the connection it names, serialized
//! by one lock (a sled transaction cannot scan a tree, and only this process writes the
//! database, so a lock is what makes the check and the write one step).

use chrono::{DateTime, Utc};
use sled::Transactional;
use sled::transaction::TransactionalTree;

use super::codec::{abort, dec, enc, not_found};
use super::pending_index::ChainView;
use super::tx::Tx;
use super::{SledStore, TxResult};
use crate::model::{ConnectionId, Delivery, DeliveryStatus, Subscription, SubscriptionId};
use crate::store::lifecycle::{SubscriptionCancelled, cancelled, users_of};
use crate::store::{StoreError, StoreResult};

/// A delivery cancelled in a transaction, with the schedule key of the correlated delivery its
/// end let go ahead.
type Saved = (Delivery, Option<[u8; 24]>);

/// Cancels what `scheduled` (read before the transaction) still holds, the waiting ones first:
/// a chain's head cancelled before the deliveries waiting behind it would promote the next.
/// A delivery whose status changed since the read, or that is claimed, is left.
fn cancel_in(
    t: &Tx<'_>,
    scheduled: &[(Delivery, bool)],
    now: DateTime<Utc>,
) -> TxResult<Vec<Saved>> {
    let mut saved = Vec::new();
    let waiting = |d: &Delivery| d.status() == DeliveryStatus::Waiting;
    let (behind, heads): (Vec<_>, Vec<_>) = scheduled.iter().partition(|(d, _)| waiting(d));
    for (d, claimed) in behind.into_iter().chain(heads) {
        let c = cancelled(d, now);
        match t.save(&c, None, d.status(), *claimed)? {
            Ok(promoted) => saved.push((c, promoted)),
            Err(StoreError::Conflict(_) | StoreError::NotFound { .. }) => {}
            Err(e) => return Err(abort(e)),
        }
    }
    Ok(saved)
}

fn read_subscription(subs: &TransactionalTree, key: &[u8]) -> TxResult<Option<Subscription>> {
    match subs.get(key)? {
        Some(v) => Ok(Some(dec("subscriptions", &v).map_err(abort)?)),
        None => Ok(None),
    }
}

impl SledStore {
    fn lifecycle_lock(&self) -> std::sync::MutexGuard<'_, ()> {
        // Guards no data of its own: a panic while holding it leaves nothing to repair.
        self.lifecycle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` in one transaction over the `subscriptions` tree and the delivery-state trees.
    fn tx_with_subscriptions<A>(
        &self,
        f: impl Fn(&TransactionalTree, &Tx<'_>) -> TxResult<A>,
    ) -> StoreResult<A> {
        let trees = (
            &self.subscriptions,
            &self.events,
            &self.idempotency,
            &self.deliveries,
            &self.by_subscription,
            &self.schedule,
            &self.correlations,
            &self.chain_history,
        );
        self.with_chains(|index| {
            trees.transaction(
                |(subs, events, idempotency, deliveries, by_sub, schedule, corr, history)| {
                    let chains = ChainView::new(index);
                    let t = Tx {
                        events,
                        idempotency,
                        deliveries,
                        by_subscription: by_sub,
                        schedule,
                        correlations: corr,
                        chain_history: history,
                        chains: &chains,
                    };
                    let out = f(subs, &t)?;
                    Ok((out, chains.into_changes()))
                },
            )
        })
    }

    /// Changes subscription `id` through `change` (which writes it in the transaction and
    /// returns it, or `None` when it is absent) and cancels its scheduled deliveries in the
    /// same transaction; the claims and the chains' memory follow after the commit.
    fn cancelling(
        &self,
        id: SubscriptionId,
        now: DateTime<Utc>,
        change: impl Fn(&TransactionalTree, &[u8]) -> TxResult<Option<Subscription>>,
    ) -> StoreResult<Option<SubscriptionCancelled>> {
        // Read before the claims lock (reads take it); the transaction checks each again.
        let scheduled = self.scheduled_of_subscription(id)?;
        let mut claims = self.claims();
        let scheduled: Vec<(Delivery, bool)> = scheduled
            .into_iter()
            .map(|d| {
                let claimed = claims.set.contains(&d.id);
                (d, claimed)
            })
            .collect();
        let key = id.to_bytes();
        let written = self.tx_with_subscriptions(|subs, t| {
            let Some(sub) = change(subs, &key)? else {
                return Ok(None);
            };
            Ok(Some((sub, cancel_in(t, &scheduled, now)?)))
        });
        self.invalidate_subs();
        let Some((subscription, saved)) = written? else {
            return Ok(None);
        };
        let mut cancelled = Vec::with_capacity(saved.len());
        for (d, promoted) in saved {
            claims.saved(&d);
            claims.note_scheduled(promoted);
            self.chain_ended(&d, None);
            cancelled.push(d);
        }
        Ok(Some(SubscriptionCancelled {
            subscription,
            cancelled,
        }))
    }

    pub(super) fn disable_subscription(
        &self,
        id: SubscriptionId,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SubscriptionCancelled>> {
        self.cancelling(id, now, |subs, key| {
            let Some(mut sub) = read_subscription(subs, key)? else {
                return Ok(None);
            };
            sub.enabled = false;
            if let Some(reason) = reason {
                sub.disabled_reason = Some(reason.to_owned());
            }
            sub.updated_at = now;
            subs.insert(key, enc(&sub).map_err(abort)?)?;
            Ok(Some(sub))
        })
    }

    pub(super) fn delete_subscription_cancelling(
        &self,
        id: SubscriptionId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SubscriptionCancelled>> {
        self.cancelling(id, now, |subs, key| {
            let sub = read_subscription(subs, key)?;
            if sub.is_some() {
                subs.remove(key)?;
            }
            Ok(sub)
        })
    }

    pub(super) fn save_subscription_checked(&self, s: &Subscription, new: bool) -> StoreResult<()> {
        let _serialized = self.lifecycle_lock();
        if let Some(c) = s.connection_id()
            && !self.connections.contains_key(c.to_bytes())?
        {
            return Err(not_found("connection", c));
        }
        if new {
            self.insert_subscription(s)
        } else {
            self.update_subscription(s)
        }
    }

    pub(super) fn delete_unused_connection(&self, id: ConnectionId) -> StoreResult<bool> {
        let _serialized = self.lifecycle_lock();
        // From the tree, not the fan-out snapshot: the check must see every committed write.
        let all: Vec<Subscription> = Self::all_json(&self.subscriptions, "subscriptions")?;
        let users = users_of(&all, id);
        if !users.is_empty() {
            return Err(StoreError::ConnectionInUse {
                connection: id,
                subscriptions: users,
            });
        }
        self.delete_connection(id)
    }
}
