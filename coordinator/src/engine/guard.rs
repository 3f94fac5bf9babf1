//! Protection of receivers and of the engine from one another, per subscription: the rate limit
//! ([`rate_limit`](super::rate_limit)), the circuit breaker ([`breaker`](super::breaker)) and
//! auto-disable. The attempt task asks [`Guard::gate`] before it takes its permits, and reports
//! each result to [`Guard::record`], which returns what the engine must do about it (tell the
//! platform through an operational event, disable the subscription).
//!
//! All of this state is in memory on this coordinator: a restart starts every breaker closed,
//! every bucket full and every failure run afresh. What must survive — a subscription disabled
//! and why — is written to the subscription itself.
//!
//! Scheduled attempts are gated by both; manual and test attempts (an operator's explicit
//! request) only wait for their rate-limit token, and their results count like any other, so
//! a successful manual redelivery closes an open breaker.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::breaker::{Admit, Breaker, BreakerConfig, Change, Counted, Snapshot, State};
use super::rate_limit::{RateLimits, Slot};
use super::retry::Outcome;
use super::{Inner, operational};
use crate::model::{Delivery, Subscription, SubscriptionId};

/// The guard's settings (the coordinator's `[guard]` config).
#[derive(Debug, Clone, PartialEq)]
pub struct GuardConfig {
    /// The circuit breaker's thresholds.
    pub breaker: BreakerConfig,
    /// A subscription whose attempts have failed without a success for this long is disabled;
    /// `None`: never.
    pub auto_disable_after: Option<Duration>,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            breaker: BreakerConfig::default(),
            auto_disable_after: Some(Duration::from_secs(72 * 3600)),
        }
    }
}

/// What the attempt task does before its plugin call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Gate {
    /// Go after waiting this long (zero: at once); `probe`: as the breaker's half-open probe.
    Go {
        /// How long to wait for the rate-limit token first.
        wait: Duration,
        /// Whether this attempt is the breaker's probe.
        probe: bool,
    },
    /// Do not attempt now: back to the schedule, due at `until`, no attempt recorded.
    Defer {
        /// When it is due again.
        until: DateTime<Utc>,
        /// Why; `None` for the rate limit (normal operation, nothing to show).
        reason: Option<String>,
    },
}

/// What the engine does after a result.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Action {
    /// The breaker opened: the subscription is failing.
    Failing(Snapshot),
    /// The breaker closed again after being open.
    Recovered {
        /// Start of the run of failures that ended.
        failing_since: Option<DateTime<Utc>>,
    },
    /// Disable the subscription with this reason.
    Disable {
        /// Why, for `disabled_reason`.
        reason: String,
        /// Start of the run of failures.
        failing_since: DateTime<Utc>,
    },
}

