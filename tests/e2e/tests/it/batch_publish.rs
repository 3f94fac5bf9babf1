//! `PublishEvents` and `switchyard events publish --file`: many events in one call, each with its
//! own idempotency key and its own result — a refused event does not fail the others, and only
//! the accepted ones are stored and delivered (counted at a real HTTP receiver).

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::coordinator::{
    Coordinator, INCIDENT, create_subscription, register_incident, wait_final, webhook_subscription,
};
use switchyard_plugin_sdk::testkit::HttpSink;
use switchyard_proto::coordinator::v1 as api;
use switchyard_proto::coordinator::v1::publish_event_result::Outcome;

fn event(event_type: &str, payload: &Value, key: &str) -> api::PublishEventRequest {
    api::PublishEventRequest {
        event_type: event_type.into(),
        payload_json: payload.to_string(),
        idempotency_key: key.into(),
        timestamp: None,
    }
}

fn published(r: &api::PublishEventResult) -> &api::PublishEventResponse {
    match &r.outcome {
        Some(Outcome::Published(p)) => p,
        other => panic!("expected a published event, got {other:?}"),
    }
}

fn refused(r: &api::PublishEventResult) -> &api::PublishEventError {
    match &r.outcome {
        Some(Outcome::Error(e)) => e,
        other => panic!("expected a refused event, got {other:?}"),
    }
}

#[tokio::test]
async fn each_event_of_a_batch_gets_its_own_result_and_only_good_ones_are_delivered() {
    let coord = Coordinator::start_default().await;
    let sink = HttpSink::start().await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    create_subscription(&mut c, webhook_subscription("batch", &sink.url())).await;
    let a = json!({"incidentId": "inc-a", "title": "A"});
    let events = vec![
        event(INCIDENT, &a, "key-a"),
        event(INCIDENT, &json!({"incidentId": "inc-x"}), ""),
        event("no.such.type", &json!({}), ""),
        event(
            INCIDENT,
            &json!({"incidentId": "inc-b", "title": "B"}),
            "key-b",
        ),
        event(INCIDENT, &a, "key-a"),
        event(
            INCIDENT,
            &json!({"incidentId": "inc-a", "title": "other"}),
            "key-a",
        ),
    ];
    let results = c
        .events
        .publish_events(api::PublishEventsRequest { events })
        .await
        .expect("the batch is taken")
        .into_inner()
        .results;
    assert_eq!(results.len(), 6, "{results:?}");
    let first = published(&results[0]);
    assert!(!first.duplicate && first.deliveries.len() == 1, "{first:?}");
    let schema = refused(&results[1]);
    assert_eq!(
        (schema.code, schema.code_name.as_str()),
        (3, "INVALID_ARGUMENT")
    );
    assert!(schema.message.contains("title"), "{}", schema.message);
    let unknown = refused(&results[2]);
    assert_eq!(unknown.code_name, "NOT_FOUND", "{unknown:?}");
    assert!(unknown.message.contains("no.such.type"), "{unknown:?}");
    let second = published(&results[3]);
    assert!(!second.duplicate && second.event_id != first.event_id);
    // The same key and event again in the same batch: the first one's answer.
    let again = published(&results[4]);
    assert!(again.duplicate, "{again:?}");
    assert_eq!(again.event_id, first.event_id);
    assert_eq!(again.deliveries[0].id, first.deliveries[0].id);
    let conflict = refused(&results[5]);
    assert_eq!(conflict.code_name, "INVALID_ARGUMENT");
    assert!(conflict.message.contains("idempotency_key"), "{conflict:?}");

    for p in [first, second] {
        let d = wait_final(&mut c, &p.deliveries[0].id).await;
        assert_eq!(d.status(), api::DeliveryStatus::Succeeded, "{d:?}");
    }
    let received = sink.wait_for_requests(2, Duration::from_secs(30)).await;
    let mut ids: Vec<String> = received
        .iter()
        .map(|r| {
            r.json()["data"]["incidentId"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, ["inc-a", "inc-b"]);
    assert_eq!(
        sink.request_count(),
        2,
        "only the accepted events are delivered"
    );
}

#[tokio::test]
async fn an_empty_or_oversized_batch_is_refused_whole() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    let empty = c
        .events
        .publish_events(api::PublishEventsRequest { events: vec![] })
        .await
        .expect_err("an empty batch");
    assert_eq!(empty.code(), tonic::Code::InvalidArgument);
    assert!(empty.message().contains("1 to 1000"), "{}", empty.message());
    let one = event(INCIDENT, &json!({"incidentId": "i", "title": "t"}), "");
    let big = c
        .events
        .publish_events(api::PublishEventsRequest {
            events: vec![one; 1001],
        })
        .await
        .expect_err("1001 events");
    assert_eq!(big.code(), tonic::Code::InvalidArgument);
    let events = c
        .deliveries
        .list_deliveries(api::ListDeliveriesRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(events.total, 0, "nothing stored");
}

#[tokio::test]
async fn the_cli_publishes_a_json_lines_file_and_reports_every_line() {
    let coord = Coordinator::start_default().await;
    let sink = HttpSink::start().await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    create_subscription(&mut c, webhook_subscription("file", &sink.url())).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("events.jsonl");
    let lines = [
        json!({"type": INCIDENT, "payload": {"incidentId": "f-1", "title": "one"}, "idempotencyKey": "f-1"}).to_string(),
        "this is not json".to_owned(),
        String::new(),
        json!({"type": INCIDENT, "payload": {"incidentId": "f-2"}}).to_string(),
        json!({"eventType": INCIDENT, "payload": {"incidentId": "f-3", "title": "three"},
               "timestamp": "2026-12-03T10:00:00Z"})
        .to_string(),
        json!({"type": INCIDENT, "payload": {"incidentId": "f-1", "title": "one"}, "idempotencyKey": "f-1"}).to_string(),
    ];
    std::fs::write(&file, lines.join("\n")).expect("write the file");
    let path = file.display().to_string();
    let (ok, out, err) = coord.cli(&[
        "--json",
        "events",
        "publish",
        "--file",
        &path,
        "--batch-size",
        "2",
    ]);
    assert!(!ok, "two lines were refused, so the command fails: {out}");
    assert!(err.contains("2 of 5 lines were refused"), "{err}");
    let reports: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let line = |n: u64| {
        reports
            .iter()
            .find(|r| r["line"] == n)
            .unwrap_or_else(|| panic!("no report of line {n}: {out}"))
    };
    assert_eq!(reports.len(), 5, "{out}");
    assert!(line(1)["eventId"].is_string() && line(1)["duplicate"] == false);
    assert_eq!(line(2)["error"]["code"], "INVALID_ARGUMENT");
    assert!(
        line(2)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not an event line")
    );
    assert_eq!(line(4)["error"]["code"], "INVALID_ARGUMENT");
    assert!(
        line(4)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("title")
    );
    assert!(line(5)["eventId"].is_string());
    assert_eq!(line(6)["duplicate"], true);
    assert_eq!(line(6)["eventId"], line(1)["eventId"]);
    let received = sink.wait_for_requests(2, Duration::from_secs(30)).await;
    let mut ids: Vec<String> = received
        .iter()
        .map(|r| {
            r.json()["data"]["incidentId"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, ["f-1", "f-3"]);
}
