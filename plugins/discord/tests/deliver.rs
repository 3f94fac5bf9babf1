//! The Discord provider called in-process against the SDK's `HttpSink` standing in for
//! Discord's API (base path `/api/v10`, as the spec's): an incident posted then edited
//! (created → updated → resolved), the other follow-up modes, a deleted message reposted,
//! every failure class and `retry_after` form, embed limits, validation and a preview without
//! the token. Every request is checked against Discord's official OpenAPI spec.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_plugin_discord::{DiscordConfig, DiscordProvider, FollowUp, outgoing};
use switchyard_plugin_sdk::net_policy::NetworkPolicy;
use switchyard_plugin_sdk::template::TemplateCache;
use switchyard_plugin_sdk::testkit::{HttpSink, RecordedRequest, ResponseSpec};
use switchyard_plugin_sdk::{
    CorrelatedDelivery, Correlation, DeliveryContext, Event, NoConnection, Outcome, Provider,
    Secret, Subscription, TestTarget,
};
use switchyard_vendor_spec::Spec;

const WAIT: Duration = Duration::from_secs(20);
const TOKEN: &str = "Zx9-tokEN_q8Xw2ZrT6yLm9PbK4vNc1sDfHj";
const HOOK: &str = "112233445566778899";

fn webhook_url() -> String {
    format!("https://discord.com/api/webhooks/{HOOK}/{TOKEN}")
}

fn provider() -> DiscordProvider {
    DiscordProvider::with_policy(NetworkPolicy::parse("127.0.0.0/8").expect("a subnet"))
}

fn config(sink: &HttpSink) -> DiscordConfig {
    serde_json::from_value(json!({"webhookUrl": webhook_url(),
        "apiBaseUrl": format!("{}/api/v10", sink.url())}))
    .expect("a config")
}

fn incident(status: &str) -> Value {
    json!({"incidentId": "inc-42", "title": "Checkout API down", "status": status,
           "severity": "major", "systemIds": ["checkout-api"], "description": "Payments *fail*",
           "createdAt": "2026-12-02T17:30:00Z", "url": "https://status.example.com/inc-42"})
}

fn earlier(event_type: &str, state: Option<&str>) -> CorrelatedDelivery {
    CorrelatedDelivery {
        event_type: event_type.into(),
        external_id: None,
        state: state.map(str::to_owned),
        delivered: true,
        ended_at: chrono::DateTime::from_timestamp(1_767_000_100, 0).unwrap(),
        delivery_id: format!("dlv_{event_type}"),
    }
}

fn ctx(
    config: DiscordConfig,
    event_type: &str,
    payload: Value,
    earlier: Vec<CorrelatedDelivery>,
) -> DeliveryContext<DiscordConfig, NoConnection> {
    DeliveryContext {
        event: Event {
            event_type: event_type.into(),
            payload,
            timestamp: chrono::DateTime::from_timestamp(1_767_000_000, 0).unwrap(),
            delivery_id: format!("dlv_{event_type}"),
            attempt: 1,
            event_id: format!("evt_{event_type}"),
        },
        subscription: Subscription {
            id: "sub_1".into(),
            name: "Ops".into(),
        },
        config,
        connection: NoConnection,
        correlation: Some(Correlation {
            key: "inc-42".into(),
            earlier,
        }),
    }
}

fn message(id: &str) -> ResponseSpec {
    ResponseSpec::status(200).json(
        &json!({"id": id, "type": 0, "channel_id": "998877665544332211",
        "content": "…", "webhook_id": HOOK}),
    )
}

async fn conforming(sink: &HttpSink, n: usize) -> Vec<RecordedRequest> {
    let requests = sink.wait_for_requests(n, WAIT).await;
    assert_eq!(requests.len(), n, "{requests:?}");
    for r in &requests {
        Spec::vendor("discord").assert_conforms(r);
    }
    requests
}

const FIRST: &str = r#"{"messageId":"1000000000000000001"}"#;

