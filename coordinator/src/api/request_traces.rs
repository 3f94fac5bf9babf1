//! A server span per platform API call (`switchyard.coordinator.v1.EventService/PublishEvent`…),
//! child of the `traceparent` the platform sent in the request metadata, while traces are on
//! (`observe::traces`). The handler runs under the span's context, so that a publish stores it
//! with the event and every attempt of its deliveries joins the trace.
//!
//! While traces are off, a valid `traceparent` the platform sent is passed on as is (the
//! event stores it, the plugins get it); a call without one costs a header lookup.
//!
//! The span ends when the answer's headers are ready (a unary call's answer): failed when they
//! carry a `grpc-status` other than OK (errors are trailers-only answers), with the status
//! code's name only — never the message, which may quote the caller's input.

use std::task::{Context, Poll};

use opentelemetry::KeyValue;
use opentelemetry::context::FutureExt as _;
use switchyard_traces::kind;
use tonic::codegen::http;
use tower::{Layer, Service};

use crate::observe::traces;

/// Wraps each route with [`RequestTraces`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestTracesLayer;

impl<S> Layer<S> for RequestTracesLayer {
    type Service = RequestTraces<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestTraces { inner }
    }
}

/// See the module doc.
#[derive(Debug, Clone)]
pub struct RequestTraces<S> {
    inner: S,
}

type Boxed<T, E> = std::pin::Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for RequestTraces<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = tokio_util::either::Either<S::Future, Boxed<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        use tokio_util::either::Either;
        let parent = switchyard_traces::extract(req.headers());
        if !switchyard_traces::enabled() {
            return match parent {
                None => Either::Left(self.inner.call(req)),
                Some(parent) => Either::Right(Box::pin(self.inner.call(req).with_context(parent))),
            };
        }
        let name = span_name(req.uri().path());
        let Some(cx) = switchyard_traces::start(name, kind::Server, parent.as_ref(), || {
            attributes(req.uri().path())
        }) else {
            return Either::Left(self.inner.call(req));
        };
        let answer = self.inner.call(req).with_context(cx.clone());
        Either::Right(Box::pin(async move {
            let response = answer.await;
            let code = response.as_ref().ok().and_then(|r| {
                r.headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
            });
            let failed = code
                .filter(|&c| c != 0)
                .map(|c| format!("{:?}", tonic::Code::from(c)));
            if let Some(code) = code {
                switchyard_traces::set_attribute(
                    &cx,
                    KeyValue::new("rpc.grpc.status_code", i64::from(code)),
                );
            }
            traces::end(&cx, failed.as_deref());
            response
        }))
    }
}

/// `service/method` of a gRPC path (`/pkg.Service/Method`); paths that are not a Switchyard or
/// gRPC infrastructure method are named `unknown`, so that a client cannot make up span names.
fn span_name(path: &str) -> String {
    let path = path.trim_start_matches('/');
    let known = path.starts_with("switchyard.") || path.starts_with("grpc.");
    if known && path.len() <= 200 && path.contains('/') {
        path.to_owned()
    } else {
        "unknown".to_owned()
    }
}

/// The OpenTelemetry RPC attributes of a call.
fn attributes(path: &str) -> Vec<KeyValue> {
    let name = span_name(path);
    let (service, method) = name.split_once('/').unwrap_or(("unknown", "unknown"));
    vec![
        KeyValue::new("rpc.system", "grpc"),
        KeyValue::new("rpc.service", service.to_owned()),
        KeyValue::new("rpc.method", method.to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_names_are_known_methods_only() {
        assert_eq!(
            span_name("/switchyard.coordinator.v1.EventService/PublishEvent"),
            "switchyard.coordinator.v1.EventService/PublishEvent"
        );
        assert_eq!(span_name("/made.up/Path"), "unknown");
        assert_eq!(span_name("/switchyard.x"), "unknown");
        assert_eq!(
            span_name(&format!("/switchyard.{}/M", "x".repeat(300))),
            "unknown"
        );
    }
}
