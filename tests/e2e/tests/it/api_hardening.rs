//! Defects found by trying the API as a hostile or unlucky client, each pinned by a test: an
//! idempotency key reused for another event, the redaction marker as a new secret, unbounded
//! names and ids, control characters reaching the operator's terminal, a closed CLI pipe,
//! wildcard patterns as documented, oversized and undecodable messages, and a header value
//! that could only fail at delivery.

use std::process::Stdio;

use serde_json::json;
use switchyard::cli::client::Clients;
use switchyard_e2e::assert_status;
use switchyard_e2e::coordinator::{
    Coordinator, INCIDENT, create_subscription, publish, register_incident, wait_final,
    webhook_subscription, with_fixture_args,
};
use switchyard_plugin_sdk::testkit::HttpSink;
use switchyard_proto::coordinator::v1 as api;
use tonic::Code;

const RESOLVED: &str = "incident.incident.resolved";

async fn try_create(
    c: &mut Clients,
    sub: api::Subscription,
) -> Result<tonic::Response<api::CreateSubscriptionResponse>, tonic::Status> {
    c.subscriptions
        .create_subscription(api::CreateSubscriptionRequest {
            subscription: Some(sub),
        })
        .await
}

/// Asserts that no subscription is stored (a refused create wrote nothing).
async fn assert_no_subscriptions(c: &mut Clients) {
    let list = c
        .subscriptions
        .list_subscriptions(api::ListSubscriptionsRequest::default())
        .await
        .expect("list subscriptions")
        .into_inner();
    assert_eq!(list.total, 0, "nothing may be stored: {list:?}");
}

async fn register(c: &mut Clients, id: &str) {
    c.event_types
        .register_event_type(api::RegisterEventTypeRequest {
            event_type: Some(api::EventType {
                id: id.into(),
                display_name: id.into(),
                ..Default::default()
            }),
        })
        .await
        .expect("register the event type");
}

async fn publish_raw(
    c: &mut Clients,
    event_type: &str,
    payload: &serde_json::Value,
    key: &str,
) -> Result<api::PublishEventResponse, tonic::Status> {
    c.events
        .publish_event(api::PublishEventRequest {
            event_type: event_type.into(),
            payload_json: payload.to_string(),
            idempotency_key: key.into(),
            timestamp: None,
        })
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn an_idempotency_key_reused_for_another_event_is_refused() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    register(&mut c, RESOLVED).await;
    let sink = HttpSink::start().await;
    create_subscription(&mut c, webhook_subscription("hook", &sink.url())).await;

    let payload = json!({"incidentId": "inc-1", "title": "db down"});
    let first = publish(&mut c, payload.clone(), "key-1").await;
    assert!(!first.duplicate);
    // A retry of the same event (keys in another order are the same JSON) gets the same answer.
    let again = publish(
        &mut c,
        json!({"title": "db down", "incidentId": "inc-1"}),
        "key-1",
    )
    .await;
    assert!(again.duplicate);
    assert_eq!(again.event_id, first.event_id);
    let ids = |r: &api::PublishEventResponse| -> Vec<String> {
        r.deliveries.iter().map(|d| d.id.clone()).collect()
    };
    assert_eq!(ids(&again), ids(&first));

    let other = json!({"incidentId": "inc-2", "title": "another"});
    let r = publish_raw(&mut c, INCIDENT, &other, "key-1").await;
    assert_status(r, Code::InvalidArgument, "different payload");
    let r = publish_raw(&mut c, RESOLVED, &payload, "key-1").await;
    assert_status(r, Code::InvalidArgument, "different event type");
    let r = publish_raw(&mut c, INCIDENT, &other, "key-1").await;
    assert_status(r, Code::InvalidArgument, &first.event_id);

    // Nothing of the refused events was stored: one event, one delivery.
    let page = c
        .deliveries
        .list_deliveries(api::ListDeliveriesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.total, 1, "{page:?}");
}

#[tokio::test]
async fn the_redaction_marker_is_refused_as_a_new_secret() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    let mut sub = webhook_subscription("hook", "http://127.0.0.1:9/hook");
    sub.config_json = json!({
        "url": "http://127.0.0.1:9/hook",
        "auth": {"type": "bearer", "token": "[REDACTED]"}
    })
    .to_string();
    let r = try_create(&mut c, sub).await;
    assert_status(r, Code::InvalidArgument, "/auth/token");
    assert_no_subscriptions(&mut c).await;
}

#[tokio::test]
async fn names_ids_and_descriptions_are_bounded_and_errors_stay_short() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    let huge = "n".repeat(100_000);
    let create = |name: &str, description: &str| {
        let mut sub = webhook_subscription(name, "http://127.0.0.1:9/hook");
        sub.description = description.into();
        api::CreateSubscriptionRequest {
            subscription: Some(sub),
        }
    };
    for (req, needle) in [
        (create(&huge, ""), "at most 200 characters"),
        (create("ok", &huge), "at most 4000 characters"),
        (create("nul\u{0}name", ""), "U+0000"),
        (create("esc\u{1b}[2Jname", ""), "U+001B"),
    ] {
        let status = c.subscriptions.create_subscription(req).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().contains(needle), "{}", status.message());
        assert!(status.message().len() < 300, "{}", status.message());
    }
    let long_id = format!("a.{}", "b".repeat(100_000));
    let r = c
        .event_types
        .register_event_type(api::RegisterEventTypeRequest {
            event_type: Some(api::EventType {
                id: long_id.clone(),
                display_name: "x".into(),
                ..Default::default()
            }),
        })
        .await;
    assert_status(r, Code::InvalidArgument, "at most 200 bytes");
    // Publishing to an id that long used to answer NOT_FOUND quoting all of it.
    let status = publish_raw(&mut c, &long_id, &json!({}), "")
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().len() < 300, "{}", status.message());
    assert_no_subscriptions(&mut c).await;
}

