//! Delivery semantics end to end: the real `switchyard serve`, the real webhook plugin, and a
//! local HTTP server (`HttpSink`) standing in for the receiver. Covers success with the body
//! checked at the receiver, 5xx then success, Retry-After, permanent 4xx, exhausted retries,
//! manual redelivery, idempotent publish, disabled subscriptions and the system filter.

use std::time::Duration;

use serde_json::json;
use switchyard_e2e::coordinator::{
    Coordinator, attempts, create_subscription, publish, register_incident, wait_final,
    webhook_subscription,
};
use switchyard_plugin_sdk::testkit::{HttpSink, ResponseSpec};
use switchyard_proto::coordinator::v1 as api;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn published_event_is_delivered_with_the_seed_body() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    let sink = HttpSink::start().await;
    register_incident(&mut c).await;
    let sub = create_subscription(
        &mut c,
        webhook_subscription("ops", &format!("{}/hook", sink.url())),
    )
    .await;

    let payload = json!({"incidentId": "inc-1", "title": "Database down", "severity": "major"});
    let published = publish(&mut c, payload.clone(), "").await;
    assert_eq!(published.deliveries.len(), 1);
    let delivery_id = published.deliveries[0].id.clone();

    let requests = sink.wait_for_requests(1, WAIT).await;
    assert_eq!(requests.len(), 1, "the receiver got nothing");
    let req = &requests[0];
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/hook"));
    assert_eq!(req.header("x-delivery-id"), Some(delivery_id.as_str()));
    assert_eq!(
        req.header("x-event-type"),
        Some("incident.incident.created")
    );
    let body = req.json();
    assert_eq!(body["id"], json!(delivery_id));
    assert_eq!(body["eventType"], json!("incident.incident.created"));
    assert_eq!(body["subscription"]["id"], json!(sub.id));
    assert_eq!(body["subscription"]["name"], json!("ops"));
    assert_eq!(body["data"], payload);

    let d = wait_final(&mut c, &delivery_id).await;
    assert_eq!(d.status(), api::DeliveryStatus::Succeeded);
    let a = attempts(&mut c, &delivery_id).await;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].outcome(), api::AttemptOutcome::Delivered);
    assert_eq!(a[0].status_code, 200);
    assert_eq!(
        a[0].external_id, "1",
        "the external id comes from the receiver's `id`"
    );
}

#[tokio::test]
async fn server_errors_are_retried_on_the_fast_schedule_until_success() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    let sink = HttpSink::start().await;
    sink.push_response(ResponseSpec::status(500));
    sink.push_response(ResponseSpec::status(502));
    register_incident(&mut c).await;
    create_subscription(&mut c, webhook_subscription("retry", &sink.url())).await;

    let published = publish(&mut c, json!({"incidentId": "i", "title": "t"}), "").await;
    let id = published.deliveries[0].id.clone();
    let d = wait_final(&mut c, &id).await;
    assert_eq!(d.status(), api::DeliveryStatus::Succeeded);
    assert_eq!(d.attempts, 3);
    let requests = sink.requests();
    assert_eq!(requests.len(), 3);
    assert!(
        requests
            .iter()
            .all(|r| r.header("x-delivery-id") == Some(id.as_str())),
        "the delivery id is stable across attempts"
    );
    let outcomes: Vec<_> = attempts(&mut c, &id)
        .await
        .iter()
        .map(api::DeliveryAttempt::outcome)
        .collect();
    assert_eq!(
        outcomes,
        [
            api::AttemptOutcome::Retryable,
            api::AttemptOutcome::Retryable,
            api::AttemptOutcome::Delivered
        ]
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    let sink = HttpSink::start().await;
    sink.push_response(ResponseSpec::status(429).header("retry-after", "2"));
    register_incident(&mut c).await;
    create_subscription(&mut c, webhook_subscription("rl", &sink.url())).await;

    let id = publish(&mut c, json!({"incidentId": "i", "title": "t"}), "")
        .await
        .deliveries[0]
        .id
        .clone();
    let d = wait_final(&mut c, &id).await;
    assert_eq!(d.status(), api::DeliveryStatus::Succeeded);
    let a = attempts(&mut c, &id).await;
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].outcome(), api::AttemptOutcome::RateLimited);
    assert_eq!(a[0].retry_after.map(|d| d.seconds), Some(2));
    // The second attempt started no earlier than the receiver asked (the schedule says 100ms).
    let gap = a[1].started_at.unwrap().seconds * 1000
        + i64::from(a[1].started_at.unwrap().nanos / 1_000_000)
        - (a[0].ended_at.unwrap().seconds * 1000
            + i64::from(a[0].ended_at.unwrap().nanos / 1_000_000));
    assert!(
        gap >= 1_990,
        "retried after {gap} ms, before the 2 s Retry-After"
    );
}

#[tokio::test]
async fn a_permanent_failure_stops_at_once_and_exhausted_retries_fail() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    let permanent = HttpSink::start().await;
    permanent.push_response(ResponseSpec::status(400).body("bad request"));
    let flaky = HttpSink::start().await;
    for _ in 0..3 {
        flaky.push_response(ResponseSpec::status(500));
    }
    let s1 = create_subscription(&mut c, webhook_subscription("permanent", &permanent.url())).await;
    create_subscription(&mut c, webhook_subscription("flaky", &flaky.url())).await;

    let published = publish(&mut c, json!({"incidentId": "i", "title": "t"}), "").await;
    assert_eq!(published.deliveries.len(), 2);
    for d in &published.deliveries {
        let done = wait_final(&mut c, &d.id).await;
        assert_eq!(done.status(), api::DeliveryStatus::Failed, "{done:?}");
        let expected = if d.subscription_id == s1.id { 1 } else { 3 };
        assert_eq!(done.attempts, expected, "{done:?}");
        assert!(!done.last_error.is_empty());
    }
    assert_eq!(permanent.request_count(), 1, "a 4xx must not be retried");
    assert_eq!(
        flaky.request_count(),
        3,
        "3 attempts in all with 2 retry delays"
    );
}

