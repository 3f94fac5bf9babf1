//! The subscription fields of the delivery guard ([`crate::engine`]'s rate limit and circuit
//! breaker): the rate limit to and from the API, checked; the breaker's in-memory state as an
//! output-only field.

use switchyard_proto::coordinator::v1 as api;

use crate::api::ApiContext;
use crate::api::convert::timestamp;
use crate::api::status::{ApiError, ApiResult};
use crate::engine::CircuitState;
use crate::model::{RateLimit, SubscriptionId};

/// The rate limit of a create or update request; INVALID_ARGUMENT saying what to fix.
pub(super) fn rate_limit(input: Option<api::RateLimit>) -> ApiResult<Option<RateLimit>> {
    input
        .map(|r| {
            RateLimit::new(r.events_per_second, r.burst)
                .map_err(|e| ApiError::field("subscription.rate_limit", e))
        })
        .transpose()
}

/// The stored rate limit as the API shows it (the burst with its default applied).
pub(super) fn rate_limit_out(limit: Option<RateLimit>) -> Option<api::RateLimit> {
    limit.map(|r| api::RateLimit {
        events_per_second: r.per_second,
        burst: r.burst,
    })
}

/// The subscription's circuit breaker on this coordinator.
pub(super) fn circuit_breaker(ctx: &ApiContext, id: SubscriptionId) -> api::CircuitBreaker {
    let s = ctx.engine.circuit(id);
    let (state, open_until) = match s.state {
        CircuitState::Closed => (api::CircuitState::Closed, None),
        CircuitState::Open { until } => (api::CircuitState::Open, Some(timestamp(until))),
        CircuitState::HalfOpen { .. } => (api::CircuitState::HalfOpen, None),
    };
    api::CircuitBreaker {
        state: state.into(),
        since: s.since.map(timestamp),
        open_until,
        window_attempts: s.window_attempts,
        window_failures: s.window_failures,
        failing_since: s.failing_since.map(timestamp),
    }
}