#[tokio::test]
async fn the_cli_shows_control_characters_escaped_and_survives_a_closed_pipe() {
    // The fixture's external id is full of escape sequences, as a hostile receiver could make
    // a plugin return: the API keeps the text, the CLI must not let it drive the terminal.
    let coord = Coordinator::start(with_fixture_args(&["control-chars"])).await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    let sub = api::Subscription {
        name: "echo".into(),
        provider_id: "fixture.echo".into(),
        config_json: "{}".into(),
        event_types: vec!["incident.*".into()],
        enabled: true,
        ..Default::default()
    };
    create_subscription(&mut c, sub).await;
    let published = publish(&mut c, json!({"incidentId": "i", "title": "t"}), "").await;
    let id = published.deliveries[0].id.clone();
    wait_final(&mut c, &id).await;
    let attempt = &switchyard_e2e::coordinator::attempts(&mut c, &id).await[0];
    assert!(attempt.external_id.contains('\u{1b}'), "{attempt:?}");

    for args in [
        vec!["deliveries", "show", id.as_str()],
        vec!["--json", "deliveries", "show", id.as_str()],
    ] {
        let (ok, out, err) = coord.cli(&args);
        assert!(ok, "{args:?}: {err}");
        assert!(
            !out.contains(['\u{1b}', '\u{7}', '\u{9b}']),
            "{args:?} printed raw control characters: {out:?}"
        );
        assert!(out.contains("pwned"), "{args:?}: {out}");
        assert!(out.contains("2J"), "{args:?}: {out}");
        if args[0] != "--json" {
            // Escaping keeps the layout: the attempts table still has its own lines.
            assert!(out.lines().any(|l| l.starts_with("#  ")), "{out}");
        }
    }

    // `switchyard --json deliveries list | head -1`: the reader is gone before the CLI writes.
    let mut child = std::process::Command::new(switchyard_e2e::binary(
        switchyard_e2e::coordinator::SWITCHYARD,
    ))
    .args(["--addr", &coord.addr(), "--json", "deliveries", "list"])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("run the CLI");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait for the CLI");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "{:?}: {err}", out.status);
}

#[tokio::test]
async fn wildcard_segments_match_as_documented() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    let sink = HttpSink::start().await;
    let mut middle = webhook_subscription("middle", &sink.url());
    middle.event_types = vec!["*.incident.created".into()];
    create_subscription(&mut c, middle).await;
    let mut other = webhook_subscription("other", &sink.url());
    other.event_types = vec!["*.created".into()];
    create_subscription(&mut c, other).await;
    let published = publish(&mut c, json!({"incidentId": "i", "title": "t"}), "").await;
    // `*` in the middle is one segment: "*.created" does not match a three-segment id.
    assert_eq!(published.deliveries.len(), 1, "{published:?}");

    let mut partial = webhook_subscription("partial", &sink.url());
    partial.event_types = vec!["incident.inc*".into()];
    let r = try_create(&mut c, partial).await;
    assert_status(r, Code::InvalidArgument, "whole segments");
}

/// `PublishEventRequest` with `bytes` where the real one has `string`: same wire format, but
/// it can carry what is not UTF-8.
#[derive(Clone, PartialEq, prost::Message)]
struct RawPublish {
    #[prost(bytes = "vec", tag = "1")]
    event_type: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    payload_json: Vec<u8>,
}

#[tokio::test]
async fn oversized_and_undecodable_messages_get_the_documented_codes() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    let big = json!({"incidentId": "i", "title": "x".repeat(10 * 1024 * 1024)});
    let status = publish_raw(&mut c, INCIDENT, &big, "").await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("max_payload_bytes"),
        "{}",
        status.message()
    );

    let mut grpc = tonic::client::Grpc::new(c.channel.clone());
    grpc.ready().await.expect("the channel is ready");
    let request = RawPublish {
        event_type: b"incident.\xff\xfe".to_vec(),
        payload_json: b"{}".to_vec(),
    };
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/switchyard.coordinator.v1.EventService/PublishEvent",
    );
    let codec = tonic_prost::ProstCodec::<RawPublish, api::PublishEventResponse>::default();
    let status = grpc
        .unary(tonic::Request::new(request), path, codec)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("UTF-8"), "{}", status.message());
}

#[tokio::test]
async fn a_header_value_with_a_line_break_is_refused_at_save_time() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    for (auth, path) in [
        (
            json!({"type": "header", "name": "X-Key", "value": "a\r\nX-Evil: 1"}),
            "/auth/value",
        ),
        (json!({"type": "bearer", "token": "t\nx"}), "/auth/token"),
        (
            json!({"type": "bearer", "token": "t\u{1b}x"}),
            "/auth/token",
        ),
        (
            json!({"type": "basic", "username": "a:b", "password": "p"}),
            "/auth/username",
        ),
    ] {
        let mut sub = webhook_subscription("hook", "http://127.0.0.1:9/hook");
        sub.config_json = json!({"url": "http://127.0.0.1:9/hook", "auth": auth}).to_string();
        let r = try_create(&mut c, sub).await;
        assert_status(r, Code::InvalidArgument, path);
    }
}
