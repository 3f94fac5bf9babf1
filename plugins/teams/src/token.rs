//! The Graph provider's access tokens, cached per application until shortly before they
//! expire, so many deliveries share one client-credentials request (the platform this
//! replaces asked for a new token on every call). One fetch at a time per application: the
//! deliveries that arrive meanwhile wait for its token instead of asking too. A token Graph
//! refused (401) is dropped, once, by the caller that saw it refused.
//!
//! Time comes from a [`Clock`], so tests move it past an expiry instead of sleeping.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long before its expiry a token is no longer used: a delivery must not start with a
/// token that runs out on the way (Microsoft's own libraries refresh 5 minutes early).
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(300);

/// Where time comes from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> Instant;
}

/// The system's monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that stands still until moved on (tests: token expiry without sleeping).
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    offset: Mutex<Duration>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
        }
    }
}

impl ManualClock {
    /// Moves the clock on by `by`.
    pub fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap_or_else(PoisonError::into_inner) += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + *self.offset.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Which application a token is for: the token endpoint, the client id, the scope, and a
/// fingerprint of the client secret (a new secret must not get the old secret's token; the
/// secret itself is not kept here).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenKey {
    endpoint: String,
    client_id: String,
    scope: String,
    secret_print: u64,
}

impl TokenKey {
    /// The key of an application.
    #[must_use]
    pub fn new(endpoint: &str, client_id: &str, scope: &str, secret: &str) -> Self {
        let mut hasher = DefaultHasher::new();
        secret.hash(&mut hasher);
        Self {
            endpoint: endpoint.to_owned(),
            client_id: client_id.to_owned(),
            scope: scope.to_owned(),
            secret_print: hasher.finish(),
        }
    }
}

/// A token and when it stops being usable.
#[derive(Clone)]
struct Cached {
    token: Arc<str>,
    usable_until: Instant,
}

type Slot = Arc<tokio::sync::Mutex<Option<Cached>>>;

/// The cached tokens, by application.
#[derive(Debug)]
pub struct TokenCache {
    clock: Arc<dyn Clock>,
    slots: Mutex<HashMap<TokenKey, Slot>>,
}

impl TokenCache {
    /// An empty cache on `clock`.
    #[must_use]
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            slots: Mutex::default(),
        }
    }

    fn slot(&self, key: &TokenKey) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.entry(key.clone()).or_default().clone()
    }

    /// The cached token of `key`, or the one `fetch` gets (a token and its lifetime), kept
    /// until [`EXPIRY_MARGIN`] before it expires.
    ///
    /// # Errors
    /// `fetch`'s error; nothing is cached then.
    pub async fn get<E, F>(&self, key: &TokenKey, fetch: F) -> Result<Arc<str>, E>
    where
        F: Future<Output = Result<(String, Duration), E>>,
    {
        let slot = self.slot(key);
        let mut cached = slot.lock().await;
        if let Some(c) = cached.as_ref()
            && self.clock.now() < c.usable_until
        {
            return Ok(c.token.clone());
        }
        let (token, lifetime) = fetch.await?;
        let token: Arc<str> = token.into();
        *cached = Some(Cached {
            token: token.clone(),
            usable_until: self.clock.now() + lifetime.saturating_sub(EXPIRY_MARGIN),
        });
        Ok(token)
    }

    /// Drops `token` of `key` if it is still the cached one (another delivery may have
    /// replaced it already).
    pub async fn refused(&self, key: &TokenKey, token: &str) {
        let slot = self.slot(key);
        let mut cached = slot.lock().await;
        if cached.as_ref().is_some_and(|c| &*c.token == token) {
            *cached = None;
        }
    }
}

impl std::fmt::Debug for Cached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a credential: never printed.
        f.debug_struct("Cached")
            .field("usable_until", &self.usable_until)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_token_is_reused_until_the_margin_before_expiry_and_dropped_when_refused() {
        let clock = Arc::new(ManualClock::default());
        let cache = TokenCache::new(clock.clone());
        let key = TokenKey::new("https://login/t/token", "app", "scope", "secret");
        let fetches = AtomicUsize::new(0);
        let fetch = || async {
            let n = fetches.fetch_add(1, Ordering::SeqCst) + 1;
            Ok::<_, ()>((format!("t{n}"), Duration::from_secs(3600)))
        };
        assert_eq!(&*cache.get(&key, fetch()).await.unwrap(), "t1");
        assert_eq!(&*cache.get(&key, fetch()).await.unwrap(), "t1");
        clock.advance(Duration::from_secs(3600) - EXPIRY_MARGIN - Duration::from_secs(1));
        assert_eq!(&*cache.get(&key, fetch()).await.unwrap(), "t1");
        clock.advance(Duration::from_secs(1));
        assert_eq!(&*cache.get(&key, fetch()).await.unwrap(), "t2");
        cache.refused(&key, "t1").await; // stale: t2 stays
        assert_eq!(&*cache.get(&key, fetch()).await.unwrap(), "t2");
        cache.refused(&key, "t2").await;
        assert_eq!(&*cache.get(&key, fetch()).await.unwrap(), "t3");
        let other = TokenKey::new("https://login/t/token", "app", "scope", "new secret");
        assert_eq!(&*cache.get(&other, fetch()).await.unwrap(), "t4");
        assert!(!format!("{cache:?}").contains("t4"));
    }
}
