//! What the Slack tests share: delivery contexts, Slack's answers, and the spec check of
//! every recorded request (incoming webhooks are not in Slack's Web API spec; their body is
//! the message payload of `chat.postMessage`, so it is checked against that operation).

#![allow(dead_code)] // each test file uses part of it

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_plugin_sdk::testkit::{HttpSink, RecordedRequest, ResponseSpec};
use switchyard_plugin_sdk::{
    CorrelatedDelivery, Correlation, DeliveryContext, Event, Subscription,
};
use switchyard_vendor_spec::{Request, Spec};

pub const WAIT: Duration = Duration::from_secs(20);
pub const TOKEN: &str = "xoxb-1111-2222-s3cr3tT0kenValue";

pub fn event(event_type: &str, payload: Value) -> Event {
    Event {
        event_type: event_type.into(),
        payload,
        timestamp: chrono::DateTime::from_timestamp(1_767_000_000, 0).unwrap(),
        delivery_id: format!("dlv_{event_type}"),
        attempt: 1,
        event_id: format!("evt_{event_type}"),
    }
}

pub fn context<C, K>(
    config: C,
    connection: K,
    event: Event,
    earlier: Vec<CorrelatedDelivery>,
) -> DeliveryContext<C, K> {
    DeliveryContext {
        event,
        subscription: Subscription {
            id: "sub_1".into(),
            name: "Ops".into(),
        },
        config,
        connection,
        correlation: Some(Correlation {
            key: "inc-42".into(),
            earlier,
        }),
    }
}

pub fn incident(status: &str) -> Value {
    json!({"incidentId": "inc-42", "title": "Checkout API down", "status": status,
           "severity": "critical", "systemIds": ["checkout-api"],
           "description": "Payments <fail> & retry", "createdAt": "2026-12-02T17:30:00Z",
           "url": "https://status.example.com/incidents/inc-42"})
}

/// What an earlier delivery left behind.
pub fn earlier(
    event_type: &str,
    external_id: Option<String>,
    state: Option<String>,
) -> CorrelatedDelivery {
    CorrelatedDelivery {
        event_type: event_type.into(),
        external_id,
        state,
        delivered: true,
        ended_at: chrono::DateTime::from_timestamp(1_767_000_100, 0).unwrap(),
        delivery_id: format!("dlv_{event_type}"),
    }
}

/// Slack's `ok: true` answer to `chat.postMessage`.
pub fn posted(channel: &str, ts: &str) -> ResponseSpec {
    ResponseSpec::status(200).json(&json!({"ok": true, "channel": channel, "ts": ts,
        "message": {"type": "message", "text": "…", "ts": ts}}))
}

/// Slack's `ok: false` answer with `code` (HTTP 200, as Slack sends it).
pub fn refused(code: &str) -> ResponseSpec {
    ResponseSpec::status(200).json(&json!({"ok": false, "error": code}))
}

/// Waits for `n` requests and checks each against Slack's Web API spec.
pub async fn conforming(sink: &HttpSink, n: usize) -> Vec<RecordedRequest> {
    let requests = sink.wait_for_requests(n, WAIT).await;
    assert_eq!(requests.len(), n, "{requests:?}");
    for r in &requests {
        Spec::vendor("slack").assert_conforms(r);
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
    requests
}

/// Checks an incoming-webhook request's body as the `chat.postMessage` payload it is (with
/// the channel the webhook implies when the config names none).
pub fn conforms_as_message(r: &RecordedRequest) {
    let mut body = r.json();
    assert!(body.is_object(), "not a JSON object: {r:?}");
    if body.get("channel").is_none() {
        body["channel"] = json!("C_WEBHOOK_CHANNEL");
    }
    let body = body.to_string();
    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("authorization".to_owned(), "Bearer webhook".to_owned()),
    ];
    let request = Request {
        method: "POST",
        path: "/api/chat.postMessage",
        query: None,
        headers: &headers,
        body: body.as_bytes(),
    };
    if let Err(violations) = Spec::vendor("slack").check_request(&request) {
        panic!("webhook body is not a valid message: {violations:#?}\n{body}");
    }
}
