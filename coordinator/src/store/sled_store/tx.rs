//! Delivery state inside one transaction ([`Tx`]): the records as stored (an event with its
//! deliveries' ids, a delivery with its attempts), and the writes that keep a delivery's record
//! and its index entries (`by_subscription`, `schedule`) in step, with the status machine
//! checked on every save. The correlation chains ([`super::chains`]) join the same
//! transactions.

use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{TransactionError, TransactionalTree};

use super::chains::chain_key;
use super::codec::{abort, dec, enc, not_found};
use super::pending_index::{ChainChanges, ChainView, PendingIndex};
use super::{SledStore, TxResult};
use crate::model::{Attempt, Delivery, DeliveryId, DeliveryStatus, Event};
use crate::store::keys;
use crate::store::{NewEventRecord, StoreError, StoreResult};

/// An event as stored: with the ids of its deliveries (instead of a separate index).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StoredEvent {
    pub(super) event: Event,
    pub(super) deliveries: Vec<DeliveryId>,
}

/// A delivery as stored: with its attempts (a handful; saves a write per attempt).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StoredDelivery {
    pub(super) delivery: Delivery,
    pub(super) attempts: Vec<Attempt>,
}

/// An event and its deliveries encoded for [`Tx::insert_event`].
pub(super) struct EncodedEvent {
    pub(super) event: Vec<u8>,
    pub(super) deliveries: Vec<StoredDelivery>,
}

impl EncodedEvent {
    pub(super) fn new(new: &NewEventRecord) -> StoreResult<Self> {
        let stored = StoredEvent {
            event: new.event.clone(),
            deliveries: new.deliveries.iter().map(|d| d.id).collect(),
        };
        Ok(Self {
            event: enc(&stored)?,
            deliveries: new
                .deliveries
                .iter()
                .map(|d| StoredDelivery {
                    delivery: d.clone(),
                    attempts: Vec::new(),
                })
                .collect(),
        })
    }
}

/// What [`Tx::insert_event`] did.
pub(super) enum Written {
    /// Written; these deliveries wait behind earlier ones of their correlation key.
    Inserted(Vec<DeliveryId>),
    /// The idempotency key was taken by this event id (key bytes of the `events` tree).
    Duplicate(sled::IVec),
}

/// The schedule key a delivery should have: one exactly when its state has a due time.
pub(super) fn schedule_key(d: &Delivery) -> Option<[u8; 24]> {
    d.state.due().map(|due| keys::schedule(due, d.id))
}

/// The delivery-state trees inside one transaction.
pub(super) struct Tx<'a> {
    pub(super) events: &'a TransactionalTree,
    pub(super) idempotency: &'a TransactionalTree,
    pub(super) deliveries: &'a TransactionalTree,
    pub(super) by_subscription: &'a TransactionalTree,
    pub(super) schedule: &'a TransactionalTree,
    pub(super) correlations: &'a TransactionalTree,
    pub(super) chain_history: &'a TransactionalTree,
    /// The chains' pending lists with this transaction's changes ([`super::pending_index`]).
    pub(super) chains: &'a ChainView<'a>,
}

