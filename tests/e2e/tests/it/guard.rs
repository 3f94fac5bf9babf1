//! Protecting receivers and the coordinator from one another, end to end: the real
//! `switchyard serve`, the real webhook plugin and local HTTP receivers (`HttpSink`). A
//! subscription's rate limit (set through the CLI) spaces its deliveries at the receiver; a
//! receiver that fails trips the circuit breaker, whose deferrals use no retry budget, and a
//! probe closes it again; a subscription failing continuously is disabled with its reason; and
//! the coordinator's operational events (`switchyard.*`) reach subscriptions for them through
//! the same engine and plugin — without feeding on themselves.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard::cli::client::Clients;
use switchyard_e2e::coordinator::{
    Coordinator, CoordinatorOptions, attempts, create_subscription, get_subscription, publish,
    register_incident, wait_delivery, wait_final, webhook_subscription,
};
use switchyard_plugin_sdk::testkit::{HttpSink, RecordedRequest, ResponseSpec};
use switchyard_proto::coordinator::v1 as api;

const WAIT: Duration = Duration::from_secs(60);

fn incident(n: usize) -> Value {
    json!({"incidentId": format!("inc-{n}"), "title": format!("Incident {n}")})
}

/// A subscription to `url` for the given event type patterns.
fn subscription(name: &str, url: &str, event_types: &[&str]) -> api::Subscription {
    api::Subscription {
        event_types: event_types.iter().map(|s| (*s).to_owned()).collect(),
        ..webhook_subscription(name, url)
    }
}

