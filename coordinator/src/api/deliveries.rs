//! `DeliveryService`: get, list (filters + paging + `total`), attempts, redeliver, bulk
//! redeliver, the `WatchDeliveries` server stream, and stats. Replays go through the engine,
//! which appends a manual attempt and never resets a delivery's history.

use std::pin::Pin;

use switchyard_proto::coordinator::v1 as api;
use switchyard_proto::coordinator::v1::delivery_service_server::DeliveryService;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::ApiContext;
use super::convert::{
    duration_ms, from_timestamp, next_page_token, or_default, page_request, parse_id, parse_opt_id,
    timestamp,
};
use super::status::{ApiError, ApiResult};
use crate::model::{
    Attempt, AttemptOutcome, AttemptTrigger, Delivery, DeliveryFilter, DeliveryId, DeliveryStatus,
    Stats, SubscriptionId,
};

mod watch;

/// Serves `DeliveryService`.
#[derive(Debug, Clone)]
pub struct Deliveries(pub(crate) ApiContext);

type Res<T> = Result<Response<T>, Status>;

/// The stream type of `WatchDeliveries`.
pub type WatchStream =
    Pin<Box<dyn Stream<Item = Result<api::WatchDeliveriesResponse, Status>> + Send>>;

#[tonic::async_trait]
impl DeliveryService for Deliveries {
    async fn get_delivery(
        &self,
        req: Request<api::GetDeliveryRequest>,
    ) -> Res<api::GetDeliveryResponse> {
        let d = get(&self.0, &req.into_inner().id)?;
        Ok(Response::new(api::GetDeliveryResponse {
            delivery: Some(delivery_to_api(&d)),
        }))
    }

    async fn list_deliveries(
        &self,
        req: Request<api::ListDeliveriesRequest>,
    ) -> Res<api::ListDeliveriesResponse> {
        let req = req.into_inner();
        let filter = DeliveryFilter {
            subscription_id: parse_opt_id::<SubscriptionId>(
                "subscription_id",
                &req.subscription_id,
            )?,
            event_type: Some(req.event_type).filter(|s| !s.is_empty()),
            status: status_filter(req.status)?,
            from: from_timestamp("created_after", req.created_after)?,
            to: from_timestamp("created_before", req.created_before)?,
        };
        let page = page_request(req.page_size, &req.page_token)?;
        let page = self
            .0
            .store
            .list_deliveries(&filter, page)
            .map_err(ApiError::from)?;
        Ok(Response::new(api::ListDeliveriesResponse {
            deliveries: page.items.iter().map(delivery_to_api).collect(),
            next_page_token: next_page_token(page.next_offset),
            total: page.total as u64,
        }))
    }

    async fn list_delivery_attempts(
        &self,
        req: Request<api::ListDeliveryAttemptsRequest>,
    ) -> Res<api::ListDeliveryAttemptsResponse> {
        let d = get(&self.0, &req.into_inner().delivery_id)?;
        let attempts = self.0.store.attempts(d.id).map_err(ApiError::from)?;
        Ok(Response::new(api::ListDeliveryAttemptsResponse {
            attempts: attempts.iter().map(attempt_to_api).collect(),
        }))
    }

    async fn redeliver_delivery(
        &self,
        req: Request<api::RedeliverDeliveryRequest>,
    ) -> Res<api::RedeliverDeliveryResponse> {
        let d = get(&self.0, &req.into_inner().id)?;
        if d.status() == DeliveryStatus::InFlight {
            return Err(ApiError::FailedPrecondition(format!(
                "delivery {} has an attempt in flight; wait for it to finish, then redeliver",
                d.id
            ))
            .into());
        }
        let d = self
            .0
            .engine
            .redeliver(d.id)
            .await
            .map_err(ApiError::from)?;
        tracing::info!(delivery = %d.id, subscription = %d.subscription_id, "manual redelivery started");
        Ok(Response::new(api::RedeliverDeliveryResponse {
            delivery: Some(delivery_to_api(&d)),
        }))
    }

    async fn bulk_redeliver_deliveries(
        &self,
        req: Request<api::BulkRedeliverDeliveriesRequest>,
    ) -> Res<api::BulkRedeliverDeliveriesResponse> {
        let req = req.into_inner();
        let sub: SubscriptionId = parse_id("subscription_id", &req.subscription_id)?;
        if self
            .0
            .store
            .get_subscription(sub)
            .map_err(ApiError::from)?
            .is_none()
        {
            return Err(ApiError::NotFound(format!("subscription {sub} does not exist")).into());
        }
        let from = from_timestamp("created_after", req.created_after)?.ok_or_else(|| {
            ApiError::field("created_after", "is required: the start of the window")
        })?;
        let to = from_timestamp("created_before", req.created_before)?;
        let ids = self
            .0
            .engine
            .bulk_redeliver(sub, Some(from), to)
            .await
            .map_err(ApiError::from)?;
        tracing::info!(subscription = %sub, count = ids.len(), "bulk redelivery started");
        Ok(Response::new(api::BulkRedeliverDeliveriesResponse {
            redelivered: ids.len() as u64,
            delivery_ids: ids.iter().map(ToString::to_string).collect(),
        }))
    }

    type WatchDeliveriesStream = WatchStream;

