//! The configuration records: event types, connections and subscriptions, one key per record,
//! each written alone (never in a delivery transaction), with the caches that spare the hot
//! path a read: the event types a publish looks up and the snapshot of every subscription
//! that fan-out walks.

use std::sync::Arc;

use super::SledStore;
use super::codec::enc;
use crate::model::{
    Connection, ConnectionId, EventType, Page, PageRequest, Subscription, SubscriptionFilter,
    SubscriptionId,
};
use crate::store::StoreResult;

pub(super) fn subscription_matches(s: &Subscription, f: &SubscriptionFilter) -> bool {
    f.provider_id.as_deref().is_none_or(|p| p == s.provider_id)
        && f.enabled.is_none_or(|e| e == s.enabled)
        && f.event_type
            .as_deref()
            .is_none_or(|t| s.event_types.iter().any(|p| p == t) || s.matches_event_type(t))
}

impl SledStore {
    pub(super) fn event_types_cache(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, EventType>> {
        // A cache: whatever a panic left behind is still consistent enough to clear or read.
        self.event_types_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn invalidate_subs(&self) {
        if let Ok(mut cache) = self.subs_cache.lock() {
            *cache = None;
        }
    }

    pub(super) fn put_event_type(&self, event_type: &EventType) -> StoreResult<EventType> {
        let key = event_type.id.as_bytes();
        let mut stored = event_type.clone();
        if let Some(old) = Self::get_json::<EventType>(&self.event_types, "event_types", key)? {
            stored.created_at = old.created_at;
        }
        // Under the cache's lock, so that no reader caches the old version after the clear.
        let mut cache = self.event_types_cache();
        self.event_types.insert(key, enc(&stored)?)?;
        cache.clear();
        Ok(stored)
    }

    pub(super) fn get_event_type(&self, id: &str) -> StoreResult<Option<EventType>> {
        let mut cache = self.event_types_cache();
        if let Some(t) = cache.get(id) {
            return Ok(Some(t.clone()));
        }
        let found: Option<EventType> =
            Self::get_json(&self.event_types, "event_types", id.as_bytes())?;
        if let Some(t) = &found {
            // Types are few; the bound only guards against a flood of distinct ids.
            if cache.len() >= 10_000 {
                cache.clear();
            }
            cache.insert(id.to_owned(), t.clone());
        }
        Ok(found)
    }

    pub(super) fn list_event_types(&self) -> StoreResult<Vec<EventType>> {
        Self::all_json(&self.event_types, "event_types")
    }

    pub(super) fn insert_connection(&self, c: &Connection) -> StoreResult<()> {
        Self::insert_new(
            &self.connections,
            "connection",
            c.id.to_string(),
            &c.id.to_bytes(),
            enc(c)?,
        )
    }

    pub(super) fn update_connection(&self, c: &Connection) -> StoreResult<()> {
        Self::replace(
            &self.connections,
            "connection",
            c.id.to_string(),
            &c.id.to_bytes(),
            enc(c)?,
        )
    }

    pub(super) fn get_connection(&self, id: ConnectionId) -> StoreResult<Option<Connection>> {
        Self::get_json(&self.connections, "connections", &id.to_bytes())
    }

    pub(super) fn list_connections(
        &self,
        provider_id: Option<&str>,
    ) -> StoreResult<Vec<Connection>> {
        let all: Vec<Connection> = Self::all_json(&self.connections, "connections")?;
        Ok(all
            .into_iter()
            .filter(|c| provider_id.is_none_or(|p| p == c.provider_id))
            .collect())
    }

    pub(super) fn delete_connection(&self, id: ConnectionId) -> StoreResult<bool> {
        Ok(self.connections.remove(id.to_bytes())?.is_some())
    }

    pub(super) fn modify_connection(
        &self,
        id: ConnectionId,
        f: &mut dyn FnMut(&Connection) -> Option<Connection>,
    ) -> StoreResult<bool> {
        Self::modify(&self.connections, "connections", &id.to_bytes(), f)
    }

    pub(super) fn insert_subscription(&self, s: &Subscription) -> StoreResult<()> {
        let r = Self::insert_new(
            &self.subscriptions,
            "subscription",
            s.id.to_string(),
            &s.id.to_bytes(),
            enc(s)?,
        );
        self.invalidate_subs();
        r
    }

    pub(super) fn update_subscription(&self, s: &Subscription) -> StoreResult<()> {
        let r = Self::replace(
            &self.subscriptions,
            "subscription",
            s.id.to_string(),
            &s.id.to_bytes(),
            enc(s)?,
        );
        self.invalidate_subs();
        r
    }

    pub(super) fn modify_subscription(
        &self,
        id: SubscriptionId,
        f: &mut dyn FnMut(&Subscription) -> Option<Subscription>,
    ) -> StoreResult<bool> {
        let wrote = Self::modify(&self.subscriptions, "subscriptions", &id.to_bytes(), f);
        self.invalidate_subs();
        wrote
    }

    pub(super) fn get_subscription(&self, id: SubscriptionId) -> StoreResult<Option<Subscription>> {
        Self::get_json(&self.subscriptions, "subscriptions", &id.to_bytes())
    }

    pub(super) fn delete_subscription(&self, id: SubscriptionId) -> StoreResult<bool> {
        let existed = self.subscriptions.remove(id.to_bytes())?.is_some();
        self.invalidate_subs();
        Ok(existed)
    }

    pub(super) fn list_subscriptions(
        &self,
        filter: &SubscriptionFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Subscription>> {
        let all = self.subscriptions()?;
        let matching = all
            .iter()
            .filter(|s| subscription_matches(s, filter))
            .cloned();
        Ok(Page::from_filtered(matching, page))
    }

    pub(super) fn subscriptions(&self) -> StoreResult<Arc<[Subscription]>> {
        if let Ok(cache) = self.subs_cache.lock()
            && let Some(snapshot) = cache.as_ref()
        {
            return Ok(Arc::clone(snapshot));
        }
        let all: Arc<[Subscription]> = Self::all_json(&self.subscriptions, "subscriptions")?.into();
        if let Ok(mut cache) = self.subs_cache.lock() {
            *cache = Some(Arc::clone(&all));
        }
        Ok(all)
    }
}
