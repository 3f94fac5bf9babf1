//! The event a preview or a test send uses: the event type asked for (or the subscription's
//! only exact one), which the subscription must receive and the provider must support, and
//! the payload given (checked like a published one) or an example made from the event type's
//! payload schema.

use serde_json::Value;

use crate::api::ApiContext;
use crate::api::status::{ApiError, ApiResult};
use crate::host::ProviderEntry;
use crate::model::{EventType, Subscription, event_type_matches};
use crate::text::quote;

/// The event to render or send.
#[derive(Debug)]
pub(super) struct Sample {
    /// The registered event type.
    pub(super) event_type: EventType,
    /// The payload, valid for the event type.
    pub(super) payload: Value,
    /// Whether the payload is an example made from the schema.
    pub(super) example: bool,
}

/// The sample for `event_type` and `payload_json` (either may be empty), for `sub` when a
/// saved subscription is concerned.
pub(super) fn sample(
    ctx: &ApiContext,
    entry: &ProviderEntry,
    sub: Option<&Subscription>,
    event_type: &str,
    payload_json: &str,
) -> ApiResult<Sample> {
    let id = match (event_type.is_empty(), sub) {
        (true, Some(sub)) => only_exact_type(sub)?,
        _ => event_type,
    };
    let event_type = crate::api::event_types::get(ctx, id)?;
    if let Some(sub) = sub
        && !sub.matches_event_type(&event_type.id)
    {
        return Err(ApiError::field(
            "event_type",
            format!(
                "subscription {} does not receive {} (its event types: {}); pick one it receives",
                sub.id,
                quote(&event_type.id),
                sub.event_types.join(", ")
            ),
        ));
    }
    let supported = &entry.provider.supported_events;
    if !supported.is_empty()
        && !supported
            .iter()
            .any(|p| event_type_matches(p, &event_type.id))
    {
        return Err(ApiError::field(
            "event_type",
            format!(
                "provider {} does not handle {} (it handles: {})",
                entry.qualified_id,
                quote(&event_type.id),
                supported.join(", ")
            ),
        ));
    }
    let (payload, example) = if payload_json.trim().is_empty() {
        (example_payload(ctx, &event_type)?, true)
    } else {
        (
            crate::api::events::payload(ctx, &event_type, payload_json)?,
            false,
        )
    };
    Ok(Sample {
        event_type,
        payload,
        example,
    })
}

/// The subscription's one exact event type, or what to give instead.
fn only_exact_type(sub: &Subscription) -> ApiResult<&str> {
    let exact: Vec<&String> = sub
        .event_types
        .iter()
        .filter(|p| !p.contains('*'))
        .collect();
    match exact.as_slice() {
        [only] => Ok(only.as_str()),
        _ => Err(ApiError::field(
            "event_type",
            format!(
                "is required: subscription {} receives {}; name one event type, e.g. \"incident.incident.created\"",
                sub.id,
                sub.event_types.join(", ")
            ),
        )),
    }
}

/// A payload made from the event type's schema, or INVALID_ARGUMENT asking for one.
fn example_payload(ctx: &ApiContext, event_type: &EventType) -> ApiResult<Value> {
    let Some(schema) = &event_type.payload_schema else {
        return Ok(Value::Object(serde_json::Map::new()));
    };
    let made = crate::schema::example(schema);
    if !made.is_object() {
        return Err(no_example(
            event_type,
            "its payload schema is not an object schema",
        ));
    }
    ctx.payload_validators
        .validate(event_type, &made)
        .map_err(|problems| {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            no_example(event_type, &list.join("; "))
        })?;
    Ok(made)
}

fn no_example(event_type: &EventType, why: &str) -> ApiError {
    ApiError::field(
        "payload_json",
        format!(
            "is required for {}: no valid example could be made from its payload schema ({why}); give a payload",
            quote(&event_type.id)
        ),
    )
}