    async fn watch_deliveries(
        &self,
        req: Request<api::WatchDeliveriesRequest>,
    ) -> Res<Self::WatchDeliveriesStream> {
        Ok(Response::new(watch::stream(&self.0, req.into_inner())?))
    }

    async fn get_delivery_stats(
        &self,
        req: Request<api::GetDeliveryStatsRequest>,
    ) -> Res<api::GetDeliveryStatsResponse> {
        let hours = or_default(req.into_inner().hours, 24);
        let stats = self.0.engine.stats(hours).map_err(ApiError::from)?;
        Ok(Response::new(stats_to_api(&stats)))
    }
}

fn get(ctx: &ApiContext, id: &str) -> ApiResult<Delivery> {
    let id: DeliveryId = parse_id("id", id)?;
    ctx.store
        .get_delivery(id)?
        .ok_or_else(|| ApiError::NotFound(format!("delivery {id} does not exist")))
}

fn status_filter(status: i32) -> ApiResult<Option<DeliveryStatus>> {
    let status = api::DeliveryStatus::try_from(status)
        .map_err(|_| ApiError::field("status", format!("{status} is not a DeliveryStatus")))?;
    Ok(match status {
        api::DeliveryStatus::Unspecified => None,
        api::DeliveryStatus::Pending => Some(DeliveryStatus::Pending),
        api::DeliveryStatus::InFlight => Some(DeliveryStatus::InFlight),
        api::DeliveryStatus::Succeeded => Some(DeliveryStatus::Succeeded),
        api::DeliveryStatus::Retrying => Some(DeliveryStatus::Retrying),
        api::DeliveryStatus::Failed => Some(DeliveryStatus::Failed),
        api::DeliveryStatus::Cancelled => Some(DeliveryStatus::Cancelled),
        api::DeliveryStatus::Waiting => Some(DeliveryStatus::Waiting),
    })
}

pub(crate) fn status_to_api(status: DeliveryStatus) -> api::DeliveryStatus {
    match status {
        DeliveryStatus::Pending => api::DeliveryStatus::Pending,
        DeliveryStatus::InFlight => api::DeliveryStatus::InFlight,
        DeliveryStatus::Succeeded => api::DeliveryStatus::Succeeded,
        DeliveryStatus::Retrying => api::DeliveryStatus::Retrying,
        DeliveryStatus::Failed => api::DeliveryStatus::Failed,
        DeliveryStatus::Cancelled => api::DeliveryStatus::Cancelled,
        DeliveryStatus::Waiting => api::DeliveryStatus::Waiting,
    }
}

/// A delivery as the API shows it.
pub(crate) fn delivery_to_api(d: &Delivery) -> api::Delivery {
    api::Delivery {
        id: d.id.to_string(),
        event_id: d.event_id.to_string(),
        event_type: d.event_type.clone(),
        subscription_id: d.subscription_id.to_string(),
        provider_id: d.provider_id.clone(),
        status: status_to_api(d.status()).into(),
        attempts: d.attempts,
        next_attempt_at: d.next_attempt_at().map(timestamp),
        last_error: d.last_error.clone().unwrap_or_default(),
        created_at: Some(timestamp(d.created_at)),
        updated_at: Some(timestamp(d.updated_at)),
        test: d.test,
        correlation_key: d.correlation_key.clone().unwrap_or_default(),
    }
}

fn attempt_to_api(a: &Attempt) -> api::DeliveryAttempt {
    let outcome = match a.outcome {
        AttemptOutcome::Delivered => api::AttemptOutcome::Delivered,
        AttemptOutcome::Retryable => api::AttemptOutcome::Retryable,
        AttemptOutcome::RateLimited => api::AttemptOutcome::RateLimited,
        AttemptOutcome::Permanent => api::AttemptOutcome::Permanent,
    };
    let trigger = match a.trigger {
        AttemptTrigger::Scheduled => api::AttemptTrigger::Scheduled,
        AttemptTrigger::Manual => api::AttemptTrigger::Manual,
    };
    api::DeliveryAttempt {
        number: a.number,
        started_at: Some(timestamp(a.started_at)),
        ended_at: Some(timestamp(a.ended_at)),
        duration: Some(duration_ms(a.duration_ms)),
        outcome: outcome.into(),
        error: a.error.clone().unwrap_or_default(),
        external_id: a.external_id.clone().unwrap_or_default(),
        retry_after: a.retry_after_ms.map(duration_ms),
        trigger: trigger.into(),
        status_code: a.status_code.unwrap_or(0),
        response_excerpt: a.response_excerpt.clone().unwrap_or_default(),
    }
}

fn stats_to_api(s: &Stats) -> api::GetDeliveryStatsResponse {
    let keyed = |m: &std::collections::BTreeMap<String, crate::model::StatusCounts>| {
        m.iter()
            .map(|(key, c)| api::KeyCount {
                key: key.clone(),
                count: c.total,
            })
            .collect()
    };
    api::GetDeliveryStatsResponse {
        since: s.since.map(timestamp),
        total: s.overall.total,
        by_status: s
            .overall
            .by_status
            .iter()
            .map(|(st, n)| api::StatusCount {
                status: status_to_api(*st).into(),
                count: *n,
            })
            .collect(),
        by_event_type: keyed(&s.by_event_type),
        by_provider: keyed(&s.by_provider),
    }
}
