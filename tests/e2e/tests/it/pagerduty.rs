//! The PagerDuty plugin end to end: a real `switchyard serve` hosting the real plugin binary,
//! a subscription pointed at a local server standing in for the Events API, and one incident
//! created → resolved. The server sees a trigger and then a resolve on one dedup key (each
//! request valid under PagerDuty's official spec); the routing key is in no API answer, no
//! preview, no log line and no file of the data dir — not even when the receiver echoes the
//! whole request, routing key included, back in its error body.

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
const RESOLVED: &str = "incident.incident.resolved";
const KEY: &str = "e2eR0UT1NGKEYe2eR0UT1NGKEYe2e123";

async fn publish(c: &mut Clients, event_type: &str, status: &str) -> api::Delivery {
    let payload = json!({"incidentId": "inc-7", "title": "Checkout down", "status": status});
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
        extra_plugins: vec![("switchyard-plugin-pagerduty".into(), Vec::new())],
        ..CoordinatorOptions::default()
    }
}

#[tokio::test]
async fn an_incident_triggers_and_resolves_one_pagerduty_alert() {
    let coord = Coordinator::start(options()).await;
    let mut c = coord.clients().await;
    register_correlated(&mut c, &[CREATED, RESOLVED], "/incidentId").await;
    let sink = HttpSink::start().await;
    for _ in 0..2 {
        sink.push_response(ResponseSpec::status(202).json(&json!({"status": "success"})));
    }
    let sub = create_subscription(
        &mut c,
        api::Subscription {
            name: "oncall".into(),
            provider_id: "pagerduty.pagerduty".into(),
            config_json: json!({"routingKey": KEY, "baseUrl": sink.url()}).to_string(),
            event_types: vec!["incident.*".into()],
            enabled: true,
            ..Default::default()
        },
    )
    .await;
    assert!(!format!("{sub:?}").contains(KEY), "{sub:?}");

    let created = publish(&mut c, CREATED, "investigating").await;
    let resolved = publish(&mut c, RESOLVED, "resolved").await;
    for d in [&created, &resolved] {
        let done = wait_final(&mut c, &d.id).await;
        assert_eq!(done.status(), api::DeliveryStatus::Succeeded, "{done:?}");
    }
    let requests = sink.wait_for_requests(2, Duration::from_secs(30)).await;
    let bodies: Vec<serde_json::Value> = requests.iter().map(|r| r.json()).collect();
    for r in &requests {
        Spec::vendor("pagerduty").assert_conforms(r);
    }
    assert_eq!(bodies[0]["event_action"], "trigger");
    assert_eq!(bodies[1]["event_action"], "resolve");
    let dedup = format!("{}:inc-7", sub.id);
    assert_eq!(bodies[0]["dedup_key"], dedup.as_str());
    assert_eq!(bodies[1]["dedup_key"], dedup.as_str());
    let first = attempts(&mut c, &created.id)
        .await
        .pop()
        .expect("an attempt");
    assert_eq!(first.external_id, dedup);

    let (ok, stdout, stderr) = coord.cli(&[
        "subscriptions",
        "preview",
        &sub.id,
        "--event-type",
        CREATED,
        "--payload",
        r#"{"incidentId":"inc-7","title":"Checkout down"}"#,
    ]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("/v2/enqueue") && stdout.contains("[REDACTED]"),
        "{stdout}"
    );
    assert!(!stdout.contains(KEY), "{stdout}");
    assert_eq!(sink.request_count(), 2, "the preview sent something");
    assert_not_in_data_dir(&coord, KEY);
    assert!(!coord.stderr().contains(KEY), "routing key in the log");
}

/// A receiver that repeats the routing key in its error bodies — first a 503 quoting the
/// request (retryable: the SDK keeps an excerpt of the body), then a 400 whose `errors` name
/// the key (permanent: the plugin puts PagerDuty's `message` and `errors` in the error). Both
/// come back scrubbed, and the key is in no attempt record, no API answer, no CLI output, no
/// log line and no file of the data dir.
#[tokio::test]
async fn a_receiver_echoing_the_routing_key_never_surfaces_it() {
    let coord = Coordinator::start(options()).await;
    let mut c = coord.clients().await;
    register_correlated(&mut c, &[CREATED], "/incidentId").await;
    let sink = HttpSink::start().await;
    sink.push_response(ResponseSpec::status(503).body(format!(
        "overloaded; you sent {{\"routing_key\":\"{KEY}\"}}"
    )));
    sink.push_response(ResponseSpec::status(400).json(&json!({
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": [format!("routing_key {KEY} is not an integration key")]
    })));
    let sub = create_subscription(
        &mut c,
        api::Subscription {
            name: "echoing".into(),
            provider_id: "pagerduty.pagerduty".into(),
            config_json: json!({"routingKey": KEY, "baseUrl": sink.url()}).to_string(),
            event_types: vec!["incident.*".into()],
            enabled: true,
            ..Default::default()
        },
    )
    .await;
    let created = publish(&mut c, CREATED, "investigating").await;
    let done = wait_final(&mut c, &created.id).await;
    assert_eq!(done.status(), api::DeliveryStatus::Failed, "{done:?}");
    for r in sink.wait_for_requests(2, Duration::from_secs(30)).await {
        Spec::vendor("pagerduty").assert_conforms(&r);
        assert_eq!(r.json()["routing_key"], KEY, "the key was sent");
    }
    let tried = attempts(&mut c, &created.id).await;
    assert_eq!(tried.len(), 2, "503 retried, 400 permanent: {tried:?}");
    // The echoes did come back, scrubbed.
    assert!(
        tried[0].response_excerpt.contains("[REDACTED]"),
        "{tried:?}"
    );
    assert!(
        tried[1].error.contains("routing_key [REDACTED] is not"),
        "{tried:?}"
    );
    assert!(
        !format!("{tried:?}{done:?}{sub:?}").contains(KEY),
        "{tried:?}"
    );
    let id = created.id.as_str();
    for (args, shows_echo) in [
        (vec!["deliveries", "show", id], true),
        (vec!["--json", "deliveries", "show", id], true),
        (vec!["--json", "deliveries", "list"], false),
    ] {
        let (ok, stdout, stderr) = coord.cli(&args);
        assert!(ok, "{args:?}: {stdout}{stderr}");
        assert!(
            !shows_echo || stdout.contains("[REDACTED]"),
            "{args:?}: {stdout}"
        );
        assert!(!stdout.contains(KEY), "{args:?}: {stdout}");
    }
    assert_not_in_data_dir(&coord, KEY);
    assert!(!coord.stderr().contains(KEY), "routing key in the log");
}
