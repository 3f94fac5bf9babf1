//! The delivery guard in the CLI: `switchyard subscriptions rate-limit` (set or remove a
//! subscription's rate limit), and how `show` prints the rate limit and the circuit breaker.

use serde_json::{Value, json};
use switchyard_proto::coordinator::v1::{
    CircuitBreaker, CircuitState, GetSubscriptionRequest, RateLimit, Subscription,
    UpdateSubscriptionRequest,
};

use super::Body;
use crate::cli::client::Clients;
use crate::cli::output::{ts, ts_json};

/// Arguments of `switchyard subscriptions rate-limit`.
#[derive(Debug, clap::Args)]
pub struct RateLimitArgs {
    /// Subscription id.
    id: String,
    /// At most this many attempts per second (e.g. 1, or 0.5 for one every 2 s); deliveries
    /// over it wait for a token instead of failing.
    #[arg(long, value_name = "PER_SECOND", required_unless_present = "none")]
    per_second: Option<f64>,
    /// Attempts that may go at once after a quiet period (default: one second's worth).
    #[arg(long, requires = "per_second")]
    burst: Option<u32>,
    /// Remove the rate limit.
    #[arg(long, conflicts_with = "per_second")]
    none: bool,
}

/// Sets (or removes) the rate limit: reads the subscription and writes it back with only that
/// changed (its secrets travel as the redaction marker, which keeps the stored values).
pub(super) async fn set_rate_limit(
    a: RateLimitArgs,
    c: &mut Clients,
) -> Result<Subscription, String> {
    let api = &mut c.subscriptions;
    let mut sub = api
        .get_subscription(GetSubscriptionRequest { id: a.id })
        .await
        .body()?
        .subscription
        .unwrap_or_default();
    sub.rate_limit = a
        .per_second
        .filter(|_| !a.none)
        .map(|events_per_second| RateLimit {
            events_per_second,
            burst: a.burst.unwrap_or(0),
        });
    sub.circuit_breaker = None;
    let req = UpdateSubscriptionRequest {
        subscription: Some(sub),
    };
    Ok(api
        .update_subscription(req)
        .await
        .body()?
        .subscription
        .unwrap_or_default())
}

/// "5/s, burst 5", or "-" for none.
pub(super) fn rate_limit_text(r: Option<&RateLimit>) -> String {
    r.map_or_else(
        || "-".into(),
        |r| format!("{}/s, burst {}", r.events_per_second, r.burst),
    )
}

/// "closed", "open" or "half-open" ("-" when not reported).
pub(super) fn circuit_word(c: Option<&CircuitBreaker>) -> &'static str {
    c.map_or("-", state_word)
}

fn state_word(c: &CircuitBreaker) -> &'static str {
    match c.state() {
        CircuitState::Open => "open",
        CircuitState::HalfOpen => "half-open",
        CircuitState::Closed | CircuitState::Unspecified => "closed",
    }
}

/// "open until …, 10 of 12 attempts failed in the window, failing since …".
pub(super) fn circuit_text(c: Option<&CircuitBreaker>) -> String {
    let Some(c) = c else {
        return "-".into();
    };
    let mut text = state_word(c).to_owned();
    if c.state() == CircuitState::Open {
        text += &format!(" until {}", ts(c.open_until.as_ref()));
    }
    text += &format!(
        "; {} of {} attempts in the window failed",
        c.window_failures, c.window_attempts
    );
    if c.failing_since.is_some() {
        text += &format!("; failing since {}", ts(c.failing_since.as_ref()));
    }
    text
}

/// The breaker for `--json`.
pub(super) fn circuit_json(c: Option<&CircuitBreaker>) -> Value {
    c.map_or(Value::Null, |c| {
        json!({
            "state": state_word(c), "since": ts_json(c.since.as_ref()),
            "openUntil": ts_json(c.open_until.as_ref()),
            "windowAttempts": c.window_attempts, "windowFailures": c.window_failures,
            "failingSince": ts_json(c.failing_since.as_ref()),
        })
    })
}
