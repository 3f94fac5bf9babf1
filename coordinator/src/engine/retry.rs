//! The retry policy as pure code: (attempt, outcome, retry-after hint, policy, limits, rng) →
//! [`Decision`]. No I/O and no clock: the caller passes the time left before the delivery's
//! deadline and an RNG for the jitter, so every rule is unit-tested here.
//!
//! Rules: a delivered attempt succeeds; a manual attempt never schedules a retry; a permanent
//! failure stops at once; a rate-limited attempt is deferred by its retry-after hint (capped)
//! without using up the retry budget; a retryable failure uses one unit of budget and waits the
//! policy's next delay (with jitter), or longer if the plugin asked for it (capped); nothing is
//! scheduled past the delivery deadline.

use std::time::Duration;

use rand::Rng;

use crate::model::{AttemptTrigger, RetryPolicy};

/// How an attempt ended, with the plugin's retry-after hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered.
    Delivered,
    /// A transient failure; the hint (if any) asks for at least this long a wait.
    Retryable {
        /// The plugin's retry-after hint.
        retry_after: Option<Duration>,
    },
    /// The receiver asked us to slow down.
    RateLimited {
        /// The plugin's retry-after hint.
        retry_after: Option<Duration>,
    },
    /// Retrying cannot help.
    Permanent,
}

/// Why a delivery is given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// The attempt failed permanently.
    Permanent,
    /// The retry budget is used up after this many counted attempts.
    Exhausted {
        /// Counted attempts made.
        attempts: u32,
    },
    /// The next attempt would fall after the delivery deadline.
    DeadlinePassed,
    /// A manual attempt failed (manual attempts never schedule retries).
    ManualFailed,
}

impl std::fmt::Display for GiveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Permanent => f.write_str("permanent failure"),
            Self::Exhausted { attempts } => {
                write!(f, "retries exhausted after {attempts} attempts")
            }
            Self::DeadlinePassed => f.write_str("delivery deadline passed"),
            Self::ManualFailed => f.write_str("manual attempt failed"),
        }
    }
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The delivery succeeded.
    Succeed,
    /// Try again after `delay`.
    Retry {
        /// How long to wait.
        delay: Duration,
        /// Whether this attempt used one unit of the retry budget.
        counted: bool,
    },
    /// Stop; the delivery failed.
    GiveUp(GiveUp),
}

/// Everything [`decide`] needs besides the outcome.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// What started the attempt.
    pub trigger: AttemptTrigger,
    /// Counted attempts before this one.
    pub budget_used: u32,
    /// The policy in force (the subscription's or the default).
    pub policy: &'a RetryPolicy,
    /// Upper bound for a plugin's retry-after hint.
    pub retry_after_cap: Duration,
    /// Time left until the delivery's deadline.
    pub deadline_left: Duration,
}

/// Without a hint, a rate-limited attempt waits this long (or the policy's next delay, if
/// shorter would be rude: we take the larger).
const RATE_LIMIT_DEFAULT: Duration = Duration::from_secs(1);

/// Decides what follows an attempt.
pub fn decide(ctx: &Context<'_>, outcome: Outcome, rng: &mut impl Rng) -> Decision {
    match outcome {
        Outcome::Delivered => Decision::Succeed,
        _ if ctx.trigger == AttemptTrigger::Manual => Decision::GiveUp(GiveUp::ManualFailed),
        Outcome::Permanent => Decision::GiveUp(GiveUp::Permanent),
        Outcome::RateLimited { retry_after } => {
            let delay = retry_after
                .unwrap_or(RATE_LIMIT_DEFAULT)
                .min(ctx.retry_after_cap);
            within_deadline(ctx, delay, false)
        }
        Outcome::Retryable { retry_after } => {
            let used = ctx.budget_used.saturating_add(1);
            if used >= ctx.policy.max_attempts() {
                return Decision::GiveUp(GiveUp::Exhausted { attempts: used });
            }
            let index = usize::try_from(used - 1).unwrap_or(usize::MAX);
            let base = ctx.policy.delays.get(index).copied().unwrap_or_default();
            let scheduled = jitter(base, ctx.policy.jitter, rng);
            let asked = retry_after.map_or(Duration::ZERO, |h| h.min(ctx.retry_after_cap));
            within_deadline(ctx, scheduled.max(asked), true)
        }
    }
}

fn within_deadline(ctx: &Context<'_>, delay: Duration, counted: bool) -> Decision {
    if delay > ctx.deadline_left {
        Decision::GiveUp(GiveUp::DeadlinePassed)
    } else {
        Decision::Retry { delay, counted }
    }
}

