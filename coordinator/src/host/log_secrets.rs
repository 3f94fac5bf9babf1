//! [`LogSecrets`]: the secrets hidden in one plugin's stderr lines. The coordinator re-emits a
//! plugin's log lines, and a plugin may log what a receiver echoed; so every line is scrubbed
//! with the [`Scrubber`]s of the calls in flight to that plugin, and of the last
//! [`RECENT_CALLS`] finished ones (a plugin may log just after answering, and its lines reach
//! us after its answer). Bounded: in-flight calls are bounded by the host's in-flight limit,
//! the finished ones by the constant. Lines from long after a call are not covered.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use switchyard_scrub::Scrubber;

/// How many finished calls' secrets stay hidden in the lines that follow them.
pub const RECENT_CALLS: usize = 64;

/// The scrubbers of one plugin's calls in flight and recently finished. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogSecrets(Arc<Mutex<Held>>);

#[derive(Debug, Default)]
struct Held {
    next_id: u64,
    in_flight: Vec<(u64, Scrubber)>,
    recent: VecDeque<Scrubber>,
}

/// Keeps a call's secrets hidden in the plugin's lines; dropping it (the call ended) moves them
/// to the recently finished ones.
#[derive(Debug)]
pub struct HiddenInLogs {
    secrets: Option<(LogSecrets, u64)>,
}

impl LogSecrets {
    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hides `scrubber`'s secrets until the guard is dropped, and for [`RECENT_CALLS`] calls
    /// after that.
    pub(crate) fn hide(&self, scrubber: Scrubber) -> HiddenInLogs {
        if scrubber.is_empty() {
            return HiddenInLogs { secrets: None };
        }
        let mut held = self.held();
        let id = held.next_id;
        held.next_id = held.next_id.wrapping_add(1);
        held.in_flight.push((id, scrubber));
        HiddenInLogs {
            secrets: Some((self.clone(), id)),
        }
    }

    /// `line` with every hidden secret replaced.
    pub(crate) fn scrub(&self, line: String) -> String {
        let held = self.held();
        let all = held
            .in_flight
            .iter()
            .map(|(_, s)| s)
            .chain(held.recent.iter());
        all.fold(line, |mut line, scrubber| {
            scrubber.scrub_string(&mut line);
            line
        })
    }

    fn finish(&self, id: u64) {
        let mut held = self.held();
        if let Some(at) = held.in_flight.iter().position(|(i, _)| *i == id) {
            let (_, scrubber) = held.in_flight.swap_remove(at);
            if held.recent.len() == RECENT_CALLS {
                held.recent.pop_front();
            }
            held.recent.push_back(scrubber);
        }
    }
}

impl Drop for HiddenInLogs {
    fn drop(&mut self) {
        if let Some((secrets, id)) = self.secrets.take() {
            secrets.finish(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn scrubber(secret: &str) -> Scrubber {
        Scrubber::new(&[json!(secret)], [])
    }

    #[test]
    fn hides_calls_in_flight_and_recently_finished() {
        let secrets = LogSecrets::default();
        let guard = secrets.hide(scrubber("first-secret"));
        assert_eq!(secrets.scrub("got first-secret".into()), "got [REDACTED]");
        drop(guard);
        assert_eq!(secrets.scrub("late first-secret".into()), "late [REDACTED]");
    }

    #[test]
    fn forgets_the_oldest_finished_call_beyond_the_bound() {
        let secrets = LogSecrets::default();
        drop(secrets.hide(scrubber("oldest-secret")));
        for i in 0..RECENT_CALLS {
            drop(secrets.hide(scrubber(&format!("secret-number-{i}"))));
        }
        assert_eq!(secrets.scrub("oldest-secret".into()), "oldest-secret");
        assert_eq!(secrets.scrub("secret-number-0".into()), "[REDACTED]");
        assert!(secrets.held().recent.len() == RECENT_CALLS);
        assert!(secrets.held().in_flight.is_empty());
    }
}
