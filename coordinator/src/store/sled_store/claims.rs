//! Claiming due work. A claim lives in this process's memory ([`Claims`]), not on disk: reads
//! show a claimed delivery as `InFlight` while its durable record stays due, which is what a
//! crash needs (the next start finds it due). The dispatcher's scan of the `schedule` tree
//! resumes at a cursor, so claimed entries are not read again and again; a manual claim is
//! written, so a crash cannot lose it either.

use std::collections::HashSet;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::SledStore;
use super::tx::schedule_key;
use crate::model::{Delivery, DeliveryId, DeliveryStatus, to_millis};
use crate::store::keys;
use crate::store::{Backlog, Claimed, StoreError, StoreResult};

/// The scan starts from the beginning of the schedule this often (belt and braces: entries
/// behind the cursor are otherwise reported through `Claims::late`).
pub(super) const FULL_SCAN_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// This process's claims: deliveries handed to the engine and not saved since, and where the
/// dispatcher's scan of the schedule resumes.
///
/// The scan resumes at `cursor_ms` (inclusive), so claimed entries behind it are not read
/// again and again. A writer whose new entry lands behind the cursor (its "now" lagged the
/// dispatcher's) reports it in `late` after its commit, under this lock; the next claim takes
/// `late` first. Either the scan saw the entry or the writer reports it: nothing is skipped.
#[derive(Debug)]
pub(super) struct Claims {
    pub(super) set: HashSet<DeliveryId>,
    /// The last schedule key the scan looked at.
    pub(super) cursor: [u8; 24],
    pub(super) late: Vec<DeliveryId>,
    pub(super) last_full_scan: Instant,
}

impl Claims {
    /// Records an entry written (or kept) after its commit: one at or behind the cursor will
    /// not be seen by the scan, so it is reported as late.
    pub(super) fn note_scheduled(&mut self, entries: impl IntoIterator<Item = [u8; 24]>) {
        for key in entries {
            if key <= self.cursor
                && let Some((_, id)) = keys::parse_schedule(&key)
            {
                self.late.push(id);
            }
        }
    }

    /// After a delivery's new state was written: a final or rescheduled delivery is no longer
    /// claimed, and its schedule entry may have landed behind the cursor.
    pub(super) fn saved(&mut self, delivery: &Delivery) {
        if delivery.status() != DeliveryStatus::InFlight {
            self.set.remove(&delivery.id);
        }
        self.note_scheduled(schedule_key(delivery));
    }
}

