//! Traces in a plugin, on when the host passes `OTEL_EXPORTER_OTLP_ENDPOINT` (it passes on its
//! own `OTEL_*` variables; `OTEL_SERVICE_NAME` defaults to the executable's name): [`serve`]
//! exports over OTLP/gRPC, and
//!
//! - each `Deliver` call is a server span (`switchyard.plugin.v1.ProviderPlugin/Deliver`), child
//!   of the `traceparent` the host sent in the call's metadata — the coordinator's span of the
//!   delivery attempt — so the plugin's spans join the platform's trace;
//! - each vendor request sent with [`TracedSend::send_traced`] is a client span (`POST`…) with
//!   its method, host, port and status — never its path or query, which may hold a secret
//!   (a Slack webhook URL is one).
//!
//! Log lines written during a traced call carry its `trace_id` (see [`crate::log`]).
//! While traces are off none of this allocates.
//!
//! [`serve`]: crate::serve

use opentelemetry::KeyValue;
use switchyard_proto::plugin::v1 as pb;
use switchyard_traces::{Context, kind};

/// Turns traces on if the environment asks; a variable that cannot be honoured is logged and
/// traces stay off (the host checked the same variables before starting the plugin).
pub(crate) fn init() -> Option<switchyard_traces::Traces> {
    let name = std::env::args()
        .next()
        .and_then(|arg0| {
            std::path::Path::new(&arg0)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "switchyard-plugin".to_owned());
    match switchyard_traces::init_from_env(&name) {
        Ok(traces) => traces,
        Err(error) => {
            tracing::warn!(%error, "traces are off");
            None
        }
    }
}

/// The context of a `Deliver` call: a server span under the host's `traceparent` while traces
/// are on; the host's context itself (passed on) while they are off; `None` without either.
pub(crate) fn deliver_call(request: &tonic::Request<pb::DeliverRequest>) -> Option<Context> {
    let parent = switchyard_traces::extract(request.metadata().as_ref());
    let req = request.get_ref();
    let span = switchyard_traces::start(
        "switchyard.plugin.v1.ProviderPlugin/Deliver",
        kind::Server,
        parent.as_ref(),
        || {
            let event = req.event.clone().unwrap_or_default();
            vec![
                KeyValue::new("rpc.system", "grpc"),
                KeyValue::new("rpc.service", "switchyard.plugin.v1.ProviderPlugin"),
                KeyValue::new("rpc.method", "Deliver"),
                KeyValue::new("switchyard.provider", req.provider_id.clone()),
                KeyValue::new("switchyard.delivery.id", event.delivery_id),
                KeyValue::new("switchyard.attempt", i64::from(event.attempt)),
            ]
        },
    );
    span.or(parent)
}

/// Ends a `Deliver` span with the outcome the provider reported (its error text is already
/// scrubbed of the call's secrets by the SDK).
pub(crate) fn end_deliver(cx: &Context, answer: &Result<pb::DeliverResponse, tonic::Status>) {
    let error = match answer {
        Ok(response) => {
            let outcome = response.outcome().as_str_name();
            switchyard_traces::set_attribute(cx, KeyValue::new("switchyard.outcome", outcome));
            (response.outcome() != pb::Outcome::Delivered).then(|| response.error.clone())
        }
        Err(status) => Some(format!("{:?}", status.code())),
    };
    switchyard_traces::end(cx, error.as_deref());
}

/// `send_traced`: [`reqwest::RequestBuilder::send`] inside a client span while traces are on.
pub trait TracedSend {
    /// Sends the request; while traces are on, under a client span (child of the current
    /// call's span) named for the method, with `server.address`, `server.port` and
    /// `http.response.status_code`, failed on a 4xx/5xx status or a network error.
    fn send_traced(self) -> impl Future<Output = Result<reqwest::Response, reqwest::Error>> + Send;
}

impl TracedSend for reqwest::RequestBuilder {
    async fn send_traced(self) -> Result<reqwest::Response, reqwest::Error> {
        if !switchyard_traces::enabled() {
            return self.send().await;
        }
        let (client, request) = self.build_split();
        let request = request?;
        let parent = switchyard_traces::current();
        let url = request.url();
        let (method, host, port) = (
            request.method().as_str().to_owned(),
            url.host_str().unwrap_or_default().to_owned(),
            url.port_or_known_default().unwrap_or(0),
        );
        let Some(cx) =
            switchyard_traces::start(method.clone(), kind::Client, parent.as_ref(), || {
                vec![
                    KeyValue::new("http.request.method", method),
                    KeyValue::new("server.address", host),
                    KeyValue::new("server.port", i64::from(port)),
                ]
            })
        else {
            return client.execute(request).await;
        };
        let response = client.execute(request).await;
        let error = match &response {
            Ok(r) => {
                let status = r.status();
                switchyard_traces::set_attribute(
                    &cx,
                    KeyValue::new("http.response.status_code", i64::from(status.as_u16())),
                );
                (status.is_client_error() || status.is_server_error())
                    .then(|| format!("HTTP {}", status.as_u16()))
            }
            Err(e) if e.is_timeout() => Some("request timed out".to_owned()),
            Err(e) if e.is_connect() => Some("cannot connect".to_owned()),
            Err(_) => Some("request failed".to_owned()),
        };
        switchyard_traces::end(&cx, error.as_deref());
        response
    }
}
