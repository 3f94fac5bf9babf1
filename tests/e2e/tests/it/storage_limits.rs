//! Bounded storage, with the real coordinator and a real HTTP receiver: past
//! `storage.max_pending_deliveries` or `storage.max_data_dir_mb` publishes (single and batch)
//! are refused with RESOURCE_EXHAUSTED saying what is full and what to do, nothing accepted is
//! lost, a retry of an accepted event is still answered, and publishing resumes by itself once
//! the deliveries drain (and, for the data dir, once the retention purge frees space).

use std::collections::BTreeSet;
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

/// Publishes `event` until it is accepted (bounded: 30 s): the limit lifts by itself.
async fn publish_when_room(
    c: &mut Clients,
    event: api::PublishEventRequest,
) -> api::PublishEventResponse {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match c
            .events
            .publish_event(event.clone())
            .await
            .map(tonic::Response::into_inner)
        {
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
    // Room for five. The count errs on the safe side: a delivery accepted while the monitor
    // counts may be counted twice until its next count (one check interval), so an early
    // refusal is retried.
    let mut accepted = Vec::new();
    for n in 0..5 {
        accepted.push(publish_when_room(&mut c, incident(n)).await);
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
        // The count itself may be one scan's worth high (see above).
        message.contains("deliveries are pending, the limit is 5")
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
    let sixth = publish_when_room(&mut c, incident(5)).await;
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

// === the data dir's size ===
//
// sled grows its file in whole segments and never shrinks it: after a purge it reuses the space
// inside. So the test does not aim at a size: it publishes events of ~32 KiB until the first
// refusal (the records then fill 90 % of the 4 MiB limit, ~120 events; bounded at 2,000), and
// publishing resumes when the purge has removed the records (the file may stay over 4 MiB;
// the records in it no longer are).

/// The data dir limit, in MiB.
const DATA_DIR_MB: u64 = 4;
/// The padding of each event's title: a few dozen events reach the limit.
const PADDING: usize = 32 * 1024;
/// Publishes after which the limit must have been reached.
const MAX_EVENTS: usize = 2_000;

fn big_incident(n: usize) -> api::PublishEventRequest {
    api::PublishEventRequest {
        payload_json: json!({"incidentId": format!("inc-{n}"), "title": "x".repeat(PADDING)})
            .to_string(),
        ..incident(n)
    }
}

/// A coordinator with a 4 MiB data dir limit, a 1 s retention purged every 100 ms, and retries
/// an hour apart (a failed first attempt keeps a delivery retrying, unfinished, until redelivered).
async fn data_dir_coordinator() -> Coordinator {
    let env = [
        ("SWITCHYARD_DELIVERY__RETENTION", "1s"),
        ("SWITCHYARD_DELIVERY__PURGE_INTERVAL", "100ms"),
        // Not under test here: an open breaker would defer first attempts while the receiver
        // is down, and its half-open probes would race the manual redeliveries.
        ("SWITCHYARD_GUARD__BREAKER_MIN_ATTEMPTS", "1000000"),
    ];
    Coordinator::start(CoordinatorOptions {
        retry_delays: vec!["1h".into()],
        env: env
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        extra_config: format!(
            "[storage]\nmax_data_dir_mb = {DATA_DIR_MB}\ncheck_interval = \"50ms\"\n"
        ),
        ..CoordinatorOptions::default()
    })
    .await
}

/// What the test accepted while filling the data dir: the answers, and the incident numbers.
#[derive(Default)]
struct Accepted {
    answers: Vec<api::PublishEventResponse>,
    incidents: BTreeSet<String>,
}

impl Accepted {
    fn push(&mut self, n: usize, answer: api::PublishEventResponse) {
        self.answers.push(answer);
        self.incidents.insert(format!("inc-{n}"));
    }
}

/// Publishes big events `0..` until one is refused: the accepted ones, the refusal, and the
/// refused event's number.
async fn fill_data_dir(c: &mut Clients) -> (Accepted, tonic::Status, usize) {
    let mut accepted = Accepted::default();
    for n in 0..MAX_EVENTS {
        match c.events.publish_event(big_incident(n)).await {
            Ok(r) => accepted.push(n, r.into_inner()),
            Err(s) => return (accepted, s, n),
        }
    }
    panic!("{MAX_EVENTS} events of {PADDING} bytes did not fill {DATA_DIR_MB} MiB");
}

/// The ids of the deliveries of `published`.
fn delivery_ids(published: &[api::PublishEventResponse]) -> BTreeSet<String> {
    published
        .iter()
        .flat_map(|p| p.deliveries.iter().map(|d| d.id.clone()))
        .collect()
}

/// Reads the watch stream until every delivery of `ids` succeeded (bounded: 60 s); a failure
/// or a lost update ends the test.
async fn await_succeeded(
    stream: &mut tonic::Streaming<api::WatchDeliveriesResponse>,
    ids: &BTreeSet<String>,
) {
    let mut left = ids.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !left.is_empty() {
        let update = tokio::time::timeout_at(deadline, stream.message())
            .await
            .unwrap_or_else(|_| panic!("{} deliveries did not succeed in 60 s", left.len()))
            .expect("the watch stream")
            .expect("the watch stream stays open");
        assert_eq!(update.lagged, 0, "the watch fell behind");
        let d = update.delivery.expect("a delivery");
        match d.status() {
            api::DeliveryStatus::Succeeded => {
                left.remove(&d.id);
            }
            api::DeliveryStatus::Failed | api::DeliveryStatus::Cancelled => {
                panic!("an accepted delivery ended badly: {d:?}")
            }
            _ => {}
        }
    }
}

/// The incident ids the receiver got.
fn received(sink: &HttpSink) -> BTreeSet<String> {
    sink.requests()
        .iter()
        .filter_map(|r| r.json()["data"]["incidentId"].as_str().map(str::to_owned))
        .collect()
}

/// Checks the refusal of a full data dir: the code, what is full, what to do; a batch is
/// refused whole; a retry of an accepted event is still answered.
///
/// The data dir's size moves by itself (sled rewrites and frees segments), so it may have room
/// again a moment after a refusal: batches (events `next..`) go on until one is refused, and
/// the ones accepted meanwhile join `accepted`, each event of them accepted.
async fn assert_data_dir_full(
    c: &mut Clients,
    full: &tonic::Status,
    accepted: &mut Accepted,
    mut next: usize,
) {
    assert_eq!(full.code(), tonic::Code::ResourceExhausted, "{full:?}");
    let message = full.message();
    assert!(
        message.contains("the data dir holds")
            && message.contains("storage.max_data_dir_mb")
            && message.contains("delivery.retention")
            && message.contains("resumes by itself"),
        "{message}"
    );
    let batch = loop {
        assert!(next < MAX_EVENTS, "no batch was refused up to event {next}");
        let events = vec![big_incident(next), big_incident(next + 1)];
        match c
            .events
            .publish_events(api::PublishEventsRequest { events })
            .await
        {
            Err(refused) => break refused,
            Ok(r) => {
                for (i, result) in r.into_inner().results.into_iter().enumerate() {
                    let Some(api::publish_event_result::Outcome::Published(answer)) =
                        result.outcome
                    else {
                        panic!("a batch was taken in part: event {} {result:?}", next + i);
                    };
                    accepted.push(next + i, answer);
                }
                next += 2;
            }
        }
    };
    assert_eq!(batch.code(), tonic::Code::ResourceExhausted, "{batch:?}");
    let first = &accepted.answers[0].event_id;
    let again = c
        .events
        .publish_event(big_incident(0))
        .await
        .expect("a retry of an accepted event is answered")
        .into_inner();
    assert!(again.duplicate && &again.event_id == first, "{again:?}");
}

/// Waits until every delivery of `ids` failed its first attempt (the receiver is down), then
/// past the retention and a few purges, and checks they are all still there, retrying: the
/// purge removes finished work only.
async fn assert_kept_while_unfinished(c: &mut Clients, ids: &BTreeSet<String>) {
    for id in ids {
        wait_delivery(c, id, |s| s == api::DeliveryStatus::Retrying).await;
    }
    // The condition here is time itself: the retention (1 s) and three purges (100 ms) pass.
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    for id in ids {
        let d = wait_delivery(c, id, |_| true).await;
        assert_eq!(d.status(), api::DeliveryStatus::Retrying, "{d:?}");
    }
}

#[tokio::test]
async fn past_the_data_dir_limit_publishes_are_refused_until_retention_frees_space() {
    let coord = data_dir_coordinator().await;
    // The receiver is down (503) while the data dir fills.
    let sink = HttpSink::start_echo(503).await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    let sub = create_subscription(&mut c, webhook_subscription("sized", &sink.url())).await;
    let (mut accepted, full, refused) = fill_data_dir(&mut c).await;
    assert!(
        refused > 0,
        "refused before any event was accepted: {full:?}"
    );
    // The batches start past the refused event, which is published again at the end.
    assert_data_dir_full(&mut c, &full, &mut accepted, MAX_EVENTS / 2).await;
    let ids = delivery_ids(&accepted.answers);
    assert_kept_while_unfinished(&mut c, &ids).await;

    // The receiver is back; the retries (an hour away) are brought forward by hand.
    sink.set_echo_status(0);
    drop(sink.take_requests());
    let watch = api::WatchDeliveriesRequest {
        subscription_id: sub.id.clone(),
        event_id: String::new(),
    };
    let mut stream = c
        .deliveries
        .watch_deliveries(watch)
        .await
        .expect("watch")
        .into_inner();
    for id in &ids {
        c.deliveries
            .redeliver_delivery(api::RedeliverDeliveryRequest { id: id.clone() })
            .await
            .expect("an accepted delivery is still there to redeliver");
    }
    await_succeeded(&mut stream, &ids).await;
    let want = accepted.incidents.clone();
    assert_eq!(
        received(&sink),
        want,
        "every accepted event reached the receiver"
    );

    // The purge removes the finished deliveries; the refused event is then accepted.
    let resumed = publish_when_room(&mut c, big_incident(refused)).await;
    assert!(
        !resumed.duplicate,
        "the refused event was not stored: {resumed:?}"
    );
    // What made room: the purge, oldest first (so the first event went before any space
    // freed counted). A finished delivery read after its retention is NOT_FOUND by design.
    let purged = c
        .deliveries
        .get_delivery(api::GetDeliveryRequest {
            id: accepted.answers[0].deliveries[0].id.clone(),
        })
        .await
        .expect_err("the first delivery was purged");
    assert_eq!(purged.code(), tonic::Code::NotFound, "{purged:?}");
    await_succeeded(&mut stream, &delivery_ids(&[resumed])).await;
    let mut want = want;
    want.insert(format!("inc-{refused}"));
    assert_eq!(
        received(&sink),
        want,
        "the refused batch never reached the receiver"
    );
}
