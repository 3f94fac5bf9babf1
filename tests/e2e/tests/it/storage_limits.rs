//! Bounded storage, with the real coordinator and a real HTTP receiver: past
//! `storage.max_pending_deliveries` publishes (single and batch) are refused with
//! RESOURCE_EXHAUSTED saying what is full and what to do, nothing accepted is lost, a retry of an
//! accepted event is still answered, and publishing resumes by itself once the deliveries drain.

use std::time::Duration;

use serde_json::json;
use switchyard::cli::client::Clients;
use switchyard_e2e::coordinator::{
    Coordinator, CoordinatorOptions, INCIDENT, create_subscription, publish, register_incident,
    wait_delivery, wait_final, webhook_subscription,
};
use switchyard_plugin_sdk::testkit::{HttpSink, ResponseSpec};
use switchyard_proto::coordinator::v1 as api;

fn incident(n: usize) -> api::PublishEventRequest {
    api::PublishEventRequest {
        event_type: INCIDENT.into(),
        payload_json: json!({"incidentId": format!("inc-{n}"), "title": "t"}).to_string(),
        idempotency_key: format!("key-{n}"),
        timestamp: None,
    }
}

async fn try_publish(
    c: &mut Clients,
    n: usize,
) -> Result<api::PublishEventResponse, tonic::Status> {
    c.events
        .publish_event(incident(n))
        .await
        .map(tonic::Response::into_inner)
}

/// Publishes event `n` until it is accepted (bounded: 30 s): the limit lifts by itself.
async fn publish_when_room(c: &mut Clients, n: usize) -> api::PublishEventResponse {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match try_publish(c, n).await {
            Ok(r) => return r,
            Err(s) if s.code() == tonic::Code::ResourceExhausted => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "still refused: {s:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(s) => panic!("unexpected refusal: {s:?}"),
        }
    }
}

#[tokio::test]
async fn past_the_pending_limit_publishes_are_refused_until_deliveries_drain() {
    // Attempts fail and would be retried only after an hour: the five stay pending.
    let coord = Coordinator::start(CoordinatorOptions {
        retry_delays: vec!["1h".into()],
        extra_config: "[storage]\nmax_pending_deliveries = 5\ncheck_interval = \"50ms\"\n".into(),
        ..CoordinatorOptions::default()
    })
    .await;
    let sink = HttpSink::start().await;
    for _ in 0..5 {
        sink.push_response(ResponseSpec::status(503));
    }
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    create_subscription(&mut c, webhook_subscription("bounded", &sink.url())).await;
    let mut accepted = Vec::new();
    for n in 0..5 {
        accepted.push(try_publish(&mut c, n).await.expect("room for five"));
    }
    for p in &accepted {
        wait_delivery(&mut c, &p.deliveries[0].id, |s| {
            s == api::DeliveryStatus::Retrying
        })
        .await;
    }

    let full = try_publish(&mut c, 5)
        .await
        .expect_err("the sixth is refused");
    assert_eq!(full.code(), tonic::Code::ResourceExhausted, "{full:?}");
    let message = full.message();
    assert!(
        message.contains("5 deliveries are pending")
            && message.contains("storage.max_pending_deliveries")
            && message.contains("resumes by itself"),
        "{message}"
    );
    let batch = c
        .events
        .publish_events(api::PublishEventsRequest {
            events: vec![incident(6), incident(7)],
        })
        .await
        .expect_err("a batch is refused whole");
    assert_eq!(batch.code(), tonic::Code::ResourceExhausted);
    // A retry of an accepted event is still answered, from what is stored.
    let again = publish(
        &mut c,
        json!({"incidentId": "inc-0", "title": "t"}),
        "key-0",
    )
    .await;
    assert!(again.duplicate && again.event_id == accepted[0].event_id);

    // The receiver is back; the retries are brought forward by hand.
    for p in &accepted {
        c.deliveries
            .redeliver_delivery(api::RedeliverDeliveryRequest {
                id: p.deliveries[0].id.clone(),
            })
            .await
            .expect("redeliver");
    }
    for p in &accepted {
        let d = wait_final(&mut c, &p.deliveries[0].id).await;
        assert_eq!(d.status(), api::DeliveryStatus::Succeeded, "{d:?}");
    }
    let sixth = publish_when_room(&mut c, 5).await;
    let d = wait_final(&mut c, &sixth.deliveries[0].id).await;
    assert_eq!(d.status(), api::DeliveryStatus::Succeeded);
    // Every accepted event reached the receiver; none of the refused ones did.
    let mut ids: Vec<String> = sink
        .requests()
        .iter()
        .map(|r| {
            r.json()["data"]["incidentId"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids, ["inc-0", "inc-1", "inc-2", "inc-3", "inc-4", "inc-5"]);
}