/// `base` scaled by a uniform factor in `1 ± ratio` (ratio clamped to 0..=1).
pub fn jitter(base: Duration, ratio: f64, rng: &mut impl Rng) -> Duration {
    let ratio = if ratio.is_finite() {
        ratio.clamp(0.0, 1.0)
    } else {
        0.0
    };
    if ratio == 0.0 || base.is_zero() {
        return base;
    }
    let factor = 1.0 + rng.random_range(-ratio..=ratio);
    base.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const HOUR: Duration = Duration::from_secs(3600);

    fn ctx(policy: &RetryPolicy, budget_used: u32) -> Context<'_> {
        Context {
            trigger: AttemptTrigger::Scheduled,
            budget_used,
            policy,
            retry_after_cap: HOUR,
            deadline_left: 24 * HOUR,
        }
    }

    fn retryable() -> Outcome {
        Outcome::Retryable { retry_after: None }
    }

    fn no_jitter() -> RetryPolicy {
        RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn default_policy_is_four_attempts_at_1_5_15_minutes() {
        let p = no_jitter();
        let mut rng = StdRng::seed_from_u64(1);
        let delays: Vec<Decision> = (0..4)
            .map(|u| decide(&ctx(&p, u), retryable(), &mut rng))
            .collect();
        let min = |m: u64| Decision::Retry {
            delay: Duration::from_secs(60 * m),
            counted: true,
        };
        assert_eq!(delays[0], min(1));
        assert_eq!(delays[1], min(5));
        assert_eq!(delays[2], min(15));
        assert_eq!(
            delays[3],
            Decision::GiveUp(GiveUp::Exhausted { attempts: 4 })
        );
    }

    #[test]
    fn permanent_failure_stops_at_once() {
        let p = RetryPolicy::default();
        let d = decide(
            &ctx(&p, 0),
            Outcome::Permanent,
            &mut StdRng::seed_from_u64(1),
        );
        assert_eq!(d, Decision::GiveUp(GiveUp::Permanent));
    }

    #[test]
    fn rate_limit_honours_hint_without_using_budget() {
        let p = RetryPolicy::default();
        let hint = Some(Duration::from_secs(30));
        let d = decide(
            &ctx(&p, 3),
            Outcome::RateLimited { retry_after: hint },
            &mut StdRng::seed_from_u64(1),
        );
        assert_eq!(
            d,
            Decision::Retry {
                delay: Duration::from_secs(30),
                counted: false
            }
        );
    }

    #[test]
    fn retry_after_is_capped() {
        let p = no_jitter();
        let mut c = ctx(&p, 0);
        c.retry_after_cap = Duration::from_secs(10);
        let d = decide(
            &c,
            Outcome::RateLimited {
                retry_after: Some(HOUR),
            },
            &mut StdRng::seed_from_u64(1),
        );
        assert_eq!(
            d,
            Decision::Retry {
                delay: Duration::from_secs(10),
                counted: false
            }
        );
        let d = decide(
            &c,
            Outcome::Retryable {
                retry_after: Some(HOUR),
            },
            &mut StdRng::seed_from_u64(1),
        );
        assert_eq!(
            d,
            Decision::Retry {
                delay: Duration::from_secs(60),
                counted: true
            }
        );
    }

    #[test]
    fn a_longer_hint_on_a_retryable_failure_extends_the_wait() {
        let p = no_jitter();
        let hint = Some(Duration::from_secs(200));
        let d = decide(
            &ctx(&p, 0),
            Outcome::Retryable { retry_after: hint },
            &mut StdRng::seed_from_u64(1),
        );
        assert_eq!(
            d,
            Decision::Retry {
                delay: Duration::from_secs(200),
                counted: true
            }
        );
    }

    #[test]
    fn rate_limited_deferrals_stop_at_the_deadline() {
        let p = RetryPolicy::default();
        let mut c = ctx(&p, 0);
        c.deadline_left = Duration::from_secs(5);
        let hint = Some(Duration::from_secs(30));
        let d = decide(
            &c,
            Outcome::RateLimited { retry_after: hint },
            &mut StdRng::seed_from_u64(1),
        );
        assert_eq!(d, Decision::GiveUp(GiveUp::DeadlinePassed));
    }

    #[test]
    fn manual_attempts_never_schedule_retries() {
        let p = RetryPolicy::default();
        let mut c = ctx(&p, 0);
        c.trigger = AttemptTrigger::Manual;
        let d = decide(&c, retryable(), &mut StdRng::seed_from_u64(1));
        assert_eq!(d, Decision::GiveUp(GiveUp::ManualFailed));
        assert_eq!(
            decide(&c, Outcome::Delivered, &mut StdRng::seed_from_u64(1)),
            Decision::Succeed
        );
    }

    #[test]
    fn jitter_stays_within_its_band_and_varies() {
        let mut rng = StdRng::seed_from_u64(42);
        let base = Duration::from_secs(100);
        let samples: Vec<Duration> = (0..200).map(|_| jitter(base, 0.2, &mut rng)).collect();
        assert!(
            samples
                .iter()
                .all(|d| *d >= Duration::from_secs(80) && *d <= Duration::from_secs(120))
        );
        assert!(samples.iter().any(|d| *d != samples[0]));
    }
}
