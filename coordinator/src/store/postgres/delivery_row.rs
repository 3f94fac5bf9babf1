//! A delivery's row and its typed state. The `body` column holds the delivery (its state
//! included, in the stored form every version shares); the `status` and `due_ms` columns,
//! which the claims, the chains and the filters query, are derived from that state here and
//! only here, on every write of the body. The claim is not in the body: `claimed_by`,
//! `claim_token` and `lease_ms` say who holds it until when, and a delivery under a live lease
//! reads as `InFlight` ([`shown`]).

use super::records::dec;
use crate::model::{Delivery, DeliveryId, DeliveryStatus, to_millis};
use crate::store::StoreResult;

/// The indexed columns of a delivery's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct StateColumns {
    /// `status`: the state's name.
    pub(super) status: &'static str,
    /// `due_ms`: the state's due time in milliseconds, set exactly when it has one (the rule
    /// of sled's schedule index).
    pub(super) due_ms: Option<i64>,
}

/// The columns `d`'s state is indexed by.
pub(super) fn columns(d: &Delivery) -> StateColumns {
    StateColumns {
        status: d.status().as_str(),
        due_ms: d
            .next_attempt_at()
            .map(|due| i64::try_from(to_millis(due)).unwrap_or(i64::MAX)),
    }
}

/// The delivery a row's `body` holds, shown `InFlight` when a claim is held on it: under a
/// live lease (`leased`, whichever coordinator holds it) or by this handle (`mine`). A claim by
/// `claim_due` leaves the body due, so the in-flight state keeps that due time.
pub(super) fn shown(
    body: &[u8],
    leased: bool,
    mine: impl FnOnce(DeliveryId) -> bool,
) -> StoreResult<Delivery> {
    let mut d: Delivery = dec("deliveries", body)?;
    if d.status() != DeliveryStatus::InFlight && (leased || mine(d.id)) {
        d.state = d.state.claimed(d.updated_at);
    }
    Ok(d)
}
