//! The circuit breaker of one subscription, as pure code over explicit times: the attempts'
//! results over a sliding window (counts in [`BUCKETS`] buckets, so memory stays constant at
//! any rate), and the state machine closed → open → half-open → closed.
//!
//! Closed: attempts go. When at least `min_attempts` attempts ended in the window and at least
//! `failure_ratio` of them failed, it opens. Open: attempts are deferred until the cool-down
//! ends. Half-open: one probe attempt goes, the others are deferred briefly; the probe's
//! success closes the breaker, its failure opens it again with twice the cool-down (capped).
//! A rate-limited answer ("slow down") is neither a success nor a failure.
//!
//! It also tracks since when the subscription's attempts have failed without a success in
//! between (`failing_since`), which drives auto-disable.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Buckets of the sliding window.
const BUCKETS: i64 = 10;

/// The breaker's thresholds (the coordinator's `[guard]` config).
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerConfig {
    /// The sliding window attempts are counted over.
    pub window: Duration,
    /// Fewest attempts in the window before the breaker may open.
    pub min_attempts: u32,
    /// Fraction of failed attempts in the window that opens it (0.5: half or more).
    pub failure_ratio: f64,
    /// How long it stays open before a probe.
    pub cool_down: Duration,
    /// Upper bound of the cool-down, which doubles after each failed probe.
    pub max_cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(60),
            min_attempts: 10,
            failure_ratio: 0.5,
            cool_down: Duration::from_secs(30),
            max_cool_down: Duration::from_secs(600),
        }
    }
}

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Attempts go.
    Closed,
    /// Attempts are deferred until `until`.
    Open {
        /// End of the cool-down.
        until: DateTime<Utc>,
    },
    /// A probe may go (`probing`: it is in flight).
    HalfOpen {
        /// Whether the probe is in flight.
        probing: bool,
    },
}

/// What the breaker says to an attempt about to go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admit {
    /// Go ahead.
    Go,
    /// Go ahead as the half-open probe.
    Probe,
    /// Do not attempt; back to the schedule until then.
    Defer(DateTime<Utc>),
}

/// A change of state worth telling the platform about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    /// It opened from closed: the subscription is failing.
    Opened,
    /// It closed after being open: the subscription recovered.
    Closed,
}

/// How an attempt ended, as the breaker counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Counted {
    /// Delivered.
    Success,
    /// Failed (retryable or permanent).
    Failure,
    /// The receiver asked to slow down: not counted.
    Neutral,
}

/// A subscription's breaker.
#[derive(Debug, Clone)]
pub struct Breaker {
    state: State,
    /// When `state` was entered; `None` while it never left closed.
    since: Option<DateTime<Utc>>,
    /// Failed probes in a row (the cool-down doubles with each).
    reopened: u32,
    /// (bucket index, attempts, failures), oldest first.
    buckets: Vec<(i64, u32, u32)>,
    failing_since: Option<DateTime<Utc>>,
}

/// The breaker's state as shown to operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// The state.
    pub state: State,
    /// When it was entered; `None` while it never opened.
    pub since: Option<DateTime<Utc>>,
    /// Attempts in the window.
    pub window_attempts: u32,
    /// Failed attempts in the window.
    pub window_failures: u32,
    /// Start of the current run of failures.
    pub failing_since: Option<DateTime<Utc>>,
}

impl Default for Breaker {
    fn default() -> Self {
        Self {
            state: State::Closed,
            since: None,
            reopened: 0,
            buckets: Vec::new(),
            failing_since: None,
        }
    }
}

