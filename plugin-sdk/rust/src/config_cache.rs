//! Typed configs by their text. Every `Deliver` carries its subscription's config and its
//! connection as JSON text, the same text call after call; parsing it, validating it against
//! the schema, deserializing it and building the scrubber of its secrets cost more than the
//! rest of the SDK's work on a call. So the first call with a pair of texts pays, and later
//! ones take a clone of what it built. Only valid configs are kept: an invalid one is answered
//! with its diagnostics every time. The texts are the key (compared in full on a hit, so two
//! texts with one hash never share an entry); the cache holds at most [`CAPACITY`] pairs.
//!
//! The entries hold decrypted secrets, as the call itself does; they live in the plugin's
//! memory until evicted or the plugin exits.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

/// How many (config, connection) pairs are kept: far more than the subscriptions a plugin
/// serves at once, small enough that a flood of distinct configs cannot grow the heap.
pub(crate) const CAPACITY: usize = 1024;

/// Values built from a (config text, connection text) pair, kept by that pair.
pub(crate) struct ConfigCache<T> {
    entries: Mutex<HashMap<u64, Arc<Entry<T>>>>,
}

struct Entry<T> {
    config: Box<str>,
    connection: Box<str>,
    value: T,
}

impl<T: Clone> ConfigCache<T> {
    /// The value built from `config` and `connection`: a clone of the kept one, or `build`'s
    /// (kept when it succeeds). `build` runs without the cache's lock held.
    ///
    /// # Errors
    /// `build`'s error, which is not kept.
    pub(crate) fn get_or_build<E>(
        &self,
        config: &str,
        connection: &str,
        build: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let key = key_of(config, connection);
        if let Some(entry) = self.lock().get(&key)
            && *entry.config == *config
            && *entry.connection == *connection
        {
            return Ok(entry.value.clone());
        }
        let value = build()?;
        let entry = Arc::new(Entry {
            config: config.into(),
            connection: connection.into(),
            value: value.clone(),
        });
        let mut entries = self.lock();
        if entries.len() >= CAPACITY
            && !entries.contains_key(&key)
            && let Some(&evicted) = entries.keys().next()
        {
            entries.remove(&evicted);
        }
        entries.insert(key, entry);
        Ok(value)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Entry<T>>>> {
        // The map is consistent after any panic (inserts and removes are single calls).
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> Default for ConfigCache<T> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

fn key_of(config: &str, connection: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    (config, connection).hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn builds_once_per_pair_of_texts() {
        let cache = ConfigCache::<String>::default();
        let builds = Cell::new(0);
        let build = |text: &str| {
            builds.set(builds.get() + 1);
            Ok::<_, ()>(text.to_uppercase())
        };
        assert_eq!(
            cache.get_or_build("a", "b", || build("ab")),
            Ok("AB".into())
        );
        assert_eq!(
            cache.get_or_build("a", "b", || build("xx")),
            Ok("AB".into())
        );
        assert_eq!(builds.get(), 1);
        // The same concatenation split differently is another pair.
        assert_eq!(
            cache.get_or_build("ab", "", || build("ab2")),
            Ok("AB2".into())
        );
        assert_eq!(builds.get(), 2);
    }

    #[test]
    fn failures_are_not_kept() {
        let cache = ConfigCache::<u32>::default();
        assert_eq!(cache.get_or_build("{", "", || Err("bad")), Err("bad"));
        assert_eq!(cache.get_or_build("{", "", || Ok::<_, &str>(7)), Ok(7));
    }

    #[test]
    fn holds_at_most_capacity_pairs() {
        let cache = ConfigCache::<usize>::default();
        for n in 0..CAPACITY + 10 {
            let text = n.to_string();
            assert_eq!(cache.get_or_build(&text, "", || Ok::<_, ()>(n)), Ok(n));
        }
        assert_eq!(cache.lock().len(), CAPACITY);
        let last = (CAPACITY + 9).to_string();
        assert_eq!(cache.get_or_build(&last, "", || Err(())), Ok(CAPACITY + 9));
    }
}
