//! `SubscriptionService`: subscriptions CRUD, filtered and paged listing with a `total` that
//! respects the filters, enable/disable. The handlers check the request's shape (names,
//! provider, event types, system ids, retry policy, rate limit) and leave the lifecycle to
//! `app::subscriptions`: the config pipeline (schema, defaults, the plugin's ValidateConfig,
//! the connection a connection-based provider's `connectionId` names, encryption), disable and
//! delete cancelling the pending deliveries in one store operation, no enable while its
//! connection's config migration failed. Configs in responses are redacted, including encrypted
//! values an older schema version marked secret.
//! PreviewDelivery ([`preview`]) and SendTestEvent ([`test_event`]) share the choice of the
//! event and its payload ([`sample`]). The rate limit and the circuit breaker's state are
//! converted in [`guard`].

use std::time::Duration;

use switchyard_proto::coordinator::v1 as api;
use switchyard_proto::coordinator::v1::subscription_service_server::SubscriptionService;
use tonic::{Request, Response, Status};

use super::ApiContext;
use super::bounds;
use super::convert::{next_page_token, page_request, parse_id, parse_json_object, timestamp};
use super::providers::resolve;
use super::status::{ApiError, ApiResult};
use crate::app::config_pipeline::{self as configs, Kind};
use crate::app::{self, subscriptions::Draft};
use crate::model::{RetryPolicy, Subscription, SubscriptionFilter, SubscriptionId};
use crate::text::quote;

mod guard;
mod preview;
mod sample;
mod test_event;

/// Serves `SubscriptionService`.
#[derive(Debug, Clone)]
pub struct Subscriptions(pub(crate) ApiContext);

type Res<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl SubscriptionService for Subscriptions {
    async fn create_subscription(
        &self,
        req: Request<api::CreateSubscriptionRequest>,
    ) -> Res<api::CreateSubscriptionResponse> {
        let input = req
            .into_inner()
            .subscription
            .ok_or_else(|| ApiError::field("subscription", "is required"))?;
        let draft = draft(&self.0, input)?;
        let sub = app::subscriptions::create(&self.0.app(), draft)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(api::CreateSubscriptionResponse {
            subscription: Some(to_api(&self.0, &sub)),
        }))
    }

    async fn get_subscription(
        &self,
        req: Request<api::GetSubscriptionRequest>,
    ) -> Res<api::GetSubscriptionResponse> {
        let sub = get(&self.0, &req.into_inner().id)?;
        Ok(Response::new(api::GetSubscriptionResponse {
            subscription: Some(to_api(&self.0, &sub)),
        }))
    }

    async fn list_subscriptions(
        &self,
        req: Request<api::ListSubscriptionsRequest>,
    ) -> Res<api::ListSubscriptionsResponse> {
        let req = req.into_inner();
        let filter = SubscriptionFilter {
            provider_id: Some(req.provider_id).filter(|s| !s.is_empty()),
            event_type: Some(req.event_type).filter(|s| !s.is_empty()),
            enabled: req.enabled,
        };
        let page = page_request(req.page_size, &req.page_token)?;
        let page = self
            .0
            .store
            .list_subscriptions(&filter, page)
            .map_err(ApiError::from)?;
        Ok(Response::new(api::ListSubscriptionsResponse {
            subscriptions: page.items.iter().map(|s| to_api(&self.0, s)).collect(),
            next_page_token: next_page_token(page.next_offset),
            total: page.total as u64,
        }))
    }

    async fn update_subscription(
        &self,
        req: Request<api::UpdateSubscriptionRequest>,
    ) -> Res<api::UpdateSubscriptionResponse> {
        let input = req
            .into_inner()
            .subscription
            .ok_or_else(|| ApiError::field("subscription", "is required"))?;
        let id = parse_id("id", &input.id)?;
        // The stored record must exist before the input is judged (NOT_FOUND first).
        app::subscriptions::get(&self.0.app(), id).map_err(ApiError::from)?;
        let draft = draft(&self.0, input)?;
        let sub = app::subscriptions::update(&self.0.app(), id, draft)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(api::UpdateSubscriptionResponse {
            subscription: Some(to_api(&self.0, &sub)),
        }))
    }

    async fn delete_subscription(
        &self,
        req: Request<api::DeleteSubscriptionRequest>,
    ) -> Res<api::DeleteSubscriptionResponse> {
        let id = parse_id("id", &req.into_inner().id)?;
        let cancelled = app::subscriptions::delete(&self.0.app(), id).map_err(ApiError::from)?;
        Ok(Response::new(api::DeleteSubscriptionResponse {
            cancelled_deliveries: cancelled as u64,
        }))
    }

    async fn enable_subscription(
        &self,
        req: Request<api::EnableSubscriptionRequest>,
    ) -> Res<api::EnableSubscriptionResponse> {
        let id = parse_id("id", &req.into_inner().id)?;
        let sub = app::subscriptions::enable(&self.0.app(), id)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(api::EnableSubscriptionResponse {
            subscription: Some(to_api(&self.0, &sub)),
        }))
    }

    async fn disable_subscription(
        &self,
        req: Request<api::DisableSubscriptionRequest>,
    ) -> Res<api::DisableSubscriptionResponse> {
        let id = parse_id("id", &req.into_inner().id)?;
        let (sub, cancelled) = app::subscriptions::disable(&self.0.app(), id)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(api::DisableSubscriptionResponse {
            subscription: Some(to_api(&self.0, &sub)),
            cancelled_deliveries: cancelled as u64,
        }))
    }

    async fn preview_delivery(
        &self,
        req: Request<api::PreviewDeliveryRequest>,
    ) -> Res<api::PreviewDeliveryResponse> {
        Ok(Response::new(
            preview::preview(&self.0, req.into_inner()).await?,
        ))
    }

    async fn send_test_event(
        &self,
        req: Request<api::SendTestEventRequest>,
    ) -> Res<api::SendTestEventResponse> {
        Ok(Response::new(
            test_event::send(&self.0, req.into_inner()).await?,
        ))
    }
}

