//! The Opsgenie provider called in-process against the SDK's `HttpSink` standing in for the
//! Alert API: every request checked against Opsgenie's official spec, an incident's lifecycle
//! on one alias (create → note → close), and each answer's outcome.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_plugin_opsgenie::{OpsgenieConfig, OpsgenieProvider, Priority, Region};
use switchyard_plugin_sdk::net_policy::NetworkPolicy;
use switchyard_plugin_sdk::testkit::{HttpSink, RecordedRequest, ResponseSpec};
use switchyard_plugin_sdk::{
    Correlation, DeliveryContext, Event, NoConnection, Outcome, Provider, Secret, Subscription,
    TestTarget,
};
use switchyard_vendor_spec::Spec;

const WAIT: Duration = Duration::from_secs(20);
const KEY: &str = "eb243592-faa2-4ba2-a551q-1afdf565c889";

fn config(sink: &HttpSink) -> OpsgenieConfig {
    OpsgenieConfig {
        api_key: Secret::new(KEY),
        region: Region::Us,
        base_url: Some(sink.url()),
        priority_map: Default::default(),
        default_priority: Priority::P3,
        team: None,
        tags: vec!["switchyard".into()],
        message_template: None,
        timeout_ms: 10_000,
    }
}

fn context(
    config: OpsgenieConfig,
    event_type: &str,
    payload: Value,
) -> DeliveryContext<OpsgenieConfig, NoConnection> {
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
            key: "inc/42".into(),
            earlier: Vec::new(),
        }),
    }
}

fn provider() -> OpsgenieProvider {
    OpsgenieProvider::with_policy(NetworkPolicy::parse("127.0.0.0/8").expect("a subnet"))
}

fn accepted(id: &str) -> ResponseSpec {
    ResponseSpec::status(202)
        .json(&json!({"result": "Request will be processed", "took": 0.2, "requestId": id}))
}

async fn conforming(sink: &HttpSink, n: usize) -> Vec<RecordedRequest> {
    let requests = sink.wait_for_requests(n, WAIT).await;
    assert_eq!(requests.len(), n, "{requests:?}");
    for r in &requests {
        Spec::vendor("opsgenie").assert_conforms(r);
        assert_eq!(
            r.header("authorization"),
            Some(format!("GenieKey {KEY}").as_str())
        );
    }
    requests
}

fn incident(status: &str) -> Value {
    json!({"incidentId": "inc/42", "title": "Checkout API down", "status": status,
           "severity": "critical", "systemName": "checkout-api", "systemIds": ["a", "b"]})
}

#[tokio::test]
async fn an_incident_creates_notes_and_closes_one_alert() {
    let sink = HttpSink::start().await;
    for id in ["r-1", "r-2", "r-3"] {
        sink.push_response(accepted(id));
    }
    let p = provider();
    let created = p
        .deliver(context(
            config(&sink),
            "incident.incident.created",
            incident("investigating"),
        ))
        .await;
    assert_eq!(
        created.outcome,
        Outcome::Delivered {
            external_id: Some("r-1".into())
        }
    );
    for (t, s) in [
        ("incident.incident.updated", "identified"),
        ("incident.incident.resolved", "resolved"),
    ] {
        assert!(
            p.deliver(context(config(&sink), t, incident(s)))
                .await
                .is_delivered()
        );
    }
    let requests = conforming(&sink, 3).await;
    let create = requests[0].json();
    assert_eq!(requests[0].path, "/v2/alerts");
    assert_eq!(create["alias"], "sub_9:inc/42");
    assert_eq!(create["message"], "Checkout API down (investigating)");
    assert_eq!(create["priority"], "P1");
    assert_eq!(create["entity"], "checkout-api");
    assert_eq!(create["details"]["systemIds"], r#"["a","b"]"#);
    // The alias holds a `/`: it is one encoded path segment.
    assert_eq!(requests[1].path, "/v2/alerts/sub_9:inc%2F42/notes");
    assert_eq!(requests[1].query.as_deref(), Some("identifierType=alias"));
    assert!(
        requests[1].json()["note"]
            .as_str()
            .unwrap()
            .contains("Checkout API down")
    );
    assert_eq!(requests[2].path, "/v2/alerts/sub_9:inc%2F42/close");
}

#[tokio::test]
async fn messages_are_cut_and_priorities_and_teams_configurable() {
    let sink = HttpSink::start().await;
    let mut c = config(&sink);
    c.priority_map.insert("CRITICAL".into(), Priority::P2);
    c.team = Some("SRE".into());
    c.message_template = Some("{{ payload.title }} {{ 'x' * 200 }}".into());
    assert!(
        provider()
            .deliver(context(c, "incident.incident.created", incident("new")))
            .await
            .is_delivered()
    );
    let body = conforming(&sink, 1).await[0].json();
    assert_eq!(body["priority"], "P2");
    assert_eq!(body["responders"], json!([{"type": "team", "name": "SRE"}]));
    assert_eq!(body["message"].as_str().unwrap().chars().count(), 130);
}

#[tokio::test]
async fn answers_map_to_outcomes() {
    let sink = HttpSink::start().await;
    sink.push_response(
        ResponseSpec::status(422)
            .json(&json!({"message": "Message can not be empty.", "took": 0.0})),
    );
    sink.push_response(ResponseSpec::status(429).header("retry-after", "3"));
    sink.push_response(ResponseSpec::status(503));
    sink.push_response(
        ResponseSpec::status(401).json(&json!({"message": "Could not authenticate"})),
    );
    let p = provider();
    let deliver = || {
        p.deliver(context(
            config(&sink),
            "incident.incident.created",
            incident("new"),
        ))
    };
    let invalid = deliver().await.outcome;
    assert!(
        matches!(&invalid, Outcome::Permanent { error } if error.contains("Message can not be empty")),
        "{invalid:?}"
    );
    let limited = deliver().await.outcome;
    assert!(
        matches!(limited, Outcome::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(3)),
        "{limited:?}"
    );
    assert!(matches!(
        deliver().await.outcome,
        Outcome::RateLimited { .. } | Outcome::Retryable { .. }
    ));
    assert!(matches!(deliver().await.outcome, Outcome::Permanent { .. }));
    conforming(&sink, 4).await;
}

#[tokio::test]
async fn preview_masks_the_key_and_bad_configs_are_refused_with_paths() {
    let sink = HttpSink::start().await;
    let shown = provider()
        .preview(context(
            config(&sink),
            "incident.incident.resolved",
            incident("resolved"),
        ))
        .await
        .expect("a preview");
    assert!(
        shown
            .url
            .ends_with("/v2/alerts/sub_9:inc%2F42/close?identifierType=alias"),
        "{}",
        shown.url
    );
    assert!(!format!("{shown:?}").contains(KEY));
    assert_eq!(sink.request_count(), 0);
    let mut bad = config(&sink);
    bad.message_template = Some("{% if %}".into());
    bad.base_url = Some("file:///etc".into());
    let found = provider()
        .validate_config(TestTarget::Config {
            config: bad,
            connection: NoConnection,
        })
        .await;
    let paths: Vec<&str> = found.iter().map(|d| d.json_path.as_str()).collect();
    assert_eq!(paths, ["/messageTemplate", "/baseUrl"], "{found:?}");
}
