//! OpenTelemetry traces for Switchyard's Rust processes — the coordinator and every plugin built
//! on the Rust SDK — so that one delivery is one trace from the platform's `PublishEvent` to the
//! vendor's HTTP request.
//!
//! Off by default. [`init_from_env`] turns them on from the standard variables: an OTLP
//! endpoint (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`) or
//! `OTEL_TRACES_EXPORTER=otlp`; `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` keep
//! them off. Spans are exported over OTLP/gRPC (another `OTEL_EXPORTER_OTLP_PROTOCOL` is
//! refused, naming the variable); the exporter, the batch processor (`OTEL_BSP_*`), the sampler
//! (`OTEL_TRACES_SAMPLER`) and the resource (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`)
//! read their own variables.
//!
//! While traces are off nothing here allocates: [`start`] returns `None` without building a
//! span, and the callers skip formatting trace headers. A trace context received from a peer
//! (a `traceparent`) is still passed on unchanged, so that the processes that do export
//! (a plugin, the vendor) stay in the caller's trace.
//!
//! The propagation format is W3C Trace Context (`traceparent`, `tracestate`), over HTTP headers
//! and gRPC metadata alike ([`extract`], [`inject`]).

use std::borrow::Cow;
use std::sync::OnceLock;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TracerProvider as _};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _};
pub use opentelemetry::{Context, KeyValue, context::FutureExt};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

/// The W3C `traceparent` header (or gRPC metadata key).
pub const TRACEPARENT: &str = "traceparent";
/// The W3C `tracestate` header (or gRPC metadata key).
pub const TRACESTATE: &str = "tracestate";

/// The tracer, once [`init_from_env`] turned traces on; never set while they are off.
static TRACER: OnceLock<SdkTracer> = OnceLock::new();

/// Why traces could not be set up. The process should refuse to start: the operator asked for
/// traces and would otherwise get none without knowing.
#[derive(Debug, thiserror::Error)]
pub enum TracesError {
    /// An `OTEL_*` variable has a value this exporter does not support.
    #[error("{var}={value:?} is not supported: {hint}")]
    Unsupported {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What to set instead.
        hint: &'static str,
    },
    /// The OTLP exporter could not be built (e.g. an endpoint that is not a URL).
    #[error("cannot set up the OTLP trace exporter (OTEL_EXPORTER_OTLP_ENDPOINT): {0}")]
    Exporter(String),
    /// Traces were already set up in this process.
    #[error("traces are already set up in this process")]
    AlreadySet,
}

/// The running trace pipeline; [`Traces::shutdown`] exports what is still queued.
#[derive(Debug)]
pub struct Traces {
    provider: SdkTracerProvider,
}

impl Traces {
    /// Exports the spans still queued and stops the exporter. Waits on a blocking thread: the
    /// exporter's gRPC client needs the async runtime meanwhile.
    pub async fn shutdown(self) {
        let provider = self.provider;
        let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
    }
}

/// Whether traces are on in this process.
#[must_use]
pub fn enabled() -> bool {
    TRACER.get().is_some()
}

/// Turns traces on if the process environment asks for them (see the crate docs), with
/// `default_service` as `service.name` unless `OTEL_SERVICE_NAME` names one. `Ok(None)`: off.
/// Call it inside a tokio runtime (the gRPC exporter spawns its connection there).
///
/// # Errors
/// [`TracesError`] when the variables ask for something unsupported or the exporter fails.
pub fn init_from_env(default_service: &str) -> Result<Option<Traces>, TracesError> {
    init_with(default_service, &|name| std::env::var(name).ok())
}

