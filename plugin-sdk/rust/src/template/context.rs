//! What a template sees ([`TemplateContext`]): `event` {id, type, timestamp, deliveryId,
//! attempt}, `subscription` {id, name}, `payload`, `correlation`, and the flat names of
//! Checkstack's webhook (`eventId`, `eventType`, `deliveryId`, `timestamp`, `subscriptionId`,
//! `subscriptionName`), so its templates render unchanged. Borrowed from the delivery, so
//! building a context copies nothing but the timestamp's text.

use serde::Serialize;
use serde_json::Value;

use crate::provider::{CorrelatedDelivery, Correlation, DeliveryContext, Event, Subscription};

/// The variables of one render.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateContext<'a> {
    event: EventVars<'a>,
    subscription: SubscriptionVars<'a>,
    payload: &'a Value,
    correlation: Option<CorrelationVars<'a>>,
    #[serde(rename = "eventId")]
    flat_event_id: &'a str,
    #[serde(rename = "eventType")]
    flat_event_type: &'a str,
    #[serde(rename = "deliveryId")]
    flat_delivery_id: &'a str,
    #[serde(rename = "timestamp")]
    flat_timestamp: String,
    #[serde(rename = "subscriptionId")]
    flat_subscription_id: &'a str,
    #[serde(rename = "subscriptionName")]
    flat_subscription_name: &'a str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct EventVars<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    /// RFC 3339 in UTC, e.g. `2026-01-02T03:04:05Z` (the `date` filter reformats it).
    timestamp: String,
    delivery_id: &'a str,
    attempt: u32,
}

/// `correlation`: JSON given by the provider, or the delivery's own correlation as
/// `{key, earlier: [{eventType, externalId, state, delivered, endedAt, deliveryId}]}`
/// (most recent first; the Python SDK renders the same shape).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
enum CorrelationVars<'a> {
    Json(&'a Value),
    Of {
        key: &'a str,
        earlier: Vec<EarlierVars<'a>>,
    },
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct EarlierVars<'a> {
    event_type: &'a str,
    external_id: Option<&'a str>,
    state: Option<&'a str>,
    delivered: bool,
    ended_at: String,
    delivery_id: &'a str,
}

impl<'a> CorrelationVars<'a> {
    fn of(correlation: &'a Correlation) -> Self {
        let earlier = |e: &'a CorrelatedDelivery| EarlierVars {
            event_type: &e.event_type,
            external_id: e.external_id.as_deref(),
            state: e.state.as_deref(),
            delivered: e.delivered,
            ended_at: e
                .ended_at
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            delivery_id: &e.delivery_id,
        };
        CorrelationVars::Of {
            key: &correlation.key,
            earlier: correlation.earlier.iter().map(earlier).collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
struct SubscriptionVars<'a> {
    id: &'a str,
    name: &'a str,
}

impl<'a> TemplateContext<'a> {
    /// The context of one delivery attempt; `event.id` is the event's id (empty from
    /// coordinators that predate it), `correlation` null until set
    /// ([`with_correlation`](Self::with_correlation); [`TemplateContext::of`] sets it).
    #[must_use]
    pub fn new(event: &'a Event, subscription: &'a Subscription) -> Self {
        let timestamp = event
            .timestamp
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        Self {
            event: EventVars {
                id: &event.event_id,
                event_type: &event.event_type,
                timestamp: timestamp.clone(),
                delivery_id: &event.delivery_id,
                attempt: event.attempt,
            },
            subscription: SubscriptionVars {
                id: &subscription.id,
                name: &subscription.name,
            },
            payload: &event.payload,
            correlation: None,
            flat_event_id: &event.event_id,
            flat_event_type: &event.event_type,
            flat_delivery_id: &event.delivery_id,
            flat_timestamp: timestamp,
            flat_subscription_id: &subscription.id,
            flat_subscription_name: &subscription.name,
        }
    }

    /// The context of `delivery`: [`TemplateContext::new`] of its event and subscription, with
    /// its correlation.
    #[must_use]
    pub fn of<C, K>(delivery: &'a DeliveryContext<C, K>) -> Self {
        let mut context = Self::new(&delivery.event, &delivery.subscription);
        context.correlation = delivery.correlation.as_ref().map(CorrelationVars::of);
        context
    }

    /// Sets `event.id` (and `eventId`).
    #[must_use]
    pub fn with_event_id(mut self, id: &'a str) -> Self {
        self.event.id = id;
        self.flat_event_id = id;
        self
    }

    /// Sets `correlation`: what the platform links this event to (e.g. an earlier delivery's
    /// external id), as JSON.
    #[must_use]
    pub fn with_correlation(mut self, correlation: &'a Value) -> Self {
        self.correlation = Some(CorrelationVars::Json(correlation));
        self
    }
}
