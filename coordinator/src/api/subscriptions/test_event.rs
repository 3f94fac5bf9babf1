//! `SendTestEvent`: one real delivery of one event to one subscription, through the engine's
//! normal attempt path but without fan-out (no other subscription sees the event), recorded as
//! a delivery marked as a test, which gets one attempt and no retries.

use switchyard_proto::coordinator::v1 as api;

use super::sample::sample;
use crate::api::ApiContext;
use crate::api::deliveries::delivery_to_api;
use crate::api::providers::resolve;
use crate::api::status::{ApiError, ApiResult};
use crate::model::NewEvent;

/// Serves `SendTestEvent`.
pub(super) async fn send(
    ctx: &ApiContext,
    req: api::SendTestEventRequest,
) -> ApiResult<api::SendTestEventResponse> {
    let sub = super::get(ctx, &req.subscription_id)?;
    let entry = resolve(ctx, &sub.provider_id)?;
    let sample = sample(ctx, &entry, Some(&sub), &req.event_type, &req.payload_json)?;
    let payload_json = sample.payload.to_string();
    let new = NewEvent {
        event_type: sample.event_type.id,
        payload: sample.payload,
        idempotency_key: None,
        timestamp: None,
        correlation_key: None,
    };
    let published = ctx.engine.send_test(&sub, new).await?;
    let delivery = published.deliveries.first().ok_or_else(|| {
        ApiError::Internal("a test event was stored without its delivery".to_owned())
    })?;
    tracing::info!(subscription = %sub.id, delivery = %delivery.id, "test event sent");
    Ok(api::SendTestEventResponse {
        event_id: published.event.id.to_string(),
        delivery: Some(delivery_to_api(delivery)),
        payload_json,
    })
}