/// [`init_from_env`] reading the variables through `var` (the exporter and the SDK still read
/// their own from the process environment).
///
/// # Errors
/// As [`init_from_env`].
pub fn init_with(
    default_service: &str,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Traces>, TracesError> {
    if !wanted(var)? {
        return Ok(None);
    }
    use opentelemetry_otlp::WithExportConfig as _;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_protocol(opentelemetry_otlp::Protocol::Grpc)
        .build()
        .map_err(|e| TracesError::Exporter(e.to_string()))?;
    let mut resource = opentelemetry_sdk::Resource::builder();
    if var("OTEL_SERVICE_NAME").is_none_or(|s| s.is_empty()) {
        resource = resource.with_service_name(default_service.to_owned());
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build();
    let tracer = provider.tracer(default_service.to_owned());
    TRACER.set(tracer).map_err(|_| TracesError::AlreadySet)?;
    opentelemetry::global::set_tracer_provider(provider.clone());
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    Ok(Some(Traces { provider }))
}

/// Whether the variables ask for traces; `Err` for values this exporter cannot honour.
fn wanted(var: &dyn Fn(&str) -> Option<String>) -> Result<bool, TracesError> {
    let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    if set("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Ok(false);
    }
    let exporter = set("OTEL_TRACES_EXPORTER").map(|v| v.trim().to_ascii_lowercase());
    match exporter.as_deref() {
        Some("none") => return Ok(false),
        None | Some("otlp") => {}
        Some(_) => {
            return Err(TracesError::Unsupported {
                var: "OTEL_TRACES_EXPORTER",
                value: exporter.unwrap_or_default(),
                hint: "Switchyard exports traces over OTLP only: set it to \"otlp\" or \"none\"",
            });
        }
    }
    for name in [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ] {
        if let Some(value) = set(name)
            && value.trim() != "grpc"
        {
            return Err(TracesError::Unsupported {
                var: if name.contains("TRACES") {
                    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
                } else {
                    "OTEL_EXPORTER_OTLP_PROTOCOL"
                },
                value,
                hint: "Switchyard exports traces over OTLP/gRPC: set it to \"grpc\" or unset it",
            });
        }
    }
    Ok(exporter.is_some()
        || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some()
        || set("OTEL_EXPORTER_OTLP_ENDPOINT").is_some())
}

/// Starts a span named `name` of `kind`, child of `parent` (a root span without one), and
/// returns the context that holds it; `None` while traces are off (nothing is allocated).
/// End it with [`end`].
#[must_use]
pub fn start(
    name: impl Into<Cow<'static, str>>,
    kind: SpanKind,
    parent: Option<&Context>,
    attributes: impl FnOnce() -> Vec<KeyValue>,
) -> Option<Context> {
    let tracer = TRACER.get()?;
    let root = Context::new();
    let parent = parent.unwrap_or(&root);
    let span = tracer
        .span_builder(name)
        .with_kind(kind)
        .with_attributes(attributes())
        .start_with_context(tracer, parent);
    Some(parent.with_span(span))
}

/// Ends the span of `cx`, marked failed with `error` (text already free of secrets) if given.
/// A context without a span of this process (a peer's, passed on) is left alone.
pub fn end(cx: &Context, error: Option<&str>) {
    let span = cx.span();
    if let Some(error) = error {
        span.set_status(Status::error(error.to_owned()));
    }
    span.end();
}

/// Adds `attribute` to the span of `cx`.
pub fn set_attribute(cx: &Context, attribute: KeyValue) {
    cx.span().set_attribute(attribute);
}

/// The trace context a peer sent in `headers` (HTTP headers or gRPC metadata through
/// `MetadataMap::as_ref`); `None` without a valid `traceparent`. Cheap when there is none.
#[must_use]
pub fn extract(headers: &http::HeaderMap) -> Option<Context> {
    headers.get(TRACEPARENT)?;
    let cx = TraceContextPropagator::new().extract(&Headers(headers));
    valid(&cx).then_some(cx)
}

/// Writes the trace context of `cx` into `headers` (nothing for a context without a valid one).
pub fn inject(cx: &Context, headers: &mut http::HeaderMap) {
    if valid(cx) {
        TraceContextPropagator::new().inject_context(cx, &mut HeadersMut(headers));
    }
}

/// The `traceparent` and `tracestate` (empty for none) of `cx`, to store; `None` without a
/// valid span context.
#[must_use]
pub fn to_text(cx: &Context) -> Option<(String, String)> {
    let mut headers = http::HeaderMap::new();
    inject(cx, &mut headers);
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    Some((text(TRACEPARENT)?, text(TRACESTATE).unwrap_or_default()))
}

/// The remote context a stored `traceparent` and `tracestate` name; `None` if invalid.
#[must_use]
pub fn from_text(traceparent: &str, tracestate: &str) -> Option<Context> {
    let mut headers = http::HeaderMap::new();
    headers.insert(TRACEPARENT, http::HeaderValue::from_str(traceparent).ok()?);
    if let Ok(state) = http::HeaderValue::from_str(tracestate)
        && !tracestate.is_empty()
    {
        headers.insert(TRACESTATE, state);
    }
    extract(&headers)
}

/// The 32-hex-digit trace id of `cx`, for log lines; `None` without a valid span context.
#[must_use]
pub fn trace_id(cx: &Context) -> Option<String> {
    valid(cx).then(|| cx.span().span_context().trace_id().to_string())
}

/// The current context (the one a future runs under through [`FutureExt::with_context`]), if
/// it carries a valid span context. Cheap when it does not.
#[must_use]
pub fn current() -> Option<Context> {
    Context::map_current(|cx| valid(cx).then(|| cx.clone()))
}

fn valid(cx: &Context) -> bool {
    let span = cx.span();
    let sc: &SpanContext = span.span_context();
    sc.is_valid()
}

/// Span kinds, re-exported for the callers of [`start`].
pub mod kind {
    pub use opentelemetry::trace::SpanKind::{Client, Internal, Server};
}

struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct HeadersMut<'a>(&'a mut http::HeaderMap);

impl Injector for HeadersMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn traces_are_off_without_an_endpoint_and_on_with_one() {
        assert!(!wanted(&vars(&[])).unwrap());
        assert!(!wanted(&vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")])).unwrap());
        assert!(wanted(&vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317")])).unwrap());
        assert!(
            wanted(&vars(&[(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://c:4317"
            )]))
            .unwrap()
        );
        assert!(wanted(&vars(&[("OTEL_TRACES_EXPORTER", "otlp")])).unwrap());
    }

    #[test]
    fn disabled_or_none_wins_over_an_endpoint() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317");
        assert!(!wanted(&vars(&[endpoint, ("OTEL_SDK_DISABLED", "TRUE")])).unwrap());
        assert!(!wanted(&vars(&[endpoint, ("OTEL_TRACES_EXPORTER", "none")])).unwrap());
        assert!(wanted(&vars(&[endpoint, ("OTEL_SDK_DISABLED", "false")])).unwrap());
    }

    #[test]
    fn an_unsupported_protocol_or_exporter_is_refused_naming_the_variable() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318");
        let err = wanted(&vars(&[
            endpoint,
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("OTEL_EXPORTER_OTLP_PROTOCOL=\"http/protobuf\""),
            "{err}"
        );
        assert!(err.contains("\"grpc\""), "{err}");
        let err = wanted(&vars(&[("OTEL_TRACES_EXPORTER", "zipkin")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("OTEL_TRACES_EXPORTER") && err.contains("zipkin"),
            "{err}"
        );
        assert!(wanted(&vars(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")])).unwrap());
    }

    #[test]
    fn a_traceparent_survives_storing_and_propagation() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let cx = from_text(tp, "vendor=1").expect("a valid traceparent");
        assert_eq!(
            trace_id(&cx).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(to_text(&cx), Some((tp.to_owned(), "vendor=1".to_owned())));
        let mut headers = http::HeaderMap::new();
        inject(&cx, &mut headers);
        assert_eq!(headers[TRACEPARENT], tp);
    }

    #[test]
    fn invalid_or_missing_trace_context_is_ignored() {
        assert!(
            from_text(
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                ""
            )
            .is_none()
        );
        assert!(from_text("garbage", "").is_none());
        assert!(extract(&http::HeaderMap::new()).is_none());
        assert!(to_text(&Context::new()).is_none());
        // Off in this test process: no span is made.
        assert!(start("x", kind::Internal, None, Vec::new).is_none());
    }
}
