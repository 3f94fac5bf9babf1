//! `slack.webhook` called in-process against the SDK's `HttpSink` standing in for
//! hooks.slack.com (through `apiBaseUrl`): the seed's config (channel override, username,
//! icon emoji), the webhook's failure codes, `Retry-After`, a follow-up that says what it
//! follows, validation of the webhook URL, and a preview that masks the webhook's token. Every
//! body is checked against the message payload of Slack's official spec.

mod common;

use std::time::Duration;

use common::{conforms_as_message, context, earlier, event, incident};
use serde_json::json;
use switchyard_plugin_sdk::net_policy::NetworkPolicy;
use switchyard_plugin_sdk::template::TemplateCache;
use switchyard_plugin_sdk::testkit::{HttpSink, ResponseSpec};
use switchyard_plugin_sdk::{DeliveryContext, NoConnection, Outcome, Provider, Secret, TestTarget};
use switchyard_plugin_slack::{SlackWebhook, WebhookConfig, outgoing};

const HOOK_SECRET: &str = "q8Xw2ZrT6yLm9PbK4vNc1sDf";

fn hook_url() -> String {
    format!("https://hooks.slack.com/services/T0001/B0002/{HOOK_SECRET}")
}

fn provider() -> SlackWebhook {
    SlackWebhook::with_policy(NetworkPolicy::parse("127.0.0.0/8").expect("a subnet"))
}

fn config(sink: &HttpSink) -> WebhookConfig {
    serde_json::from_value(json!({"webhookUrl": hook_url(), "apiBaseUrl": sink.url()}))
        .expect("a config")
}

fn ctx(
    config: WebhookConfig,
    event_type: &str,
    status: &str,
) -> DeliveryContext<WebhookConfig, NoConnection> {
    context(
        config,
        NoConnection,
        event(event_type, incident(status)),
        vec![],
    )
}

fn ok() -> ResponseSpec {
    ResponseSpec::status(200)
        .header("content-type", "text/html")
        .body("ok")
}

#[tokio::test]
async fn a_message_goes_to_the_webhook_with_the_seeds_fields() {
    let sink = HttpSink::start().await;
    sink.push_response(ok());
    sink.push_response(ok());
    let mut c = config(&sink);
    c.channel = Some("#ops".into());
    c.icon_emoji = ":rotating_light:".into();
    let result = provider()
        .deliver(ctx(c, "incident.incident.created", "investigating"))
        .await;
    assert_eq!(result.outcome, Outcome::Delivered { external_id: None });
    let defaults = provider()
        .deliver(ctx(config(&sink), "incident.incident.created", "new"))
        .await;
    assert!(defaults.is_delivered());
    let requests = sink.wait_for_requests(2, common::WAIT).await;
    for r in &requests {
        conforms_as_message(r);
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, format!("/services/T0001/B0002/{HOOK_SECRET}"));
    }
    let body = requests[0].json();
    assert_eq!(body["channel"], "#ops");
    assert_eq!(body["username"], "Switchyard");
    assert_eq!(body["icon_emoji"], ":rotating_light:");
    assert_eq!(body["attachments"][0]["blocks"][0]["type"], "header");
    let facts = body["attachments"][0]["blocks"][2]["fields"].to_string();
    assert!(
        facts.contains("*Severity*\\nCritical") && facts.contains("checkout-api"),
        "{facts}"
    );
    assert!(
        body.to_string()
            .contains("<https://status.example.com/incidents/inc-42|Open in the platform>")
    );
    let defaults = requests[1].json();
    assert_eq!(defaults.get("channel"), None);
    assert_eq!(defaults["icon_emoji"], ":robot_face:");
}

#[tokio::test]
async fn a_follow_up_says_what_it_follows() {
    let sink = HttpSink::start().await;
    sink.push_response(ok());
    let c = context(
        config(&sink),
        NoConnection,
        event("incident.incident.resolved", incident("resolved")),
        vec![earlier("incident.incident.created", None, None)],
    );
    assert!(provider().deliver(c).await.is_delivered());
    let r = &sink.wait_for_requests(1, common::WAIT).await[0];
    conforms_as_message(r);
    let body = r.json();
    assert_eq!(body["attachments"][0]["color"], "#12b76a");
    assert!(
        body.to_string()
            .contains("Follows up on incident.incident.created of 2025-12-29 09:21 UTC"),
        "{body}"
    );
}

async fn outcome_of(answer: ResponseSpec) -> Outcome {
    let sink = HttpSink::start().await;
    sink.push_response(answer);
    let result = provider()
        .deliver(ctx(config(&sink), "incident.incident.created", "new"))
        .await;
    conforms_as_message(&sink.wait_for_requests(1, common::WAIT).await[0]);
    assert!(!format!("{result:?}").contains(HOOK_SECRET));
    result.outcome
}

