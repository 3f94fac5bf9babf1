//! [`RenderedRequest`]: what [`Provider::preview`](crate::Provider::preview) answers — the
//! request a delivery would send (method, URL, headers, body), rendered and not sent, with
//! every secret replaced by [`REDACTED`].

use switchyard_proto::plugin::v1 as pb;

/// The text that stands for a secret in a preview (the host uses the same marker).
pub const REDACTED: &str = "[REDACTED]";

/// One outgoing request as the external system would receive it, secrets masked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderedRequest {
    /// The HTTP method, e.g. `POST`.
    pub method: String,
    /// The target URL.
    pub url: String,
    /// The headers as `(name, value)`, in the order they are sent; a name may repeat.
    pub headers: Vec<(String, String)>,
    /// The body as text; empty for none.
    pub body: String,
}

impl RenderedRequest {
    /// Converts into the wire message.
    #[must_use]
    pub fn into_proto(self) -> pb::RenderedRequest {
        pb::RenderedRequest {
            method: self.method,
            url: self.url,
            headers: self
                .headers
                .into_iter()
                .map(|(name, value)| pb::RenderedHeader { name, value })
                .collect(),
            body: self.body,
        }
    }
}
