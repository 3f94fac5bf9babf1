//! The PagerDuty provider called in-process against the SDK's `HttpSink` standing in for the
//! Events API: every request checked against PagerDuty's official Events v2 spec, an incident's
//! lifecycle on one dedup key, change events for maintenance, and each answer's outcome.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_plugin_pagerduty::{
    PagerDutyConfig, PagerDutyProvider, Region, Severity, UpdateAction,
};
use switchyard_plugin_sdk::net_policy::NetworkPolicy;
use switchyard_plugin_sdk::testkit::{HttpSink, RecordedRequest, ResponseSpec};
use switchyard_plugin_sdk::{
    Correlation, DeliveryContext, DeliveryResult, Event, NoConnection, Outcome, Provider, Secret,
    Subscription,
};
use switchyard_vendor_spec::Spec;

const WAIT: Duration = Duration::from_secs(20);
const KEY: &str = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12";

fn config(sink: &HttpSink) -> PagerDutyConfig {
    PagerDutyConfig {
        routing_key: Secret::new(KEY),
        region: Region::Us,
        base_url: Some(sink.url()),
        on_update: UpdateAction::Trigger,
        severity_map: Default::default(),
        default_severity: Severity::Error,
        summary_template: None,
        source: None,
        timeout_ms: 10_000,
    }
}

fn context(
    config: PagerDutyConfig,
    event_type: &str,
    payload: Value,
) -> DeliveryContext<PagerDutyConfig, NoConnection> {
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
            id: "sub_9".into(),
            name: "Ops".into(),
        },
        config,
        connection: NoConnection,
        correlation: Some(Correlation {
            key: "inc-42".into(),
            earlier: Vec::new(),
        }),
    }
}

fn provider() -> PagerDutyProvider {
    PagerDutyProvider::with_policy(NetworkPolicy::parse("127.0.0.0/8").expect("a subnet"))
}

fn accepted(dedup_key: &str) -> ResponseSpec {
    ResponseSpec::status(202).json(&json!({
        "status": "success", "message": "Event processed", "dedup_key": dedup_key
    }))
}

/// The requests the sink got, each checked against the official spec.
async fn conforming(sink: &HttpSink, n: usize) -> Vec<RecordedRequest> {
    let requests = sink.wait_for_requests(n, WAIT).await;
    assert_eq!(requests.len(), n, "{requests:?}");
    for r in &requests {
        Spec::vendor("pagerduty").assert_conforms(r);
    }
    requests
}

fn incident(status: &str) -> Value {
    json!({"incidentId": "inc-42", "title": "Checkout API down", "status": status,
           "severity": "major", "systemName": "checkout-api", "url": "https://status.example.com/i/42"})
}

#[tokio::test]
async fn an_incident_triggers_then_resolves_one_alert() {
    let sink = HttpSink::start().await;
    sink.push_response(accepted("sub_9:inc-42"));
    sink.push_response(accepted("sub_9:inc-42"));
    let p = provider();
    let created = p
        .deliver(context(
            config(&sink),
            "incident.incident.created",
            incident("investigating"),
        ))
        .await;
    assert_eq!(
        created,
        DeliveryResult::delivered(Some("sub_9:inc-42".into())).with_status(202)
    );
    let resolved = p
        .deliver(context(
            config(&sink),
            "incident.incident.resolved",
            incident("resolved"),
        ))
        .await;
    assert!(resolved.is_delivered(), "{resolved:?}");

    let requests = conforming(&sink, 2).await;
    let (trigger, resolve) = (requests[0].json(), requests[1].json());
    assert_eq!(requests[0].path, "/v2/enqueue");
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["routing_key"], KEY);
    assert_eq!(trigger["dedup_key"], "sub_9:inc-42");
    assert_eq!(
        trigger["payload"]["summary"],
        "Checkout API down (investigating)"
    );
    assert_eq!(trigger["payload"]["severity"], "error");
    assert_eq!(trigger["payload"]["source"], "checkout-api");
    assert_eq!(
        trigger["payload"]["custom_details"]["payload"]["incidentId"],
        "inc-42"
    );
    assert_eq!(
        trigger["links"][0]["href"],
        "https://status.example.com/i/42"
    );
    assert_eq!(resolve["event_action"], "resolve");
    assert_eq!(resolve["dedup_key"], trigger["dedup_key"]);
    assert!(resolve.get("payload").is_none());
}

#[tokio::test]
async fn updates_retrigger_or_acknowledge_as_configured() {
    let sink = HttpSink::start().await;
    let p = provider();
    let updated = |c| context(c, "incident.incident.updated", incident("identified"));
    assert!(p.deliver(updated(config(&sink))).await.is_delivered());
    let mut ack = config(&sink);
    ack.on_update = UpdateAction::Acknowledge;
    assert!(p.deliver(updated(ack)).await.is_delivered());
    let requests = conforming(&sink, 2).await;
    assert_eq!(requests[0].json()["event_action"], "trigger");
    assert_eq!(requests[1].json()["event_action"], "acknowledge");
}