fn after(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl Breaker {
    /// Whether an attempt may go now.
    pub(super) fn admit(&mut self, cfg: &BreakerConfig, now: DateTime<Utc>) -> Admit {
        if let State::Open { until } = self.state {
            if now < until {
                return Admit::Defer(until);
            }
            self.enter(State::HalfOpen { probing: false }, now);
        }
        match self.state {
            State::Closed => Admit::Go,
            State::HalfOpen { probing: false } => {
                self.state = State::HalfOpen { probing: true };
                Admit::Probe
            }
            // While the probe is out, the others look again soon.
            _ => Admit::Defer(after(now, (cfg.cool_down / 4).max(PROBE_WAIT_MIN))),
        }
    }

    /// A probe ended without a result (its task stopped before the call): another may go.
    pub(super) fn probe_abandoned(&mut self) {
        if self.state == (State::HalfOpen { probing: true }) {
            self.state = State::HalfOpen { probing: false };
        }
    }

    /// Counts an attempt's result; returns the change it caused, if any.
    pub(super) fn record(
        &mut self,
        cfg: &BreakerConfig,
        result: Counted,
        now: DateTime<Utc>,
    ) -> Option<Change> {
        match result {
            Counted::Neutral => {
                self.probe_abandoned();
                None
            }
            Counted::Success => {
                self.count(cfg, now, false);
                self.failing_since = None;
                self.reopened = 0;
                if self.state == State::Closed {
                    return None;
                }
                self.enter(State::Closed, now);
                // A fresh start: the failures that opened it are not held against it.
                self.buckets.clear();
                Some(Change::Closed)
            }
            Counted::Failure => {
                self.count(cfg, now, true);
                self.failing_since.get_or_insert(now);
                self.on_failure(cfg, now)
            }
        }
    }

    fn on_failure(&mut self, cfg: &BreakerConfig, now: DateTime<Utc>) -> Option<Change> {
        match self.state {
            State::HalfOpen { .. } => {
                self.reopened = self.reopened.saturating_add(1);
                let factor = 2u32.saturating_pow(self.reopened.min(16));
                let cool = cfg.cool_down.saturating_mul(factor).min(cfg.max_cool_down);
                let until = after(now, cool.max(cfg.cool_down));
                self.enter(State::Open { until }, now);
                None
            }
            State::Open { .. } => None,
            State::Closed => {
                let (attempts, failures) = self.totals(cfg, now);
                let ratio = f64::from(failures) / f64::from(attempts.max(1));
                if attempts < cfg.min_attempts.max(1) || ratio < cfg.failure_ratio {
                    return None;
                }
                let until = after(now, cfg.cool_down);
                self.enter(State::Open { until }, now);
                Some(Change::Opened)
            }
        }
    }

    fn enter(&mut self, state: State, now: DateTime<Utc>) {
        self.state = state;
        self.since = Some(now);
    }

    /// The bucket index of `now` (buckets are `window / BUCKETS` long).
    fn bucket(cfg: &BreakerConfig, now: DateTime<Utc>) -> i64 {
        let width = i64::try_from(cfg.window.as_millis()).unwrap_or(i64::MAX) / BUCKETS;
        now.timestamp_millis() / width.max(1)
    }

    fn count(&mut self, cfg: &BreakerConfig, now: DateTime<Utc>, failed: bool) {
        let index = Self::bucket(cfg, now);
        self.buckets.retain(|(i, _, _)| index - i < BUCKETS);
        match self.buckets.last_mut() {
            Some((i, attempts, failures)) if *i == index => {
                *attempts = attempts.saturating_add(1);
                *failures = failures.saturating_add(u32::from(failed));
            }
            _ => self.buckets.push((index, 1, u32::from(failed))),
        }
    }

    /// Attempts and failures in the window ending now.
    fn totals(&self, cfg: &BreakerConfig, now: DateTime<Utc>) -> (u32, u32) {
        let index = Self::bucket(cfg, now);
        self.buckets
            .iter()
            .filter(|(i, _, _)| index - i < BUCKETS)
            .fold((0, 0), |(a, f), (_, ba, bf)| {
                (a.saturating_add(*ba), f.saturating_add(*bf))
            })
    }

    /// Whether attempts go unhindered.
    pub(super) fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Start of the current run of failures.
    pub(super) fn failing_since(&self) -> Option<DateTime<Utc>> {
        self.failing_since
    }

    /// The state for operators.
    pub fn snapshot(&self, cfg: &BreakerConfig, now: DateTime<Utc>) -> Snapshot {
        let (window_attempts, window_failures) = self.totals(cfg, now);
        Snapshot {
            state: self.state,
            since: self.since,
            window_attempts,
            window_failures,
            failing_since: self.failing_since,
        }
    }
}

/// Shortest wait of an attempt deferred while the probe is out.
const PROBE_WAIT_MIN: Duration = Duration::from_millis(250);

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(1_000_000 + s)
    }

    fn cfg() -> BreakerConfig {
        BreakerConfig {
            window: Duration::from_secs(60),
            min_attempts: 4,
            failure_ratio: 0.5,
            cool_down: Duration::from_secs(10),
            max_cool_down: Duration::from_secs(30),
        }
    }

    #[test]
    fn opens_when_most_attempts_in_the_window_fail_and_not_before_the_minimum() {
        let (c, mut b) = (cfg(), Breaker::default());
        assert_eq!(b.record(&c, Counted::Success, at(0)), None);
        assert_eq!(b.record(&c, Counted::Failure, at(1)), None);
        assert_eq!(
            b.record(&c, Counted::Failure, at(2)),
            None,
            "3 attempts < 4"
        );
        assert_eq!(b.admit(&c, at(2)), Admit::Go);
        assert_eq!(b.record(&c, Counted::Failure, at(3)), Some(Change::Opened));
        assert_eq!(b.admit(&c, at(4)), Admit::Defer(at(13)));
        assert_eq!(b.failing_since(), Some(at(1)));
    }

    #[test]
    fn old_failures_leave_the_window() {
        let (c, mut b) = (cfg(), Breaker::default());
        for s in 0..3 {
            b.record(&c, Counted::Failure, at(s));
        }
        // A minute later the three are out of the window: one more failure is 1 of 1 < 4.
        assert_eq!(b.record(&c, Counted::Failure, at(100)), None);
        assert_eq!(b.snapshot(&c, at(100)).window_attempts, 1);
    }

    #[test]
    fn a_probe_after_the_cool_down_closes_it_on_success() {
        let (c, mut b) = (cfg(), Breaker::default());
        for s in 0..4 {
            b.record(&c, Counted::Failure, at(s));
        }
        assert_eq!(b.admit(&c, at(13)), Admit::Probe);
        // Only one probe at a time; the others look again after a quarter cool-down.
        let soon = at(13) + chrono::Duration::milliseconds(2500);
        assert_eq!(b.admit(&c, at(13)), Admit::Defer(soon));
        assert_eq!(b.record(&c, Counted::Success, at(14)), Some(Change::Closed));
        assert_eq!(b.admit(&c, at(14)), Admit::Go);
        assert_eq!(b.failing_since(), None);
        assert_eq!(b.snapshot(&c, at(14)).window_failures, 0);
    }

    #[test]
    fn a_failed_probe_reopens_with_a_doubled_capped_cool_down() {
        let (c, mut b) = (cfg(), Breaker::default());
        for s in 0..4 {
            b.record(&c, Counted::Failure, at(s));
        }
        assert_eq!(b.admit(&c, at(13)), Admit::Probe);
        assert_eq!(b.record(&c, Counted::Failure, at(13)), None);
        assert_eq!(b.admit(&c, at(14)), Admit::Defer(at(33)));
        assert_eq!(b.admit(&c, at(33)), Admit::Probe);
        b.record(&c, Counted::Failure, at(33));
        // 40 s would be twice again; the cap is 30 s.
        assert_eq!(b.admit(&c, at(34)), Admit::Defer(at(63)));
        assert_eq!(b.failing_since(), Some(at(0)));
    }

    #[test]
    fn an_abandoned_probe_lets_another_go_and_slow_down_answers_do_not_count() {
        let (c, mut b) = (cfg(), Breaker::default());
        for s in 0..4 {
            b.record(&c, Counted::Failure, at(s));
        }
        assert_eq!(b.admit(&c, at(13)), Admit::Probe);
        b.probe_abandoned();
        assert_eq!(b.admit(&c, at(13)), Admit::Probe);
        assert_eq!(b.record(&c, Counted::Neutral, at(13)), None);
        assert_eq!(b.admit(&c, at(13)), Admit::Probe);
        assert_eq!(b.snapshot(&c, at(13)).window_attempts, 4);
    }
}
