//! A tower layer over every API route that rewrites the status of calls the transport refused
//! before any handler ran (an oversized or undecodable message), with the codes of
//! [`super::status::from_transport`]. Only trailers-only error responses carry their status in
//! the headers, so answers of handlers pass through untouched.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::Status;
use tonic::codegen::http;
use tower::{Layer, Service};

/// Wraps each route with [`TransportErrors`].
#[derive(Debug, Clone, Copy)]
pub struct TransportErrorsLayer {
    /// The payload limit quoted in "too large" errors.
    pub max_payload_bytes: usize,
}

impl<S> Layer<S> for TransportErrorsLayer {
    type Service = TransportErrors<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TransportErrors {
            inner,
            max_payload_bytes: self.max_payload_bytes,
        }
    }
}

/// See the module doc.
#[derive(Debug, Clone)]
pub struct TransportErrors<S> {
    inner: S,
    max_payload_bytes: usize,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for TransportErrors<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Default,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let answer = self.inner.call(req);
        let max_payload_bytes = self.max_payload_bytes;
        Box::pin(async move {
            let response = answer.await?;
            let remapped = Status::from_header_map(response.headers())
                .and_then(|status| super::status::from_transport(&status, max_payload_bytes));
            Ok(remapped.map_or(response, Status::into_http))
        })
    }
}
