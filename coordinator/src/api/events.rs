//! `EventService.PublishEvent`: checks the event type is registered, the payload's size, that
//! it is a JSON object matching the type's payload schema (every problem with its JSON path),
//! then hands it to the engine, which answers once the event and its deliveries are durable.

use switchyard_proto::coordinator::v1 as api;
use switchyard_proto::coordinator::v1::event_service_server::EventService;
use tonic::{Request, Response, Status};

use super::ApiContext;
use super::convert::{from_timestamp, parse_json_object};
use super::deliveries::delivery_to_api;
use super::status::{ApiError, ApiResult};
use crate::model::{EventType, NewEvent};
use serde_json::Value;

/// Longest accepted idempotency key, in bytes.
pub const MAX_IDEMPOTENCY_KEY: usize = 200;

/// Serves `EventService`.
#[derive(Debug, Clone)]
pub struct Events(pub(crate) ApiContext);

#[tonic::async_trait]
impl EventService for Events {
    async fn publish_event(
        &self,
        req: Request<api::PublishEventRequest>,
    ) -> Result<Response<api::PublishEventResponse>, Status> {
        let new = validate(&self.0, req.into_inner())?;
        let published = self.0.engine.publish(new).await.map_err(ApiError::from)?;
        Ok(Response::new(api::PublishEventResponse {
            event_id: published.event.id.to_string(),
            deliveries: published.deliveries.iter().map(delivery_to_api).collect(),
            duplicate: published.duplicate,
        }))
    }
}

fn validate(ctx: &ApiContext, req: api::PublishEventRequest) -> ApiResult<NewEvent> {
    super::event_types::reserved("event_type", &req.event_type)?;
    let event_type = super::event_types::get(ctx, &req.event_type)?;
    if req.idempotency_key.len() > MAX_IDEMPOTENCY_KEY {
        return Err(ApiError::field(
            "idempotency_key",
            format!("must be at most {MAX_IDEMPOTENCY_KEY} bytes"),
        ));
    }
    let payload = payload(ctx, &event_type, &req.payload_json)?;
    let correlation_key = match &event_type.correlation_path {
        Some(path) => crate::model::correlation_key(path, &payload).map_err(|len| {
            ApiError::field(
                "payload_json",
                format!(
                    "the correlation key at {path} is {len} bytes; at most {} are allowed",
                    crate::model::MAX_CORRELATION_KEY
                ),
            )
        })?,
        None => None,
    };
    Ok(NewEvent {
        event_type: event_type.id,
        correlation_key,
        payload,
        idempotency_key: Some(req.idempotency_key).filter(|k| !k.is_empty()),
        timestamp: from_timestamp("timestamp", req.timestamp)?,
    })
}

/// The payload `text` of an event of `event_type`: within the size limit, a JSON object, valid
/// for the type's payload schema (every problem with its JSON path).
pub(crate) fn payload(ctx: &ApiContext, event_type: &EventType, text: &str) -> ApiResult<Value> {
    if text.len() > ctx.max_payload_bytes {
        return Err(ApiError::field(
            "payload_json",
            format!(
                "is {} bytes, more than the limit of {} bytes (api.max_payload_bytes); send a smaller payload",
                text.len(),
                ctx.max_payload_bytes
            ),
        ));
    }
    let payload = parse_json_object("payload_json", text)?;
    ctx.payload_validators
        .validate(event_type, &payload)
        .map_err(|p| {
            ApiError::schema(
                &format!("payload_json (for event type {})", event_type.id),
                &p,
            )
        })?;
    Ok(payload)
}