#[tokio::test]
async fn an_incident_is_one_message_edited_as_it_changes() {
    let sink = HttpSink::start().await;
    sink.push_response(message("1000000000000000001"));
    sink.push_response(message("1000000000000000001"));
    sink.push_response(message("1000000000000000001"));
    let p = provider();
    let created = p
        .deliver(ctx(
            config(&sink),
            "incident.incident.created",
            incident("investigating"),
            vec![],
        ))
        .await;
    assert_eq!(
        created.outcome,
        Outcome::Delivered {
            external_id: Some("1000000000000000001".into())
        }
    );
    assert_eq!(created.state.as_deref(), Some(FIRST));
    let origin = earlier("incident.incident.created", created.state.as_deref());
    for (t, s) in [
        ("incident.incident.updated", "identified"),
        ("incident.incident.resolved", "resolved"),
    ] {
        let r = p
            .deliver(ctx(config(&sink), t, incident(s), vec![origin.clone()]))
            .await;
        assert_eq!(
            r.outcome,
            Outcome::Delivered {
                external_id: Some("1000000000000000001".into())
            }
        );
        assert_eq!(r.state, None);
    }
    let requests = conforming(&sink, 3).await;
    assert_eq!(requests[0].method, "POST");
    assert_eq!(
        requests[0].path,
        format!("/api/v10/webhooks/{HOOK}/{TOKEN}")
    );
    assert_eq!(requests[0].query.as_deref(), Some("wait=true"));
    for r in &requests[1..] {
        assert_eq!(r.method, "PATCH");
        assert_eq!(
            r.path,
            format!("/api/v10/webhooks/{HOOK}/{TOKEN}/messages/1000000000000000001")
        );
    }
    let embed = |r: &RecordedRequest| r.json()["embeds"][0].clone();
    let first = embed(&requests[0]);
    assert_eq!(first["title"], "Checkout API down (investigating)");
    assert_eq!(first["url"], "https://status.example.com/inc-42");
    assert_eq!(first["description"], "Payments \\*fail\\*");
    assert_eq!(first["color"], 0xf79009);
    assert_eq!(
        first["fields"][1],
        json!({"name": "Severity", "value": "Major", "inline": true})
    );
    assert_eq!(requests[0].json()["allowed_mentions"], json!({"parse": []}));
    let last = embed(&requests[2]);
    assert_eq!(last["title"], "Checkout API down (resolved)");
    assert_eq!(last["color"], 0x12b76a, "resolved is green");
    assert!(
        !last.to_string().contains("Follows up"),
        "an edit is the message itself"
    );
}

#[tokio::test]
async fn follow_ups_can_also_post_or_only_post() {
    let sink = HttpSink::start().await;
    sink.push_response(message("1000000000000000001"));
    sink.push_response(message("1000000000000000002"));
    sink.push_response(message("1000000000000000003"));
    let mut both = config(&sink);
    both.follow_up = FollowUp::EditAndPost;
    both.thread_id = Some("555".into());
    both.username = Some("Status".into());
    let origin = vec![earlier("incident.incident.created", Some(FIRST))];
    let r = provider()
        .deliver(ctx(
            both,
            "incident.incident.resolved",
            incident("resolved"),
            origin.clone(),
        ))
        .await;
    assert_eq!(
        r.outcome,
        Outcome::Delivered {
            external_id: Some("1000000000000000002".into())
        }
    );
    let mut post = config(&sink);
    post.follow_up = FollowUp::Post;
    let r = provider()
        .deliver(ctx(
            post,
            "incident.incident.updated",
            incident("identified"),
            origin,
        ))
        .await;
    assert_eq!(
        r.outcome,
        Outcome::Delivered {
            external_id: Some("1000000000000000003".into())
        }
    );
    let requests = conforming(&sink, 3).await;
    assert_eq!(requests[0].method, "PATCH");
    assert_eq!(requests[0].query.as_deref(), Some("thread_id=555"));
    assert_eq!(requests[1].method, "POST");
    assert_eq!(
        requests[1].query.as_deref(),
        Some("wait=true&thread_id=555")
    );
    assert_eq!(requests[1].json()["username"], "Status");
    assert_eq!(requests[2].method, "POST");
    let footer = requests[2].json()["embeds"][0]["footer"]["text"].clone();
    assert!(
        footer
            .as_str()
            .unwrap()
            .starts_with("Follows up on incident.incident.created"),
        "{footer}"
    );
}

