//! A delivery's state as one typed value ([`DeliveryState`]): its status together with the due
//! time that only some statuses have, so that a pending delivery without a due time or a
//! succeeded one with a next attempt cannot be written down.
//!
//! The stored form does not change: a [`Delivery`] is (de)serialized through
//! [`DeliveryRecord`], the two fields `status` and `next_attempt_at` every earlier version
//! wrote, so records already on disk (sled) and row bodies in PostgreSQL load as they are, and
//! an earlier version reads what this one writes.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Delivery, DeliveryId, DeliveryStatus, EventId, SubscriptionId};

/// Where a delivery is in its lifecycle, with the due time where one exists. Transitions are
/// those of [`DeliveryStatus::can_become`], checked by the stores on every save.
///
/// `InFlight` is what the store shows while a claim is held. The claim itself — on sled an
/// entry in the coordinator's memory, on PostgreSQL the row's `claimed_by`/`claim_token`/
/// `lease_ms` columns, renewed by the heartbeat — is the store's, not part of this value: the
/// engine never sets it, and a lease copied into the record would be stale at the next renewal.
/// What the value keeps is the due time the attempt started from, where the schedule resumes
/// the delivery if the claim is lost (crash, expired lease).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Behind an earlier delivery of the same subscription and correlation key that has not
    /// ended yet; not scheduled.
    Waiting,
    /// Waiting for its first attempt, due at `due`.
    Pending {
        /// When the first attempt is due.
        due: DateTime<Utc>,
    },
    /// An attempt failed (or was deferred); the next one is due at `due`.
    Retrying {
        /// When the next attempt is due.
        due: DateTime<Utc>,
    },
    /// An attempt is running (a claim is held).
    InFlight {
        /// When the running attempt was due: it is attempted again from then on if its
        /// claim is lost.
        due: DateTime<Utc>,
    },
    /// Delivered; final.
    Succeeded,
    /// Gave up; final unless redelivered by hand.
    Failed,
    /// Its subscription was deleted or disabled before it was delivered; final unless
    /// redelivered by hand.
    Cancelled,
}

impl DeliveryState {
    /// Scheduled at `due`: `Pending` while no attempt was made yet, else `Retrying`.
    pub fn scheduled(attempts: u32, due: DateTime<Utc>) -> Self {
        if attempts == 0 {
            Self::Pending { due }
        } else {
            Self::Retrying { due }
        }
    }

    /// The state once claimed: in flight from the due time it had, or from `now` when it had
    /// none (a manual attempt of a final or waiting delivery).
    pub fn claimed(self, now: DateTime<Utc>) -> Self {
        Self::InFlight {
            due: self.due().unwrap_or(now),
        }
    }

    /// The status alone, for filters, stats and the API.
    pub fn status(self) -> DeliveryStatus {
        match self {
            Self::Waiting => DeliveryStatus::Waiting,
            Self::Pending { .. } => DeliveryStatus::Pending,
            Self::Retrying { .. } => DeliveryStatus::Retrying,
            Self::InFlight { .. } => DeliveryStatus::InFlight,
            Self::Succeeded => DeliveryStatus::Succeeded,
            Self::Failed => DeliveryStatus::Failed,
            Self::Cancelled => DeliveryStatus::Cancelled,
        }
    }

    /// The due time: the schedule entry of a pending or retrying delivery, the start of a
    /// running attempt; `None` for the others.
    pub fn due(self) -> Option<DateTime<Utc>> {
        match self {
            Self::Pending { due } | Self::Retrying { due } | Self::InFlight { due } => Some(due),
            _ => None,
        }
    }

    /// Whether no further attempt is scheduled (succeeded, failed or cancelled).
    pub fn is_final(self) -> bool {
        self.status().is_final()
    }

    /// The state the two stored fields describe. Records of earlier versions always agree;
    /// where they would not, the status wins: a due time on a status without one is dropped,
    /// and a pending, retrying or in-flight record without one is due at `fallback` (its
    /// last change), so it is attempted rather than lost.
    pub fn from_parts(
        status: DeliveryStatus,
        next_attempt_at: Option<DateTime<Utc>>,
        fallback: DateTime<Utc>,
    ) -> Self {
        let due = next_attempt_at.unwrap_or(fallback);
        match status {
            DeliveryStatus::Waiting => Self::Waiting,
            DeliveryStatus::Pending => Self::Pending { due },
            DeliveryStatus::Retrying => Self::Retrying { due },
            DeliveryStatus::InFlight => Self::InFlight { due },
            DeliveryStatus::Succeeded => Self::Succeeded,
            DeliveryStatus::Failed => Self::Failed,
            DeliveryStatus::Cancelled => Self::Cancelled,
        }
    }
}

/// A [`Delivery`] as stored: the fields of every earlier version, in their order, with the
/// state as `status` plus `next_attempt_at`. Borrowed when written, owned when read.
#[derive(Serialize, Deserialize)]
struct DeliveryRecord<'a> {
    id: DeliveryId,
    event_id: EventId,
    event_type: Cow<'a, str>,
    subscription_id: SubscriptionId,
    provider_id: Cow<'a, str>,
    status: DeliveryStatus,
    attempts: u32,
    budget_used: u32,
    next_attempt_at: Option<DateTime<Utc>>,
    last_error: Option<Cow<'a, str>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    correlation_key: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    test: bool,
}

