//! `[guard]`: per-subscription protection of receivers and of the coordinator — the circuit
//! breaker's thresholds and auto-disable. (Rate limits are set on each subscription.)

use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, duration, invalid};

/// The validated `[guard]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardConfig {
    /// The window the breaker counts attempts over.
    pub breaker_window: Duration,
    /// Fewest attempts in the window before the breaker may open.
    pub breaker_min_attempts: u32,
    /// Fraction of failed attempts in the window that opens the breaker.
    pub breaker_failure_ratio: f64,
    /// How long the breaker stays open before a probe.
    pub breaker_cool_down: Duration,
    /// Upper bound of the cool-down (it doubles after each failed probe).
    pub breaker_max_cool_down: Duration,
    /// Failing continuously this long disables a subscription; `None`: never.
    pub auto_disable_after: Option<Duration>,
}

/// `[guard]` as written (see default.toml for each key).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGuard {
    breaker_window: String,
    breaker_min_attempts: u32,
    breaker_failure_ratio: f64,
    breaker_cool_down: String,
    breaker_max_cool_down: String,
    auto_disable_after: String,
}

impl Default for RawGuard {
    /// The values of default.toml, for a config table built without it.
    fn default() -> Self {
        Self {
            breaker_window: "1m".into(),
            breaker_min_attempts: 10,
            breaker_failure_ratio: 0.5,
            breaker_cool_down: "30s".into(),
            breaker_max_cool_down: "10m".into(),
            auto_disable_after: "3days".into(),
        }
    }
}

/// Checks `[guard]`; the error names the key and what to write instead.
pub(super) fn validate(raw: RawGuard) -> Result<GuardConfig, ConfigError> {
    let window = duration("guard.breaker_window", &raw.breaker_window)?;
    if window < Duration::from_secs(1) {
        return Err(invalid(
            "guard.breaker_window",
            format!("{:?} is shorter than 1s", raw.breaker_window),
        ));
    }
    if raw.breaker_min_attempts == 0 {
        return Err(invalid(
            "guard.breaker_min_attempts",
            "must be at least 1".into(),
        ));
    }
    let ratio = raw.breaker_failure_ratio;
    if !(ratio > 0.0 && ratio <= 1.0) {
        return Err(invalid(
            "guard.breaker_failure_ratio",
            format!(
                "{ratio} is not a fraction above 0.0 and at most 1.0 (0.5: half or more failed)"
            ),
        ));
    }
    let cool_down = duration("guard.breaker_cool_down", &raw.breaker_cool_down)?;
    let max_cool_down = duration("guard.breaker_max_cool_down", &raw.breaker_max_cool_down)?;
    if cool_down.is_zero() || max_cool_down < cool_down {
        return Err(invalid(
            "guard.breaker_cool_down",
            format!(
                "must be above zero and at most guard.breaker_max_cool_down ({:?})",
                raw.breaker_max_cool_down
            ),
        ));
    }
    let auto = duration("guard.auto_disable_after", &raw.auto_disable_after)?;
    Ok(GuardConfig {
        breaker_window: window,
        breaker_min_attempts: raw.breaker_min_attempts,
        breaker_failure_ratio: ratio,
        breaker_cool_down: cool_down,
        breaker_max_cool_down: max_cool_down,
        auto_disable_after: (!auto.is_zero()).then_some(auto),
    })
}
