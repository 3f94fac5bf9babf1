//! The Opsgenie plugin end to end: a real `switchyard serve` hosting the real plugin binary,
//! a subscription pointed at a local server standing in for the Alert API, and one incident
//! created → updated → resolved. The server sees a create, a note and a close on one alias
//! (each request valid under Opsgenie's official spec); the API key is in no API answer, no
//! preview, no log line and no file of the data dir.

use std::time::Duration;

use serde_json::json;
use switchyard::cli::client::Clients;
use switchyard_e2e::coordinator::{
    Coordinator, CoordinatorOptions, assert_not_in_data_dir, attempts, create_subscription,
    register_correlated, wait_final,
};
use switchyard_plugin_sdk::testkit::{HttpSink, ResponseSpec};
use switchyard_proto::coordinator::v1 as api;
use switchyard_vendor_spec::Spec;

const CREATED: &str = "incident.incident.created";
const UPDATED: &str = "incident.incident.updated";
const RESOLVED: &str = "incident.incident.resolved";
const KEY: &str = "0e2e6e11-9a7b-4c1d-8f00-e2eGENIEKEY1";

async fn publish(c: &mut Clients, event_type: &str, status: &str) -> api::Delivery {
    let payload = json!({"incidentId": "inc-8", "title": "Search down", "status": status,
                         "severity": "major"});
    let mut r = c
        .events
        .publish_event(api::PublishEventRequest {
            event_type: event_type.into(),
            payload_json: payload.to_string(),
            ..Default::default()
        })
        .await
        .expect("publish")
        .into_inner();
    assert_eq!(r.deliveries.len(), 1, "{r:?}");
    r.deliveries.remove(0)
}

fn options() -> CoordinatorOptions {
    CoordinatorOptions {
        extra_plugins: vec![("switchyard-plugin-opsgenie".into(), Vec::new())],
        ..CoordinatorOptions::default()
    }
}

fn accepted(request_id: &str) -> ResponseSpec {
    ResponseSpec::status(202)
        .json(&json!({"result": "Request will be processed", "took": 0.1, "requestId": request_id}))
}

async fn subscribe(c: &mut Clients, sink: &HttpSink) -> api::Subscription {
    let sub = create_subscription(
        c,
        api::Subscription {
            name: "oncall".into(),
            provider_id: "opsgenie.opsgenie".into(),
            config_json: json!({"apiKey": KEY, "baseUrl": sink.url()}).to_string(),
            event_types: vec!["incident.*".into()],
            enabled: true,
            ..Default::default()
        },
    )
    .await;
    assert!(!format!("{sub:?}").contains(KEY), "{sub:?}");
    sub
}

#[tokio::test]
async fn an_incident_creates_notes_and_closes_one_opsgenie_alert() {
    let coord = Coordinator::start(options()).await;
    let mut c = coord.clients().await;
    register_correlated(&mut c, &[CREATED, UPDATED, RESOLVED], "/incidentId").await;
    let sink = HttpSink::start().await;
    for id in ["req-1", "req-2", "req-3"] {
        sink.push_response(accepted(id));
    }
    let sub = subscribe(&mut c, &sink).await;

    let mut deliveries = Vec::new();
    for (event_type, status) in [
        (CREATED, "investigating"),
        (UPDATED, "identified"),
        (RESOLVED, "resolved"),
    ] {
        deliveries.push(publish(&mut c, event_type, status).await);
    }
    for d in &deliveries {
        let done = wait_final(&mut c, &d.id).await;
        assert_eq!(done.status(), api::DeliveryStatus::Succeeded, "{done:?}");
    }
    let requests = sink.wait_for_requests(3, Duration::from_secs(30)).await;
    for r in &requests {
        Spec::vendor("opsgenie").assert_conforms(r);
        assert_eq!(
            r.header("authorization"),
            Some(format!("GenieKey {KEY}").as_str())
        );
    }
    let alias = format!("{}:inc-8", sub.id);
    assert_eq!(requests[0].path, "/v2/alerts");
    assert_eq!(requests[0].json()["alias"], alias.as_str());
    assert_eq!(requests[0].json()["priority"], "P2");
    assert_eq!(requests[1].path, format!("/v2/alerts/{alias}/notes"));
    assert_eq!(requests[2].path, format!("/v2/alerts/{alias}/close"));
    for r in &requests[1..] {
        assert_eq!(r.query.as_deref(), Some("identifierType=alias"));
    }
    // Each delivery's external id is the requestId Opsgenie answered it with.
    for (d, id) in deliveries.iter().zip(["req-1", "req-2", "req-3"]) {
        let last = attempts(&mut c, &d.id).await.pop().expect("an attempt");
        assert_eq!(last.external_id, id);
    }
    assert_key_hidden(&coord, &sub, &sink);
}

/// The preview masks the key and sends nothing; the key is in no log line and no file.
fn assert_key_hidden(coord: &Coordinator, sub: &api::Subscription, sink: &HttpSink) {
    let (ok, stdout, stderr) = coord.cli(&[
        "subscriptions",
        "preview",
        &sub.id,
        "--event-type",
        CREATED,
        "--payload",
        r#"{"incidentId":"inc-8","title":"Search down"}"#,
    ]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("/v2/alerts") && stdout.contains("[REDACTED]"),
        "{stdout}"
    );
    assert!(!stdout.contains(KEY), "{stdout}");
    let (ok, listed, err) = coord.cli(&["--json", "subscriptions", "show", &sub.id]);
    assert!(ok, "{listed}{err}");
    assert!(!listed.contains(KEY), "{listed}");
    assert_eq!(sink.request_count(), 3, "the preview sent something");
    assert_not_in_data_dir(coord, KEY);
    assert!(!coord.stderr().contains(KEY), "API key in the log");
}