impl Serialize for Delivery {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        DeliveryRecord {
            id: self.id,
            event_id: self.event_id,
            event_type: Cow::Borrowed(&self.event_type),
            subscription_id: self.subscription_id,
            provider_id: Cow::Borrowed(&self.provider_id),
            status: self.state.status(),
            attempts: self.attempts,
            budget_used: self.budget_used,
            next_attempt_at: self.state.due(),
            last_error: self.last_error.as_deref().map(Cow::Borrowed),
            created_at: self.created_at,
            updated_at: self.updated_at,
            correlation_key: self.correlation_key.as_deref().map(Cow::Borrowed),
            test: self.test,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Delivery {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = DeliveryRecord::deserialize(d)?;
        Ok(Delivery {
            id: r.id,
            event_id: r.event_id,
            event_type: r.event_type.into_owned(),
            subscription_id: r.subscription_id,
            provider_id: r.provider_id.into_owned(),
            state: DeliveryState::from_parts(r.status, r.next_attempt_at, r.updated_at),
            attempts: r.attempts,
            budget_used: r.budget_used,
            last_error: r.last_error.map(Cow::into_owned),
            created_at: r.created_at,
            updated_at: r.updated_at,
            correlation_key: r.correlation_key.map(Cow::into_owned),
            test: r.test,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::from_millis;

    /// A record exactly as the version before the typed state wrote it.
    const OLD_RECORD: &str = r#"{"id":"0190b3a4-0000-7000-8000-000000000001",
        "event_id":"0190b3a4-0000-7000-8000-000000000002","event_type":"incident.opened",
        "subscription_id":"0190b3a4-0000-7000-8000-000000000003","provider_id":"acme/slack",
        "status":"retrying","attempts":2,"budget_used":2,
        "next_attempt_at":"2026-01-02T03:04:05.678Z","last_error":"HTTP 503",
        "created_at":"2026-01-02T03:00:00Z","updated_at":"2026-01-02T03:04:00Z",
        "correlation_key":"inc-7"}"#;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .expect("a valid time")
            .with_timezone(&Utc)
    }

    #[test]
    fn an_old_record_loads_with_its_due_time_in_its_state() {
        let d: Delivery = serde_json::from_str(OLD_RECORD).expect("the old record loads");
        assert_eq!(
            d.state,
            DeliveryState::Retrying {
                due: at("2026-01-02T03:04:05.678Z")
            }
        );
        assert_eq!(d.state.status(), DeliveryStatus::Retrying);
        assert_eq!(d.last_error.as_deref(), Some("HTTP 503"));
        assert_eq!(d.correlation_key.as_deref(), Some("inc-7"));
        assert!(!d.test);
    }

    #[test]
    fn the_stored_form_is_the_old_one_field_for_field() {
        let d: Delivery = serde_json::from_str(OLD_RECORD).expect("the old record loads");
        let written: serde_json::Value = serde_json::to_value(&d).expect("encodes");
        let old: serde_json::Value = serde_json::from_str(OLD_RECORD).expect("json");
        assert_eq!(written, old);
        let mut done = d.clone();
        done.state = DeliveryState::Succeeded;
        let written = serde_json::to_value(&done).expect("encodes");
        assert_eq!(written["status"], "succeeded");
        assert_eq!(written["next_attempt_at"], serde_json::Value::Null);
    }

    #[test]
    fn disagreeing_old_fields_resolve_to_the_status() {
        let t = from_millis(1_000);
        let fallback = from_millis(500);
        assert_eq!(
            DeliveryState::from_parts(DeliveryStatus::Succeeded, Some(t), fallback),
            DeliveryState::Succeeded
        );
        assert_eq!(
            DeliveryState::from_parts(DeliveryStatus::Waiting, Some(t), fallback),
            DeliveryState::Waiting
        );
        assert_eq!(
            DeliveryState::from_parts(DeliveryStatus::Pending, None, fallback),
            DeliveryState::Pending { due: fallback }
        );
        for status in DeliveryStatus::ALL {
            let state = DeliveryState::from_parts(status, Some(t), fallback);
            assert_eq!(state.status(), status);
        }
    }

    #[test]
    fn a_claim_keeps_the_due_time_or_starts_now() {
        let (due, now) = (from_millis(1_000), from_millis(2_000));
        assert_eq!(
            DeliveryState::Retrying { due }.claimed(now),
            DeliveryState::InFlight { due }
        );
        assert_eq!(
            DeliveryState::Failed.claimed(now),
            DeliveryState::InFlight { due: now }
        );
        assert_eq!(
            DeliveryState::scheduled(0, due),
            DeliveryState::Pending { due }
        );
        assert_eq!(
            DeliveryState::scheduled(3, due),
            DeliveryState::Retrying { due }
        );
    }
}
