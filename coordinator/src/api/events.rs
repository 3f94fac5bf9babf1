//! `EventService.PublishEvent`: checks the event type is registered, the payload's size, that
//! it is a JSON object matching the type's payload schema (every problem with its JSON path),
//! then hands it to the engine, which answers once the event and its deliveries are durable.
//! `PublishEvents` does the same for each event of a batch, with one result per event: a
//! refused event carries the status `PublishEvent` would have failed with.

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

/// Most events in one `PublishEvents` call.
pub const MAX_BATCH: usize = 1000;

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
        Ok(Response::new(published_to_api(&published)))
    }

    async fn publish_events(
        &self,
        req: Request<api::PublishEventsRequest>,
    ) -> Result<Response<api::PublishEventsResponse>, Status> {
        let events = req.into_inner().events;
        if events.is_empty() || events.len() > MAX_BATCH {
            return Err(ApiError::field(
                "events",
                format!(
                    "has {} events; send 1 to {MAX_BATCH} per call",
                    events.len()
                ),
            )
            .into());
        }
        // Refused events are answered at once; `None` keeps an accepted event's place.
        let mut results: Vec<Option<api::PublishEventResult>> = Vec::with_capacity(events.len());
        let mut valid = Vec::with_capacity(events.len());
        for event in events {
            match validate(&self.0, event) {
                Ok(new) => {
                    valid.push(new);
                    results.push(None);
                }
                Err(e) => results.push(Some(result_to_api(Err(e)))),
            }
        }
        let mut published = self
            .0
            .engine
            .publish_many(valid)
            .await
            .map_err(ApiError::from)?
            .into_iter();
        let results = results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    let next = published.next();
                    result_to_api(next.map_or_else(|| Err(unanswered()), |p| p.map_err(Into::into)))
                })
            })
            .collect();
        Ok(Response::new(api::PublishEventsResponse { results }))
    }
}

/// The engine's answer for one event in the API's shape.
fn published_to_api(published: &crate::engine::Published) -> api::PublishEventResponse {
    api::PublishEventResponse {
        event_id: published.event.id.to_string(),
        deliveries: published.deliveries.iter().map(delivery_to_api).collect(),
        duplicate: published.duplicate,
    }
}

/// One event's result of `PublishEvents`; an error becomes the status `PublishEvent` would have
/// returned (through `status`, the one place errors become statuses).
fn result_to_api(outcome: ApiResult<crate::engine::Published>) -> api::PublishEventResult {
    use api::publish_event_result::Outcome;
    let outcome = match outcome {
        Ok(p) => Outcome::Published(published_to_api(&p)),
        Err(e) => {
            let status = Status::from(e);
            Outcome::Error(api::PublishEventError {
                code: status.code() as i32,
                code_name: code_name(status.code()),
                message: status.message().to_owned(),
            })
        }
    };
    api::PublishEventResult {
        outcome: Some(outcome),
    }
}

/// An event the engine gave no answer for (a bug: it answers every event it is handed).
fn unanswered() -> ApiError {
    ApiError::Internal("the engine returned fewer results than events".into())
}

/// The canonical name of a gRPC code, e.g. `INVALID_ARGUMENT`.
fn code_name(code: tonic::Code) -> String {
    let mut name = String::new();
    for (i, c) in format!("{code:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
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
