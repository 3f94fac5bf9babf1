//! The coordinator's Prometheus metrics: their names, help texts and label sets in one place,
//! and one function per event the rest of the coordinator reports. Labels are bounded sets
//! (provider ids, plugin names, gRPC methods, fixed outcome words), never ids of deliveries,
//! events or subscriptions. Recording goes through the `metrics` facade: until [`install`]
//! runs (tests, the CLI) it costs a no-op call.

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

/// Attempts by provider and result (`delivered`, `retryable`, `rate_limited`, `permanent`).
pub const ATTEMPTS: &str = "switchyard_attempts_total";
/// Deliveries that ended, by provider and status (`succeeded`, `failed`, `cancelled`).
pub const DELIVERIES: &str = "switchyard_deliveries_total";
/// Retries scheduled, by provider and reason (`retryable`, `rate_limited`).
pub const RETRIES: &str = "switchyard_retries_scheduled_total";
/// How long an attempt's plugin call took, by provider.
pub const ATTEMPT_SECONDS: &str = "switchyard_attempt_duration_seconds";
/// How long `PublishEvent` took to make an event and its deliveries durable.
pub const PUBLISH_SECONDS: &str = "switchyard_publish_duration_seconds";
/// Writes per writer round (publishes and attempt results in one transaction).
pub const ROUND_SIZE: &str = "switchyard_writer_round_size";
/// How long a writer round's transaction and flush took.
pub const ROUND_SECONDS: &str = "switchyard_writer_round_duration_seconds";
/// Plugin starts (first start and restarts), by plugin.
pub const PLUGIN_STARTS: &str = "switchyard_plugin_starts_total";
/// Plugin crashes (exits the host did not ask for), by plugin.
pub const PLUGIN_CRASHES: &str = "switchyard_plugin_crashes_total";
/// 1 while the plugin runs, 0 while it is down or restarting, by plugin.
pub const PLUGIN_UP: &str = "switchyard_plugin_up";
/// Platform API calls, by gRPC method and status code.
pub const API_REQUESTS: &str = "switchyard_api_requests_total";
/// Deliveries due now and not claimed.
pub const BACKLOG_DUE: &str = "switchyard_backlog_due";
/// Deliveries scheduled for later (retries, and first attempts due later).
pub const BACKLOG_SCHEDULED: &str = "switchyard_backlog_scheduled";
/// Deliveries with an attempt in flight.
pub const BACKLOG_IN_FLIGHT: &str = "switchyard_backlog_in_flight";
/// How long the oldest due delivery has been due, in seconds (0 when none is).
pub const BACKLOG_OLDEST_DUE_SECONDS: &str = "switchyard_backlog_oldest_due_seconds";
/// Circuit breaker changes, by provider and the state entered (`open`, `closed`).
pub const CIRCUIT_CHANGES: &str = "switchyard_circuit_breaker_changes_total";
/// Subscriptions whose circuit breaker is open or half-open on this coordinator.
pub const CIRCUITS_OPEN: &str = "switchyard_circuit_breakers_open";
/// Attempts deferred without being made, by provider and reason (`rate_limit`, `circuit_open`).
pub const DEFERRED: &str = "switchyard_attempts_deferred_total";
/// Subscriptions the coordinator disabled after failing continuously, by provider.
pub const AUTO_DISABLED: &str = "switchyard_subscriptions_auto_disabled_total";
/// Operational events published by the coordinator, by event type.
pub const OPERATIONAL_EVENTS: &str = "switchyard_operational_events_total";

/// Installs the Prometheus recorder for this process and describes every metric.
///
/// # Errors
/// When a recorder is installed already.
pub fn install() -> Result<PrometheusHandle, BuildError> {
    let seconds = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ];
    let sizes = [
        1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)?
        .set_buckets_for_metric(Matcher::Full(ROUND_SIZE.into()), &sizes)?
        .install_recorder()?;
    describe();
    Ok(handle)
}

