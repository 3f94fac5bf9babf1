//! The Webex plugin end to end: a real `switchyard serve` hosting the real plugin binary, a
//! bot connection and a subscription pointed at a local server standing in for the Webex
//! API, and one incident created → resolved. The server sees a message and then a reply in
//! its thread (`parentId`), both valid under Webex's official spec; before that, the room
//! picker follows the `Link` header across two pages and the connection test asks who the bot
//! is, both through the coordinator's API; the preview shows the Markdown with the token
//! masked; the bot token is in no API answer, log line or file.

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
const TOKEN: &str = "e2eWebexB0tT0ken_0123456789abcdef_P0A1_org";
const ROOM: &str = "Y2lzY29zcGFyazovL3VzL1JPT00vZTJl";

async fn publish(c: &mut Clients, event_type: &str, status: &str) -> api::Delivery {
    let payload = json!({"incidentId": "inc-9", "title": "Checkout down", "status": status,
                         "severity": "critical"});
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

async fn bot_connection(c: &mut Clients, sink: &HttpSink) -> String {
    let created = c
        .connections
        .create_connection(api::CreateConnectionRequest {
            provider_id: "webex.webex".into(),
            name: "Ops bot".into(),
            config_json: json!({"botToken": TOKEN, "baseUrl": format!("{}/v1", sink.url())})
                .to_string(),
        })
        .await
        .expect("create the connection")
        .into_inner();
    assert!(!format!("{created:?}").contains(TOKEN), "{created:?}");
    created.connection.expect("a connection").id
}

/// The room picker (two pages joined by a `Link` header) and the connection test, through the
/// coordinator's API; leaves three requests on the sink.
async fn picker_and_test(c: &mut Clients, sink: &HttpSink, id: &str) {
    let next = format!("<{}/v1/rooms?max=100&cursor=p2>; rel=\"next\"", sink.url());
    let room = |i: u32| json!({"id": format!("room-{i}"), "title": format!("Room {i}")});
    sink.push_response(
        ResponseSpec::status(200)
            .json(&json!({"items": [room(1), room(2)]}))
            .header("link", next),
    );
    sink.push_response(ResponseSpec::status(200).json(&json!({"items": [room(3)]})));
    sink.push_response(ResponseSpec::status(200).json(&json!({"displayName": "Ops Bot"})));
    let options = c
        .connections
        .get_connection_options(api::GetConnectionOptionsRequest {
            provider_id: "webex.webex".into(),
            connection_id: id.into(),
            resolver_name: "rooms".into(),
            context_json: "{}".into(),
        })
        .await
        .expect("the rooms")
        .into_inner();
    let rooms: Vec<&str> = options.options.iter().map(|o| o.value.as_str()).collect();
    assert_eq!(rooms, ["room-1", "room-2", "room-3"], "{options:?}");
    // Through the API, not the CLI: a blocking CLI call would stall this runtime's sink.
    let tested = c
        .connections
        .test_connection(api::TestConnectionRequest {
            provider_id: "webex.webex".into(),
            kind: api::ConfigKind::Connection.into(),
            config_json: String::new(),
            connection_id: id.into(),
        })
        .await
        .expect("a connection test")
        .into_inner();
    assert!(
        tested.success && tested.message == "Connected as Ops Bot",
        "{tested:?}"
    );
    let requests = sink.wait_for_requests(3, Duration::from_secs(30)).await;
    assert_eq!(requests[1].query.as_deref(), Some("max=100&cursor=p2"));
    assert_eq!(requests[2].path, "/v1/people/me");
}

#[tokio::test]
async fn an_incident_posts_a_webex_message_and_replies_in_its_thread() {
    let coord = Coordinator::start(CoordinatorOptions {
        extra_plugins: vec![("switchyard-plugin-webex".into(), Vec::new())],
        ..CoordinatorOptions::default()
    })
    .await;
    let mut c = coord.clients().await;
    register_correlated(&mut c, &[CREATED, RESOLVED], "/incidentId").await;
    let sink = HttpSink::start().await;
    let connection = bot_connection(&mut c, &sink).await;
    picker_and_test(&mut c, &sink, &connection).await;
    for id in ["MSG-1", "MSG-2"] {
        sink.push_response(ResponseSpec::status(200).json(&json!({"id": id, "roomId": ROOM})));
    }
    let sub = create_subscription(
        &mut c,
        api::Subscription {
            name: "ops-room".into(),
            provider_id: "webex.webex".into(),
            config_json: json!({"connectionId": connection, "roomId": ROOM}).to_string(),
            event_types: vec!["incident.*".into()],
            enabled: true,
            ..Default::default()
        },
    )
    .await;

    let created = publish(&mut c, CREATED, "investigating").await;
    let resolved = publish(&mut c, RESOLVED, "resolved").await;
    for d in [&created, &resolved] {
        let done = wait_final(&mut c, &d.id).await;
        assert_eq!(done.status(), api::DeliveryStatus::Succeeded, "{done:?}");
    }
    let requests = sink.wait_for_requests(5, Duration::from_secs(30)).await;
    for r in &requests {
        // Webex's opaque `cursor` (from its `Link` URL) is not in its spec; the rest is.
        let mut checked = r.clone();
        checked.query = r.query.as_ref().map(|q| q.replace("&cursor=p2", ""));
        Spec::vendor("webex").assert_conforms(&checked);
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
    let (first, second) = (requests[3].json(), requests[4].json());
    assert_eq!(first["roomId"], ROOM);
    assert!(first.get("parentId").is_none(), "{first}");
    assert!(
        first["markdown"]
            .as_str()
            .unwrap()
            .starts_with("🔴 **Checkout down")
    );
    assert_eq!(
        second["parentId"], "MSG-1",
        "the resolution replies in the thread"
    );
    let first_attempt = attempts(&mut c, &created.id)
        .await
        .pop()
        .expect("an attempt");
    assert_eq!(first_attempt.external_id, "MSG-1");

    let (ok, stdout, stderr) = coord.cli(&[
        "subscriptions",
        "preview",
        &sub.id,
        "--event-type",
        CREATED,
        "--payload",
        r#"{"incidentId":"inc-9","title":"Checkout down"}"#,
    ]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("/v1/messages") && stdout.contains("[REDACTED]"),
        "{stdout}"
    );
    assert!(stdout.contains("Checkout down"), "{stdout}");
    assert!(!stdout.contains(TOKEN), "{stdout}");
    assert_eq!(sink.request_count(), 5, "the preview sent something");
    assert_not_in_data_dir(&coord, TOKEN);
    assert!(!coord.stderr().contains(TOKEN), "bot token in the log");
}
