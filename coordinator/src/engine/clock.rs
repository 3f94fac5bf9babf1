//! Wall-clock time for the engine, driven by `tokio::time` so that tests can pause and advance
//! it: `now()` is the wall clock at start plus the tokio time elapsed since. Stored due times are
//! wall-clock (they must survive restarts); waits are tokio instants.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

/// The engine's clock.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base_wall: DateTime<Utc>,
    base: Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    /// A clock anchored at the current wall time and tokio instant.
    pub fn new() -> Self {
        Self {
            base_wall: Utc::now(),
            base: Instant::now(),
        }
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        let elapsed = chrono::Duration::from_std(self.base.elapsed()).unwrap_or_default();
        self.base_wall + elapsed
    }

    /// The tokio instant at which wall time `at` is reached (now, if it has passed).
    pub fn instant_at(&self, at: DateTime<Utc>) -> Instant {
        let wait = (at - self.now()).to_std().unwrap_or(Duration::ZERO);
        Instant::now() + wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn follows_tokio_time() {
        let clock = Clock::new();
        let t0 = clock.now();
        tokio::time::advance(Duration::from_secs(90)).await;
        assert_eq!((clock.now() - t0).num_seconds(), 90);
    }
}