/// Polls the subscription until `done` holds (bounded by [`WAIT`]).
async fn wait_subscription(
    c: &mut Clients,
    id: &str,
    what: &str,
    done: impl Fn(&api::Subscription) -> bool,
) -> api::Subscription {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let s = get_subscription(c, id).await;
        if done(&s) {
            return s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "subscription never {what}: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn circuit(s: &api::Subscription) -> api::CircuitState {
    s.circuit_breaker
        .as_ref()
        .map_or(api::CircuitState::Unspecified, api::CircuitBreaker::state)
}

/// Every delivery of a subscription.
async fn deliveries_of(c: &mut Clients, sub: &str) -> Vec<api::Delivery> {
    c.deliveries
        .list_deliveries(api::ListDeliveriesRequest {
            subscription_id: sub.into(),
            page_size: 500,
            ..Default::default()
        })
        .await
        .expect("list deliveries")
        .into_inner()
        .deliveries
}

/// The webhook bodies' `eventType`s, in arrival order.
fn event_types(requests: &[RecordedRequest]) -> Vec<String> {
    requests
        .iter()
        .map(|r| {
            r.json()["eventType"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_rate_limited_subscription_gets_50_events_at_most_5_a_second_and_none_fails() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    let sink = HttpSink::start().await;
    register_incident(&mut c).await;
    let config = json!({"url": format!("{}/hook", sink.url())}).to_string();
    let (ok, out, err) = coord.cli(&[
        "--json",
        "subscriptions",
        "create",
        "--name",
        "slow-channel",
        "--provider",
        "webhook.webhook",
        "--event-type",
        "incident.*",
        "--config",
        &config,
        "--rate-limit",
        "5",
        "--burst",
        "5",
    ]);
    assert!(ok, "create failed: {err}");
    let created: Value = serde_json::from_str(&out).expect("JSON from the CLI");
    assert_eq!(
        created["rateLimit"],
        json!({"eventsPerSecond": 5.0, "burst": 5})
    );
    let sub = created["id"].as_str().expect("an id").to_owned();
    let (ok, shown, _) = coord.cli(&["subscriptions", "show", &sub]);
    assert!(ok && shown.contains("5/s, burst 5"), "{shown}");

    let mut ids = Vec::new();
    for n in 0..50 {
        ids.push(
            publish(&mut c, incident(n), "").await.deliveries[0]
                .id
                .clone(),
        );
    }
    let requests = sink.wait_for_requests(50, WAIT).await;
    assert_eq!(
        requests.len(),
        50,
        "the receiver got {} of 50",
        requests.len()
    );
    let arrivals = sink.arrivals();
    for (i, start) in arrivals.iter().enumerate() {
        let in_window = arrivals[i..]
            .iter()
            .take_while(|t| t.duration_since(*start) < Duration::from_secs(1))
            .count();
        assert!(
            in_window <= 5 + 5,
            "{in_window} deliveries arrived within one second from arrival {i}"
        );
    }
    for id in &ids {
        let d = wait_final(&mut c, id).await;
        assert_eq!(d.status(), api::DeliveryStatus::Succeeded, "{d:?}");
        assert_eq!(d.attempts, 1, "waiting for a token is no attempt: {d:?}");
    }
}

fn breaker_options() -> CoordinatorOptions {
    CoordinatorOptions {
        // Retries come after the first wave has tripped the breaker.
        retry_delays: vec!["1s".into(), "1s".into()],
        extra_config: "[guard]\nbreaker_min_attempts = 5\nbreaker_failure_ratio = 0.5\n\
                       breaker_window = \"1m\"\nbreaker_cool_down = \"5s\"\n\
                       breaker_max_cool_down = \"5s\"\n"
            .into(),
        ..CoordinatorOptions::default()
    }
}

#[tokio::test]
async fn a_failing_receiver_trips_the_breaker_which_defers_without_budget_and_closes_on_recovery() {
    let coord = Coordinator::start(breaker_options()).await;
    let mut c = coord.clients().await;
    let sink = HttpSink::start().await;
    let ops = HttpSink::start().await;
    register_incident(&mut c).await;
    let hook = format!("{}/hook", sink.url());
    let sub = create_subscription(&mut c, subscription("flaky", &hook, &["incident.*"])).await;
    assert_eq!(circuit(&sub), api::CircuitState::Closed);
    let ops_url = format!("{}/ops", ops.url());
    let ops_sub = subscription("ops", &ops_url, &["switchyard.subscription.*"]);
    create_subscription(&mut c, ops_sub).await;
    // The receiver fails the first five requests (100 % of the first wave), then recovers.
    for _ in 0..5 {
        sink.push_response(ResponseSpec::status(500));
    }
    let mut first = Vec::new();
    for n in 0..5 {
        first.push(
            publish(&mut c, incident(n), "").await.deliveries[0]
                .id
                .clone(),
        );
    }
    let open = wait_subscription(&mut c, &sub.id, "opened", |s| {
        circuit(s) == api::CircuitState::Open
    })
    .await;
    let cb = open.circuit_breaker.expect("breaker");
    assert_eq!((cb.window_attempts, cb.window_failures), (5, 5));
    assert!(cb.open_until.is_some() && cb.failing_since.is_some());

    let mut later = Vec::new();
    for n in 5..15 {
        later.push(
            publish(&mut c, incident(n), "").await.deliveries[0]
                .id
                .clone(),
        );
    }
    for id in &later {
        let d = poll_deferred(&mut c, id).await;
        assert_eq!(d.attempts, 0, "deferred, not attempted: {d:?}");
    }
    assert_eq!(
        sink.request_count(),
        5,
        "no attempt reaches the receiver while the breaker is open"
    );

    assert_recovered(&mut c, &sink, &ops, &sub, &first, &later).await;
}

/// After the probe: every delivery succeeded, the first wave's deferrals used no attempt, the
/// breaker is closed, and the platform was told it failed and recovered.
async fn assert_recovered(
    c: &mut Clients,
    sink: &HttpSink,
    ops: &HttpSink,
    sub: &api::Subscription,
    first: &[String],
    later: &[String],
) {
    for id in first.iter().chain(later) {
        let d = wait_final(c, id).await;
        assert_eq!(d.status(), api::DeliveryStatus::Succeeded, "{d:?}");
    }
    for id in first {
        let kinds: Vec<api::AttemptOutcome> =
            attempts(c, id).await.iter().map(|a| a.outcome()).collect();
        assert_eq!(
            kinds,
            [
                api::AttemptOutcome::Retryable,
                api::AttemptOutcome::Delivered
            ],
            "one failure, then delivered: the deferrals used none of the 3 attempts"
        );
    }
    for id in later {
        assert_eq!(attempts(c, id).await.len(), 1);
    }
    assert_eq!(sink.request_count(), 20, "5 failures, then 15 deliveries");
    let closed = get_subscription(c, &sub.id).await;
    assert_eq!(circuit(&closed), api::CircuitState::Closed);
    assert!(
        closed
            .circuit_breaker
            .and_then(|b| b.failing_since)
            .is_none()
    );

    let told = ops.wait_for_requests(2, WAIT).await;
    assert_eq!(
        event_types(&told),
        [
            "switchyard.subscription.failing",
            "switchyard.subscription.recovered"
        ]
    );
    let failing = &told[0].json()["data"];
    assert_eq!(failing["subscriptionId"], json!(sub.id));
    assert_eq!(failing["windowFailures"], json!(5));
    assert_eq!(told[1].json()["data"]["subscriptionName"], json!("flaky"));
}

/// Polls a delivery until the breaker's deferral shows in its last error.
async fn poll_deferred(c: &mut Clients, id: &str) -> api::Delivery {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let d = wait_delivery(c, id, |_| true).await;
        if d.last_error.contains("circuit breaker") {
            return d;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never deferred: {d:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_exhausted_delivery_produces_switchyard_delivery_exhausted_and_that_one_no_other() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    let down = HttpSink::start_echo(500).await;
    // The operational receiver fails too: its exhausted delivery must not produce another.
    let ops = HttpSink::start_echo(500).await;
    register_incident(&mut c).await;
    let hook = format!("{}/hook", down.url());
    let sub = create_subscription(&mut c, subscription("down", &hook, &["incident.*"])).await;
    let ops_url = format!("{}/ops", ops.url());
    let ops_sub = create_subscription(
        &mut c,
        subscription("ops", &ops_url, &["switchyard.delivery.exhausted"]),
    )
    .await;

    let delivery = publish(&mut c, incident(1), "").await.deliveries[0]
        .id
        .clone();
    let d = wait_final(&mut c, &delivery).await;
    assert_eq!(d.status(), api::DeliveryStatus::Failed);
    let told = ops.wait_for_requests(1, WAIT).await;
    assert_eq!(event_types(&told[..1]), ["switchyard.delivery.exhausted"]);
    let data = &told[0].json()["data"];
    assert_eq!(data["deliveryId"], json!(delivery));
    assert_eq!(data["subscriptionId"], json!(sub.id));
    assert_eq!(data["subscriptionName"], json!("down"));
    assert_eq!(data["eventType"], json!("incident.incident.created"));
    assert_eq!(data["attempts"], json!(3));
    assert_eq!(data["reason"], json!("retries exhausted after 3 attempts"));
    assert!(
        data["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("500")),
        "{data}"
    );

    // The second round starts after the first operational delivery failed for good; an event
    // about that one would have been published at once, long before the second's.
    let first_ops = deliveries_of(&mut c, &ops_sub.id).await;
    assert_eq!(first_ops.len(), 1);
    let failed = wait_final(&mut c, &first_ops[0].id).await;
    assert_eq!(failed.status(), api::DeliveryStatus::Failed);
    let second = publish(&mut c, incident(2), "").await.deliveries[0]
        .id
        .clone();
    wait_final(&mut c, &second).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let ops_deliveries = loop {
        let list = deliveries_of(&mut c, &ops_sub.id).await;
        if list.len() >= 2 || tokio::time::Instant::now() > deadline {
            break list;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        ops_deliveries.len(),
        2,
        "one operational event per exhausted incident delivery, none about themselves"
    );

    let types = c
        .event_types
        .list_event_types(api::ListEventTypesRequest::default())
        .await
        .expect("list event types")
        .into_inner()
        .event_types;
    for id in [
        "switchyard.delivery.exhausted",
        "switchyard.subscription.failing",
        "switchyard.subscription.disabled",
        "switchyard.subscription.recovered",
        "switchyard.plugin.crashed",
    ] {
        let t = types
            .iter()
            .find(|t| t.id == id)
            .expect("registered at start");
        let schema: Value = serde_json::from_str(&t.payload_schema_json).expect("a schema");
        assert_eq!(schema["type"], json!("object"), "{id}");
    }
}

#[tokio::test]
async fn a_subscription_failing_continuously_is_disabled_with_its_reason() {
    let coord = Coordinator::start(CoordinatorOptions {
        retry_delays: vec!["400ms".into(), "400ms".into(), "400ms".into()],
        extra_config: "[guard]\nauto_disable_after = \"1s\"\nbreaker_min_attempts = 1000\n".into(),
        ..CoordinatorOptions::default()
    })
    .await;
    let mut c = coord.clients().await;
    let down = HttpSink::start_echo(500).await;
    let ops = HttpSink::start().await;
    register_incident(&mut c).await;
    let hook = format!("{}/hook", down.url());
    let sub = create_subscription(&mut c, subscription("down", &hook, &["incident.*"])).await;
    let ops_url = format!("{}/ops", ops.url());
    create_subscription(
        &mut c,
        subscription("ops", &ops_url, &["switchyard.subscription.*"]),
    )
    .await;

    publish(&mut c, incident(1), "").await;
    let disabled = wait_subscription(&mut c, &sub.id, "disabled", |s| !s.enabled).await;
    assert!(
        disabled
            .disabled_reason
            .contains("failed continuously since")
            && disabled.disabled_reason.contains("500"),
        "{}",
        disabled.disabled_reason
    );
    let (ok, shown, _) = coord.cli(&["subscriptions", "show", &sub.id]);
    assert!(
        ok && shown.contains("disabled by the coordinator"),
        "{shown}"
    );
    let told = ops.wait_for_requests(1, WAIT).await;
    assert_eq!(event_types(&told), ["switchyard.subscription.disabled"]);
    assert_eq!(
        told[0].json()["data"]["reason"],
        json!(disabled.disabled_reason)
    );
    // Disabled: a new event no longer reaches it.
    let next = publish(&mut c, incident(2), "").await;
    assert!(next.deliveries.is_empty(), "{next:?}");
}

#[tokio::test]
async fn bad_rate_limits_and_the_reserved_prefix_are_refused_with_what_to_fix() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    for (rate, burst) in [(0.0, 1), (-1.0, 0), (f64::INFINITY, 0), (5.0, 1_000_000)] {
        let sub = api::Subscription {
            rate_limit: Some(api::RateLimit {
                events_per_second: rate,
                burst,
            }),
            ..webhook_subscription("x", "http://127.0.0.1:9/hook")
        };
        let err = c
            .subscriptions
            .create_subscription(api::CreateSubscriptionRequest {
                subscription: Some(sub),
            })
            .await
            .expect_err("refused");
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(
            err.message().contains("subscription.rate_limit"),
            "{}",
            err.message()
        );
    }
    cli_sets_and_removes_a_rate_limit(&coord, &mut c).await;
    let err = c
        .event_types
        .register_event_type(api::RegisterEventTypeRequest {
            event_type: Some(api::EventType {
                id: "switchyard.delivery.exhausted".into(),
                display_name: "mine".into(),
                ..Default::default()
            }),
        })
        .await
        .expect_err("reserved");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("reserved"), "{}", err.message());
    let err = c
        .events
        .publish_event(api::PublishEventRequest {
            event_type: "switchyard.delivery.exhausted".into(),
            payload_json: "{}".into(),
            ..Default::default()
        })
        .await
        .expect_err("reserved");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("reserved"), "{}", err.message());
}

#[tokio::test]
async fn a_plugin_crash_is_published_as_switchyard_plugin_crashed() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    let ops = HttpSink::start().await;
    let ops_url = format!("{}/ops", ops.url());
    create_subscription(
        &mut c,
        subscription("ops", &ops_url, &["switchyard.plugin.*"]),
    )
    .await;
    let webhook = "switchyard-plugin-webhook";
    let parent = coord.pid().expect("running");
    let pid =
        switchyard_e2e::child_pid(parent, |exe| exe.file_name().is_some_and(|n| n == webhook))
            .expect("the webhook plugin");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());
    // Delivered by the very plugin that crashed, once the host has restarted it.
    let told = ops.wait_for_requests(1, WAIT).await;
    assert_eq!(event_types(&told), ["switchyard.plugin.crashed"]);
    let data = &told[0].json()["data"];
    assert_eq!(data["plugin"], json!(webhook));
    assert_eq!(data["pid"], json!(pid));
    let status = data["exitStatus"].as_str().unwrap_or_default();
    assert!(status.contains("9"), "{status}");
}

/// `subscriptions rate-limit` changes only the rate limit of a stored subscription.
async fn cli_sets_and_removes_a_rate_limit(coord: &Coordinator, c: &mut Clients) {
    let sub = create_subscription(c, webhook_subscription("later", "http://127.0.0.1:9/h")).await;
    let json = |out: &str| -> Value { serde_json::from_str(out).expect("JSON from the CLI") };
    let set = [
        "--json",
        "subscriptions",
        "rate-limit",
        &sub.id,
        "--per-second",
        "0.5",
    ];
    let (ok, out, err) = coord.cli(&set);
    assert!(ok, "{err}");
    let shown = json(&out);
    assert_eq!(
        shown["rateLimit"],
        json!({"eventsPerSecond": 0.5, "burst": 1})
    );
    assert_eq!(
        shown["config"],
        json(&sub.config_json),
        "nothing else changed"
    );
    let (ok, _, err) = coord.cli(&["subscriptions", "rate-limit", &sub.id, "--per-second", "0"]);
    assert!(!ok && err.contains("subscription.rate_limit"), "{err}");
    let (ok, out, err) = coord.cli(&["--json", "subscriptions", "rate-limit", &sub.id, "--none"]);
    assert!(ok, "{err}");
    assert_eq!(json(&out)["rateLimit"], Value::Null);
}
