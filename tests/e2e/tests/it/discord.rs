//! The Discord plugin end to end: a real `switchyard serve` hosting the real plugin binary, a
//! `discord.webhook` subscription aimed at a local server standing in for Discord's API, and
//! one incident created → resolved: the server sees the embed posted (`?wait=true`) and then
//! that same message edited (`PATCH …/messages/{id}`), each request valid under Discord's
//! official spec. The preview shows the embed with the webhook token masked, and the token is
//! in no API answer, log line or file.

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
const HOOK: &str = "112233445566778899";
const TOKEN: &str = "e2e-DiscordWebhookT0ken_mustNotLeak";
const MESSAGE: &str = "1200000000000000042";

async fn publish(c: &mut Clients, event_type: &str, status: &str) -> api::Delivery {
    let payload = json!({"incidentId": "inc-9", "title": "Search slow", "status": status,
                         "severity": "minor", "systemIds": ["search"]});
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

#[tokio::test]
async fn an_incident_is_one_discord_message_posted_then_edited() {
    let coord = Coordinator::start(CoordinatorOptions {
        extra_plugins: vec![("switchyard-plugin-discord".into(), Vec::new())],
        ..CoordinatorOptions::default()
    })
    .await;
    let mut c = coord.clients().await;
    register_correlated(&mut c, &[CREATED, RESOLVED], "/incidentId").await;
    let sink = HttpSink::start().await;
    for _ in 0..2 {
        sink.push_response(ResponseSpec::status(200).json(&json!({"id": MESSAGE, "type": 0})));
    }
    let url = format!("https://discord.com/api/webhooks/{HOOK}/{TOKEN}");
    let sub = create_subscription(
        &mut c,
        api::Subscription {
            name: "status-channel".into(),
            provider_id: "discord.webhook".into(),
            config_json:
                json!({"webhookUrl": url, "apiBaseUrl": format!("{}/api/v10", sink.url())})
                    .to_string(),
            event_types: vec!["incident.*".into()],
            enabled: true,
            ..Default::default()
        },
    )
    .await;
    assert!(!format!("{sub:?}").contains(TOKEN), "{sub:?}");

    let created = publish(&mut c, CREATED, "investigating").await;
    let resolved = publish(&mut c, RESOLVED, "resolved").await;
    for d in [&created, &resolved] {
        let done = wait_final(&mut c, &d.id).await;
        assert_eq!(done.status(), api::DeliveryStatus::Succeeded, "{done:?}");
    }
    let requests = sink.wait_for_requests(2, Duration::from_secs(30)).await;
    for r in &requests {
        Spec::vendor("discord").assert_conforms(r);
    }
    assert_eq!(requests[0].method, "POST");
    assert_eq!(
        requests[0].path,
        format!("/api/v10/webhooks/{HOOK}/{TOKEN}")
    );
    assert_eq!(requests[0].query.as_deref(), Some("wait=true"));
    assert_eq!(requests[1].method, "PATCH");
    assert_eq!(
        requests[1].path,
        format!("/api/v10/webhooks/{HOOK}/{TOKEN}/messages/{MESSAGE}")
    );
    assert_eq!(
        requests[1].json()["embeds"][0]["title"],
        "Search slow (resolved)"
    );
    for d in [&created, &resolved] {
        let attempt = attempts(&mut c, &d.id).await.pop().expect("an attempt");
        assert_eq!(attempt.external_id, MESSAGE);
    }

    let (ok, stdout, stderr) = coord.cli(&[
        "subscriptions",
        "preview",
        &sub.id,
        "--event-type",
        CREATED,
        "--payload",
        r#"{"incidentId":"inc-9","title":"Search slow"}"#,
    ]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        // The plugin masks the token; the coordinator masks every long part of the secret
        // URL once more, the webhook id included.
        stdout.contains("/api/v10/webhooks/")
            && stdout.contains("[REDACTED]?wait=true")
            && stdout.contains("Search slow"),
        "{stdout}"
    );
    assert!(!stdout.contains(TOKEN), "{stdout}");
    assert_eq!(sink.request_count(), 2, "the preview sent something");
    assert_not_in_data_dir(&coord, TOKEN);
    assert!(!coord.stderr().contains(TOKEN), "token in the log");
}