impl SledStore {
    pub(super) fn claims(&self) -> std::sync::MutexGuard<'_, Claims> {
        // A panic while holding the lock cannot leave the set inconsistent with the store in a
        // harmful way (at worst a claim is forgotten and the delivery is attempted again).
        self.claims
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Shows a delivery this process has claimed as `InFlight` (claims are not written: its
    /// record stays due at the time the attempt started from).
    pub(super) fn overlay(&self, mut d: Delivery) -> Delivery {
        if d.status() != DeliveryStatus::InFlight && self.claims().set.contains(&d.id) {
            d.state = d.state.claimed(d.updated_at);
        }
        d
    }

    /// Schedule entries due at or before `now` that are not claimed yet, at most `limit`: the
    /// late ones first, then a scan from the cursor, which moves along.
    pub(super) fn unclaimed_due(
        &self,
        claims: &mut Claims,
        now: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<DeliveryId>> {
        if claims.last_full_scan.elapsed() >= FULL_SCAN_EVERY {
            claims.cursor = [0; 24];
            claims.last_full_scan = Instant::now();
        }
        let mut picked: Vec<DeliveryId> = Vec::new();
        let late = std::mem::take(&mut claims.late);
        for id in late {
            if picked.len() < limit && !claims.set.contains(&id) && !picked.contains(&id) {
                picked.push(id);
            } else if !claims.set.contains(&id) && !picked.contains(&id) {
                claims.late.push(id);
            }
        }
        let start = claims.cursor;
        for key in self.schedule.range(start..keys::schedule_end(now)).keys() {
            if picked.len() >= limit {
                break;
            }
            let key = key?;
            let Some((_, id)) = keys::parse_schedule(&key) else {
                continue;
            };
            if let Ok(k) = <[u8; 24]>::try_from(key.as_ref()) {
                claims.cursor = claims.cursor.max(k);
            }
            if !claims.set.contains(&id) && !picked.contains(&id) {
                picked.push(id);
            }
        }
        Ok(picked)
    }

    pub(super) fn claim_due(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Delivery>> {
        let mut claims = self.claims();
        let due = self.unclaimed_due(&mut claims, now, limit)?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        // No write: the claim lives in memory (reads show it as `InFlight`); the durable
        // record stays due, which is exactly what a crash needs.
        let mut claimed = Vec::with_capacity(due.len());
        for id in due {
            let Some(stored) = self.stored_delivery(id)? else {
                continue;
            };
            let mut d = stored.delivery;
            // Compared in whole milliseconds, as the schedule keys are: an entry the scan
            // passed must be claimed now, or the cursor would leave it behind.
            let due = d.state.due().map(to_millis);
            if due.is_none_or(|due| due > to_millis(now)) {
                continue;
            }
            d.state = d.state.claimed(now);
            claimed.push(d);
        }
        claims.set.extend(claimed.iter().map(|d| d.id));
        Ok(claimed)
    }

    pub(super) fn claim(&self, id: DeliveryId, now: DateTime<Utc>) -> StoreResult<Claimed> {
        let mut claims = self.claims();
        if claims.set.contains(&id) {
            return Err(StoreError::Conflict(format!(
                "delivery {id} has an attempt in flight; wait for it to finish"
            )));
        }
        let claimed = self.tx(|t| {
            let mut stored = t.existing(id)?;
            let old = stored.delivery.clone();
            stored.delivery.state = old.state.claimed(now);
            stored.delivery.updated_at = now;
            t.put_delivery(Some(&old), &stored)?;
            Ok(Claimed {
                delivery: stored.delivery,
                previous: old.state,
            })
        })?;
        claims.set.insert(id);
        claims.note_scheduled(schedule_key(&claimed.delivery));
        Ok(claimed)
    }

    pub(super) fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let claims = self.claims();
        if claims.late.iter().any(|id| !claims.set.contains(id)) {
            let cursor_due = keys::parse_schedule(&claims.cursor).map_or(0, |(due, _)| due);
            return Ok(Some(crate::model::from_millis(cursor_due)));
        }
        // The first unclaimed entry from the cursor on; entries behind it are claimed or late.
        for key in self.schedule.range(claims.cursor..).keys() {
            let key = key?;
            if let Some((due, id)) = keys::parse_schedule(&key)
                && !claims.set.contains(&id)
            {
                return Ok(Some(crate::model::from_millis(due)));
            }
        }
        Ok(None)
    }

    pub(super) fn backlog(&self, now: DateTime<Utc>) -> StoreResult<Backlog> {
        let claims = self.claims();
        let now_ms = to_millis(now);
        let mut backlog = Backlog {
            in_flight: claims.set.len(),
            ..Backlog::default()
        };
        let mut oldest: Option<u64> = None;
        for key in self.schedule.iter().keys() {
            let Some((due, id)) = keys::parse_schedule(&key?) else {
                continue;
            };
            if claims.set.contains(&id) {
                continue;
            }
            if due <= now_ms {
                backlog.due += 1;
                oldest = Some(oldest.map_or(due, |o| o.min(due)));
            } else {
                backlog.scheduled += 1;
            }
        }
        #[allow(clippy::cast_precision_loss)]
        if let Some(oldest) = oldest {
            backlog.oldest_due_seconds = now_ms.saturating_sub(oldest) as f64 / 1000.0;
        }
        Ok(backlog)
    }
}
