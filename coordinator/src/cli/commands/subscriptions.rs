//! `switchyard subscriptions`: list (with filters and paging), show, create, delete, enable and
//! disable (`preview` and `test` are in `preview.rs`; `rate-limit` in `guard.rs`). The list shows each circuit breaker's state (`CIRCUIT`) and why the coordinator disabled a subscription (`DISABLED REASON`).

use serde_json::{Value, json};
use switchyard_proto::coordinator::v1::{
    CreateSubscriptionRequest, DeleteSubscriptionRequest, DisableSubscriptionRequest,
    EnableSubscriptionRequest, GetSubscriptionRequest, ListSubscriptionsRequest, RateLimit,
    RetryPolicy, Subscription,
};

use super::{Body, SubscriptionsCmd, json_arg};
use crate::cli::client::Clients;
use crate::cli::output::{Output, dash, json_text, ts, ts_json};

/// Arguments of `switchyard subscriptions create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Name.
    #[arg(long)]
    name: String,
    /// Qualified provider id.
    #[arg(long)]
    provider: String,
    /// Event type pattern (repeatable): an id, or `*` as whole segments — trailing for one or
    /// more segments (incident.*), elsewhere for exactly one (*.incident.created).
    #[arg(long = "event-type", required = true)]
    event_types: Vec<String>,
    /// Provider config as JSON text, or @FILE.
    #[arg(long, default_value = "{}")]
    config: String,
    /// Only events of this system (repeatable; matches payload.systemId and systemIds[]).
    #[arg(long = "system-id")]
    system_ids: Vec<String>,
    /// Retry delays, comma-separated, e.g. 1m,5m,15m.
    #[arg(long, value_delimiter = ',')]
    retry_delays: Option<Vec<String>>,
    /// Description.
    #[arg(long, default_value = "")]
    description: String,
    /// Create it disabled.
    #[arg(long)]
    disabled: bool,
    /// At most this many attempts per second (a token bucket, e.g. 1 for a Slack channel, 0.5
    /// for one every 2 s). Deliveries over it wait for a token: not failed, no retry budget
    /// used. Unlimited when left out.
    #[arg(long, value_name = "PER_SECOND")]
    rate_limit: Option<f64>,
    /// With --rate-limit: attempts that may go at once after a quiet period (default: one
    /// second's worth, at least 1).
    #[arg(long, requires = "rate_limit")]
    burst: Option<u32>,
}

pub(super) async fn run(cmd: SubscriptionsCmd, mut c: Clients, out: Output) -> Result<(), String> {
    let api = &mut c.subscriptions;
    match cmd {
        SubscriptionsCmd::List {
            provider,
            event_type,
            enabled,
            limit,
            page_token,
        } => {
            let req = ListSubscriptionsRequest {
                provider_id: provider.unwrap_or_default(),
                event_type: event_type.unwrap_or_default(),
                enabled,
                page_size: limit,
                page_token,
            };
            let page = api.list_subscriptions(req).await.body()?;
            print_list(&page.subscriptions, page.total, &page.next_page_token, out);
        }
        SubscriptionsCmd::Show { id } => {
            let s = api.get_subscription(GetSubscriptionRequest { id }).await;
            print(&s.body()?.subscription.unwrap_or_default(), out);
        }
        SubscriptionsCmd::Create(args) => {
            let req = CreateSubscriptionRequest {
                subscription: Some(new_subscription(*args)?),
            };
            let s = api.create_subscription(req).await;
            print(&s.body()?.subscription.unwrap_or_default(), out);
        }
        SubscriptionsCmd::Delete { id } => {
            let r = api
                .delete_subscription(DeleteSubscriptionRequest { id: id.clone() })
                .await;
            let n = r.body()?.cancelled_deliveries;
            let text = format!("deleted subscription {id}; cancelled {n} pending deliveries");
            out.line(&text, &json!({"deleted": id, "cancelledDeliveries": n}));
        }
        SubscriptionsCmd::Enable { id } => {
            let s = api
                .enable_subscription(EnableSubscriptionRequest { id })
                .await;
            print(&s.body()?.subscription.unwrap_or_default(), out);
        }
        SubscriptionsCmd::Disable { id } => {
            let s = api
                .disable_subscription(DisableSubscriptionRequest { id })
                .await;
            print(&s.body()?.subscription.unwrap_or_default(), out);
        }
        SubscriptionsCmd::RateLimit(args) => {
            let s = super::guard::set_rate_limit(*args, &mut c).await?;
            print(&s, out);
        }
        SubscriptionsCmd::Preview(args) => super::preview::preview(*args, c, out).await?,
        SubscriptionsCmd::Test {
            id,
            event_type,
            payload,
        } => super::preview::test(id, event_type, payload, c, out).await?,
    }
    Ok(())
}

