//! The Slack plugin end to end: a real `switchyard serve` hosting the real plugin binary and a
//! local server standing in for Slack. With a `slack.bot` connection, one incident created →
//! resolved is a message, then that message edited to show the resolution and a broadcast
//! reply in its thread (`thread_ts` = the first message's `ts`), each request valid under
//! Slack's official spec; the preview shows the
//! message with the token masked, and the token is in no API answer, log line or file. With
//! `slack.webhook` aimed at a receiver that echoes its request, the webhook URL's token comes
//! back in no answer, log or file either.

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
const TOKEN: &str = "xoxb-e2e-4242-T0kenThatMustNotLeak";
const HOOK_TOKEN: &str = "e2eHookT0kenThatMustNotLeak";

fn options() -> CoordinatorOptions {
    CoordinatorOptions {
        extra_plugins: vec![("switchyard-plugin-slack".into(), Vec::new())],
        ..CoordinatorOptions::default()
    }
}

async fn publish(c: &mut Clients, event_type: &str, status: &str) -> api::Delivery {
    let payload = json!({"incidentId": "inc-7", "title": "Checkout down", "status": status,
                         "severity": "critical", "systemIds": ["checkout-api"]});
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

fn posted(ts: &str) -> ResponseSpec {
    ResponseSpec::status(200).json(&json!({"ok": true, "channel": "C0OPS", "ts": ts}))
}

async fn bot_connection(c: &mut Clients, sink: &HttpSink) -> api::Connection {
    let config = json!({"botToken": TOKEN, "apiBaseUrl": format!("{}/api", sink.url())});
    let created = c
        .connections
        .create_connection(api::CreateConnectionRequest {
            provider_id: "slack.bot".into(),
            name: "Acme Slack".into(),
            config_json: config.to_string(),
        })
        .await
        .expect("create the connection")
        .into_inner();
    assert!(!format!("{created:?}").contains(TOKEN), "{created:?}");
    created.connection.expect("a connection")
}

#[tokio::test]
async fn an_incident_is_a_slack_thread_created_then_resolved() {
    let coord = Coordinator::start(options()).await;
    let mut c = coord.clients().await;
    register_correlated(&mut c, &[CREATED, RESOLVED], "/incidentId").await;
    let sink = HttpSink::start().await;
    sink.push_response(posted("1767000000.000100"));
    sink.push_response(posted("1767000000.000100"));
    sink.push_response(posted("1767000001.000200"));
    let conn = bot_connection(&mut c, &sink).await;
    let sub = create_subscription(
        &mut c,
        api::Subscription {
            name: "ops-channel".into(),
            provider_id: "slack.bot".into(),
            config_json: json!({"connectionId": conn.id, "channel": "C0OPS"}).to_string(),
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
    let requests = sink.wait_for_requests(3, Duration::from_secs(30)).await;
    for r in &requests {
        Spec::vendor("slack").assert_conforms(r);
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/api/chat.postMessage",
            "/api/chat.update",
            "/api/chat.postMessage"
        ]
    );
    assert_eq!(
        requests[1].json()["ts"],
        "1767000000.000100",
        "the first message turns resolved"
    );
    let (first, reply) = (requests[0].json(), requests[2].json());
    assert_eq!(first["channel"], "C0OPS");
    assert_eq!(first.get("thread_ts"), None);
    assert_eq!(reply["channel"], "C0OPS");
    assert_eq!(reply["thread_ts"], "1767000000.000100", "{reply}");
    assert_eq!(reply["reply_broadcast"], true);
    let attempt = attempts(&mut c, &created.id)
        .await
        .pop()
        .expect("an attempt");
    assert_eq!(attempt.external_id, "C0OPS:1767000000.000100");

    let (ok, stdout, stderr) = coord.cli(&[
        "subscriptions",
        "preview",
        &sub.id,
        "--event-type",
        CREATED,
        "--payload",
        r#"{"incidentId":"inc-7","title":"Checkout down","severity":"critical"}"#,
    ]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("/api/chat.postMessage")
            && stdout.contains("Checkout down")
            && stdout.contains("[REDACTED]"),
        "{stdout}"
    );
    assert!(!stdout.contains(TOKEN), "{stdout}");
    assert_eq!(sink.request_count(), 3, "the preview sent something");
    assert_not_in_data_dir(&coord, TOKEN);
    assert!(!coord.stderr().contains(TOKEN), "token in the log");
}

#[tokio::test]
async fn a_webhook_receiver_echoing_its_url_gets_no_token_out() {
    let coord = Coordinator::start(options()).await;
    let mut c = coord.clients().await;
    register_correlated(&mut c, &[CREATED], "/incidentId").await;
    let echo = HttpSink::start_echo(400).await;
    let url = format!("https://hooks.slack.com/services/T0001/B0002/{HOOK_TOKEN}");
    let sub = create_subscription(
        &mut c,
        api::Subscription {
            name: "hook".into(),
            provider_id: "slack.webhook".into(),
            config_json: json!({"webhookUrl": url, "apiBaseUrl": echo.url(), "channel": "#ops"})
                .to_string(),
            event_types: vec!["incident.*".into()],
            enabled: true,
            ..Default::default()
        },
    )
    .await;
    let d = publish(&mut c, CREATED, "investigating").await;
    let done = wait_final(&mut c, &d.id).await;
    assert_eq!(done.status(), api::DeliveryStatus::Failed, "{done:?}");
    let sent = echo.wait_for_requests(1, Duration::from_secs(30)).await;
    assert!(
        sent[0].path.ends_with(HOOK_TOKEN),
        "the echo got the real URL"
    );
    let attempt = attempts(&mut c, &d.id).await.pop().expect("an attempt");
    assert!(attempt.error.contains("HTTP 400"), "{attempt:?}");
    assert!(attempt.response_excerpt.contains("you sent"), "{attempt:?}");
    assert!(
        !format!("{done:?}{attempt:?}").contains(HOOK_TOKEN),
        "{attempt:?}"
    );

    let (ok, stdout, stderr) =
        coord.cli(&["subscriptions", "preview", &sub.id, "--event-type", CREATED]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("/services/T0001/B0002/[REDACTED]"),
        "{stdout}"
    );
    assert!(!stdout.contains(HOOK_TOKEN), "{stdout}");
    assert_not_in_data_dir(&coord, HOOK_TOKEN);
    assert!(
        !coord.stderr().contains(HOOK_TOKEN),
        "webhook token in the log"
    );
}