#[tokio::test]
async fn maintenance_is_a_change_event_and_severity_is_mapped() {
    let sink = HttpSink::start().await;
    sink.push_response(
        ResponseSpec::status(202)
            .json(&json!({"status": "success", "message": "Change event processed"})),
    );
    let p = provider();
    let payload = json!({"maintenanceId": "m-1", "title": "DB upgrade"});
    let result = p
        .deliver(context(
            config(&sink),
            "maintenance.maintenance.created",
            payload,
        ))
        .await;
    assert!(result.is_delivered(), "{result:?}");
    let mut mapped = config(&sink);
    mapped
        .severity_map
        .insert("MAJOR".into(), Severity::Critical);
    mapped.summary_template =
        Some("{{ payload.title | upper }} on {{ payload.systemName }}".into());
    assert!(
        p.deliver(context(
            mapped,
            "incident.incident.created",
            incident("new")
        ))
        .await
        .is_delivered()
    );

    let requests = conforming(&sink, 2).await;
    assert_eq!(requests[0].path, "/v2/change/enqueue");
    assert_eq!(requests[0].json()["payload"]["summary"], "DB upgrade");
    let trigger = requests[1].json();
    assert_eq!(trigger["payload"]["severity"], "critical");
    assert_eq!(
        trigger["payload"]["summary"],
        "CHECKOUT API DOWN on checkout-api"
    );
}

#[tokio::test]
async fn long_summaries_are_cut_to_pagerdutys_limit() {
    let sink = HttpSink::start().await;
    let payload = json!({"incidentId": "inc-42", "title": "é".repeat(3000)});
    assert!(
        provider()
            .deliver(context(config(&sink), "incident.incident.created", payload))
            .await
            .is_delivered()
    );
    let summary = conforming(&sink, 1).await[0].json()["payload"]["summary"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(summary.chars().count(), 1024);
    assert!(summary.ends_with('…'));
}

#[tokio::test]
async fn answers_map_to_outcomes() {
    let sink = HttpSink::start().await;
    let body = json!({"status": "invalid event", "message": "Event object is invalid",
                      "errors": ["'payload.summary' is missing or blank"]});
    sink.push_response(ResponseSpec::status(400).json(&body));
    sink.push_response(ResponseSpec::status(429).header("retry-after", "7"));
    sink.push_response(ResponseSpec::status(500));
    let p = provider();
    let deliver = || {
        p.deliver(context(
            config(&sink),
            "incident.incident.created",
            incident("new"),
        ))
    };
    let refused = deliver().await;
    match &refused.outcome {
        Outcome::Permanent { error } => {
            assert!(error.contains("Event object is invalid"), "{error}");
            assert!(
                error.contains("'payload.summary' is missing or blank"),
                "{error}"
            );
        }
        other => panic!("expected permanent, got {other:?}"),
    }
    let limited = deliver().await.outcome;
    assert!(
        matches!(limited, Outcome::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(7)),
        "{limited:?}"
    );
    assert!(matches!(deliver().await.outcome, Outcome::Retryable { .. }));
    conforming(&sink, 3).await;
}

#[tokio::test]
async fn preview_masks_the_routing_key_and_sends_nothing() {
    let sink = HttpSink::start().await;
    let ctx = context(config(&sink), "incident.incident.created", incident("new"));
    let shown = provider().preview(ctx).await.expect("a preview");
    assert_eq!(shown.url, format!("{}/v2/enqueue", sink.url()));
    assert!(!shown.body.contains(KEY), "{}", shown.body);
    assert!(shown.body.contains("[REDACTED]"), "{}", shown.body);
    assert_eq!(sink.request_count(), 0);
}

#[tokio::test]
async fn bad_templates_and_urls_are_refused_with_paths() {
    let sink = HttpSink::start().await;
    let mut bad = config(&sink);
    bad.summary_template = Some("{{ payload.title ".into());
    bad.base_url = Some("ftp://example.com".into());
    let found = provider()
        .validate_config(switchyard_plugin_sdk::TestTarget::Config {
            config: bad,
            connection: NoConnection,
        })
        .await;
    let paths: Vec<&str> = found.iter().map(|d| d.json_path.as_str()).collect();
    assert_eq!(paths, ["/summaryTemplate", "/baseUrl"], "{found:?}");
}

#[tokio::test]
async fn a_summary_that_fails_to_render_is_permanent_and_names_its_field() {
    let sink = HttpSink::start().await;
    let mut c = config(&sink);
    c.summary_template = Some("{{ payload.missing | required }}".into());
    let result = provider()
        .deliver(context(c, "incident.incident.created", incident("new")))
        .await;
    match &result.outcome {
        Outcome::Permanent { error } => assert!(error.contains("/summaryTemplate"), "{error}"),
        other => panic!("expected permanent, got {other:?}"),
    }
    assert_eq!(sink.request_count(), 0);
}
