//! Correlation chains: the deliveries of one subscription and one correlation key, attempted
//! in publish order. One record per chain in the `correlations` tree (key: subscription id ++
//! the key's text) holds the deliveries that have not ended, in order, and what the last ones
//! that ended left behind (for the provider). Only the chain's head is scheduled; the others
//! are `Waiting`. Everything here runs inside the transaction that writes the deliveries
//! themselves, so a crash can never leave a chain without its head scheduled.

use serde::{Deserialize, Serialize};

use super::{StoredDelivery, Tx, TxResult, abort, dec, enc, schedule_key};
use crate::model::{
    CORRELATION_HISTORY, CorrelatedDelivery, Delivery, DeliveryId, DeliveryStatus, SubscriptionId,
};

/// One chain as stored.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct StoredChain {
    /// Deliveries that have not ended, oldest first; the first is the one scheduled.
    pub(super) pending: Vec<DeliveryId>,
    /// What ended deliveries left behind, most recent first, at most [`CORRELATION_HISTORY`].
    pub(super) earlier: Vec<CorrelatedDelivery>,
}

/// The `correlations` key of a chain.
pub(super) fn chain_key(subscription: SubscriptionId, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(16 + key.len());
    k.extend_from_slice(&subscription.to_bytes());
    k.extend_from_slice(key.as_bytes());
    k
}

impl Tx<'_> {
    fn chain(&self, key: &[u8]) -> TxResult<StoredChain> {
        match self.correlations.get(key)? {
            Some(v) => dec("correlations", &v).map_err(abort),
            None => Ok(StoredChain::default()),
        }
    }

    fn put_chain(&self, key: &[u8], chain: &StoredChain) -> TxResult<()> {
        self.correlations.insert(key, enc(chain).map_err(abort)?)?;
        Ok(())
    }

    /// Adds a new delivery to the end of its chain. Behind an earlier delivery that has not
    /// ended it becomes `Waiting` (unscheduled); true then.
    pub(super) fn join_chain(&self, new: &mut StoredDelivery) -> TxResult<bool> {
        let d = &mut new.delivery;
        let Some(key) = d.correlation_key.as_deref() else {
            return Ok(false);
        };
        let key = chain_key(d.subscription_id, key);
        let mut chain = self.chain(&key)?;
        let waits = !chain.pending.is_empty();
        if waits {
            d.status = DeliveryStatus::Waiting;
            d.next_attempt_at = None;
        }
        chain.pending.push(d.id);
        self.put_chain(&key, &chain)?;
        Ok(waits)
    }

    /// Keeps the chain in step with a delivery's new state; returns the schedule key of a
    /// delivery it let go ahead. A final delivery leaves its chain (see [`Tx::leave_chain`]); a
    /// delivery put back to `Waiting` (its manual attempt failed) that is the head by now — the
    /// one before it ended meanwhile — is scheduled at once, or nothing would ever schedule it.
    pub(super) fn chain_after_save(&self, saved: &StoredDelivery) -> TxResult<Option<[u8; 24]>> {
        let d = &saved.delivery;
        let Some(key) = d.correlation_key.as_deref() else {
            return Ok(None);
        };
        let key = chain_key(d.subscription_id, key);
        if d.status.is_final() {
            return self.leave_chain(&key, saved);
        }
        if d.status == DeliveryStatus::Waiting && self.chain(&key)?.pending.first() == Some(&d.id) {
            return self.promote(d.id, d);
        }
        Ok(None)
    }

    /// `ended` leaves its chain, a success or failure joins the chain's history, and when it
    /// was the head, the next delivery becomes `Pending`, due at `ended.updated_at`.
    fn leave_chain(&self, key: &[u8], ended: &StoredDelivery) -> TxResult<Option<[u8; 24]>> {
        let d = &ended.delivery;
        let mut chain = self.chain(key)?;
        let was_head = chain.pending.first() == Some(&d.id);
        chain.pending.retain(|id| *id != d.id);
        if let Some(entry) = history_entry(ended) {
            chain.earlier.insert(0, entry);
            chain.earlier.truncate(CORRELATION_HISTORY);
        }
        let promoted = match chain.pending.first() {
            Some(next) if was_head => self.promote(*next, d)?,
            _ => None,
        };
        self.put_chain(key, &chain)?;
        Ok(promoted)
    }

    /// Schedules a `Waiting` delivery, due when `ended` changed, now that nothing is ahead of it.
    fn promote(&self, id: DeliveryId, ended: &Delivery) -> TxResult<Option<[u8; 24]>> {
        let Some(mut next) = self.delivery(id)? else {
            return Ok(None);
        };
        if next.delivery.status != DeliveryStatus::Waiting {
            // Started by hand meanwhile: it is scheduled (or running) already.
            return Ok(None);
        }
        let old = next.delivery.clone();
        next.delivery.status = DeliveryStatus::Pending;
        next.delivery.next_attempt_at = Some(ended.updated_at);
        next.delivery.updated_at = ended.updated_at;
        self.put_delivery(Some(&old), &next)?;
        Ok(schedule_key(&next.delivery))
    }
}

/// What a delivery that ended leaves for the later ones of its key; `None` when it never
/// reached the receiver's side (cancelled).
fn history_entry(ended: &StoredDelivery) -> Option<CorrelatedDelivery> {
    let d = &ended.delivery;
    let delivered = match d.status {
        DeliveryStatus::Succeeded => true,
        DeliveryStatus::Failed => false,
        _ => return None,
    };
    let last = ended.attempts.last();
    Some(CorrelatedDelivery {
        delivery_id: d.id,
        event_type: d.event_type.clone(),
        delivered,
        external_id: last
            .and_then(|a| a.external_id.clone())
            .filter(|_| delivered),
        state: last.and_then(|a| a.state.clone()).filter(|_| delivered),
        ended_at: d.updated_at,
    })
}
