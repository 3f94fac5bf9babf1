//! Counts every platform API call by gRPC method and status code
//! (`switchyard_api_requests_total`). The code is read where gRPC puts it: the `grpc-status`
//! header of a trailers-only answer (most errors), else the trailers at the end of the body; a
//! call whose body is dropped before its end (the client went away) counts as `cancelled`.
//! The method label is the request path, except for calls the server does not implement
//! (`unknown`), so that a client cannot grow the label set with made-up paths.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use tonic::Code;
use tonic::codegen::http;
use tower::{Layer, Service};

use crate::observe::metrics;

/// Wraps each route with [`RequestMetrics`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestMetricsLayer;

impl<S> Layer<S> for RequestMetricsLayer {
    type Service = RequestMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestMetrics { inner }
    }
}

/// See the module doc.
#[derive(Debug, Clone)]
pub struct RequestMetrics<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for RequestMetrics<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Body + Unpin,
{
    type Response = http::Response<Counted<ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let method = req.uri().path().to_owned();
        let answer = self.inner.call(req);
        Box::pin(async move {
            let response = answer.await?;
            let early = response
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i32>().ok());
            Ok(response.map(|inner| Counted {
                inner,
                method: Some(method),
                early,
            }))
        })
    }
}

/// A response body that reports its call's code once, when the code is known.
#[derive(Debug)]
pub struct Counted<B> {
    inner: B,
    /// `None` once reported.
    method: Option<String>,
    /// The code of a trailers-only answer.
    early: Option<i32>,
}

impl<B> Counted<B> {
    fn report(&mut self, code: &'static str) {
        if let Some(method) = self.method.take() {
            let method = if code == "unimplemented" {
                "unknown"
            } else {
                method.as_str()
            };
            metrics::api_request(method, code);
        }
    }
}

impl<B> Drop for Counted<B> {
    fn drop(&mut self) {
        match self.early {
            Some(code) => self.report(code_word(code)),
            None => self.report("cancelled"),
        }
    }
}

impl<B: Body + Unpin> Body for Counted<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                let code = frame
                    .trailers_ref()
                    .and_then(|t| t.get("grpc-status"))
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok());
                if let Some(code) = code {
                    this.report(code_word(code));
                }
            }
            Poll::Ready(Some(Err(_))) => this.report("transport_error"),
            Poll::Ready(None) => {
                let code = this.early.map_or("ok", code_word);
                this.report(code);
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The label of a gRPC status code.
fn code_word(code: i32) -> &'static str {
    match Code::from_i32(code) {
        Code::Ok => "ok",
        Code::Cancelled => "cancelled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}