/// The per-subscription guards of one engine.
#[derive(Debug, Default)]
pub(super) struct Guard {
    cfg: GuardConfig,
    rates: RateLimits,
    breakers: Mutex<HashMap<SubscriptionId, Breaker>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Guard {
    pub(super) fn new(cfg: GuardConfig) -> Self {
        Self {
            cfg,
            ..Self::default()
        }
    }

    /// Whether (and when) the attempt of `d` for `sub` may go. `gated`: a scheduled attempt
    /// (manual and test attempts pass the breaker and wait for their token however long).
    pub(super) fn gate(
        &self,
        d: &Delivery,
        sub: &Subscription,
        gated: bool,
        now: DateTime<Utc>,
    ) -> Gate {
        let mut probe = false;
        if gated {
            let mut breakers = lock(&self.breakers);
            let breaker = breakers.entry(sub.id).or_default();
            match breaker.admit(&self.cfg.breaker, now) {
                Admit::Go => {}
                Admit::Probe => probe = true,
                Admit::Defer(until) => {
                    let s = breaker.snapshot(&self.cfg.breaker, now);
                    let reason = format!(
                        "deferred until {}: the circuit breaker is open ({} of {} attempts in \
                         the last {} failed); no retry budget is used",
                        until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        s.window_failures,
                        s.window_attempts,
                        humantime::format_duration(self.cfg.breaker.window),
                    );
                    return Gate::Defer {
                        until,
                        reason: Some(reason),
                    };
                }
            }
        }
        let Some(limit) = sub.rate_limit else {
            return Gate::Go {
                wait: Duration::ZERO,
                probe,
            };
        };
        match self.rates.slot(sub.id, limit, d.id, gated, now) {
            Slot::Wait(wait) => Gate::Go { wait, probe },
            Slot::Later(until) => {
                if probe {
                    self.abandon_probe(sub.id);
                }
                Gate::Defer {
                    until,
                    reason: None,
                }
            }
        }
    }

    /// The probe admitted for `sub` ended without a result (shutdown, cancelled, deferred).
    pub(super) fn abandon_probe(&self, sub: SubscriptionId) {
        if let Some(b) = lock(&self.breakers).get_mut(&sub) {
            b.probe_abandoned();
        }
    }

    /// Counts the result of an attempt of `sub`; returns what follows from it.
    pub(super) fn record(
        &self,
        sub: &Subscription,
        outcome: Outcome,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Vec<Action> {
        let counted = match outcome {
            Outcome::Delivered => Counted::Success,
            Outcome::RateLimited { .. } => Counted::Neutral,
            Outcome::Retryable { .. } | Outcome::Permanent => Counted::Failure,
        };
        let mut breakers = lock(&self.breakers);
        let breaker = breakers.entry(sub.id).or_default();
        let failing_since = breaker.failing_since();
        let mut actions = Vec::new();
        match breaker.record(&self.cfg.breaker, counted, now) {
            Some(Change::Opened) => {
                actions.push(Action::Failing(breaker.snapshot(&self.cfg.breaker, now)));
                crate::observe::metrics::circuit_changed(&sub.provider_id, "open");
            }
            Some(Change::Closed) => {
                actions.push(Action::Recovered { failing_since });
                crate::observe::metrics::circuit_changed(&sub.provider_id, "closed");
            }
            None => {}
        }
        if let Some(action) = self.auto_disable(sub, breaker, error, now) {
            // Re-enabled later, it starts afresh.
            breakers.remove(&sub.id);
            actions.push(action);
        }
        if !actions.is_empty() {
            report_open(&breakers);
        }
        actions
    }

    /// The disable action when `sub`'s attempts have failed for longer than allowed.
    fn auto_disable(
        &self,
        sub: &Subscription,
        breaker: &Breaker,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Option<Action> {
        let after = self.cfg.auto_disable_after?;
        let since = breaker.failing_since()?;
        let failing = (now - since).to_std().unwrap_or_default();
        if !sub.enabled || failing < after {
            return None;
        }
        let reason = format!(
            "disabled by the coordinator: its deliveries have failed continuously since {} \
             (guard.auto_disable_after is {}); last error: {}; fix the receiver, then enable the \
             subscription again",
            since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            humantime::format_duration(after),
            error.unwrap_or("none given"),
        );
        Some(Action::Disable {
            reason,
            failing_since: since,
        })
    }

    /// The breaker of `sub` as shown to operators (closed when it has none yet).
    pub(super) fn snapshot(&self, sub: SubscriptionId, now: DateTime<Utc>) -> Snapshot {
        lock(&self.breakers)
            .get(&sub)
            .cloned()
            .unwrap_or_default()
            .snapshot(&self.cfg.breaker, now)
    }

    /// Forgets a deleted subscription.
    pub(super) fn forget(&self, sub: SubscriptionId) {
        self.rates.forget(sub);
        let mut breakers = lock(&self.breakers);
        if breakers.remove(&sub).is_some() {
            report_open(&breakers);
        }
    }
}

/// Sets the gauge of breakers not closed (on changes only: it is a scan).
fn report_open(breakers: &HashMap<SubscriptionId, Breaker>) {
    let open = breakers.values().filter(|b| !b.is_closed()).count();
    crate::observe::metrics::circuits_open(open);
}

/// Carries out what [`Guard::record`] returned for `sub`: the operational events, and
/// disabling the subscription (as a user's disable does: its scheduled deliveries are
/// cancelled; only `enabled`, `disabled_reason` and `updated_at` of the stored record change).
pub(super) fn act(inner: &Arc<Inner>, sub: &Subscription, actions: Vec<Action>) {
    let now = inner.clock.now();
    for action in actions {
        match action {
            Action::Failing(s) => {
                let until = match s.state {
                    State::Open { until } => Some(until),
                    _ => None,
                };
                tracing::warn!(subscription = %sub.id, failures = s.window_failures,
                    attempts = s.window_attempts, "circuit breaker opened; deferring attempts");
                operational::failing(inner, sub, &s, until);
            }
            Action::Recovered { failing_since } => {
                tracing::info!(subscription = %sub.id, "circuit breaker closed; delivering again");
                operational::recovered(inner, sub, failing_since, now);
            }
            Action::Disable {
                reason,
                failing_since,
            } => {
                if disable(inner, sub.id, &reason, now) {
                    crate::observe::metrics::auto_disabled(&sub.provider_id);
                    operational::disabled(inner, sub, &reason, failing_since, now);
                }
            }
        }
    }
}

/// Disables `id` with `reason` unless it is disabled already; true when this call did.
fn disable(inner: &Inner, id: SubscriptionId, reason: &str, now: DateTime<Utc>) -> bool {
    let mut changed = false;
    let written = inner.store.modify_subscription(id, &mut |stored| {
        changed = stored.enabled;
        stored.enabled.then(|| Subscription {
            enabled: false,
            disabled_reason: Some(reason.to_owned()),
            updated_at: now,
            ..stored.clone()
        })
    });
    match written {
        Ok(_) if changed => {}
        Ok(_) => return false,
        Err(e) => {
            tracing::error!(subscription = %id, error = %e, "cannot disable the failing subscription");
            return false;
        }
    }
    tracing::warn!(subscription = %id, %reason, "subscription disabled: failing continuously");
    match inner.cancel_scheduled(id) {
        Ok(n) => {
            tracing::info!(subscription = %id, cancelled = n, "scheduled deliveries cancelled")
        }
        Err(e) => tracing::error!(subscription = %id, error = %e, "cannot cancel deliveries"),
    }
    true
}
