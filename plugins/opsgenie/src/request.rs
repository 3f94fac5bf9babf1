//! Turning one platform event into one Opsgenie Alert API request, by the event's lifecycle
//! stage: opened → create the alert (`POST /v2/alerts`), updated → add a note, acknowledged →
//! acknowledge, resolved → close — the last three addressed by alias
//! (`/v2/alerts/{alias}/…?identifierType=alias`). Pure: `deliver` and `preview` share it.

use serde_json::{Map, Value, json};
use switchyard_plugin_sdk::lifecycle::{Stage, cut_chars, thread_key};
use switchyard_plugin_sdk::template::{TemplateCache, TemplateError};
use switchyard_plugin_sdk::{DeliveryContext, NoConnection};

use crate::config::OpsgenieConfig;

/// Opsgenie's limits, in characters.
const MESSAGE_LIMIT: usize = 130;
const ALIAS_LIMIT: usize = 512;
const DESCRIPTION_LIMIT: usize = 15_000;
const NOTE_LIMIT: usize = 25_000;
const DETAIL_LIMIT: usize = 8_000;

/// The request to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The lifecycle stage that chose it.
    pub stage: Stage,
    /// The path segments under the base URL (encoded when the URL is built).
    pub segments: Vec<String>,
    /// `identifierType=alias` for actions on an existing alert.
    pub by_alias: bool,
    /// The JSON body.
    pub body: Value,
}

/// The alias of a delivery's alert: the SDK's [`thread_key`], cut to 512 characters.
#[must_use]
pub fn alias<C, K>(ctx: &DeliveryContext<C, K>) -> String {
    thread_key(ctx, ALIAS_LIMIT)
}

/// Builds the request for one delivery.
///
/// # Errors
/// When the message template does not compile or fails to render.
pub fn outgoing(
    ctx: &DeliveryContext<OpsgenieConfig, NoConnection>,
    templates: &TemplateCache,
) -> Result<Outgoing, TemplateError> {
    let stage = Stage::of(&ctx.event.event_type, &ctx.event.payload);
    let alias = alias(ctx);
    let message = templates.line(
        "/messageTemplate",
        ctx.config.message_template.as_deref(),
        ctx,
        MESSAGE_LIMIT,
    )?;
    let action = |verb: &str, body: Value| Outgoing {
        stage,
        segments: vec!["v2".into(), "alerts".into(), alias.clone(), verb.into()],
        by_alias: true,
        body,
    };
    let note = cut_chars(&format!("{}: {message}", ctx.event.event_type), NOTE_LIMIT);
    Ok(match stage {
        Stage::Opened => Outgoing {
            stage,
            segments: vec!["v2".into(), "alerts".into()],
            by_alias: false,
            body: create_body(ctx, &alias, message),
        },
        Stage::Updated => action("notes", json!({"note": note, "source": "Switchyard"})),
        Stage::Acknowledged => action("acknowledge", json!({"note": note, "source": "Switchyard"})),
        Stage::Resolved => action("close", json!({"note": note, "source": "Switchyard"})),
    })
}

fn create_body(
    ctx: &DeliveryContext<OpsgenieConfig, NoConnection>,
    alias: &str,
    message: String,
) -> Value {
    let config = &ctx.config;
    let payload = &ctx.event.payload;
    let mut body = json!({
        "message": message,
        "alias": alias,
        "description": cut_chars(&description(payload), DESCRIPTION_LIMIT),
        "details": details(ctx),
        "source": "Switchyard",
        "priority": config.priority_of(payload),
        "tags": config.tags,
    });
    if let Some(entity) = payload.get("systemName").and_then(Value::as_str) {
        body["entity"] = json!(cut_chars(entity, 512));
    }
    if let Some(team) = &config.team {
        body["responders"] = json!([{"type": "team", "name": team}]);
    }
    body
}

/// The payload's fields as "key: value" lines, for the alert's description.
fn description(payload: &Value) -> String {
    match payload.as_object() {
        Some(fields) => fields
            .iter()
            .map(|(k, v)| format!("{k}: {}", as_text(v)))
            .collect::<Vec<_>>()
            .join("\n"),
        None => payload.to_string(),
    }
}

/// Opsgenie's `details` hold strings only: each top-level payload field as its text (nested
/// values as JSON), plus the event's identity.
fn details(ctx: &DeliveryContext<OpsgenieConfig, NoConnection>) -> Value {
    let mut details: Map<String, Value> = ctx
        .event
        .payload
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                Value::String(cut_chars(&as_text(v), DETAIL_LIMIT)),
            )
        })
        .collect();
    details.insert("eventType".into(), json!(ctx.event.event_type));
    details.insert("deliveryId".into(), json!(ctx.event.delivery_id));
    Value::Object(details)
}

fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
