//! Correlation end to end through `switchyard serve` and a real plugin process (the fixture's
//! echo provider, which answers with what it was told about the correlation): one incident's
//! created → updated → resolved reach the plugin one after the other, each with what the
//! earlier ones left behind (external ids and state); another incident is not held up by it;
//! and a "created" that failed lets its "resolved" through.

use serde_json::json;
use switchyard::cli::client::Clients;
use switchyard_e2e::coordinator::{
    Coordinator, attempts, create_subscription, register_correlated, wait_final, with_fixture_args,
};
use switchyard_proto::coordinator::v1 as api;

const CREATED: &str = "incident.incident.created";
const UPDATED: &str = "incident.incident.updated";
const RESOLVED: &str = "incident.incident.resolved";

async fn setup(config: serde_json::Value) -> (Coordinator, Clients) {
    let coord = Coordinator::start(with_fixture_args(&["good"])).await;
    let mut c = coord.clients().await;
    register_correlated(&mut c, &[CREATED, UPDATED, RESOLVED], "/incidentId").await;
    let sub = api::Subscription {
        name: "echo".into(),
        provider_id: "fixture.echo".into(),
        config_json: config.to_string(),
        event_types: vec!["incident.*".into()],
        enabled: true,
        ..Default::default()
    };
    create_subscription(&mut c, sub).await;
    (coord, c)
}

async fn publish(c: &mut Clients, event_type: &str, incident: &str) -> api::Delivery {
    let mut r = c
        .events
        .publish_event(api::PublishEventRequest {
            event_type: event_type.into(),
            payload_json: json!({"incidentId": incident}).to_string(),
            ..Default::default()
        })
        .await
        .expect("publish")
        .into_inner();
    assert_eq!(r.deliveries.len(), 1, "{r:?}");
    r.deliveries.remove(0)
}

/// The fixture's report of what the plugin was told, from the delivery's last attempt.
async fn report(
    c: &mut Clients,
    delivery: &api::Delivery,
) -> (api::DeliveryAttempt, serde_json::Value) {
    let done = wait_final(c, &delivery.id).await;
    assert_eq!(done.status(), api::DeliveryStatus::Succeeded, "{done:?}");
    let attempt = attempts(c, &delivery.id).await.pop().expect("an attempt");
    let report = serde_json::from_str(&attempt.external_id).expect("the fixture's JSON report");
    (attempt, report)
}

fn millis(t: Option<&prost_types::Timestamp>) -> i64 {
    t.map_or(0, |t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000)
}

#[tokio::test]
async fn one_incidents_events_reach_the_plugin_in_order_with_what_came_before() {
    let (_coord, mut c) = setup(json!({"reportCorrelation": true, "delayMs": 400})).await;
    let created = publish(&mut c, CREATED, "inc-1").await;
    let updated = publish(&mut c, UPDATED, "inc-1").await;
    let resolved = publish(&mut c, RESOLVED, "inc-1").await;
    assert_eq!(created.correlation_key, "inc-1");
    // Another incident's event does not wait behind inc-1's.
    let other = publish(&mut c, CREATED, "inc-2").await;
    assert_eq!(other.status(), api::DeliveryStatus::Pending, "{other:?}");

    let (a1, r1) = report(&mut c, &created).await;
    let (a2, r2) = report(&mut c, &updated).await;
    let (a3, r3) = report(&mut c, &resolved).await;
    let (_, r4) = report(&mut c, &other).await;
    assert!(
        millis(a2.started_at.as_ref()) >= millis(a1.ended_at.as_ref())
            && millis(a3.started_at.as_ref()) >= millis(a2.ended_at.as_ref()),
        "attempts overlap: {a1:?} {a2:?} {a3:?}"
    );
    assert_eq!(r1["key"], "inc-1");
    assert_eq!(r1["eventId"], created.event_id);
    assert_eq!(r1["earlier"], json!([]));
    assert_eq!(
        r2["earlier"],
        json!([{"eventType": CREATED, "externalId": a1.external_id, "state": format!("state-of-{CREATED}"), "delivered": true}])
    );
    let earlier3 = r3["earlier"].as_array().expect("earlier deliveries");
    let types: Vec<&str> = earlier3
        .iter()
        .filter_map(|e| e["eventType"].as_str())
        .collect();
    assert_eq!(types, [UPDATED, CREATED], "most recent first: {r3}");
    assert_eq!(earlier3[0]["externalId"], a2.external_id.as_str());
    assert_eq!(r4["key"], "inc-2");
    assert_eq!(r4["earlier"], json!([]), "inc-2 shares nothing with inc-1");
}

#[tokio::test]
async fn a_failed_created_lets_the_resolved_through() {
    let (_coord, mut c) = setup(json!({
        "reportCorrelation": true,
        "delayMs": 300,
        "failEventTypes": [CREATED]
    }))
    .await;
    let created = publish(&mut c, CREATED, "inc-9").await;
    let resolved = publish(&mut c, RESOLVED, "inc-9").await;
    let failed = wait_final(&mut c, &created.id).await;
    assert_eq!(failed.status(), api::DeliveryStatus::Failed, "{failed:?}");
    let (_, r) = report(&mut c, &resolved).await;
    assert_eq!(
        r["earlier"],
        json!([{"eventType": CREATED, "externalId": null, "state": null, "delivered": false}])
    );
}

#[tokio::test]
async fn events_without_a_key_stand_alone() {
    let (_coord, mut c) = setup(json!({"reportCorrelation": true})).await;
    let mut r = c
        .events
        .publish_event(api::PublishEventRequest {
            event_type: CREATED.into(),
            payload_json: json!({"title": "no incident id"}).to_string(),
            ..Default::default()
        })
        .await
        .expect("publish")
        .into_inner();
    let d = r.deliveries.remove(0);
    assert_eq!(d.correlation_key, "");
    let (_, report) = report(&mut c, &d).await;
    assert_eq!(report["key"], serde_json::Value::Null);
}