#[tokio::test]
async fn manual_redelivery_appends_a_manual_attempt() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    let sink = HttpSink::start().await;
    sink.push_response(ResponseSpec::status(404));
    register_incident(&mut c).await;
    create_subscription(&mut c, webhook_subscription("replay", &sink.url())).await;
    let id = publish(&mut c, json!({"incidentId": "i", "title": "t"}), "")
        .await
        .deliveries[0]
        .id
        .clone();
    assert_eq!(
        wait_final(&mut c, &id).await.status(),
        api::DeliveryStatus::Failed
    );

    c.deliveries
        .redeliver_delivery(api::RedeliverDeliveryRequest { id: id.clone() })
        .await
        .expect("redeliver");
    let d = switchyard_e2e::coordinator::wait_delivery(&mut c, &id, |s| {
        s == api::DeliveryStatus::Succeeded
    })
    .await;
    assert_eq!(d.attempts, 2);
    let a = attempts(&mut c, &id).await;
    assert_eq!(a.len(), 2, "the history is kept");
    assert_eq!(a[0].trigger(), api::AttemptTrigger::Scheduled);
    assert_eq!(a[1].trigger(), api::AttemptTrigger::Manual);
    assert_eq!(a[1].outcome(), api::AttemptOutcome::Delivered);
    assert_eq!(sink.request_count(), 2);
}

#[tokio::test]
async fn publishing_twice_with_one_idempotency_key_creates_nothing_new() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    let sink = HttpSink::start().await;
    register_incident(&mut c).await;
    create_subscription(&mut c, webhook_subscription("idem", &sink.url())).await;
    let payload = json!({"incidentId": "i", "title": "t"});
    let first = publish(&mut c, payload.clone(), "platform-event-42").await;
    let second = publish(&mut c, payload, "platform-event-42").await;
    assert!(!first.duplicate);
    assert!(second.duplicate);
    assert_eq!(first.event_id, second.event_id);
    let ids = |r: &api::PublishEventResponse| {
        r.deliveries
            .iter()
            .map(|d| d.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&first), ids(&second));
    wait_final(&mut c, &first.deliveries[0].id).await;
    assert_eq!(
        switchyard_e2e::coordinator::count_deliveries(&mut c, api::DeliveryStatus::Unspecified)
            .await,
        1
    );
    assert_eq!(sink.request_count(), 1);
}

#[tokio::test]
async fn disabled_subscriptions_get_nothing_and_the_system_filter_reads_system_ids() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    let sink = HttpSink::start().await;
    register_incident(&mut c).await;
    let mut disabled = webhook_subscription("off", &format!("{}/off", sink.url()));
    disabled.enabled = false;
    create_subscription(&mut c, disabled).await;
    let mut filtered = webhook_subscription("sys-2 only", &format!("{}/sys2", sink.url()));
    filtered.system_ids = vec!["sys-2".into()];
    let filtered = create_subscription(&mut c, filtered).await;

    let hit = publish(
        &mut c,
        json!({"incidentId": "a", "title": "t", "systemIds": ["sys-1", "sys-2"]}),
        "",
    )
    .await;
    assert_eq!(
        hit.deliveries.len(),
        1,
        "only the enabled, matching subscription"
    );
    assert_eq!(hit.deliveries[0].subscription_id, filtered.id);
    let single = publish(
        &mut c,
        json!({"incidentId": "b", "title": "t", "systemId": "sys-2"}),
        "",
    )
    .await;
    assert_eq!(single.deliveries.len(), 1);
    let miss = publish(
        &mut c,
        json!({"incidentId": "c", "title": "t", "systemIds": ["sys-3"]}),
        "",
    )
    .await;
    assert!(miss.deliveries.is_empty());

    wait_final(&mut c, &hit.deliveries[0].id).await;
    wait_final(&mut c, &single.deliveries[0].id).await;
    let paths: Vec<String> = sink.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/sys2", "/sys2"]);
}

#[tokio::test]
async fn disabling_a_subscription_cancels_its_pending_deliveries() {
    let coord = Coordinator::start(switchyard_e2e::coordinator::CoordinatorOptions {
        retry_delays: vec!["1h".into()],
        ..Default::default()
    })
    .await;
    let mut c = coord.clients().await;
    let sink = HttpSink::start().await;
    sink.push_response(ResponseSpec::status(500));
    register_incident(&mut c).await;
    let sub = create_subscription(&mut c, webhook_subscription("slow", &sink.url())).await;
    let id = publish(&mut c, json!({"incidentId": "i", "title": "t"}), "")
        .await
        .deliveries[0]
        .id
        .clone();
    switchyard_e2e::coordinator::wait_delivery(&mut c, &id, |s| s == api::DeliveryStatus::Retrying)
        .await;

    let r = c
        .subscriptions
        .disable_subscription(api::DisableSubscriptionRequest { id: sub.id })
        .await
        .expect("disable");
    assert_eq!(r.into_inner().cancelled_deliveries, 1);
    let d = wait_final(&mut c, &id).await;
    assert_eq!(d.status(), api::DeliveryStatus::Cancelled);
}
