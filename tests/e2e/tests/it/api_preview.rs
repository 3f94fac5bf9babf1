//! PreviewDelivery, SendTestEvent and ValidateConfig against the real coordinator, the real
//! webhook plugin and a local HTTP sink standing in for the receiver: a preview shows the exact
//! request with its secrets masked and sends nothing; a test event makes one recorded test
//! delivery that reaches its subscription only (even a disabled one) and is never retried; a config the webhook's
//! ValidateConfig refuses is not stored; a provider without the preview capability is refused
//! with FAILED_PRECONDITION; and the CLI commands.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard::cli::client::Clients;
use switchyard_e2e::coordinator::{
    Coordinator, CoordinatorOptions, INCIDENT, attempts, create_subscription, register_incident,
    wait_final, webhook_subscription,
};
use switchyard_plugin_sdk::testkit::{HttpSink, ResponseSpec};
use switchyard_proto::coordinator::v1 as api;
use tonic::Code;

const TOKEN: &str = "tok-s3cret-preview";
const WAIT: Duration = Duration::from_secs(30);

/// A webhook subscription to `url` authenticating with the bearer [`TOKEN`].
fn bearer_subscription(name: &str, url: &str) -> api::Subscription {
    api::Subscription {
        config_json: json!({
            "url": url,
            "auth": {"type": "bearer", "token": TOKEN},
            "customHeaders": [{"name": "X-Team", "value": "ops"}]
        })
        .to_string(),
        ..webhook_subscription(name, url)
    }
}

async fn setup() -> (Coordinator, Clients, HttpSink) {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    (coord, c, HttpSink::start().await)
}

fn header<'a>(r: &'a api::RenderedRequest, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

async fn preview(
    c: &mut Clients,
    req: api::PreviewDeliveryRequest,
) -> api::PreviewDeliveryResponse {
    c.subscriptions
        .preview_delivery(req)
        .await
        .expect("preview")
        .into_inner()
}

async fn send_test(c: &mut Clients, sub: &str, payload: &Value) -> api::SendTestEventResponse {
    let req = api::SendTestEventRequest {
        subscription_id: sub.into(),
        event_type: INCIDENT.into(),
        payload_json: payload.to_string(),
    };
    c.subscriptions
        .send_test_event(req)
        .await
        .expect("send a test event")
        .into_inner()
}

#[tokio::test]
async fn a_preview_of_a_saved_subscription_masks_its_secret_and_sends_nothing() {
    let (_coord, mut c, sink) = setup().await;
    let url = format!("{}/hook", sink.url());
    let sub = create_subscription(&mut c, bearer_subscription("ops", &url)).await;
    let payload = json!({"incidentId": "inc-7", "title": "Database down"});
    let r = preview(
        &mut c,
        api::PreviewDeliveryRequest {
            subscription_id: sub.id.clone(),
            event_type: INCIDENT.into(),
            payload_json: payload.to_string(),
            ..Default::default()
        },
    )
    .await;
    assert!(!format!("{r:?}").contains(TOKEN), "the token leaked: {r:?}");
    let request = r.request.expect("a rendered request");
    assert_eq!(request.method, "POST");
    assert_eq!(request.url, url);
    assert_eq!(header(&request, "authorization"), Some("[REDACTED]"));
    assert_eq!(header(&request, "x-team"), Some("ops"));
    assert_eq!(header(&request, "x-event-type"), Some(INCIDENT));
    assert_eq!(header(&request, "content-type"), Some("application/json"));
    let body: Value = serde_json::from_str(&request.body).expect("a JSON body");
    assert_eq!(body["data"], payload);
    assert_eq!(body["subscription"]["id"], json!(sub.id));
    assert!(!r.example_payload);
    assert_eq!(sink.request_count(), 0, "a preview sent a request");

    // The real delivery sends what the preview showed, and the sink's first request is it.
    let sent = send_test(&mut c, &sub.id, &payload).await;
    let delivery = sent.delivery.expect("a delivery");
    wait_final(&mut c, &delivery.id).await;
    let got = sink.wait_for_requests(1, WAIT).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(got[0].header("x-team"), Some("ops"));
    assert_eq!(got[0].json()["data"], payload);
}

