//! Per-subscription rate limits: a token bucket per subscription, kept in memory on this
//! coordinator (a restart starts every bucket full). It is run as GCRA (the "virtual
//! scheduling" form of a token bucket): each attempt reserves the next free slot on the
//! subscription's timeline, so waiting attempts go in the order they asked and no two take the
//! same token.
//!
//! An attempt whose slot is near ([`HOLD`]) waits for it in its task. One whose slot is further
//! away goes back to the schedule, due at its slot, without an attempt recorded and without
//! using up retry budget; the slot stays reserved for that delivery, so when it is claimed
//! again it goes ahead at once instead of queueing anew. Waiting in the schedule rather than in
//! a task keeps a backlog of one slow subscription from holding the engine's claims (and with
//! them every other subscription's deliveries).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::model::{DeliveryId, RateLimit, SubscriptionId};

/// Waits up to this long happen in the attempt's task; longer ones go back to the schedule.
pub(super) const HOLD: Duration = Duration::from_secs(1);

/// Reservations older than this are dropped (their delivery was cancelled or purged).
const STALE: Duration = Duration::from_secs(3600);

/// When an attempt may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    /// Now, or after waiting this long (at most [`HOLD`]).
    Wait(Duration),
    /// At this time: hand the delivery back to the schedule until then (its slot is kept).
    Later(DateTime<Utc>),
}

/// One subscription's bucket.
#[derive(Debug)]
struct Bucket {
    limit: RateLimit,
    /// GCRA's theoretical arrival time: when the bucket is full again, were nothing taken.
    tat: DateTime<Utc>,
    /// Slots reserved by deliveries that went back to the schedule.
    reserved: HashMap<DeliveryId, DateTime<Utc>>,
}

impl Bucket {
    fn new(limit: RateLimit, now: DateTime<Utc>) -> Self {
        Self {
            limit,
            tat: now,
            reserved: HashMap::new(),
        }
    }

    fn interval(&self) -> chrono::Duration {
        chrono::Duration::from_std(Duration::from_secs_f64(1.0 / self.limit.per_second))
            .unwrap_or(chrono::Duration::MAX)
    }

    /// Reserves the next slot: the earliest time the bucket holds a token for it.
    fn reserve(&mut self, now: DateTime<Utc>) -> DateTime<Utc> {
        let interval = self.interval();
        let tolerance = interval * i32::try_from(self.limit.burst.saturating_sub(1)).unwrap_or(0);
        let slot = (self.tat - tolerance).max(now);
        self.tat = self.tat.max(slot) + interval;
        slot
    }
}

/// The buckets of every rate-limited subscription.
#[derive(Debug, Default)]
pub(super) struct RateLimits {
    buckets: Mutex<HashMap<SubscriptionId, Bucket>>,
}

impl RateLimits {
    /// When the attempt of `delivery` may go under `limit`. A delivery that reserved a slot
    /// earlier gets that slot back. `can_defer`: the attempt may go back to the schedule (a
    /// manual attempt may not: it waits for its slot however far it is).
    pub(super) fn slot(
        &self,
        sub: SubscriptionId,
        limit: RateLimit,
        delivery: DeliveryId,
        can_defer: bool,
        now: DateTime<Utc>,
    ) -> Slot {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = buckets
            .entry(sub)
            .or_insert_with(|| Bucket::new(limit, now));
        if bucket.limit != limit {
            // Changed on the subscription: start over with the new rate (a full bucket).
            *bucket = Bucket::new(limit, now);
        }
        let slot = match bucket.reserved.remove(&delivery) {
            Some(slot) => slot,
            None => bucket.reserve(now),
        };
        let wait = (slot - now).to_std().unwrap_or_default();
        if wait <= HOLD || !can_defer {
            return Slot::Wait(wait);
        }
        if bucket.reserved.len() >= 1024 {
            let stale = chrono::Duration::from_std(STALE).unwrap_or_default();
            bucket.reserved.retain(|_, at| *at + stale > now);
        }
        bucket.reserved.insert(delivery, slot);
        Slot::Later(slot)
    }