impl Tx<'_> {
    pub(super) fn delivery(&self, id: DeliveryId) -> TxResult<Option<StoredDelivery>> {
        match self.deliveries.get(id.to_bytes())? {
            Some(v) => Ok(Some(dec("deliveries", &v).map_err(abort)?)),
            None => Ok(None),
        }
    }

    pub(super) fn existing(&self, id: DeliveryId) -> TxResult<StoredDelivery> {
        self.delivery(id)?
            .ok_or_else(|| abort(not_found("delivery", id)))
    }

    /// Writes `new`, replacing `old`, and moves its index entries to match.
    pub(super) fn put_delivery(
        &self,
        old: Option<&Delivery>,
        new: &StoredDelivery,
    ) -> TxResult<()> {
        let d = &new.delivery;
        let id = d.id.to_bytes();
        let (old_key, new_key) = (old.and_then(schedule_key), schedule_key(d));
        if old_key != new_key {
            if let Some(k) = old_key {
                self.schedule.remove(&k[..])?;
            }
            if let Some(k) = new_key {
                // A correlated delivery's entry names its chain, for `PendingIndex::load`; one
                // started by hand after it had ended is not in its chain any more.
                let member = old.is_none_or(|o| !o.state.is_final());
                let chain = match d.correlation_key.as_deref() {
                    Some(key) if member => chain_key(d.subscription_id, key),
                    _ => Vec::new(),
                };
                self.schedule.insert(&k[..], chain)?;
            }
        }
        if old.is_none() {
            let sub = keys::pair(d.subscription_id.to_bytes(), id);
            self.by_subscription.insert(&sub[..], &[][..])?;
        }
        self.deliveries.insert(&id[..], enc(new).map_err(abort)?)?;
        Ok(())
    }

    /// Checks the status machine and writes one delivery's new state (with its attempt).
    /// `claimed`: this process holds the claim, so the stored status counts as `InFlight`.
    /// The inner `Err` is a refused write (`NotFound`, `Conflict`) that wrote nothing; the outer
    /// one is the transaction's own (sled retries its conflicts; storage errors end it). `Ok`
    /// carries the schedule key of a correlated delivery that the save let go ahead.
    pub(super) fn save(
        &self,
        delivery: &Delivery,
        attempt: Option<&Attempt>,
        expected: DeliveryStatus,
        claimed: bool,
    ) -> TxResult<Result<Option<[u8; 24]>, StoreError>> {
        let Some(mut stored) = self.delivery(delivery.id)? else {
            return Ok(Err(not_found("delivery", delivery.id)));
        };
        let old = stored.delivery.clone();
        let status = if claimed {
            DeliveryStatus::InFlight
        } else {
            old.status()
        };
        if status != expected {
            return Ok(Err(StoreError::Conflict(format!(
                "delivery {} is {status} (expected {expected})",
                delivery.id
            ))));
        }
        let next = delivery.status();
        if status != next && !status.can_become(next) {
            return Ok(Err(StoreError::Conflict(format!(
                "delivery {} cannot go from {status} to {next}",
                delivery.id
            ))));
        }
        stored.delivery = delivery.clone();
        stored.attempts.extend(attempt.cloned());
        self.put_delivery(Some(&old), &stored)?;
        Ok(Ok(self.chain_after_save(&stored)?))
    }

    /// Writes an event with its deliveries unless its idempotency key is taken (also by an
    /// event earlier in this transaction).
    pub(super) fn insert_event(&self, event: &Event, enc: &EncodedEvent) -> TxResult<Written> {
        if let Some(key) = &event.idempotency_key {
            if let Some(id) = self.idempotency.get(key.as_bytes())? {
                return Ok(Written::Duplicate(id));
            }
            self.idempotency
                .insert(key.as_bytes(), &event.id.to_bytes()[..])?;
        }
        self.events
            .insert(&event.id.to_bytes()[..], enc.event.clone())?;
        let mut waiting = Vec::new();
        for r in &enc.deliveries {
            if r.delivery.correlation_key.is_some() {
                let mut r = r.clone();
                if self.join_chain(&mut r)? {
                    waiting.push(r.delivery.id);
                }
                self.put_delivery(None, &r)?;
            } else {
                self.put_delivery(None, r)?;
            }
        }
        Ok(Written::Inserted(waiting))
    }

    /// Removes a final delivery with its index entry.
    pub(super) fn remove_delivery(&self, d: &Delivery) -> TxResult<()> {
        let id = d.id.to_bytes();
        self.deliveries.remove(&id[..])?;
        self.by_subscription
            .remove(&keys::pair(d.subscription_id.to_bytes(), id)[..])?;
        Ok(())
    }
}

impl SledStore {
    /// Runs `f` in one transaction over the delivery-state trees.
    pub(super) fn tx<A>(&self, f: impl Fn(&Tx<'_>) -> TxResult<A>) -> StoreResult<A> {
        let trees = (
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
                |(
                    events,
                    idempotency,
                    deliveries,
                    by_subscription,
                    schedule,
                    correlations,
                    chain_history,
                )| {
                    let chains = ChainView::new(index);
                    let out = f(&Tx {
                        events,
                        idempotency,
                        deliveries,
                        by_subscription,
                        schedule,
                        correlations,
                        chain_history,
                        chains: &chains,
                    })?;
                    Ok((out, chains.into_changes()))
                },
            )
        })
    }

    /// Runs a transaction (`run`, which returns the chains it changed with its result) holding
    /// the pending index's lock, and applies the changes once it has committed.
    pub(super) fn with_chains<A>(
        &self,
        run: impl FnOnce(&PendingIndex) -> Result<(A, ChainChanges), TransactionError<StoreError>>,
    ) -> StoreResult<A> {
        let mut index = self.pending_index();
        match run(&index) {
            Ok((out, changes)) => {
                index.apply(changes);
                Ok(out)
            }
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(StoreError::Io(e)),
        }
    }
}
