//! `slack.bot` called in-process against the SDK's `HttpSink` standing in for Slack's Web API
//! (base path `/api`, as the spec's): an incident threaded created → updated → resolved,
//! every `ok: false` and HTTP failure class, `Retry-After` forms, the channel picker across
//! several cursor pages, `auth.test`, Block Kit limits, and a preview without the token.
//! Every request is checked against Slack's official Web API spec.

mod common;

use std::time::Duration;

use common::{TOKEN, conforming, context, earlier, event, incident, posted, refused};
use serde_json::{Value, json};
use switchyard_plugin_sdk::net_policy::NetworkPolicy;
use switchyard_plugin_sdk::testkit::{HttpSink, ResponseSpec};
use switchyard_plugin_sdk::{
    CorrelatedDelivery, DeliveryContext, OptionsRequest, Outcome, Provider, Secret, TestTarget,
};
use switchyard_plugin_slack::{BotConfig, BotConnection, OnResolve, SlackBot};

fn provider() -> SlackBot {
    SlackBot::with_policy(NetworkPolicy::parse("127.0.0.0/8").expect("a subnet"))
}

fn connection(sink: &HttpSink) -> BotConnection {
    BotConnection {
        bot_token: Secret::new(TOKEN),
        api_base_url: Some(format!("{}/api", sink.url())),
    }
}

fn config() -> BotConfig {
    serde_json::from_value(json!({"connectionId": "conn_1", "channel": "C0OPS"})).expect("a config")
}

fn ctx(
    sink: &HttpSink,
    event_type: &str,
    status: &str,
    earlier: Vec<CorrelatedDelivery>,
) -> DeliveryContext<BotConfig, BotConnection> {
    context(
        config(),
        connection(sink),
        event(event_type, incident(status)),
        earlier,
    )
}

/// The `chat.update` of the incident's first message: green, with the resolved headline.
fn assert_marks_the_first_resolved(update: &Value) {
    assert_eq!(
        (&update["channel"], &update["ts"]),
        (&json!("C0OPS"), &json!("1767000000.000100"))
    );
    assert_eq!(update["attachments"][0]["color"], "#12b76a");
    assert_eq!(
        update["attachments"][0]["blocks"][0]["text"]["text"],
        "Checkout API down (resolved)"
    );
}

/// The incident's first message: in the configured channel, not threaded, red (critical), with
/// the headline and the escaped description.
fn assert_first_message(first: &Value) {
    assert_eq!(first["channel"], "C0OPS");
    assert_eq!(first.get("thread_ts"), None);
    assert_eq!(first["attachments"][0]["color"], "#d92d20");
    let blocks = &first["attachments"][0]["blocks"];
    assert_eq!(
        blocks[0]["text"]["text"],
        "Checkout API down (investigating)"
    );
    assert_eq!(
        blocks[1]["text"]["text"],
        "Payments &lt;fail&gt; &amp; retry"
    );
    assert!(
        first["text"]
            .as_str()
            .unwrap()
            .starts_with("Checkout API down (investigating)")
    );
}

#[tokio::test]
async fn an_incident_is_one_thread_and_its_resolution_is_broadcast() {
    let sink = HttpSink::start().await;
    sink.push_response(posted("C0OPS", "1767000000.000100"));
    sink.push_response(posted("C0OPS", "1767000001.000200"));
    sink.push_response(posted("C0OPS", "1767000000.000100"));
    sink.push_response(posted("C0OPS", "1767000002.000300"));
    let p = provider();
    let created = p
        .deliver(ctx(
            &sink,
            "incident.incident.created",
            "investigating",
            vec![],
        ))
        .await;
    assert_eq!(
        created.outcome,
        Outcome::Delivered {
            external_id: Some("C0OPS:1767000000.000100".into())
        }
    );
    let state = created.state.clone().expect("the thread is kept");
    let origin = earlier(
        "incident.incident.created",
        Some("C0OPS:1767000000.000100".into()),
        Some(state),
    );
    let updated = p
        .deliver(ctx(
            &sink,
            "incident.incident.updated",
            "identified",
            vec![origin.clone()],
        ))
        .await;
    assert!(updated.is_delivered(), "{updated:?}");
    assert_eq!(
        updated.state, None,
        "only the thread's first message is kept"
    );
    let resolved = p
        .deliver(ctx(
            &sink,
            "incident.incident.resolved",
            "resolved",
            vec![earlier("incident.incident.updated", None, None), origin],
        ))
        .await;
    assert!(resolved.is_delivered(), "{resolved:?}");

    let requests = conforming(&sink, 4).await;
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/api/chat.postMessage",
            "/api/chat.postMessage",
            "/api/chat.update",
            "/api/chat.postMessage"
        ]
    );
    let mut bodies: Vec<Value> = requests.iter().map(|r| r.json()).collect();
    // The resolution first turns the incident's message green, then replies.
    let update = bodies.remove(2);
    assert_marks_the_first_resolved(&update);
    assert_first_message(&bodies[0]);
    assert_eq!(bodies[1]["thread_ts"], "1767000000.000100");
    assert_eq!(bodies[1].get("reply_broadcast"), None);
    assert_eq!(bodies[2]["thread_ts"], "1767000000.000100");
    assert_eq!(bodies[2]["reply_broadcast"], true);
    assert_eq!(
        bodies[2]["attachments"][0]["color"], "#12b76a",
        "resolved is green"
    );
    assert!(
        !bodies[2].to_string().contains("Follows up on"),
        "a thread reply says nothing of what it follows"
    );
}

