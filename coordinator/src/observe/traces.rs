//! The coordinator's spans (the pipeline itself is `switchyard_traces`, shared with the Rust
//! plugin SDK; off unless the `OTEL_*` variables ask for it):
//!
//! - the platform API call (`switchyard.coordinator.v1.EventService/PublishEvent`…), a server
//!   span under the `traceparent` the platform sent (`api::request_traces`);
//! - per delivery attempt, `delivery attempt`, under the trace context stored with the event
//!   ([`attempt`]): an attempt retried an hour later, after a restart, joins the publish's trace;
//! - per plugin call, a client span (`switchyard.plugin.v1.ProviderPlugin/Deliver`…) whose
//!   context goes to the plugin as `traceparent` gRPC metadata (`host::calls`).
//!
//! While traces are off, a `traceparent` the platform sent is still stored and passed on to the
//! plugins (so they, and log lines, stay in the platform's trace); nothing else is done.

use opentelemetry::KeyValue;
pub use switchyard_traces::Context;
use switchyard_traces::kind;

use crate::model::{Delivery, TraceContext};

/// The context a publish runs under (the API's span of the call, or the platform's context
/// passed on), as stored with the event; `None` without one (cheap: no allocation).
#[must_use]
pub fn current_stored() -> Option<Box<TraceContext>> {
    let cx = switchyard_traces::current()?;
    let (traceparent, tracestate) = switchyard_traces::to_text(&cx)?;
    Some(Box::new(TraceContext {
        traceparent,
        tracestate,
    }))
}

/// The context of one delivery attempt: a span under the publish's stored context while traces
/// are on, the stored context itself while they are off; `None` when the event has none and
/// traces are off.
#[must_use]
pub fn attempt(stored: Option<&TraceContext>, d: &Delivery, attempt: u32) -> Option<Context> {
    let parent = stored.and_then(|t| switchyard_traces::from_text(&t.traceparent, &t.tracestate));
    let span =
        switchyard_traces::start("delivery attempt", kind::Internal, parent.as_ref(), || {
            vec![
                KeyValue::new("switchyard.delivery.id", d.id.to_string()),
                KeyValue::new("switchyard.subscription.id", d.subscription_id.to_string()),
                KeyValue::new("switchyard.event.id", d.event_id.to_string()),
                KeyValue::new("switchyard.event.type", d.event_type.clone()),
                KeyValue::new("switchyard.provider", d.provider_id.clone()),
                KeyValue::new("switchyard.attempt", i64::from(attempt)),
            ]
        });
    span.or(parent)
}

/// Ends an attempt's span with its outcome (`error`: the scrubbed failure text).
pub fn end_attempt(cx: &Context, outcome: &'static str, error: Option<&str>) {
    switchyard_traces::set_attribute(cx, KeyValue::new("switchyard.outcome", outcome));
    switchyard_traces::end(cx, error);
}

/// The 32-hex-digit trace id of a stored context, for log lines.
#[must_use]
pub fn trace_id(stored: &TraceContext) -> Option<&str> {
    // `00-<32 hex>-<16 hex>-<2 hex>`: the stored form was validated when it was made.
    stored.traceparent.get(3..35)
}

/// The context of a call to a plugin: a client span under the current context while traces
/// are on; the current context (passed on) while they are off; `None` when there is none.
#[must_use]
pub fn plugin_call(method: &'static str) -> Option<Context> {
    let current = switchyard_traces::current();
    if !switchyard_traces::enabled() {
        return current;
    }
    switchyard_traces::start(
        format!("switchyard.plugin.v1.ProviderPlugin/{method}"),
        kind::Client,
        current.as_ref(),
        || {
            vec![
                KeyValue::new("rpc.system", "grpc"),
                KeyValue::new("rpc.service", "switchyard.plugin.v1.ProviderPlugin"),
                KeyValue::new("rpc.method", method),
            ]
        },
    )
}

/// A request carrying the current trace context as `traceparent` metadata (none without one).
pub fn request<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(cx) = switchyard_traces::current() {
        switchyard_traces::inject(&cx, request.metadata_mut().as_mut());
    }
    request
}

/// The coordinator's `OTEL_*` variables that its plugins get (so that they export where it
/// does, or stay off with it), except `OTEL_SERVICE_NAME`: each plugin names itself.
#[must_use]
pub fn plugin_env(vars: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
    vars.filter(|(name, _)| name.starts_with("OTEL_") && name != "OTEL_SERVICE_NAME")
        .collect()
}

/// Ends a span made by [`plugin_call`] or the API layer, failed with `error` if given.
pub fn end(cx: &Context, error: Option<&str>) {
    switchyard_traces::end(cx, error);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugins_get_the_otel_variables_but_the_service_name() {
        let vars = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
            ("OTEL_SERVICE_NAME", "switchyard"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("SWITCHYARD_SECRET_KEY", "k"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let names: Vec<String> = plugin_env(vars.into_iter())
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            names,
            ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_BSP_SCHEDULE_DELAY"]
        );
    }

    #[test]
    fn the_trace_id_of_a_stored_context() {
        let stored = TraceContext {
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
            tracestate: String::new(),
        };
        assert_eq!(trace_id(&stored), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
    }
}