    /// Forgets a subscription (deleted, or its limit removed).
    pub(super) fn forget(&self, sub: SubscriptionId) {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&sub);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::milliseconds(ms)
    }

    fn limit(per_second: f64, burst: u32) -> RateLimit {
        RateLimit::new(per_second, burst).expect("valid")
    }

    #[test]
    fn a_full_bucket_lets_the_burst_go_then_one_per_interval() {
        let limits = RateLimits::default();
        let sub = SubscriptionId::new();
        let now = at(10_000);
        let slots: Vec<Slot> = (0..8)
            .map(|_| limits.slot(sub, limit(5.0, 3), DeliveryId::new(), true, now))
            .collect();
        let ms = |s: &Slot| match s {
            Slot::Wait(d) => i64::try_from(d.as_millis()).expect("small"),
            Slot::Later(t) => (*t - now).num_milliseconds(),
        };
        let waits: Vec<i64> = slots.iter().map(ms).collect();
        assert_eq!(waits, [0, 0, 0, 200, 400, 600, 800, 1000]);
        assert!(matches!(slots[7], Slot::Wait(_)), "1 s is still held");
        let far = limits.slot(sub, limit(5.0, 3), DeliveryId::new(), true, now);
        assert_eq!(far, Slot::Later(at(11_200)));
        // A manual attempt waits in its task, however long.
        let manual = limits.slot(sub, limit(5.0, 3), DeliveryId::new(), false, now);
        assert_eq!(manual, Slot::Wait(Duration::from_millis(1400)));
    }

    #[test]
    fn any_window_holds_at_most_burst_plus_rate_attempts() {
        let limits = RateLimits::default();
        let sub = SubscriptionId::new();
        let now = at(0);
        let mut times: Vec<DateTime<Utc>> = (0..200)
            .map(
                |_| match limits.slot(sub, limit(5.0, 2), DeliveryId::new(), true, now) {
                    Slot::Wait(d) => now + chrono::Duration::from_std(d).expect("small"),
                    Slot::Later(t) => t,
                },
            )
            .collect();
        times.sort();
        for (i, start) in times.iter().enumerate() {
            let end = *start + chrono::Duration::seconds(1);
            let n = times[i..].iter().take_while(|t| **t < end).count();
            assert!(n <= 2 + 5, "{n} attempts in the second from {start}");
        }
    }

    #[test]
    fn a_deferred_delivery_gets_its_reserved_slot_back() {
        let limits = RateLimits::default();
        let sub = SubscriptionId::new();
        let now = at(0);
        let rl = limit(1.0, 1);
        for _ in 0..3 {
            limits.slot(sub, rl, DeliveryId::new(), true, now);
        }
        let late = DeliveryId::new();
        let Slot::Later(slot) = limits.slot(sub, rl, late, true, now) else {
            panic!("3 s away is not held in the task");
        };
        assert_eq!(slot, at(3000));
        // Claimed again at its slot: it goes at once and takes no new token.
        assert_eq!(
            limits.slot(sub, rl, late, true, slot),
            Slot::Wait(Duration::ZERO)
        );
        let next = limits.slot(sub, rl, DeliveryId::new(), true, slot);
        assert_eq!(next, Slot::Wait(Duration::from_secs(1)));
    }

    #[test]
    fn a_changed_limit_starts_a_full_bucket() {
        let limits = RateLimits::default();
        let sub = SubscriptionId::new();
        let now = at(0);
        for _ in 0..5 {
            limits.slot(sub, limit(1.0, 1), DeliveryId::new(), true, now);
        }
        let faster = limit(100.0, 10);
        assert_eq!(
            limits.slot(sub, faster, DeliveryId::new(), true, now),
            Slot::Wait(Duration::ZERO)
        );
    }
}