fn describe() {
    describe_guard();
    describe_counter!(ATTEMPTS, "Delivery attempts by provider and result.");
    describe_counter!(
        DELIVERIES,
        "Deliveries that ended, by provider and final status."
    );
    describe_counter!(RETRIES, "Retries scheduled, by provider and reason.");
    describe_histogram!(
        ATTEMPT_SECONDS,
        "Duration of an attempt's plugin call, by provider."
    );
    describe_histogram!(PUBLISH_SECONDS, "PublishEvent until the event is durable.");
    describe_histogram!(ROUND_SIZE, "Writes per writer round.");
    describe_histogram!(ROUND_SECONDS, "Writer round: transaction and flush.");
    describe_counter!(PLUGIN_STARTS, "Plugin starts, restarts included.");
    describe_counter!(PLUGIN_CRASHES, "Plugin exits the host did not ask for.");
    describe_gauge!(PLUGIN_UP, "1 while the plugin runs.");
    describe_counter!(API_REQUESTS, "Platform API calls by method and gRPC code.");
    describe_gauge!(BACKLOG_DUE, "Deliveries due now and not claimed.");
    describe_gauge!(BACKLOG_SCHEDULED, "Deliveries scheduled for later.");
    describe_gauge!(BACKLOG_IN_FLIGHT, "Deliveries with an attempt in flight.");
    describe_gauge!(
        BACKLOG_OLDEST_DUE_SECONDS,
        "Age of the oldest due delivery."
    );
}

fn describe_guard() {
    describe_counter!(
        CIRCUIT_CHANGES,
        "Circuit breaker changes, by the state entered."
    );
    describe_gauge!(
        CIRCUITS_OPEN,
        "Subscriptions whose circuit breaker is not closed."
    );
    describe_counter!(
        DEFERRED,
        "Attempts deferred by the rate limit or an open breaker."
    );
    describe_counter!(
        AUTO_DISABLED,
        "Subscriptions disabled after failing continuously."
    );
    describe_counter!(OPERATIONAL_EVENTS, "Operational events published, by type.");
}

/// A subscription's circuit breaker entered `state` (`open` or `closed`).
pub fn circuit_changed(provider: &str, state: &'static str) {
    counter!(CIRCUIT_CHANGES, "provider" => provider.to_owned(), "state" => state).increment(1);
}

/// `open` subscriptions have a breaker that is not closed.
pub fn circuits_open(open: usize) {
    #[allow(clippy::cast_precision_loss)]
    gauge!(CIRCUITS_OPEN).set(open as f64);
}

/// An attempt was deferred for `reason` (`rate_limit`, `circuit_open`).
pub fn deferred(provider: &str, reason: &'static str) {
    counter!(DEFERRED, "provider" => provider.to_owned(), "reason" => reason).increment(1);
}

/// A subscription was disabled for failing continuously.
pub fn auto_disabled(provider: &str) {
    counter!(AUTO_DISABLED, "provider" => provider.to_owned()).increment(1);
}

/// An operational event of `event_type` was published.
pub fn operational_event(event_type: &'static str) {
    counter!(OPERATIONAL_EVENTS, "event_type" => event_type).increment(1);
}

/// One attempt ended with `result` after `seconds`.
pub fn attempt(provider: &str, result: &'static str, seconds: f64) {
    counter!(ATTEMPTS, "provider" => provider.to_owned(), "result" => result).increment(1);
    histogram!(ATTEMPT_SECONDS, "provider" => provider.to_owned()).record(seconds);
}

/// A delivery ended with `status`.
pub fn delivery_ended(provider: &str, status: &'static str) {
    counter!(DELIVERIES, "provider" => provider.to_owned(), "status" => status).increment(1);
}

/// A retry was scheduled for `reason`.
pub fn retry_scheduled(provider: &str, reason: &'static str) {
    counter!(RETRIES, "provider" => provider.to_owned(), "reason" => reason).increment(1);
}

