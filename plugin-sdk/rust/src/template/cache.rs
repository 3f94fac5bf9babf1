//! [`TemplateCache`]: compiled templates by their text, so a plugin compiles a subscription's
//! template once rather than per delivery. Bounded (the oldest text is dropped first); the
//! field path is not part of the key, so one text used in two fields compiles once and each
//! [`Template`] still names its own field.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{Compiled, Limits, Template, TemplateError, compile};

/// Compiled templates by their text, at most `capacity` of them (the oldest is dropped first).
/// Share one per provider; compile errors are not kept.
pub struct TemplateCache {
    limits: Limits,
    capacity: usize,
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_source: HashMap<Arc<str>, Arc<Compiled>>,
    order: VecDeque<Arc<str>>,
}

impl std::fmt::Debug for TemplateCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateCache")
            .field("limits", &self.limits)
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

impl TemplateCache {
    /// The default number of templates kept.
    pub const DEFAULT_CAPACITY: usize = 256;

    /// A cache of at most `capacity` (at least 1) templates compiled with `limits`.
    #[must_use]
    pub fn new(limits: Limits, capacity: usize) -> Self {
        Self {
            limits,
            capacity: capacity.max(1),
            entries: Mutex::new(Entries::default()),
        }
    }

    /// The template for the field at `path` with text `source`, compiled on first use.
    ///
    /// # Errors
    /// As [`Template::compile`].
    pub fn get(&self, path: &str, source: &str) -> Result<Template, TemplateError> {
        if let Some(compiled) = self.lock().by_source.get(source) {
            return Ok(Template {
                path: path.into(),
                compiled: compiled.clone(),
            });
        }
        // Compiled outside the lock: two callers may compile the same text once each, which is
        // cheaper than serialising every compile.
        let compiled = Arc::new(compile(path, source, &self.limits)?);
        self.insert(source, compiled.clone());
        Ok(Template {
            path: path.into(),
            compiled,
        })
    }

    /// How many templates are kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().by_source.len()
    }

    /// True when no template is kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert(&self, source: &str, compiled: Arc<Compiled>) {
        let mut entries = self.lock();
        let key: Arc<str> = source.into();
        if entries.by_source.insert(key.clone(), compiled).is_some() {
            return;
        }
        entries.order.push_back(key);
        while entries.order.len() > self.capacity {
            if let Some(oldest) = entries.order.pop_front() {
                entries.by_source.remove(&oldest);
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // The map stays consistent at every await-free step, so a panic elsewhere cannot
        // leave it half-updated.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for TemplateCache {
    fn default() -> Self {
        Self::new(Limits::default(), Self::DEFAULT_CAPACITY)
    }
}