#[tokio::test]
async fn on_resolve_thread_keeps_the_resolution_in_the_thread() {
    let sink = HttpSink::start().await;
    sink.push_response(posted("C0OPS", "2.0"));
    let mut c = ctx(
        &sink,
        "incident.incident.resolved",
        "resolved",
        vec![earlier(
            "incident.incident.created",
            None,
            Some(r#"{"channel":"C0OTHER","ts":"1.0"}"#.into()),
        )],
    );
    c.config.on_resolve = OnResolve::Thread;
    c.config.mark_parent_resolved = false;
    assert!(provider().deliver(c).await.is_delivered());
    let body = conforming(&sink, 1).await[0].json();
    assert_eq!(
        body["channel"], "C0OTHER",
        "the reply goes where the thread is"
    );
    assert_eq!(body["thread_ts"], "1.0");
    assert_eq!(body.get("reply_broadcast"), None);
}

#[tokio::test]
async fn a_follow_up_without_a_thread_is_a_new_message_saying_what_it_follows() {
    let sink = HttpSink::start().await;
    sink.push_response(posted("C0OPS", "3.0"));
    let c = ctx(
        &sink,
        "incident.incident.resolved",
        "resolved",
        vec![earlier("incident.incident.created", None, None)],
    );
    let result = provider().deliver(c).await;
    assert!(result.state.is_some(), "it starts a thread of its own");
    let body = conforming(&sink, 1).await[0].json();
    assert_eq!(body.get("thread_ts"), None);
    assert!(
        body.to_string()
            .contains("Follows up on incident.incident.created"),
        "{body}"
    );
}

async fn outcome_of(answer: ResponseSpec) -> Outcome {
    let sink = HttpSink::start().await;
    sink.push_response(answer);
    let result = provider()
        .deliver(ctx(&sink, "incident.incident.created", "new", vec![]))
        .await;
    conforming(&sink, 1).await;
    assert!(!format!("{result:?}").contains(TOKEN));
    result.outcome
}

#[tokio::test]
async fn ok_false_is_a_failure_classified_by_its_code() {
    for code in [
        "channel_not_found",
        "is_archived",
        "invalid_auth",
        "account_inactive",
        "not_in_channel",
        "token_revoked",
    ] {
        let outcome = outcome_of(refused(code)).await;
        assert!(
            matches!(&outcome, Outcome::Permanent { error } if error.contains(code)),
            "{code}: {outcome:?}"
        );
    }
    let outcome = outcome_of(refused("channel_not_found")).await;
    assert!(
        matches!(&outcome, Outcome::Permanent { error } if error.contains("/invite")),
        "{outcome:?}"
    );
    let outcome = outcome_of(refused("ratelimited").header("retry-after", "12")).await;
    assert_eq!(
        outcome,
        Outcome::RateLimited {
            error: "Slack chat.postMessage failed: ratelimited".into(),
            retry_after: Duration::from_secs(12)
        }
    );
    assert!(matches!(
        outcome_of(refused("internal_error")).await,
        Outcome::Retryable { .. }
    ));
    let outcome = outcome_of(ResponseSpec::status(200).json(&json!({"id": "1"}))).await;
    assert!(
        matches!(&outcome, Outcome::Permanent { error } if error.contains("without \"ok\"")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn http_failures_and_retry_after_forms() {
    let outcome = outcome_of(ResponseSpec::status(429).header("retry-after", "30")).await;
    assert!(
        matches!(outcome, Outcome::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(30)),
        "{outcome:?}"
    );
    let at = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
    let outcome = outcome_of(ResponseSpec::status(429).header("retry-after", at)).await;
    assert!(
        matches!(outcome, Outcome::RateLimited { retry_after, .. } if retry_after > Duration::from_secs(100) && retry_after <= Duration::from_secs(120)),
        "{outcome:?}"
    );
    let outcome = outcome_of(ResponseSpec::status(429)).await;
    assert!(
        matches!(outcome, Outcome::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(60)),
        "{outcome:?}"
    );
    assert!(matches!(
        outcome_of(ResponseSpec::status(500)).await,
        Outcome::Retryable { .. }
    ));
    assert!(matches!(
        outcome_of(ResponseSpec::status(502)).await,
        Outcome::Retryable { .. }
    ));
    assert!(matches!(
        outcome_of(ResponseSpec::status(404)).await,
        Outcome::Permanent { .. }
    ));
}

fn page(names: &[(&str, &str)], next: &str) -> ResponseSpec {
    let channels: Vec<Value> = names
        .iter()
        .map(|(id, name)| json!({"id": id, "name": name, "is_private": name.starts_with("priv")}))
        .collect();
    ResponseSpec::status(200).json(&json!({"ok": true, "channels": channels,
        "response_metadata": {"next_cursor": next}}))
}

fn options_request(sink: &HttpSink, query: &str) -> OptionsRequest<BotConnection> {
    OptionsRequest {
        resolver: "channelOptions".into(),
        connection: connection(sink),
        context: json!({"query": query}),
    }
}

#[tokio::test]
async fn the_channel_picker_follows_every_cursor_page_and_searches() {
    let sink = HttpSink::start().await;
    sink.push_response(page(
        &[("C1", "ops"), ("C2", "general")],
        "dXNlcjpVMDYxTkZUVDI=",
    ));
    sink.push_response(page(&[("C3", "private-ops")], "bmV4dA=="));
    sink.push_response(page(&[("C4", "ops-eu"), ("C5", "random")], ""));
    let options = provider()
        .get_connection_options(options_request(&sink, "#OPS"))
        .await
        .expect("options");
    let got: Vec<(&str, &str)> = options
        .iter()
        .map(|o| (o.value.as_str(), o.label.as_str()))
        .collect();
    assert_eq!(
        got,
        [("C1", "#ops"), ("C3", "#private-ops"), ("C4", "#ops-eu")]
    );
    assert_eq!(options[1].description.as_deref(), Some("private channel"));
    let requests = conforming(&sink, 3).await;
    assert!(
        requests
            .iter()
            .all(|r| r.method == "GET" && r.path == "/api/conversations.list")
    );
    let queries: Vec<&str> = requests
        .iter()
        .map(|r| r.query.as_deref().unwrap_or(""))
        .collect();
    assert!(!queries[0].contains("cursor="), "{queries:?}");
    assert!(
        queries[1].contains("cursor=dXNlcjpVMDYxTkZUVDI%3D"),
        "{queries:?}"
    );
    assert!(queries[2].contains("cursor=bmV4dA%3D%3D"), "{queries:?}");
    assert!(
        queries
            .iter()
            .all(|q| q.contains("exclude_archived=true") && q.contains("limit=200"))
    );

    sink.push_response(refused("missing_scope"));
    let problems = provider()
        .get_connection_options(options_request(&sink, ""))
        .await
        .expect_err("refused");
    assert!(
        problems[0].message.contains("missing_scope"),
        "{problems:?}"
    );
}

#[tokio::test]
async fn test_connection_calls_auth_test() {
    let sink = HttpSink::start().await;
    sink.push_response(
        ResponseSpec::status(200).json(&json!({"ok": true, "url": "https://acme.slack.com/",
        "team": "Acme", "user": "switchyard", "team_id": "T1", "user_id": "U1", "bot_id": "B1"})),
    );
    sink.push_response(refused("invalid_auth"));
    let ok = provider()
        .test_connection(TestTarget::Connection(connection(&sink)))
        .await;
    assert!(ok.success, "{ok:?}");
    assert_eq!(ok.message, "Connected to the Acme workspace as switchyard");
    let bad = provider()
        .test_connection(TestTarget::Connection(connection(&sink)))
        .await;
    assert!(
        !bad.success && bad.message.contains("invalid_auth"),
        "{bad:?}"
    );
    let requests = conforming(&sink, 2).await;
    assert!(requests.iter().all(|r| r.path == "/api/auth.test"));
}

#[tokio::test]
async fn long_texts_are_cut_to_block_kit_limits() {
    let sink = HttpSink::start().await;
    sink.push_response(posted("C0OPS", "4.0"));
    let mut payload = incident("investigating");
    payload["title"] = json!("T".repeat(400));
    payload["description"] = json!("d".repeat(10_000));
    payload["systemIds"] = json!(vec!["s".repeat(3000)]);
    let c = context(
        config(),
        connection(&sink),
        event("incident.incident.created", payload),
        vec![],
    );
    assert!(provider().deliver(c).await.is_delivered());
    let body = conforming(&sink, 1).await[0].json();
    let blocks = body["attachments"][0]["blocks"].as_array().unwrap().clone();
    let chars = |v: &Value| v.as_str().unwrap().chars().count();
    assert_eq!(chars(&blocks[0]["text"]["text"]), 150);
    assert_eq!(chars(&blocks[1]["text"]["text"]), 3000);
    assert!(
        blocks[2]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| chars(&f["text"]) <= 2000)
    );
    assert!(blocks.len() <= 50);
    assert!(chars(&body["text"]) <= 4000);
}

#[tokio::test]
async fn templates_override_the_message_and_bad_ones_are_refused_with_paths() {
    let sink = HttpSink::start().await;
    sink.push_response(posted("C0OPS", "5.0"));
    let mut c = ctx(&sink, "incident.incident.created", "investigating", vec![]);
    c.config.title_template = Some("{{ payload.title }} — {{ payload.severity }}".into());
    c.config.text_template = Some("*{{ payload.description | mrkdwn_escape }}*".into());
    assert!(provider().deliver(c).await.is_delivered());
    let body = conforming(&sink, 1).await[0].json();
    let blocks = &body["attachments"][0]["blocks"];
    assert_eq!(blocks[0]["text"]["text"], "Checkout API down — critical");
    assert_eq!(
        blocks[1]["text"]["text"],
        "*Payments &lt;fail&gt; &amp; retry*"
    );

    let mut bad = config();
    bad.text_template = Some("{% if %}".into());
    bad.title_template = Some("{{ payload.title | required }}".into());
    let found = provider()
        .validate_config(TestTarget::Config {
            config: bad.clone(),
            connection: connection(&sink),
        })
        .await;
    let paths: Vec<&str> = found.iter().map(|d| d.json_path.as_str()).collect();
    assert_eq!(paths, ["/textTemplate"], "{found:?}");
    let failed = provider()
        .deliver(context(
            bad,
            connection(&sink),
            event("incident.incident.created", json!({})),
            vec![],
        ))
        .await;
    assert!(
        matches!(&failed.outcome, Outcome::Permanent { error } if error.contains("/titleTemplate")),
        "{failed:?}"
    );
    let mut conn = connection(&sink);
    conn.api_base_url = Some("ftp://slack".into());
    conn.bot_token = Secret::new("xoxb with spaces");
    let found = provider()
        .validate_config(TestTarget::Connection(conn))
        .await;
    let paths: Vec<&str> = found.iter().map(|d| d.json_path.as_str()).collect();
    assert_eq!(paths, ["/botToken", "/apiBaseUrl"], "{found:?}");
    assert_eq!(sink.request_count(), 1);
}

#[tokio::test]
async fn preview_shows_the_message_without_the_token() {
    let sink = HttpSink::start().await;
    let shown = provider()
        .preview(ctx(
            &sink,
            "incident.incident.created",
            "investigating",
            vec![],
        ))
        .await
        .expect("a preview");
    assert!(
        shown.url.ends_with("/api/chat.postMessage"),
        "{}",
        shown.url
    );
    assert!(shown.body.contains("Checkout API down"));
    assert!(
        shown
            .headers
            .contains(&("authorization".into(), "Bearer [REDACTED]".into()))
    );
    assert!(!format!("{shown:?}").contains(TOKEN));
    assert_eq!(sink.request_count(), 0);
}

#[tokio::test]
async fn the_spec_check_would_catch_a_malformed_post() {
    let sink = HttpSink::start().await;
    sink.push_response(posted("C0OPS", "6.0"));
    assert!(
        provider()
            .deliver(ctx(&sink, "incident.incident.created", "new", vec![]))
            .await
            .is_delivered()
    );
    let mut recorded = conforming(&sink, 1).await.remove(0);
    let mut body = recorded.json();
    body.as_object_mut().unwrap().remove("channel");
    body["unfurl_links"] = json!("no");
    recorded.body = body.to_string().into_bytes();
    let violations = switchyard_vendor_spec::Spec::vendor("slack")
        .check(&recorded)
        .expect_err("malformed");
    assert_eq!(violations.len(), 2, "{violations:?}");
}

#[tokio::test]
async fn a_parent_that_cannot_be_edited_still_gets_the_reply_but_other_failures_stop() {
    let sink = HttpSink::start().await;
    sink.push_response(refused("message_not_found"));
    sink.push_response(posted("C0OPS", "7.0"));
    sink.push_response(refused("invalid_auth"));
    let origin = || {
        vec![earlier(
            "incident.incident.created",
            None,
            Some(r#"{"channel":"C0OPS","ts":"1.0"}"#.into()),
        )]
    };
    let p = provider();
    let replied = p
        .deliver(ctx(
            &sink,
            "incident.incident.resolved",
            "resolved",
            origin(),
        ))
        .await;
    assert!(replied.is_delivered(), "{replied:?}");
    let stopped = p
        .deliver(ctx(
            &sink,
            "incident.incident.resolved",
            "resolved",
            origin(),
        ))
        .await;
    assert!(
        matches!(&stopped.outcome, Outcome::Permanent { error } if error.contains("chat.update failed: invalid_auth")),
        "{stopped:?}"
    );
    let requests = conforming(&sink, 3).await;
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/api/chat.update",
            "/api/chat.postMessage",
            "/api/chat.update"
        ],
        "no reply after a refused edit"
    );
}

#[tokio::test]
async fn an_unreachable_api_is_retried() {
    let mut c = context(
        config(),
        BotConnection {
            bot_token: Secret::new(TOKEN),
            // Nothing listens on port 1 of the loopback address.
            api_base_url: Some("http://127.0.0.1:1/api".into()),
        },
        event("incident.incident.created", incident("new")),
        vec![],
    );
    c.config.timeout_ms = 5000;
    let r = provider().deliver(c).await;
    assert!(
        matches!(&r.outcome, Outcome::Retryable { error, .. } if error.contains("cannot connect")),
        "{r:?}"
    );
}

#[tokio::test]
async fn the_network_policy_applies_to_the_base_url() {
    let sink = HttpSink::start().await;
    let strict = SlackBot::with_policy(NetworkPolicy::public_only());
    let r = strict
        .deliver(ctx(&sink, "incident.incident.created", "new", vec![]))
        .await;
    assert!(
        matches!(&r.outcome, Outcome::Permanent { error } if error.contains("network policy")),
        "{r:?}"
    );
    assert_eq!(sink.request_count(), 0);
}

#[test]
fn the_documented_examples_are_valid_messages() {
    let bot = provider()
        .documentation()
        .example_payload
        .expect("an example");
    let recorded = switchyard_plugin_sdk::testkit::RecordedRequest {
        method: "POST".into(),
        path: "/api/chat.postMessage".into(),
        query: None,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("authorization".into(), format!("Bearer {TOKEN}")),
        ],
        body: bot.to_string().into_bytes(),
    };
    switchyard_vendor_spec::Spec::vendor("slack").assert_conforms(&recorded);
    let hook = switchyard_plugin_slack::SlackWebhook::with_policy(NetworkPolicy::public_only())
        .documentation()
        .example_payload
        .expect("an example");
    common::conforms_as_message(&switchyard_plugin_sdk::testkit::RecordedRequest {
        body: hook.to_string().into_bytes(),
        ..recorded
    });
}