/// A publish was made durable in `seconds`.
pub fn published(seconds: f64) {
    histogram!(PUBLISH_SECONDS).record(seconds);
}

/// A writer round of `writes` writes took `seconds`.
pub fn writer_round(writes: usize, seconds: f64) {
    #[allow(clippy::cast_precision_loss)]
    histogram!(ROUND_SIZE).record(writes as f64);
    histogram!(ROUND_SECONDS).record(seconds);
}

/// `plugin` started (or restarted).
pub fn plugin_started(plugin: &str) {
    counter!(PLUGIN_STARTS, "plugin" => plugin.to_owned()).increment(1);
    gauge!(PLUGIN_UP, "plugin" => plugin.to_owned()).set(1.0);
}

/// `plugin` exited unasked.
pub fn plugin_crashed(plugin: &str) {
    counter!(PLUGIN_CRASHES, "plugin" => plugin.to_owned()).increment(1);
    gauge!(PLUGIN_UP, "plugin" => plugin.to_owned()).set(0.0);
}

/// `plugin` was stopped.
pub fn plugin_stopped(plugin: &str) {
    gauge!(PLUGIN_UP, "plugin" => plugin.to_owned()).set(0.0);
}

/// A platform API call to `method` ended with `code`.
pub fn api_request(method: &str, code: &'static str) {
    counter!(API_REQUESTS, "method" => method.to_owned(), "code" => code).increment(1);
}

/// The backlog as last read from the store.
pub fn backlog(backlog: &crate::store::Backlog) {
    #[allow(clippy::cast_precision_loss)]
    {
        gauge!(BACKLOG_DUE).set(backlog.due as f64);
        gauge!(BACKLOG_SCHEDULED).set(backlog.scheduled as f64);
        gauge!(BACKLOG_IN_FLIGHT).set(backlog.in_flight as f64);
    }
    gauge!(BACKLOG_OLDEST_DUE_SECONDS).set(backlog.oldest_due_seconds);
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[&str] = &[
        ATTEMPTS,
        DELIVERIES,
        RETRIES,
        ATTEMPT_SECONDS,
        PUBLISH_SECONDS,
        ROUND_SIZE,
        ROUND_SECONDS,
        PLUGIN_STARTS,
        PLUGIN_CRASHES,
        PLUGIN_UP,
        API_REQUESTS,
        BACKLOG_DUE,
        BACKLOG_SCHEDULED,
        BACKLOG_IN_FLIGHT,
        BACKLOG_OLDEST_DUE_SECONDS,
        CIRCUIT_CHANGES,
        CIRCUITS_OPEN,
        DEFERRED,
        AUTO_DISABLED,
        OPERATIONAL_EVENTS,
    ];

    /// The Grafana dashboard in docs/ queries only metrics that exist, and shows every one.
    #[test]
    fn the_dashboard_uses_exactly_the_metrics_there_are() {
        let text = include_str!("../../../docs/grafana/switchyard.json");
        let dashboard: serde_json::Value = serde_json::from_str(text).expect("dashboard JSON");
        let mut used = std::collections::BTreeSet::new();
        for panel in dashboard["panels"].as_array().expect("panels") {
            for target in panel["targets"].as_array().expect("targets") {
                let expr = target["expr"].as_str().expect("expr");
                for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                    if let Some(name) = word.strip_prefix("switchyard_") {
                        let name = ["_bucket", "_count", "_sum"]
                            .iter()
                            .find_map(|s| name.strip_suffix(s))
                            .unwrap_or(name);
                        used.insert(format!("switchyard_{name}"));
                    }
                }
            }
        }
        for name in &used {
            assert!(
                ALL.contains(&name.as_str()),
                "the dashboard queries unknown {name}"
            );
        }
        for name in ALL {
            assert!(used.contains(*name), "the dashboard does not show {name}");
        }
    }
}
