//! Reads of events and deliveries for the API: by id, by idempotency key, listed with filters
//! (newest first, through the `by_subscription` index when a subscription is named), their
//! attempts, and the stats; every delivery shown with this process's claims overlaid.

use chrono::{DateTime, Utc};

use super::SledStore;
use super::codec::dec;
use super::tx::{StoredDelivery, StoredEvent};
use crate::model::{
    Attempt, Delivery, DeliveryFilter, DeliveryId, DeliveryState, Event, EventId, Page,
    PageRequest, Stats, SubscriptionId,
};
use crate::store::StoreResult;
use crate::store::keys;

/// Whether a delivery passes every field of `filter`.
pub(super) fn delivery_matches(d: &Delivery, f: &DeliveryFilter) -> bool {
    f.subscription_id.is_none_or(|s| s == d.subscription_id)
        && f.event_type.as_deref().is_none_or(|t| t == d.event_type)
        && f.status.is_none_or(|s| s == d.status())
        && f.from.is_none_or(|from| d.created_at >= from)
        && f.to.is_none_or(|to| d.created_at < to)
}

impl SledStore {
    pub(super) fn stored_delivery(&self, id: DeliveryId) -> StoreResult<Option<StoredDelivery>> {
        Self::get_json(&self.deliveries, "deliveries", &id.to_bytes())
    }

    /// Deliveries of a subscription created in `[lo, hi)` (id bounds), oldest first.
    pub(super) fn deliveries_of_sub(
        &self,
        sub: SubscriptionId,
        lo: [u8; 16],
        hi: [u8; 16],
    ) -> impl DoubleEndedIterator<Item = StoreResult<Delivery>> + '_ {
        let s = sub.to_bytes();
        self.by_subscription
            .range(keys::pair(s, lo)..keys::pair(s, hi))
            .keys()
            .filter_map(move |k| {
                let k = match k {
                    Ok(k) => k,
                    Err(e) => return Some(Err(e.into())),
                };
                let child = keys::pair_child(&k)?;
                // A missing record means it was purged between the two reads: skip it.
                Self::get_json::<StoredDelivery>(&self.deliveries, "deliveries", &child)
                    .transpose()
                    .map(|r| r.map(|s| self.overlay(s.delivery)))
            })
    }

    pub(super) fn deliveries_by_id(&self, ids: &[DeliveryId]) -> StoreResult<Vec<Delivery>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(s) = self.stored_delivery(*id)? {
                out.push(self.overlay(s.delivery));
            }
        }
        Ok(out)
    }

    pub(super) fn get_event(&self, id: EventId) -> StoreResult<Option<Event>> {
        let stored: Option<StoredEvent> = Self::get_json(&self.events, "events", &id.to_bytes())?;
        Ok(stored.map(|s| s.event))
    }

    pub(super) fn find_by_idempotency_key(
        &self,
        key: &str,
    ) -> StoreResult<Option<(Event, Vec<Delivery>)>> {
        let Some(id) = self.idempotency.get(key.as_bytes())? else {
            return Ok(None);
        };
        let Some(stored) = Self::get_json::<StoredEvent>(&self.events, "events", &id)? else {
            return Ok(None);
        };
        let deliveries = self.deliveries_by_id(&stored.deliveries)?;
        Ok(Some((stored.event, deliveries)))
    }

    pub(super) fn event_deliveries(&self, id: EventId) -> StoreResult<Vec<Delivery>> {
        match Self::get_json::<StoredEvent>(&self.events, "events", &id.to_bytes())? {
            Some(stored) => self.deliveries_by_id(&stored.deliveries),
            None => Ok(Vec::new()),
        }
    }

    pub(super) fn get_delivery(&self, id: DeliveryId) -> StoreResult<Option<Delivery>> {
        Ok(self.stored_delivery(id)?.map(|s| self.overlay(s.delivery)))
    }

    pub(super) fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Delivery>> {
        let lo = filter.from.map_or([0u8; 16], keys::time_bound);
        let hi = filter.to.map_or([0xffu8; 16], keys::time_bound);
        let raw: Box<dyn Iterator<Item = StoreResult<Delivery>>> = match filter.subscription_id {
            Some(sub) => Box::new(self.deliveries_of_sub(sub, lo, hi).rev()),
            None => Box::new(self.deliveries.range(lo..hi).values().rev().map(|v| {
                dec::<StoredDelivery>("deliveries", &v?).map(|s| self.overlay(s.delivery))
            })),
        };
        let mut error = None;
        let ok = raw.map_while(|r| r.map_err(|e| error = Some(e)).ok());
        let page = Page::from_filtered(ok.filter(|d| delivery_matches(d, filter)), page);
        match error {
            Some(e) => Err(e),
            None => Ok(page),
        }
    }

    pub(super) fn attempts(&self, id: DeliveryId) -> StoreResult<Vec<Attempt>> {
        Ok(self
            .stored_delivery(id)?
            .map(|s| s.attempts)
            .unwrap_or_default())
    }

    pub(super) fn stats(&self, since: DateTime<Utc>) -> StoreResult<Stats> {
        let mut stats = Stats {
            since: Some(since),
            ..Stats::default()
        };
        for v in self.deliveries.range(keys::time_bound(since)..).values() {
            let d = self.overlay(dec::<StoredDelivery>("deliveries", &v?)?.delivery);
            let status = d.status();
            stats.overall.add(status);
            stats
                .by_event_type
                .entry(d.event_type)
                .or_default()
                .add(status);
            stats
                .by_provider
                .entry(d.provider_id)
                .or_default()
                .add(status);
        }
        Ok(stats)
    }

    pub(super) fn scheduled_of_subscription(
        &self,
        id: SubscriptionId,
    ) -> StoreResult<Vec<Delivery>> {
        let mut out = Vec::new();
        for d in self.deliveries_of_sub(id, [0u8; 16], [0xffu8; 16]) {
            let d = d?;
            if matches!(
                d.state,
                DeliveryState::Pending { .. }
                    | DeliveryState::Retrying { .. }
                    | DeliveryState::Waiting
            ) {
                out.push(d);
            }
        }
        Ok(out)
    }
}