fn new_subscription(a: CreateArgs) -> Result<Subscription, String> {
    Ok(Subscription {
        name: a.name,
        description: a.description,
        provider_id: a.provider,
        config_json: json_arg(&a.config)?,
        event_types: a.event_types,
        system_ids: a.system_ids,
        retry_policy: a.retry_delays.map(|retry_delays| RetryPolicy {
            retry_delays,
            jitter: None,
        }),
        enabled: !a.disabled,
        rate_limit: a.rate_limit.map(|events_per_second| RateLimit {
            events_per_second,
            burst: a.burst.unwrap_or(0),
        }),
        ..Subscription::default()
    })
}

fn print_list(list: &[Subscription], total: u64, next: &str, out: Output) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|s| {
            vec![
                s.id.clone(),
                s.name.clone(),
                s.provider_id.clone(),
                s.event_types.join(","),
                if s.enabled { "yes" } else { "no" }.to_owned(),
                super::guard::circuit_word(s.circuit_breaker.as_ref()).to_owned(),
                dash(&s.disabled_reason),
            ]
        })
        .collect();
    let json = json!({
        "subscriptions": list.iter().map(subscription_json).collect::<Vec<_>>(),
        "total": total, "nextPageToken": next,
    });
    out.table(
        &[
            "ID",
            "NAME",
            "PROVIDER",
            "EVENT TYPES",
            "ENABLED",
            "CIRCUIT",
            "DISABLED REASON",
        ],
        &rows,
        &json,
    );
    if !next.is_empty() {
        out.note(&format!("({total} in all; next page: --page-token {next})"));
    }
}

fn print(s: &Subscription, out: Output) {
    let fields = [
        ("id", s.id.clone()),
        ("name", s.name.clone()),
        ("provider", s.provider_id.clone()),
        ("event types", s.event_types.join(", ")),
        ("systems", dash(&s.system_ids.join(", "))),
        ("enabled", s.enabled.to_string()),
        ("disabled reason", dash(&s.disabled_reason)),
        (
            "rate limit",
            super::guard::rate_limit_text(s.rate_limit.as_ref()),
        ),
        (
            "circuit breaker",
            super::guard::circuit_text(s.circuit_breaker.as_ref()),
        ),
        ("config", format!("{:#}", json_text(&s.config_json))),
        ("config version", s.config_version.to_string()),
        ("updated", ts(s.updated_at.as_ref())),
    ];
    out.record(&fields, &subscription_json(s));
}

fn subscription_json(s: &Subscription) -> Value {
    json!({
        "id": s.id, "name": s.name, "description": s.description, "providerId": s.provider_id,
        "config": json_text(&s.config_json), "configVersion": s.config_version,
        "eventTypes": s.event_types, "systemIds": s.system_ids,
        "retryPolicy": s.retry_policy.as_ref().map(|p| json!({"retryDelays": p.retry_delays, "jitter": p.jitter})),
        "enabled": s.enabled, "disabledReason": s.disabled_reason,
        "rateLimit": s.rate_limit.as_ref().map(|r| json!({"eventsPerSecond": r.events_per_second, "burst": r.burst})),
        "circuitBreaker": super::guard::circuit_json(s.circuit_breaker.as_ref()),
        "createdAt": ts_json(s.created_at.as_ref()), "updatedAt": ts_json(s.updated_at.as_ref()),
    })
}