#[tokio::test]
async fn webhook_failures_map_to_outcomes_with_what_to_fix() {
    let removed = outcome_of(ResponseSpec::status(404).body("no_service")).await;
    assert!(
        matches!(&removed, Outcome::Permanent { error } if error.contains("no_service") && error.contains("create a new one")),
        "{removed:?}"
    );
    let archived = outcome_of(ResponseSpec::status(410).body("channel_is_archived")).await;
    assert!(
        matches!(&archived, Outcome::Permanent { error } if error.contains("archived")),
        "{archived:?}"
    );
    let forbidden = outcome_of(ResponseSpec::status(403).body("action_prohibited")).await;
    assert!(
        matches!(&forbidden, Outcome::Permanent { error } if error.contains("admin")),
        "{forbidden:?}"
    );
    let invalid = outcome_of(ResponseSpec::status(400).body("invalid_payload")).await;
    assert!(matches!(invalid, Outcome::Permanent { .. }), "{invalid:?}");
    let limited = outcome_of(ResponseSpec::status(429).header("retry-after", "9")).await;
    assert!(
        matches!(limited, Outcome::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(9)),
        "{limited:?}"
    );
    let broken = outcome_of(ResponseSpec::status(500).body("internal_error")).await;
    assert!(matches!(broken, Outcome::Retryable { .. }), "{broken:?}");
}

#[tokio::test]
async fn the_webhook_url_must_be_slacks_and_templates_must_compile() {
    let check = |config: WebhookConfig| async move {
        let found = provider()
            .validate_config(TestTarget::Config {
                config,
                connection: NoConnection,
            })
            .await;
        found.into_iter().map(|d| d.json_path).collect::<Vec<_>>()
    };
    let mut elsewhere: WebhookConfig =
        serde_json::from_value(json!({"webhookUrl": "https://evil.example/services/T/B/x"}))
            .unwrap();
    assert_eq!(check(elsewhere.clone()).await, ["/webhookUrl"]);
    elsewhere.webhook_url = Secret::new("http://hooks.slack.com/services/T/B/x");
    assert_eq!(check(elsewhere.clone()).await, ["/webhookUrl"]);
    elsewhere.webhook_url = Secret::new(hook_url());
    assert!(check(elsewhere.clone()).await.is_empty());
    elsewhere.text_template = Some("{{ payload.title".into());
    elsewhere.api_base_url = Some("not a url".into());
    assert_eq!(
        check(elsewhere.clone()).await,
        ["/textTemplate", "/apiBaseUrl"]
    );
    // An unusable URL fails the delivery at once, naming the field, and sends nothing.
    let sink = HttpSink::start().await;
    let mut c: WebhookConfig =
        serde_json::from_value(json!({"webhookUrl": "hooks.slack.com/x"})).unwrap();
    c.timeout_ms = 1000;
    let failed = provider()
        .deliver(ctx(c, "incident.incident.created", "new"))
        .await;
    assert!(
        matches!(&failed.outcome, Outcome::Permanent { error } if error.starts_with("/webhookUrl")),
        "{failed:?}"
    );
    assert_eq!(sink.request_count(), 0);
}

#[tokio::test]
async fn preview_masks_the_webhook_token() {
    let shown = provider()
        .preview(context(
            serde_json::from_value(json!({"webhookUrl": hook_url()})).unwrap(),
            NoConnection,
            event("incident.incident.created", incident("investigating")),
            vec![],
        ))
        .await
        .expect("a preview");
    assert_eq!(
        shown.url,
        "https://hooks.slack.com/services/T0001/B0002/[REDACTED]"
    );
    assert!(shown.body.contains("Checkout API down (investigating)"));
    assert!(!format!("{shown:?}").contains(HOOK_SECRET));
    // What deliver sends holds the token, but never prints it.
    let c: WebhookConfig = serde_json::from_value(json!({"webhookUrl": hook_url()})).unwrap();
    let ctx = context(
        c,
        NoConnection,
        event("incident.incident.created", json!({})),
        vec![],
    );
    let out = outgoing(&ctx, &TemplateCache::default()).expect("a request");
    assert!(out.url.ends_with(HOOK_SECRET));
    assert!(!format!("{out:?}").contains(HOOK_SECRET), "{out:?}");
}

#[tokio::test]
async fn maintenance_and_health_events_have_their_own_facts_and_colours() {
    let sink = HttpSink::start().await;
    let window = json!({"maintenanceId": "m-1", "title": "DB upgrade", "status": "scheduled",
        "systemIds": ["db"], "startAt": "2026-12-03T01:00:00Z", "endAt": "2026-12-03T02:00:00Z"});
    let health = json!({"systemId": "sys-1", "systemName": "API", "previousStatus": "healthy",
        "newStatus": "degraded", "healthyChecks": 2, "totalChecks": 5});
    let mut picked = config(&sink);
    picked.colours.minor = Some("#123456".into());
    for (c, t, payload) in [
        (config(&sink), "maintenance.maintenance.created", window),
        (picked, "healthcheck.healthcheck.system.degraded", health),
    ] {
        sink.push_response(ok());
        let delivered = provider()
            .deliver(context(c, NoConnection, event(t, payload), vec![]))
            .await;
        assert!(delivered.is_delivered(), "{delivered:?}");
    }
    let requests = sink.wait_for_requests(2, common::WAIT).await;
    requests.iter().for_each(conforms_as_message);
    let maintenance = &requests[0].json()["attachments"][0];
    assert_eq!(maintenance["color"], "#2e90fa");
    assert!(
        maintenance["blocks"]
            .to_string()
            .contains("*Starts*\\n2026-12-03 01:00 UTC"),
        "{maintenance}"
    );
    let degraded = &requests[1].json()["attachments"][0];
    assert_eq!(degraded["color"], "#123456", "the user's colour");
    assert_eq!(degraded["blocks"][0]["text"]["text"], "API is degraded");
    assert!(
        degraded["blocks"].to_string().contains("2 of 5"),
        "{degraded}"
    );
}
