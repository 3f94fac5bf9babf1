//! The Workflows provider called in-process against the SDK's `HttpSink` standing in for a
//! Teams workflow's webhook. There is no official OpenAPI spec of a workflow trigger, so every
//! request is checked by hand against the envelope Microsoft documents for "When a Teams
//! webhook request is received" (`type: message`, one Adaptive Card attachment). An incident's
//! created → resolved as two cards (the second saying what it follows), 202 without an id,
//! each answer's outcome, the preview with the URL masked, bad configs refused with paths.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_plugin_sdk::net_policy::NetworkPolicy;
use switchyard_plugin_sdk::proto::plugin::v1 as pb;
use switchyard_plugin_sdk::proto::plugin::v1::provider_plugin_server::ProviderPlugin;
use switchyard_plugin_sdk::service::ProviderService;
use switchyard_plugin_sdk::testkit::{HttpSink, RecordedRequest, ResponseSpec};
use switchyard_plugin_sdk::{
    CorrelatedDelivery, Correlation, DeliveryContext, Event, NoConnection, Outcome, Plugin,
    Provider, Secret, Subscription, TestTarget,
};
use switchyard_plugin_teams::card::CARD_LIMIT;
use switchyard_plugin_teams::{WorkflowConfig, WorkflowProvider};

const WAIT: Duration = Duration::from_secs(20);
const SIG: &str = "Zq3v9Kx0sIgNaTuRe_w0rkfl0w-SECRET";
const PATH: &str = "/workflows/4b1c/triggers/manual/paths/invoke";

fn url(sink: &HttpSink) -> String {
    format!(
        "{}{PATH}?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}",
        sink.url()
    )
}

fn config(sink: &HttpSink) -> WorkflowConfig {
    WorkflowConfig {
        webhook_url: Secret::new(url(sink)),
        title_template: None,
        text_template: None,
        timeout_ms: 10_000,
    }
}