#[tokio::test]
async fn a_deleted_first_message_is_posted_anew() {
    let sink = HttpSink::start().await;
    sink.push_response(
        ResponseSpec::status(404).json(&json!({"message": "Unknown Message", "code": 10008})),
    );
    sink.push_response(message("1000000000000000009"));
    let origin = vec![earlier("incident.incident.created", Some(FIRST))];
    let r = provider()
        .deliver(ctx(
            config(&sink),
            "incident.incident.resolved",
            incident("resolved"),
            origin,
        ))
        .await;
    assert_eq!(
        r.outcome,
        Outcome::Delivered {
            external_id: Some("1000000000000000009".into())
        }
    );
    let requests = conforming(&sink, 2).await;
    assert_eq!(
        (requests[0].method.as_str(), requests[1].method.as_str()),
        ("PATCH", "POST")
    );
    assert!(requests[1].json().to_string().contains("Follows up on"));
}

async fn outcome_of(answer: ResponseSpec) -> Outcome {
    let sink = HttpSink::start().await;
    sink.push_response(answer);
    let r = provider()
        .deliver(ctx(
            config(&sink),
            "incident.incident.created",
            incident("new"),
            vec![],
        ))
        .await;
    conforming(&sink, 1).await;
    assert!(!format!("{r:?}").contains(TOKEN), "{r:?}");
    r.outcome
}

