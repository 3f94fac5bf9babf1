//! Turning one platform event into one Events API v2 request: which action it is (trigger,
//! acknowledge, resolve, or a change event for maintenance), the dedup key that ties an
//! incident's events to one alert, and the body. Pure functions: `deliver` and `preview` build
//! the same [`Outgoing`], so a preview shows exactly what a delivery sends.

use serde_json::{Value, json};
use switchyard_plugin_sdk::lifecycle::{Family, Stage, cut_chars as cut, thread_key};
use switchyard_plugin_sdk::template::{TemplateCache, TemplateError};
use switchyard_plugin_sdk::{DeliveryContext, NoConnection};

use crate::config::{PagerDutyConfig, UpdateAction};

/// PagerDuty's limit on `payload.summary`, in characters.
pub const SUMMARY_LIMIT: usize = 1024;
/// PagerDuty's limit on `dedup_key`, in characters.
pub const DEDUP_KEY_LIMIT: usize = 255;

/// What one event does in PagerDuty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Open (or update) the alert.
    Trigger,
    /// Acknowledge the alert.
    Acknowledge,
    /// Resolve the alert.
    Resolve,
    /// A change event (maintenance windows): `/v2/change/enqueue`.
    Change,
}

impl Action {
    /// The action for an event type and payload: maintenance events are changes; otherwise
    /// the SDK's lifecycle [`Stage`] says trigger, acknowledge or resolve.
    #[must_use]
    pub fn of(event_type: &str, payload: &Value, on_update: UpdateAction) -> Action {
        if Family::of(event_type) == Family::Maintenance {
            return Action::Change;
        }
        match Stage::of(event_type, payload) {
            Stage::Resolved => Action::Resolve,
            Stage::Acknowledged => Action::Acknowledge,
            Stage::Updated if on_update == UpdateAction::Acknowledge => Action::Acknowledge,
            Stage::Opened | Stage::Updated => Action::Trigger,
        }
    }

    fn wire(self) -> &'static str {
        match self {
            Action::Trigger | Action::Change => "trigger",
            Action::Acknowledge => "acknowledge",
            Action::Resolve => "resolve",
        }
    }
}

/// The request to send: the path under the base URL and the JSON body (with the routing key).
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The action.
    pub action: Action,
    /// `/v2/enqueue` or `/v2/change/enqueue`.
    pub path: &'static str,
    /// The body.
    pub body: Value,
    /// The dedup key (`None` for change events, which have none).
    pub dedup_key: Option<String>,
}

/// The dedup key of a delivery: the SDK's [`thread_key`] (subscription id and correlation
/// key), cut to PagerDuty's 255 characters.
#[must_use]
pub fn dedup_key<C, K>(ctx: &DeliveryContext<C, K>) -> String {
    thread_key(ctx, DEDUP_KEY_LIMIT)
}

/// Builds the request for one delivery.
///
/// # Errors
/// When the summary template does not compile or fails to render.
pub fn outgoing(
    ctx: &DeliveryContext<PagerDutyConfig, NoConnection>,
    templates: &TemplateCache,
) -> Result<Outgoing, TemplateError> {
    let config = &ctx.config;
    let payload = &ctx.event.payload;
    let action = Action::of(&ctx.event.event_type, payload, config.on_update);
    let routing_key = config.routing_key.expose();
    let links = links(payload);
    if action == Action::Change {
        let body = json!({
            "routing_key": routing_key,
            "payload": {
                "summary": templates.line("/summaryTemplate", ctx.config.summary_template.as_deref(), ctx, SUMMARY_LIMIT)?,
                "timestamp": ctx.event.timestamp.to_rfc3339(),
                "source": source(config, payload),
                "custom_details": details(ctx),
            },
            "links": links,
        });
        return Ok(Outgoing {
            action,
            path: "/v2/change/enqueue",
            body,
            dedup_key: None,
        });
    }
    let key = dedup_key(ctx);
    let mut body = json!({
        "routing_key": routing_key,
        "event_action": action.wire(),
        "dedup_key": key,
    });
    if action == Action::Trigger {
        body["payload"] = json!({
            "summary": templates.line("/summaryTemplate", ctx.config.summary_template.as_deref(), ctx, SUMMARY_LIMIT)?,
            "timestamp": ctx.event.timestamp.to_rfc3339(),
            "severity": config.severity_of(payload).as_str(),
            "source": source(config, payload),
            "class": ctx.event.event_type,
            "custom_details": details(ctx),
        });
        body["client"] = json!("Switchyard");
        body["links"] = links;
        if let Some(url) = platform_url(payload) {
            body["client_url"] = json!(url);
        }
    }
    Ok(Outgoing {
        action,
        path: "/v2/enqueue",
        body,
        dedup_key: Some(key),
    })
}

fn source(config: &PagerDutyConfig, payload: &Value) -> String {
    let from_payload = ["systemName", "source"].iter().find_map(|k| {
        payload
            .get(*k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    });
    cut(
        config
            .source
            .as_deref()
            .or(from_payload)
            .unwrap_or("switchyard"),
        255,
    )
}

/// The payload, plus which event and delivery it came from.
fn details(ctx: &DeliveryContext<PagerDutyConfig, NoConnection>) -> Value {
    json!({
        "eventType": ctx.event.event_type,
        "eventId": ctx.event.event_id,
        "deliveryId": ctx.event.delivery_id,
        "subscription": ctx.subscription.name,
        "payload": ctx.event.payload,
    })
}

/// The platform link of a payload (`url`, `link` or `dashboardUrl`), when it is http(s).
fn platform_url(payload: &Value) -> Option<&str> {
    ["url", "link", "dashboardUrl"]
        .iter()
        .find_map(|k| payload.get(*k).and_then(Value::as_str))
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
}

fn links(payload: &Value) -> Value {
    match platform_url(payload) {
        Some(href) => json!([{"href": href, "text": "Open in the platform"}]),
        None => json!([]),
    }
}
