//! Traces and logs across the plugin boundary, through the real `switchyard serve`, the real
//! webhook plugin and a local receiver that fails twice, then accepts:
//!
//! - with `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at an OTLP receiver in this process, a
//!   `PublishEvent` carrying the platform's `traceparent` gives one trace: the API's span under
//!   the platform's, three attempt spans under it — the last after a restart of the
//!   coordinator — each with its plugin call, the plugin's `Deliver` span under that, and the
//!   vendor request's span under that, from both processes;
//! - with traces off and JSON logs, every line about the delivery parses and carries its
//!   delivery and subscription ids and the platform's trace id.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard::cli::client::Clients;
use switchyard_e2e::coordinator::{
    Coordinator, CoordinatorOptions, INCIDENT, create_subscription, register_incident,
    wait_delivery, wait_final, webhook_subscription,
};
use switchyard_e2e::otlp::{OtlpReceiver, ReceivedSpan};
use switchyard_plugin_sdk::testkit::{HttpSink, ResponseSpec};
use switchyard_proto::coordinator::v1 as api;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PLATFORM_SPAN: &str = "00f067aa0ba902b7";

/// Publishes an incident with the platform's `traceparent` in the call's metadata.
async fn publish_traced(c: &mut Clients, key: &str) -> api::PublishEventResponse {
    let mut request = tonic::Request::new(api::PublishEventRequest {
        event_type: INCIDENT.into(),
        payload_json: json!({"incidentId": key, "title": "Disk full"}).to_string(),
        idempotency_key: key.into(),
        timestamp: None,
    });
    let traceparent = format!("00-{TRACE_ID}-{PLATFORM_SPAN}-01");
    request
        .metadata_mut()
        .insert("traceparent", traceparent.parse().expect("ascii"));
    c.events
        .publish_event(request)
        .await
        .expect("publish the event")
        .into_inner()
}

/// A receiver that answers 500 twice, then 200.
async fn flaky_receiver() -> HttpSink {
    let sink = HttpSink::start().await;
    sink.push_response(ResponseSpec::status(500));
    sink.push_response(ResponseSpec::status(500));
    sink
}

/// The spans of `service` named `name` in the platform's trace.
fn named<'a>(spans: &'a [ReceivedSpan], service: &str, name: &str) -> Vec<&'a ReceivedSpan> {
    spans
        .iter()
        .filter(|s| s.trace_id() == TRACE_ID && s.service == service && s.span.name == name)
        .collect()
}

const COORDINATOR: &str = "switchyard";
const PLUGIN: &str = "switchyard-plugin-webhook";
const PUBLISH: &str = "switchyard.coordinator.v1.EventService/PublishEvent";
const ATTEMPT: &str = "delivery attempt";
const CALL: &str = "switchyard.plugin.v1.ProviderPlugin/Deliver";

/// Whether the whole trace of three attempts has arrived.
fn complete(spans: &[ReceivedSpan]) -> bool {
    named(spans, COORDINATOR, PUBLISH).len() == 1
        && named(spans, COORDINATOR, ATTEMPT).len() == 3
        && named(spans, COORDINATOR, CALL).len() == 3
        && named(spans, PLUGIN, CALL).len() == 3
        && named(spans, PLUGIN, "POST").len() == 3
}

/// The one span among `candidates` whose id is `parent`.
fn parent_of<'a>(child: &ReceivedSpan, candidates: &[&'a ReceivedSpan]) -> &'a ReceivedSpan {
    let found: Vec<_> = candidates
        .iter()
        .filter(|p| p.span_id() == child.parent_id())
        .collect();
    assert_eq!(
        found.len(),
        1,
        "the parent of {} ({}) among {:?}",
        child.span.name,
        child.parent_id(),
        candidates.iter().map(|c| c.span_id()).collect::<Vec<_>>()
    );
    found[0]
}