#[tokio::test]
async fn a_preview_of_an_unsaved_config_uses_an_example_payload() {
    let (_coord, mut c, sink) = setup().await;
    let config = json!({
        "url": format!("{}/new", sink.url()),
        "method": "PUT",
        "auth": {"type": "header", "name": "X-Api-Key", "value": TOKEN}
    });
    let r = preview(
        &mut c,
        api::PreviewDeliveryRequest {
            provider_id: "webhook.webhook".into(),
            config_json: config.to_string(),
            event_type: INCIDENT.into(),
            ..Default::default()
        },
    )
    .await;
    assert!(!format!("{r:?}").contains(TOKEN), "the key leaked: {r:?}");
    let request = r.request.expect("a rendered request");
    assert_eq!(request.method, "PUT");
    assert_eq!(header(&request, "x-api-key"), Some("[REDACTED]"));
    assert!(r.example_payload);
    let payload: Value = serde_json::from_str(&r.payload_json).expect("JSON payload");
    assert!(
        payload["incidentId"].is_string() && payload["title"].is_string(),
        "{payload}"
    );
    let body: Value = serde_json::from_str(&request.body).expect("a JSON body");
    assert_eq!(body["data"], payload);
    let listed = c
        .subscriptions
        .list_subscriptions(api::ListSubscriptionsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.total, 0, "a preview stored a subscription");
    assert_eq!(sink.request_count(), 0, "a preview sent a request");
}

#[tokio::test]
async fn a_test_event_is_one_recorded_test_delivery_to_its_subscription_only() {
    let (_coord, mut c, sink) = setup().await;
    let other_sink = HttpSink::start().await;
    // Disabled: a test send is how one checks a subscription before enabling it.
    let disabled = api::Subscription {
        enabled: false,
        ..webhook_subscription("tested", &sink.url())
    };
    let tested = create_subscription(&mut c, disabled).await;
    let other = create_subscription(&mut c, webhook_subscription("other", &other_sink.url())).await;
    let payload = json!({"incidentId": "inc-t", "title": "Test"});
    let sent = send_test(&mut c, &tested.id, &payload).await;
    let delivery = sent.delivery.expect("a delivery");
    assert!(delivery.test, "{delivery:?}");
    assert_eq!(delivery.subscription_id, tested.id);
    let done = wait_final(&mut c, &delivery.id).await;
    assert_eq!(done.status(), api::DeliveryStatus::Succeeded, "{done:?}");
    assert!(done.test);
    assert_eq!(sink.wait_for_requests(1, WAIT).await.len(), 1);

    let of = |id: &str| api::ListDeliveriesRequest {
        subscription_id: id.into(),
        ..Default::default()
    };
    let mine = c
        .deliveries
        .list_deliveries(of(&tested.id))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(mine.total, 1);
    assert!(mine.deliveries[0].test);
    let theirs = c
        .deliveries
        .list_deliveries(of(&other.id))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        theirs.total, 0,
        "the test event reached another subscription: {theirs:?}"
    );
    assert_eq!(other_sink.request_count(), 0);
}

#[tokio::test]
async fn a_failed_test_delivery_is_not_retried() {
    let (_coord, mut c, sink) = setup().await;
    // The coordinator's policy retries twice after 100 ms and 200 ms; a test delivery must not.
    sink.push_response(ResponseSpec::status(503));
    sink.push_response(ResponseSpec::status(503));
    let sub = create_subscription(&mut c, webhook_subscription("flaky", &sink.url())).await;
    let payload = json!({"incidentId": "inc-f", "title": "Flaky"});
    let sent = send_test(&mut c, &sub.id, &payload).await;
    let id = sent.delivery.expect("a delivery").id;
    let done = wait_final(&mut c, &id).await;
    assert_eq!(done.status(), api::DeliveryStatus::Failed, "{done:?}");
    assert_eq!(attempts(&mut c, &id).await.len(), 1);
    assert_eq!(done.attempts, 1);
}