fn context(
    config: WorkflowConfig,
    event_type: &str,
    payload: Value,
    earlier: Vec<CorrelatedDelivery>,
) -> DeliveryContext<WorkflowConfig, NoConnection> {
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

fn provider() -> WorkflowProvider {
    WorkflowProvider::with_policy(NetworkPolicy::parse("127.0.0.0/8").expect("a subnet"))
}

fn incident(status: &str) -> Value {
    json!({"incidentId": "inc-42", "title": "Checkout API down", "status": status,
           "severity": "minor", "systemIds": ["checkout-api"], "url": "https://status.example/i/42"})
}

const ELEMENTS: &[&str] = &["TextBlock", "Container", "FactSet"];

/// A request as a workflow's webhook trigger takes it: a JSON `POST` of
/// `{"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
/// "contentUrl": null, "content": <AdaptiveCard>}]}`, the card a valid Adaptive Card 1.4 of
/// known elements, under Teams' size limit. Returns the card.
fn assert_envelope(r: &RecordedRequest) -> Value {
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, PATH);
    assert!(
        r.query
            .as_deref()
            .is_some_and(|q| q.contains(&format!("sig={SIG}")))
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    assert_eq!(body["type"], "message", "{body}");
    let attachments = body["attachments"].as_array().expect("attachments");
    assert_eq!(attachments.len(), 1);
    let attachment = &attachments[0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(attachment["contentUrl"], Value::Null);
    let card = attachment["content"].clone();
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    assert!(r.body.len() <= CARD_LIMIT + 200, "{} bytes", r.body.len());
    for element in card["body"].as_array().expect("a card body") {
        let kind = element["type"].as_str().unwrap_or("");
        assert!(ELEMENTS.contains(&kind), "unknown element {element}");
        if kind == "TextBlock" {
            assert!(element["text"].is_string(), "{element}");
        }
        if kind == "FactSet" {
            for fact in element["facts"].as_array().unwrap() {
                assert!(
                    fact["title"].is_string() && fact["value"].is_string(),
                    "{fact}"
                );
            }
        }
    }
    for action in card["actions"].as_array().into_iter().flatten() {
        assert_eq!(action["type"], "Action.OpenUrl");
        assert!(
            action["url"]
                .as_str()
                .is_some_and(|u| u.starts_with("https://"))
        );
    }
    card
}

async fn received(sink: &HttpSink, n: usize) -> Vec<Value> {
    let requests = sink.wait_for_requests(n, WAIT).await;
    assert_eq!(requests.len(), n, "{requests:?}");
    requests.iter().map(assert_envelope).collect()
}

#[tokio::test]
async fn an_incident_posts_a_card_and_its_resolution_a_card_that_says_what_it_follows() {
    let sink = HttpSink::start().await;
    sink.push_response(ResponseSpec::status(202));
    sink.push_response(ResponseSpec::status(202));
    let p = provider();
    let created = p
        .deliver(context(
            config(&sink),
            "incident.incident.created",
            incident("investigating"),
            vec![],
        ))
        .await;
    assert_eq!(created.outcome, Outcome::Delivered { external_id: None });
    let origin = CorrelatedDelivery {
        event_type: "incident.incident.created".into(),
        external_id: None,
        state: created.state.clone(),
        delivered: true,
        ended_at: chrono::DateTime::from_timestamp(1_767_000_060, 0).unwrap(),
        delivery_id: "dlv_1".into(),
    };
    let resolved = p
        .deliver(context(
            config(&sink),
            "incident.incident.resolved",
            incident("resolved"),
            vec![origin],
        ))
        .await;
    assert_eq!(resolved.outcome, Outcome::Delivered { external_id: None });
    let cards = received(&sink, 2).await;
    assert_eq!(cards[0]["body"][0]["style"], "warning");
    assert_eq!(
        cards[0]["body"][0]["items"][0]["text"],
        "Checkout API down (investigating)"
    );
    assert_eq!(cards[0]["actions"][0]["url"], "https://status.example/i/42");
    assert_eq!(cards[1]["body"][0]["style"], "good");
    let note = cards[1]["body"].as_array().unwrap().last().unwrap()["text"].clone();
    assert_eq!(
        note,
        "Follows up on incident.incident.created of 2025-12-29 09:21 UTC"
    );
}

#[tokio::test]
async fn templates_replace_title_and_text_and_long_texts_are_cut() {
    let sink = HttpSink::start().await;
    let mut c = config(&sink);
    c.title_template = Some("[{{ payload.severity | upper }}] {{ payload.title }}".into());
    c.text_template = Some("**Runbook**: {{ payload.runbook }}\\n{{ payload.log }}".into());
    let mut payload = incident("investigating");
    payload["runbook"] = json!("https://wiki.example/rb");
    payload["log"] = json!("line with \"quotes\" and ünïcödé\n".repeat(3_000));
    assert!(
        provider()
            .deliver(context(c, "incident.incident.created", payload, vec![]))
            .await
            .is_delivered()
    );
    let card = &received(&sink, 1).await[0];
    assert_eq!(
        card["body"][0]["items"][0]["text"],
        "[MINOR] Checkout API down"
    );
    let text = card["body"][1]["text"].as_str().unwrap();
    assert!(
        text.starts_with("**Runbook**: https://wiki.example/rb"),
        "{text}"
    );
    assert!(text.ends_with('…'), "the text was cut");
}

#[tokio::test]
async fn answers_map_to_outcomes_with_hints() {
    let sink = HttpSink::start().await;
    let error = |status: u16, code: &str| {
        ResponseSpec::status(status).json(&json!({"error": {"code": code, "message": code}}))
    };
    sink.push_response(error(400, "InvalidRequestContent"));
    sink.push_response(error(401, "DirectApiAuthorizationRequired"));
    sink.push_response(error(403, "WorkflowTriggerIsNotEnabled"));
    sink.push_response(error(404, "WorkflowNotFound"));
    sink.push_response(error(429, "WorkflowRequestsThrottled").header("retry-after", "17"));
    sink.push_response(
        ResponseSpec::status(429).header("retry-after", "Thu, 01 Jan 2099 00:00:00 GMT"),
    );
    sink.push_response(error(502, "BadGateway"));
    let p = provider();
    let mut outcomes = Vec::new();
    for _ in 0..7 {
        let ctx = context(
            config(&sink),
            "incident.incident.created",
            incident("new"),
            vec![],
        );
        outcomes.push(p.deliver(ctx).await.outcome);
    }
    let permanent = |o: &Outcome, needle: &str| matches!(o, Outcome::Permanent { error } if error.contains(needle));
    assert!(
        permanent(&outcomes[0], "refused the card"),
        "{:?}",
        outcomes[0]
    );
    assert!(permanent(&outcomes[1], "copy the URL"), "{:?}", outcomes[1]);
    assert!(
        permanent(&outcomes[2], "flow is turned off"),
        "{:?}",
        outcomes[2]
    );
    assert!(
        permanent(&outcomes[3], "workflow was deleted"),
        "{:?}",
        outcomes[3]
    );
    assert!(
        matches!(outcomes[4], Outcome::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(17)),
        "{:?}",
        outcomes[4]
    );
    assert!(
        matches!(outcomes[5], Outcome::RateLimited { retry_after, .. } if retry_after > Duration::from_secs(86_400)),
        "{:?}",
        outcomes[5]
    );
    assert!(
        matches!(outcomes[6], Outcome::Retryable { .. }),
        "{:?}",
        outcomes[6]
    );
    received(&sink, 7).await;
    for o in &outcomes {
        assert!(!format!("{o:?}").contains(SIG), "{o:?}");
    }
}

#[tokio::test]
async fn preview_masks_the_url_and_bad_configs_are_refused_with_paths() {
    let sink = HttpSink::start().await;
    let shown = provider()
        .preview(context(
            config(&sink),
            "incident.incident.created",
            incident("new"),
            vec![],
        ))
        .await
        .expect("a preview");
    assert_eq!(shown.url, format!("{}/[REDACTED]", sink.url()));
    assert!(!format!("{shown:?}").contains(SIG));
    assert!(shown.body.contains("AdaptiveCard"), "{}", shown.body);
    assert_eq!(sink.request_count(), 0);
    let mut bad = config(&sink);
    bad.webhook_url = Secret::new("not a url");
    bad.title_template = Some("{% if %}".into());
    let found = provider()
        .validate_config(TestTarget::Config {
            config: bad.clone(),
            connection: NoConnection,
        })
        .await;
    let paths: Vec<&str> = found.iter().map(|d| d.json_path.as_str()).collect();
    assert_eq!(paths, ["/webhookUrl", "/titleTemplate"], "{found:?}");
    bad.title_template = None;
    let refused = provider()
        .deliver(context(
            bad,
            "incident.incident.created",
            incident("new"),
            vec![],
        ))
        .await;
    assert!(
        matches!(refused.outcome, Outcome::Permanent { .. }),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_workflow_echoing_the_request_never_gets_the_signature_out_of_the_plugin() {
    let echo = HttpSink::start_echo(400).await;
    let plugin = Plugin::new("teams", "0")
        .provider(provider())
        .build()
        .expect("a plugin");
    let service = ProviderService::new(plugin, 1);
    let request = pb::DeliverRequest {
        provider_id: "workflow".into(),
        event: Some(pb::Event {
            event_type: "incident.incident.created".into(),
            payload_json: incident("new").to_string(),
            delivery_id: "dlv_1".into(),
            attempt: 1,
            ..Default::default()
        }),
        subscription: Some(pb::Subscription::default()),
        config_json: serde_json::to_string(&config(&echo)).unwrap(),
        connection_json: String::new(),
        correlation: None,
    };
    let answer = service
        .deliver(tonic::Request::new(request))
        .await
        .expect("an answer")
        .into_inner();
    assert_eq!(answer.outcome, pb::Outcome::Permanent as i32, "{answer:?}");
    assert!(answer.error.contains("you sent: POST"), "{answer:?}");
    assert!(!format!("{answer:?}").contains(SIG), "{answer:?}");
}