/// Checks the shape of `input` (names, provider, event types, system ids, retry policy, rate
/// limit) and converts it for the application layer, which judges the config. Nothing is
/// stored here.
fn draft(ctx: &ApiContext, input: api::Subscription) -> ApiResult<Draft> {
    bounds::name("subscription.name", &input.name)?;
    bounds::description("subscription.description", &input.description)?;
    let provider = resolve(ctx, &input.provider_id)?;
    check_event_types(ctx, &input.event_types)?;
    bounds::id_list("subscription.system_ids", &input.system_ids)?;
    if input.system_ids.iter().any(|s| s.trim().is_empty()) {
        return Err(ApiError::field(
            "subscription.system_ids",
            "must not contain empty ids",
        ));
    }
    let config = parse_json_object("subscription.config_json", &input.config_json)?;
    let retry_policy = input
        .retry_policy
        .map(|p| retry_policy(ctx, p))
        .transpose()?;
    Ok(Draft {
        name: input.name,
        description: input.description,
        provider,
        event_types: input.event_types,
        system_ids: input.system_ids,
        config,
        enabled: input.enabled,
        retry_policy,
        rate_limit: guard::rate_limit(input.rate_limit)?,
    })
}

/// Patterns are dotted segments or `*`; exact ids must be registered.
fn check_event_types(ctx: &ApiContext, patterns: &[String]) -> ApiResult<()> {
    if patterns.is_empty() {
        return Err(ApiError::field(
            "subscription.event_types",
            "needs at least one event type or pattern, e.g. \"incident.*\"",
        ));
    }
    bounds::id_list("subscription.event_types", patterns)?;
    for p in patterns {
        let ok = p
            .split('.')
            .all(|s| s == "*" || (!s.is_empty() && !s.contains('*')));
        if !ok {
            return Err(ApiError::field(
                "subscription.event_types",
                format!(
                    "{} is not an event type or pattern (use whole segments, e.g. \"incident.*\", \"*.incident.created\" or \"*\")",
                    quote(p)
                ),
            ));
        }
        if !p.contains('*') {
            super::event_types::get(ctx, p)?;
        }
    }
    Ok(())
}

fn retry_policy(ctx: &ApiContext, p: api::RetryPolicy) -> ApiResult<RetryPolicy> {
    let delays = p
        .retry_delays
        .iter()
        .map(|d| {
            humantime::parse_duration(d).map_err(|e| {
                ApiError::field(
                    "subscription.retry_policy.retry_delays",
                    format!(
                        "{} is not a duration like \"250ms\" or \"5m\": {e}",
                        quote(d)
                    ),
                )
            })
        })
        .collect::<ApiResult<Vec<Duration>>>()?;
    let jitter = p.jitter.unwrap_or(ctx.default_jitter);
    if !(0.0..=1.0).contains(&jitter) {
        return Err(ApiError::field(
            "subscription.retry_policy.jitter",
            "must be between 0 and 1",
        ));
    }
    Ok(RetryPolicy { delays, jitter })
}

fn get(ctx: &ApiContext, id: &str) -> ApiResult<Subscription> {
    let id: SubscriptionId = parse_id("id", id)?;
    Ok(app::subscriptions::get(&ctx.app(), id)?)
}

fn to_api(ctx: &ApiContext, s: &Subscription) -> api::Subscription {
    let schema = ctx
        .registry
        .resolve(&s.provider_id)
        .and_then(|e| configs::schema(&e, Kind::Provider).ok());
    api::Subscription {
        id: s.id.to_string(),
        name: s.name.clone(),
        description: s.description.clone(),
        provider_id: s.provider_id.clone(),
        config_json: configs::redacted_text(schema.as_ref(), &s.config),
        config_version: s.schema_version,
        event_types: s.event_types.clone(),
        system_ids: s.system_ids.clone(),
        retry_policy: s.retry_policy.as_ref().map(|p| api::RetryPolicy {
            retry_delays: p
                .delays
                .iter()
                .map(|d| humantime::format_duration(*d).to_string())
                .collect(),
            jitter: Some(p.jitter),
        }),
        enabled: s.enabled,
        disabled_reason: s.disabled_reason.clone().unwrap_or_default(),
        created_at: Some(timestamp(s.created_at)),
        updated_at: Some(timestamp(s.updated_at)),
        rate_limit: guard::rate_limit_out(s.rate_limit),
        circuit_breaker: Some(guard::circuit_breaker(ctx, s.id)),
    }
}