#[tokio::test]
async fn answers_map_to_outcomes() {
    let gone = outcome_of(
        ResponseSpec::status(404).json(&json!({"message": "Unknown Webhook", "code": 10015})),
    )
    .await;
    assert!(
        matches!(&gone, Outcome::Permanent { error } if error.contains("webhook was deleted")),
        "{gone:?}"
    );
    let limited = |body: Value| ResponseSpec::status(429).json(&body);
    let o = outcome_of(limited(
        json!({"message": "You are being rate limited.", "retry_after": 1.5, "global": false}),
    ))
    .await;
    assert!(
        matches!(o, Outcome::RateLimited { retry_after, .. } if retry_after == Duration::from_millis(1500)),
        "{o:?}"
    );
    let o = outcome_of(limited(json!({"retry_after": 0.25})).header("retry-after", "1")).await;
    assert!(
        matches!(o, Outcome::RateLimited { retry_after, .. } if retry_after == Duration::from_millis(250)),
        "{o:?}"
    );
    let o = outcome_of(ResponseSpec::status(429).header("retry-after", "4")).await;
    assert!(
        matches!(o, Outcome::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(4)),
        "{o:?}"
    );
    let o = outcome_of(limited(json!({"retry_after": 2.0, "global": true}))).await;
    assert!(
        matches!(&o, Outcome::RateLimited { error, .. } if error.contains("global")),
        "{o:?}"
    );
    assert!(matches!(
        outcome_of(ResponseSpec::status(500)).await,
        Outcome::Retryable { .. }
    ));
    assert!(matches!(
        outcome_of(ResponseSpec::status(502)).await,
        Outcome::Retryable { .. }
    ));
    let invalid = outcome_of(
        ResponseSpec::status(400).json(&json!({"code": 50035, "message": "Invalid Form Body",
        "errors": {"embeds": {"0": {"title": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH"}]}}}}})),
    )
    .await;
    assert!(
        matches!(&invalid, Outcome::Permanent { error } if error.contains("Invalid Form Body") && error.contains("BASE_TYPE_MAX_LENGTH")),
        "{invalid:?}"
    );
    let token = outcome_of(
        ResponseSpec::status(401).json(&json!({"code": 50027, "message": "Invalid Webhook Token"})),
    )
    .await;
    assert!(
        matches!(&token, Outcome::Permanent { error } if error.contains("copy the webhook URL")),
        "{token:?}"
    );
}

#[tokio::test]
async fn long_texts_are_cut_to_embed_limits() {
    let sink = HttpSink::start().await;
    let mut payload = incident("investigating");
    payload["title"] = json!("T".repeat(3000));
    payload["description"] = json!("d".repeat(10_000));
    payload["systemIds"] = json!(vec!["s".repeat(3000)]);
    payload["severity"] = json!("v".repeat(3000));
    payload["createdAt"] = json!("c".repeat(3000));
    let r = provider()
        .deliver(ctx(
            config(&sink),
            "incident.incident.created",
            payload,
            vec![],
        ))
        .await;
    assert!(r.is_delivered(), "{r:?}");
    let body = conforming(&sink, 1).await[0].json();
    let chars = |v: &Value| v.as_str().unwrap().chars().count();
    let embed = &body["embeds"][0];
    assert_eq!(chars(&embed["title"]), 256);
    assert!(chars(&body["content"]) <= 2000);
    let fields = embed["fields"].as_array().unwrap();
    assert!(fields.iter().all(|f| chars(&f["value"]) <= 1024));
    let total = chars(&embed["title"])
        + chars(&embed["description"])
        + chars(&embed["footer"]["text"])
        + fields
            .iter()
            .map(|f| chars(&f["name"]) + chars(&f["value"]))
            .sum::<usize>();
    assert!(total <= 6000, "{total}");
    assert!(
        chars(&embed["description"]) < 4096,
        "the description shrank to fit 6,000"
    );
}

#[tokio::test]
async fn bad_configs_are_refused_with_paths_and_send_nothing() {
    let check = |config: DiscordConfig| async move {
        let found = provider()
            .validate_config(TestTarget::Config {
                config,
                connection: NoConnection,
            })
            .await;
        found.into_iter().map(|d| d.json_path).collect::<Vec<_>>()
    };
    let mut c: DiscordConfig =
        serde_json::from_value(json!({"webhookUrl": webhook_url()})).unwrap();
    assert!(check(c.clone()).await.is_empty());
    c.webhook_url = Secret::new(format!("https://evil.example/api/webhooks/{HOOK}/{TOKEN}"));
    assert_eq!(check(c.clone()).await, ["/webhookUrl"]);
    c.webhook_url = Secret::new("https://discord.com/api/webhooks/not-a-number/abc");
    assert_eq!(check(c.clone()).await, ["/webhookUrl"]);
    c.webhook_url = Secret::new(format!(
        "https://discordapp.com/api/v10/webhooks/{HOOK}/{TOKEN}"
    ));
    c.title_template = Some("{{ oops".into());
    c.api_base_url = Some("mailto:x".into());
    assert_eq!(check(c.clone()).await, ["/titleTemplate", "/apiBaseUrl"]);
    let sink = HttpSink::start().await;
    let mut bad = config(&sink);
    bad.webhook_url = Secret::new("discord webhook");
    let r = provider()
        .deliver(ctx(
            bad,
            "incident.incident.created",
            incident("new"),
            vec![],
        ))
        .await;
    assert!(
        matches!(&r.outcome, Outcome::Permanent { error } if error.starts_with("/webhookUrl")),
        "{r:?}"
    );
    assert_eq!(sink.request_count(), 0);
}

#[tokio::test]
async fn preview_masks_the_webhook_token() {
    let c: DiscordConfig = serde_json::from_value(json!({"webhookUrl": webhook_url()})).unwrap();
    let shown = provider()
        .preview(ctx(
            c,
            "incident.incident.created",
            incident("investigating"),
            vec![],
        ))
        .await
        .expect("a preview");
    assert_eq!(shown.method, "POST");
    assert_eq!(
        shown.url,
        format!("https://discord.com/api/v10/webhooks/{HOOK}/[REDACTED]?wait=true")
    );
    assert!(shown.body.contains("Checkout API down (investigating)"));
    assert!(!format!("{shown:?}").contains(TOKEN));
    let c: DiscordConfig = serde_json::from_value(json!({"webhookUrl": webhook_url()})).unwrap();
    let out = outgoing(
        &ctx(c, "incident.incident.created", json!({}), vec![]),
        &TemplateCache::default(),
    )
    .expect("a request");
    assert!(out[0].url.contains(TOKEN));
    assert!(!format!("{out:?}").contains(TOKEN), "{out:?}");
}

#[tokio::test]
async fn the_spec_check_would_catch_an_uncut_title() {
    let sink = HttpSink::start().await;
    let r = provider()
        .deliver(ctx(
            config(&sink),
            "incident.incident.created",
            incident("new"),
            vec![],
        ))
        .await;
    assert!(r.is_delivered());
    let mut recorded = conforming(&sink, 1).await.remove(0);
    let mut body = recorded.json();
    body["embeds"][0]["title"] = json!("T".repeat(300));
    recorded.body = body.to_string().into_bytes();
    let violations = Spec::vendor("discord")
        .check(&recorded)
        .expect_err("too long");
    // Too long a title, the body matches neither of the operation's two body schemas.
    assert!(
        violations.iter().any(|v| v.contains("anyOf")),
        "{violations:?}"
    );
}

#[tokio::test]
async fn test_connection_gets_the_webhook_without_posting() {
    let sink = HttpSink::start().await;
    sink.push_response(
        ResponseSpec::status(200).json(&json!({"id": HOOK, "type": 1,
        "name": "Switchyard", "channel_id": "998877665544332211", "guild_id": "1"})),
    );
    sink.push_response(
        ResponseSpec::status(404).json(&json!({"message": "Unknown Webhook", "code": 10015})),
    );
    let p = provider();
    let test = || {
        p.test_connection(TestTarget::Config {
            config: config(&sink),
            connection: NoConnection,
        })
    };
    let ok = test().await;
    assert!(ok.success, "{ok:?}");
    assert_eq!(
        ok.message,
        "Webhook \"Switchyard\" posts to channel 998877665544332211"
    );
    let gone = test().await;
    assert!(
        !gone.success && gone.message.contains("deleted"),
        "{gone:?}"
    );
    let requests = conforming(&sink, 2).await;
    assert!(
        requests
            .iter()
            .all(|r| r.method == "GET" && r.path == format!("/api/v10/webhooks/{HOOK}/{TOKEN}"))
    );
}

#[tokio::test]
async fn maintenance_and_health_events_have_their_own_facts_and_colours() {
    let sink = HttpSink::start().await;
    let window = json!({"maintenanceId": "m-1", "title": "DB upgrade", "status": "scheduled",
        "systemIds": ["db"], "startAt": "2026-12-03T01:00:00Z", "endAt": "2026-12-03T02:00:00Z"});
    let health = json!({"systemId": "sys-1", "systemName": "API", "previousStatus": "healthy",
        "newStatus": "degraded", "healthyChecks": 2, "totalChecks": 5,
        "timestamp": "2026-12-02T18:00:00Z"});
    let p = provider();
    for (t, payload) in [
        ("maintenance.maintenance.created", window),
        ("healthcheck.healthcheck.system.degraded", health),
    ] {
        assert!(
            p.deliver(ctx(config(&sink), t, payload, vec![]))
                .await
                .is_delivered()
        );
    }
    let requests = conforming(&sink, 2).await;
    let maintenance = requests[0].json()["embeds"][0].clone();
    assert_eq!(maintenance["color"], 0x2e90fa);
    assert!(
        maintenance["fields"]
            .to_string()
            .contains("2026-12-03 01:00 UTC"),
        "{maintenance}"
    );
    let degraded = requests[1].json()["embeds"][0].clone();
    assert_eq!(degraded["title"], "API is degraded");
    assert_eq!(degraded["color"], 0xfdb022);
    assert!(
        degraded["fields"].to_string().contains("2 of 5"),
        "{degraded}"
    );
}

#[tokio::test]
async fn an_unreachable_api_is_retried() {
    let mut c: DiscordConfig =
        serde_json::from_value(json!({"webhookUrl": webhook_url()})).unwrap();
    // Nothing listens on port 1 of the loopback address.
    c.api_base_url = Some("http://127.0.0.1:1/api/v10".into());
    let r = provider()
        .deliver(ctx(c, "incident.incident.created", incident("new"), vec![]))
        .await;
    assert!(
        matches!(&r.outcome, Outcome::Retryable { error, .. } if error.contains("cannot connect")),
        "{r:?}"
    );
    assert!(!format!("{r:?}").contains(TOKEN), "{r:?}");
}

#[tokio::test]
async fn the_network_policy_applies_to_the_base_url() {
    let sink = HttpSink::start().await;
    let strict = DiscordProvider::with_policy(NetworkPolicy::public_only());
    let r = strict
        .deliver(ctx(
            config(&sink),
            "incident.incident.created",
            incident("new"),
            vec![],
        ))
        .await;
    assert!(
        matches!(&r.outcome, Outcome::Permanent { error } if error.contains("network policy")),
        "{r:?}"
    );
    assert_eq!(sink.request_count(), 0);
}

#[test]
fn the_documented_example_is_a_valid_message() {
    let example = provider()
        .documentation()
        .example_payload
        .expect("an example");
    let recorded = RecordedRequest {
        method: "POST".into(),
        path: format!("/api/v10/webhooks/{HOOK}/{TOKEN}"),
        query: Some("wait=true".into()),
        headers: vec![("content-type".into(), "application/json".into())],
        body: example.to_string().into_bytes(),
    };
    Spec::vendor("discord").assert_conforms(&recorded);
}
