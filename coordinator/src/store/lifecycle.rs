//! What the lifecycle operations of [`super::Store`] share between the two stores: what they
//! return, how a delivery looks once its subscription's disable or delete cancelled it, and
//! which subscriptions use a connection. The operations themselves (one transaction each) are
//! in `sled_store/lifecycle.rs` and `postgres/lifecycle.rs`.

use chrono::{DateTime, Utc};

use crate::model::{ConnectionId, Delivery, SUBSCRIPTION_GONE, Subscription, SubscriptionId};

/// What [`super::Store::disable_subscription`] and
/// [`super::Store::delete_subscription_cancelling`] did: the subscription as written (disabled)
/// or as it was before its deletion, and the deliveries cancelled in the same transaction, in
/// their new state (for the engine to announce to its watchers).
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionCancelled {
    /// The subscription, disabled, or as it was when deleted.
    pub subscription: Subscription,
    /// The deliveries cancelled with it.
    pub cancelled: Vec<Delivery>,
}

/// `d` cancelled at `now` because its subscription was deleted or disabled: what both stores
/// write, and what the engine writes for the same reason.
pub fn cancelled(d: &Delivery, now: DateTime<Utc>) -> Delivery {
    let mut d = d.clone();
    d.cancel(now, SUBSCRIPTION_GONE);
    d
}

/// The ids of the subscriptions among `all` whose config names connection `id`.
pub fn users_of<'a>(
    all: impl IntoIterator<Item = &'a Subscription>,
    id: ConnectionId,
) -> Vec<SubscriptionId> {
    all.into_iter()
        .filter(|s| s.connection_id() == Some(id))
        .map(|s| s.id)
        .collect()
}
