//! `SubscriptionService`: subscriptions CRUD, filtered and paged listing with a `total` that
//! respects the filters, enable/disable. The config is validated against the provider's config
//! schema with defaults applied, then by the plugin's ValidateConfig when it declares it, and
//! stored with the schema version, secrets encrypted; a
//! connection-based provider's `connectionId` must name one of its connections. Disabling or
//! deleting a subscription cancels its pending deliveries through the engine. A subscription
//! cannot be enabled while its connection's config migration failed. Configs in responses are
//! redacted, including encrypted values an older schema version marked secret.
//! PreviewDelivery ([`preview`]) and SendTestEvent ([`test_event`]) share the choice of the
//! event and its payload ([`sample`]). The rate limit and the circuit breaker's state are
//! converted in [`guard`].

use std::time::Duration;

use switchyard_proto::coordinator::v1 as api;
use switchyard_proto::coordinator::v1::subscription_service_server::SubscriptionService;
use tonic::{Request, Response, Status};

use super::ApiContext;
use super::bounds;
use super::configs::{self, Kind};
use super::convert::{next_page_token, page_request, parse_id, parse_json_object, timestamp};
use super::providers::resolve;
use super::status::{ApiError, ApiResult};
use super::validate_config::Pending;
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
        // Held from the read of the stored record (or the encryption) until the write.
        let _keys = self.0.secrets.writing().await;
        let input = req
            .into_inner()
            .subscription
            .ok_or_else(|| ApiError::field("subscription", "is required"))?;
        let now = chrono::Utc::now();
        let mut sub = Subscription {
            id: SubscriptionId::new_at(now),
            name: String::new(),
            description: String::new(),
            provider_id: String::new(),
            config: serde_json::Value::Null,
            schema_version: 0,
            event_types: Vec::new(),
            system_ids: Vec::new(),
            enabled: input.enabled,
            disabled_reason: None,
            retry_policy: None,
            created_at: now,
            updated_at: now,
            rate_limit: None,
        };
        let pending = apply_input(&self.0, &mut sub, input, None)?;
        store_checked_config(&self.0, &mut sub, pending).await?;
        if sub.enabled {
            ensure_connection_current(&self.0, &sub)?;
        }
        self.0
            .store
            .insert_subscription(&sub)
            .map_err(ApiError::from)?;
        tracing::info!(subscription = %sub.id, provider = %sub.provider_id, "subscription created");
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
        // Held from the read of the stored record (or the encryption) until the write.
        let _keys = self.0.secrets.writing().await;
        let input = req
            .into_inner()
            .subscription
            .ok_or_else(|| ApiError::field("subscription", "is required"))?;
        let old = get(&self.0, &input.id)?;
        let mut sub = old.clone();
        let enable = input.enabled;
        let pending = apply_input(&self.0, &mut sub, input, Some(&old))?;
        store_checked_config(&self.0, &mut sub, pending).await?;
        sub.updated_at = chrono::Utc::now();
        let (sub, _) = set_enabled(&self.0, sub, enable).await?;
        tracing::info!(subscription = %sub.id, "subscription updated");
        Ok(Response::new(api::UpdateSubscriptionResponse {
            subscription: Some(to_api(&self.0, &sub)),
        }))
    }

    async fn delete_subscription(
        &self,
        req: Request<api::DeleteSubscriptionRequest>,
    ) -> Res<api::DeleteSubscriptionResponse> {
        let sub = get(&self.0, &req.into_inner().id)?;
        // Delete first, so fan-out stops matching it; then cancel what is still scheduled.
        self.0
            .store
            .delete_subscription(sub.id)
            .map_err(ApiError::from)?;
        let cancelled = self
            .0
            .engine
            .cancel_subscription_deliveries(sub.id)
            .await
            .map_err(ApiError::from)?;
        tracing::info!(subscription = %sub.id, cancelled, "subscription deleted");
        Ok(Response::new(api::DeleteSubscriptionResponse {
            cancelled_deliveries: cancelled as u64,
        }))
    }

    async fn enable_subscription(
        &self,
        req: Request<api::EnableSubscriptionRequest>,
    ) -> Res<api::EnableSubscriptionResponse> {
        let _keys = self.0.secrets.writing().await;
        let sub = get(&self.0, &req.into_inner().id)?;
        let (sub, _) = set_enabled(&self.0, sub, true).await?;
        Ok(Response::new(api::EnableSubscriptionResponse {
            subscription: Some(to_api(&self.0, &sub)),
        }))
    }

    async fn disable_subscription(
        &self,
        req: Request<api::DisableSubscriptionRequest>,
    ) -> Res<api::DisableSubscriptionResponse> {
        let _keys = self.0.secrets.writing().await;
        let sub = get(&self.0, &req.into_inner().id)?;
        let (sub, cancelled) = set_enabled(&self.0, sub, false).await?;
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

/// Stores `sub` with `enabled` set; a user's enable clears the coordinator's disabled reason.
/// Disabling (also through an update) cancels the pending deliveries; returns how many.
async fn set_enabled(
    ctx: &ApiContext,
    mut sub: Subscription,
    enabled: bool,
) -> ApiResult<(Subscription, usize)> {
    if enabled {
        ensure_connection_current(ctx, &sub)?;
        sub.disabled_reason = None;
    }
    sub.enabled = enabled;
    sub.updated_at = chrono::Utc::now();
    ctx.store.update_subscription(&sub)?;
    let mut cancelled = 0;
    if !enabled {
        // After the write, so fan-out no longer picks it; idempotent when already disabled.
        cancelled = ctx.engine.cancel_subscription_deliveries(sub.id).await?;
        tracing::info!(subscription = %sub.id, cancelled, "subscription disabled");
    }
    Ok((sub, cancelled))
}

/// Refuses to enable `sub` while the connection its config names failed to migrate: the
/// coordinator disabled it for that reason, and deliveries would only fail again. The error
/// names the connection, its problem and what to fix.
fn ensure_connection_current(ctx: &ApiContext, sub: &Subscription) -> ApiResult<()> {
    let Some(conn) = sub.connection_id() else {
        return Ok(());
    };
    let Some(conn) = ctx.store.get_connection(conn)? else {
        return Ok(());
    };
    super::connections::ensure_current(&conn).map_err(|e| {
        ApiError::FailedPrecondition(format!(
            "subscription {} cannot be enabled: {e}; then enable the subscription",
            sub.id
        ))
    })
}

/// Puts the config into `sub`, encrypted, once the plugin's ValidateConfig (if declared) has
/// passed it. Nothing is stored here.
async fn store_checked_config(
    ctx: &ApiContext,
    sub: &mut Subscription,
    pending: Pending,
) -> ApiResult<()> {
    let schema = configs::schema(&pending.entry, Kind::Provider)?;
    let config = pending.check().await?;
    sub.config = configs::encrypt(ctx, &schema, config)?;
    Ok(())
}

/// Validates the user-settable fields of `input` into `sub` (`old`: the stored subscription on
/// update, whose secrets the marker keeps), all but the config, which is returned for the
/// plugin's check. Nothing is stored here.
fn apply_input(
    ctx: &ApiContext,
    sub: &mut Subscription,
    input: api::Subscription,
    old: Option<&Subscription>,
) -> ApiResult<Pending> {
    bounds::name("subscription.name", &input.name)?;
    bounds::description("subscription.description", &input.description)?;
    let entry = resolve(ctx, &input.provider_id)?;
    check_event_types(ctx, &input.event_types)?;
    bounds::id_list("subscription.system_ids", &input.system_ids)?;
    if input.system_ids.iter().any(|s| s.trim().is_empty()) {
        return Err(ApiError::field(
            "subscription.system_ids",
            "must not contain empty ids",
        ));
    }
    let schema = configs::schema(&entry, Kind::Provider)?;
    let new = parse_json_object("subscription.config_json", &input.config_json)?;
    let mut config = match old {
        Some(old) if old.provider_id == entry.qualified_id => {
            configs::merge(ctx, &schema, &old.config, new)?
        }
        _ => {
            configs::refuse_markers(&schema, "subscription.config_json", &new)?;
            new
        }
    };
    configs::complete_and_validate(&schema, "subscription.config_json", &mut config)?;
    let (mut connection_json, mut connection_broken) = (String::new(), false);
    if entry.provider.connection_schema.is_some() {
        let id = config
            .get("connectionId")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        if id.is_empty() {
            return Err(ApiError::field(
                "subscription.config_json",
                format!(
                    "/connectionId: provider {} needs a connection id",
                    entry.qualified_id
                ),
            ));
        }
        let conn = configs::connection_of(
            ctx,
            &entry.qualified_id,
            "subscription.config_json/connectionId",
            id,
        )?;
        connection_broken = conn.migration_error.is_some();
        if Pending::wanted(&entry) && !connection_broken {
            connection_json = configs::connection_json(ctx, &entry, &conn)?;
        }
    }
    sub.retry_policy = input
        .retry_policy
        .map(|p| retry_policy(ctx, p))
        .transpose()?;
    sub.rate_limit = guard::rate_limit(input.rate_limit)?;
    sub.schema_version = schema.version;
    sub.provider_id.clone_from(&entry.qualified_id);
    sub.name = input.name;
    sub.description = input.description;
    sub.event_types = input.event_types;
    sub.system_ids = input.system_ids;
    Ok(Pending {
        entry,
        kind: Kind::Provider,
        field: "subscription.config_json",
        config,
        connection_json,
        connection_broken,
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
    ctx.store
        .get_subscription(id)?
        .ok_or_else(|| ApiError::NotFound(format!("subscription {id} does not exist")))
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
