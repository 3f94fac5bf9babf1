//! Whether the coordinator is ready for traffic: its store is open, its plugins have been
//! started (those that failed are reported, not waited for, as the API does) and the API is
//! listening. `/healthz` says only that the process answers; `/readyz` says this.

use std::sync::atomic::{AtomicU8, Ordering};

/// One step of the start on the way to ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Step {
    /// The store is open.
    StoreOpen = 1,
    /// Every plugin was started (or failed and was reported).
    PluginsStarted = 2,
    /// The API accepts calls.
    ApiListening = 4,
}

const ALL: u8 = Step::StoreOpen as u8 | Step::PluginsStarted as u8 | Step::ApiListening as u8;

/// The steps done so far; shared by `serve` (which marks them) and the HTTP listener.
#[derive(Debug, Default)]
pub struct Readiness(AtomicU8);

impl Readiness {
    /// Marks `step` done.
    pub fn done(&self, step: Step) {
        self.0.fetch_or(step as u8, Ordering::SeqCst);
    }

    /// Marks the coordinator as stopping: not ready any more.
    pub fn stopping(&self) {
        self.0.store(0, Ordering::SeqCst);
    }

    /// The steps still missing, by name; empty when ready.
    #[must_use]
    pub fn missing(&self) -> Vec<&'static str> {
        let done = self.0.load(Ordering::SeqCst);
        [
            (Step::StoreOpen, "store"),
            (Step::PluginsStarted, "plugins"),
            (Step::ApiListening, "api"),
        ]
        .into_iter()
        .filter(|(step, _)| done & *step as u8 == 0)
        .map(|(_, name)| name)
        .collect()
    }

    /// Whether every step is done.
    #[must_use]
    pub fn ready(&self) -> bool {
        self.0.load(Ordering::SeqCst) == ALL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_once_every_step_is_done_and_not_after_stopping() {
        let r = Readiness::default();
        assert_eq!(r.missing(), ["store", "plugins", "api"]);
        r.done(Step::StoreOpen);
        r.done(Step::PluginsStarted);
        assert!(!r.ready());
        assert_eq!(r.missing(), ["api"]);
        r.done(Step::ApiListening);
        assert!(r.ready());
        r.stopping();
        assert!(!r.ready());
    }
}