#[tokio::test]
async fn one_trace_from_publish_to_vendor_across_retries_and_a_restart() {
    let receiver = OtlpReceiver::start().await;
    let sink = flaky_receiver().await;
    let mut coord = Coordinator::start(CoordinatorOptions {
        // The second retry waits long enough for the coordinator to be restarted before it.
        retry_delays: vec!["100ms".into(), "5s".into()],
        env: vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT".into(), receiver.endpoint()),
            ("OTEL_BSP_SCHEDULE_DELAY".into(), "50".into()),
        ],
        ..CoordinatorOptions::default()
    })
    .await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    create_subscription(&mut c, webhook_subscription("hook", &sink.url())).await;
    let published = publish_traced(&mut c, "inc-trace").await;
    let id = published.deliveries[0].id.clone();
    // Two attempts failed; the third is scheduled: restart before it is due.
    let mut c = wait_two_attempts(&mut coord, c, &id).await;
    let done = wait_final(&mut c, &id).await;
    assert_eq!(done.status(), api::DeliveryStatus::Succeeded);
    assert_eq!(done.attempts, 3);

    let spans = receiver.wait_for("complete trace", complete).await;
    assert_links(&spans);
}

/// Waits for the second failed attempt, then restarts the coordinator (SIGTERM: its spans are
/// exported on the way out); returns clients of the new process.
async fn wait_two_attempts(coord: &mut Coordinator, mut c: Clients, id: &str) -> Clients {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let d = wait_delivery(&mut c, id, |_| true).await;
        if d.attempts >= 2 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{d:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(c);
    let status = coord.terminate().await;
    assert!(status.success(), "{status}");
    coord.restart().await;
    coord.clients().await
}

/// The spans of the delivery, all in the platform's trace, each under the right parent.
fn assert_links(spans: &[ReceivedSpan]) {
    // The other calls of the test (registering, polling…) make traces of their own; no span of
    // the delivery is outside the platform's.
    for s in spans.iter().filter(|s| s.trace_id() != TRACE_ID) {
        assert!(
            ![PUBLISH, ATTEMPT, CALL, "POST"].contains(&s.span.name.as_str()),
            "{} of {} outside the platform's trace",
            s.span.name,
            s.service
        );
    }
    let publish = named(spans, COORDINATOR, PUBLISH);
    assert_eq!(
        publish[0].parent_id(),
        PLATFORM_SPAN,
        "the platform's span is the parent"
    );
    let attempts = named(spans, COORDINATOR, ATTEMPT);
    let mut numbers: Vec<(String, String)> = attempts
        .iter()
        .map(|a| {
            assert_eq!(
                a.parent_id(),
                publish[0].span_id(),
                "an attempt under the publish"
            );
            let n = a.attribute("switchyard.attempt").expect("attempt number");
            (n, a.attribute("switchyard.outcome").expect("outcome"))
        })
        .collect();
    numbers.sort();
    assert_eq!(
        numbers,
        [("1", "retryable"), ("2", "retryable"), ("3", "delivered")]
            .map(|(n, o)| (n.to_owned(), o.to_owned()))
    );
    let calls = named(spans, COORDINATOR, CALL);
    for call in &calls {
        parent_of(call, &attempts);
    }
    let served = named(spans, PLUGIN, CALL);
    for s in &served {
        parent_of(s, &calls);
    }
    let mut statuses: Vec<String> = named(spans, PLUGIN, "POST")
        .iter()
        .map(|post| {
            parent_of(post, &served);
            post.attribute("http.response.status_code").expect("status")
        })
        .collect();
    statuses.sort();
    assert_eq!(statuses, ["200", "500", "500"]);
}

#[tokio::test]
async fn json_log_lines_about_a_delivery_carry_its_ids_and_the_platforms_trace() {
    let sink = flaky_receiver().await;
    let coord = Coordinator::start(CoordinatorOptions {
        env: vec![("SWITCHYARD_LOG__FORMAT".into(), "json".into())],
        ..CoordinatorOptions::default()
    })
    .await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    let sub = create_subscription(&mut c, webhook_subscription("hook", &sink.url())).await;
    let published = publish_traced(&mut c, "inc-log").await;
    let id = published.deliveries[0].id.clone();
    assert_eq!(wait_final(&mut c, &id).await.attempts, 3);

    let log = coord.stderr();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let about: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["delivery"] == id.as_str())
        .collect();
    let messages: Vec<&str> = about
        .iter()
        .filter_map(|l| l["fields"]["message"].as_str())
        .collect();
    assert_eq!(
        messages,
        [
            "delivery attempt failed; retrying",
            "delivery attempt failed; retrying",
            "delivered"
        ],
        "{log}"
    );
    for line in &about {
        assert_eq!(line["fields"]["subscription"], sub.id.as_str(), "{line}");
        assert_eq!(line["fields"]["trace_id"], TRACE_ID, "{line}");
    }
    let failed = about[0]["fields"]["error"].as_str().unwrap_or_default();
    assert!(failed.contains("500"), "{failed}");
}