#[tokio::test]
async fn validate_config_refuses_a_header_clash_at_save_time_and_stores_nothing() {
    let (_coord, mut c, sink) = setup().await;
    let clash = api::Subscription {
        config_json: json!({
            "url": sink.url(),
            "auth": {"type": "bearer", "token": TOKEN},
            "customHeaders": [{"name": "Authorization", "value": "Basic abc"}]
        })
        .to_string(),
        ..webhook_subscription("clash", &sink.url())
    };
    let err = c
        .subscriptions
        .create_subscription(api::CreateSubscriptionRequest {
            subscription: Some(clash.clone()),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().contains("/customHeaders/0/name"),
        "{}",
        err.message()
    );
    assert!(!err.message().contains(TOKEN), "{}", err.message());
    let listed = c
        .subscriptions
        .list_subscriptions(api::ListSubscriptionsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.total, 0, "a refused subscription was stored");

    // On update too: the stored subscription keeps its config.
    let sub = create_subscription(&mut c, webhook_subscription("fine", &sink.url())).await;
    let err = c
        .subscriptions
        .update_subscription(api::UpdateSubscriptionRequest {
            subscription: Some(api::Subscription {
                id: sub.id.clone(),
                ..clash
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let stored = c
        .subscriptions
        .get_subscription(api::GetSubscriptionRequest { id: sub.id })
        .await
        .expect("get")
        .into_inner()
        .subscription
        .expect("subscription");
    assert_eq!(stored.config_json, sub.config_json);
}

#[tokio::test]
async fn a_provider_without_the_capability_refuses_a_preview() {
    let opts = CoordinatorOptions {
        extra_plugins: vec![(switchyard_e2e::FIXTURE.to_owned(), vec!["good".to_owned()])],
        ..CoordinatorOptions::default()
    };
    let coord = Coordinator::start(opts).await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    let err = c
        .subscriptions
        .preview_delivery(api::PreviewDeliveryRequest {
            provider_id: "fixture.echo".into(),
            config_json: json!({"url": "http://127.0.0.1:9", "secret": "s3"}).to_string(),
            event_type: INCIDENT.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("fixture.echo"), "{}", err.message());
}

#[tokio::test]
async fn the_cli_previews_and_sends_test_events() {
    let (coord, mut c, sink) = setup().await;
    let sub = create_subscription(&mut c, bearer_subscription("cli", &sink.url())).await;
    let (ok, out, err) = coord.cli(&[
        "--json",
        "subscriptions",
        "preview",
        &sub.id,
        "--event-type",
        INCIDENT,
    ]);
    assert!(ok, "{err}");
    assert!(!out.contains(TOKEN), "{out}");
    let json: Value = serde_json::from_str(&out).expect("JSON output");
    let auth = json["request"]["headers"]
        .as_array()
        .and_then(|hs| hs.iter().find(|h| h["name"] == "authorization"))
        .map(|h| h["value"].clone());
    assert_eq!(auth, Some(json!("[REDACTED]")), "{json}");
    // No payload was given: an example made from the payload schema.
    assert_eq!(json["eventType"], json!(INCIDENT), "{json}");
    assert_eq!(json["examplePayload"], json!(true), "{json}");

    let config = json!({"url": sink.url(), "auth": {"type": "bearer", "token": TOKEN}});
    let (ok, out, err) = coord.cli(&[
        "subscriptions",
        "preview",
        "--provider",
        "webhook.webhook",
        "--config",
        &config.to_string(),
        "--event-type",
        INCIDENT,
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("authorization: [REDACTED]"), "{out}");
    assert!(!out.contains(TOKEN), "{out}");
    assert_eq!(sink.request_count(), 0, "a preview sent a request");

    let (ok, out, err) = coord.cli(&[
        "--json",
        "subscriptions",
        "test",
        &sub.id,
        "--event-type",
        INCIDENT,
    ]);
    assert!(ok, "{err}");
    let json: Value = serde_json::from_str(&out).expect("JSON output");
    assert_eq!(json["test"], json!(true), "{json}");
    let id = json["id"].as_str().expect("delivery id").to_owned();
    wait_final(&mut c, &id).await;
    let (ok, out, err) = coord.cli(&["deliveries", "show", &id]);
    assert!(ok, "{err}");
    assert!(out.contains("succeeded (test)"), "{out}");
    assert_eq!(sink.wait_for_requests(1, WAIT).await.len(), 1);
}
