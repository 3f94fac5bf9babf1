//! Concurrency limits: one semaphore per plugin and one per subscription, sized from the
//! config. A delivery task holds one permit of each (moved into the task) for the duration of
//! its plugin call, so a slow or dead provider only ever blocks its own deliveries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::model::SubscriptionId;

/// The permits a delivery attempt holds.
#[derive(Debug)]
pub(crate) struct Permits {
    // `None` only if a semaphore were closed, which never happens.
    _subscription: Option<OwnedSemaphorePermit>,
    _plugin: Option<OwnedSemaphorePermit>,
}

/// Per-plugin and per-subscription semaphores, created on first use.
#[derive(Debug)]
pub(crate) struct Limits {
    per_plugin: usize,
    per_subscription: usize,
    plugins: Mutex<HashMap<String, Arc<Semaphore>>>,
    subscriptions: Mutex<HashMap<SubscriptionId, Arc<Semaphore>>>,
}

impl Limits {
    pub(crate) fn new(per_plugin: usize, per_subscription: usize) -> Self {
        Self {
            per_plugin: per_plugin.max(1),
            per_subscription: per_subscription.max(1),
            plugins: Mutex::new(HashMap::new()),
            subscriptions: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for a permit of the subscription, then of the plugin (always in this order, so
    /// two tasks never wait on each other crosswise).
    pub(crate) async fn acquire(&self, provider_id: &str, sub: SubscriptionId) -> Permits {
        let plugin = provider_id.split('.').next().unwrap_or(provider_id);
        let sub_sem = semaphore(&self.subscriptions, sub, self.per_subscription);
        let plugin_sem = plugin_semaphore(&self.plugins, plugin, self.per_plugin);
        // The semaphores are never closed, so acquiring cannot fail.
        let s = sub_sem.acquire_owned().await.ok();
        let p = plugin_sem.acquire_owned().await.ok();
        Permits {
            _subscription: s,
            _plugin: p,
        }
    }

    /// Forgets a deleted subscription's semaphore.
    pub(crate) fn forget_subscription(&self, sub: SubscriptionId) {
        if let Ok(mut m) = self.subscriptions.lock() {
            m.remove(&sub);
        }
    }
}

fn semaphore<K: std::hash::Hash + Eq>(
    map: &Mutex<HashMap<K, Arc<Semaphore>>>,
    key: K,
    size: usize,
) -> Arc<Semaphore> {
    match map.lock() {
        Ok(mut m) => Arc::clone(
            m.entry(key)
                .or_insert_with(|| Arc::new(Semaphore::new(size))),
        ),
        Err(_) => Arc::new(Semaphore::new(size)),
    }
}

/// Like [`semaphore`], keyed by a borrowed plugin name: the hot path only looks up, so it
/// allocates the owned key once per plugin instead of once per delivery.
fn plugin_semaphore(
    map: &Mutex<HashMap<String, Arc<Semaphore>>>,
    plugin: &str,
    size: usize,
) -> Arc<Semaphore> {
    match map.lock() {
        Ok(mut m) => {
            if let Some(sem) = m.get(plugin) {
                return Arc::clone(sem);
            }
            Arc::clone(
                m.entry(plugin.to_owned())
                    .or_insert_with(|| Arc::new(Semaphore::new(size))),
            )
        }
        Err(_) => Arc::new(Semaphore::new(size)),
    }
}
