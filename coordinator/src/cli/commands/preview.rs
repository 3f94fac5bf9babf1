//! `switchyard subscriptions preview` (the request a delivery would send, nothing sent) and
//! `switchyard subscriptions test` (one real test delivery to one subscription).

use serde_json::{Value, json};
use switchyard_proto::coordinator::v1::{
    PreviewDeliveryRequest, PreviewDeliveryResponse, RenderedRequest, SendTestEventRequest,
};

use super::deliveries::{delivery_json, shown_status};
use super::{Body, json_arg};
use crate::cli::client::Clients;
use crate::cli::output::{Output, json_text};

/// Arguments of `switchyard subscriptions preview`.
#[derive(Debug, clap::Args)]
pub struct PreviewArgs {
    /// A saved subscription's id; leave it out to preview an unsaved --provider and --config.
    #[arg(required_unless_present = "provider", conflicts_with_all = ["provider", "config", "connection"])]
    id: Option<String>,
    /// Event type id; defaults to the subscription's only exact event type.
    #[arg(long)]
    event_type: Option<String>,
    /// Payload as JSON text, or @FILE; defaults to an example made from the event type's
    /// payload schema.
    #[arg(long)]
    payload: Option<String>,
    /// Unsaved config: the qualified provider id.
    #[arg(long, requires = "config")]
    provider: Option<String>,
    /// Unsaved config: the provider config as JSON text, or @FILE (secrets in plain text).
    #[arg(long)]
    config: Option<String>,
    /// Unsaved config: the saved connection it uses (connection-based providers).
    #[arg(long)]
    connection: Option<String>,
}

pub(super) async fn preview(a: PreviewArgs, mut c: Clients, out: Output) -> Result<(), String> {
    let req = PreviewDeliveryRequest {
        subscription_id: a.id.unwrap_or_default(),
        provider_id: a.provider.unwrap_or_default(),
        config_json: a
            .config
            .as_deref()
            .map(json_arg)
            .transpose()?
            .unwrap_or_default(),
        connection_id: a.connection.unwrap_or_default(),
        event_type: a.event_type.unwrap_or_default(),
        payload_json: a
            .payload
            .as_deref()
            .map(json_arg)
            .transpose()?
            .unwrap_or_default(),
    };
    let r = c.subscriptions.preview_delivery(req).await.body()?;
    print_preview(&r, out);
    Ok(())
}

fn print_preview(r: &PreviewDeliveryResponse, out: Output) {
    let request = r.request.clone().unwrap_or_default();
    let payload = if r.example_payload {
        format!("example made from the payload schema of {}", r.event_type)
    } else {
        format!("as given, for {}", r.event_type)
    };
    // One line per field (the output escapes line breaks): a `header` line per header.
    let mut fields = vec![
        ("method", request.method.clone()),
        ("url", request.url.clone()),
    ];
    fields.extend(
        request
            .headers
            .iter()
            .map(|h| ("header", format!("{}: {}", h.name, h.value))),
    );
    fields.push(("body", request.body.clone()));
    fields.push(("payload", payload));
    let json = json!({
        "request": request_json(&request), "eventType": r.event_type,
        "payload": json_text(&r.payload_json), "examplePayload": r.example_payload,
    });
    out.record(&fields, &json);
    out.note("(nothing was sent)");
}

fn request_json(r: &RenderedRequest) -> Value {
    json!({
        "method": r.method, "url": r.url, "body": r.body,
        "headers": r.headers.iter().map(|h| json!({"name": h.name, "value": h.value})).collect::<Vec<_>>(),
    })
}

pub(super) async fn test(
    id: String,
    event_type: Option<String>,
    payload: Option<String>,
    mut c: Clients,
    out: Output,
) -> Result<(), String> {
    let req = SendTestEventRequest {
        subscription_id: id,
        event_type: event_type.unwrap_or_default(),
        payload_json: payload
            .as_deref()
            .map(json_arg)
            .transpose()?
            .unwrap_or_default(),
    };
    let r = c.subscriptions.send_test_event(req).await.body()?;
    let d = r.delivery.unwrap_or_default();
    let mut json = delivery_json(&d);
    json["payload"] = json_text(&r.payload_json);
    let fields = [
        ("delivery", d.id.clone()),
        ("event", format!("{} ({})", r.event_id, d.event_type)),
        ("subscription", d.subscription_id.clone()),
        ("status", shown_status(&d)),
    ];
    out.record(&fields, &json);
    out.note(&format!(
        "(one attempt, no retries; follow it with: deliveries show {})",
        d.id
    ));
    Ok(())
}
