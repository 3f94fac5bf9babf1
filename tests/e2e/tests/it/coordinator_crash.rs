//! Crash safety: SIGKILL the real coordinator while 1,000 accepted events are being
//! delivered, start it again on the same data dir, and check that every event reached the
//! receiver at least once and that no delivery is left pending, retrying or in flight.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;
use switchyard_e2e::coordinator::{
    Coordinator, CoordinatorOptions, count_deliveries, create_subscription, register_incident,
    webhook_subscription,
};
use switchyard_plugin_sdk::testkit::{HttpSink, ResponseSpec};
use switchyard_proto::coordinator::v1 as api;

const EVENTS: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_delivery_loses_nothing() {
    let mut coord = Coordinator::start(CoordinatorOptions {
        retry_delays: vec!["100ms".into(); 5],
        ..Default::default()
    })
    .await;
    let mut c = coord.clients().await;
    let sink = HttpSink::start().await;
    // Slow answers keep deliveries in flight when the kill comes.
    for _ in 0..EVENTS {
        sink.push_response(ResponseSpec::status(200).delay(Duration::from_millis(100)));
    }
    register_incident(&mut c).await;
    create_subscription(&mut c, webhook_subscription("crash", &sink.url())).await;

    let mut publishers = Vec::new();
    for worker in 0..8 {
        let mut c = coord.clients().await;
        publishers.push(tokio::spawn(async move {
            for n in (worker..EVENTS).step_by(8) {
                let payload = json!({"incidentId": format!("inc-{n}"), "title": "t"});
                switchyard_e2e::coordinator::publish(&mut c, payload, &format!("key-{n}")).await;
            }
        }));
    }
    for p in publishers {
        p.await.expect("publisher");
    }
    // Every event is durably accepted; kill while the deliveries are still under way.
    sink.wait_for_requests(EVENTS / 10, Duration::from_secs(60))
        .await;
    coord.kill();
    let before = sink.request_count();

    coord.restart().await;
    let mut c = coord.clients().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let open = count_deliveries(&mut c, api::DeliveryStatus::Pending).await
            + count_deliveries(&mut c, api::DeliveryStatus::InFlight).await
            + count_deliveries(&mut c, api::DeliveryStatus::Retrying).await;
        if open == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{open} deliveries still open 120 s after the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        count_deliveries(&mut c, api::DeliveryStatus::Succeeded).await,
        EVENTS as u64
    );
    let seen: HashSet<String> = sink
        .requests()
        .iter()
        .filter_map(|r| r.json()["data"]["incidentId"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        seen.len(),
        EVENTS,
        "every event reaches the receiver at least once"
    );
    eprintln!(
        "killed after {before} of {EVENTS} requests; {} requests in all",
        sink.request_count()
    );
}
