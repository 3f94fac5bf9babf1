//! What the Jira plugin's in-process tests share: a connection and a config aimed at an
//! `HttpSink` standing in for a Jira Cloud site, delivery contexts with or without an earlier
//! delivery of the incident, Jira's usual answers, and the check of every recorded request
//! against Jira's official spec (with the connection's basic auth) and of every ADF document in
//! it against ADF's structure rules.

#![allow(dead_code, reason = "each test file uses a part of the kit")]

pub mod adf_rules;

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use switchyard_plugin_jira::{JiraConfig, JiraConnection, JiraProvider};
use switchyard_plugin_sdk::net_policy::NetworkPolicy;
use switchyard_plugin_sdk::testkit::{HttpSink, RecordedRequest, ResponseSpec};
use switchyard_plugin_sdk::{
    CorrelatedDelivery, Correlation, DeliveryContext, Event, Secret, Subscription,
};
use switchyard_vendor_spec::Spec;

pub const WAIT: Duration = Duration::from_secs(20);
pub const EMAIL: &str = "bot@example.com";
pub const TOKEN: &str = "ATATT3xFfGF0-jira-api-token-9c1e";
pub const CREATED: &str = "incident.incident.created";
pub const UPDATED: &str = "incident.incident.updated";
pub const RESOLVED: &str = "incident.incident.resolved";

pub fn connection(sink: &HttpSink) -> JiraConnection {
    JiraConnection {
        base_url: sink.url(),
        email: EMAIL.into(),
        api_token: Secret::new(TOKEN),
    }
}

pub fn config() -> JiraConfig {
    JiraConfig {
        connection_id: "conn_1".into(),
        project_key: "OPS".into(),
        issue_type_id: "10001".into(),
        priority_id: None,
        summary_template: None,
        description_template: None,
        comment_template: None,
        field_mappings: Vec::new(),
        labels: Vec::new(),
        resolve_transition: None,
        timeout_ms: 10_000,
    }
}

pub fn provider() -> JiraProvider {
    JiraProvider::with_policy(NetworkPolicy::parse("127.0.0.0/8").expect("a subnet"))
}

pub fn incident(status: &str) -> Value {
    json!({"incidentId": "inc-42", "title": "Checkout API down", "status": status,
           "severity": "critical", "systemIds": ["sys-a", "sys-b"]})
}

/// A delivery of `event_type` (attempt `attempt`) for incident `inc-42`, after `earlier`.
pub fn context(
    sink: &HttpSink,
    config: JiraConfig,
    event_type: &str,
    attempt: u32,
    earlier: Vec<CorrelatedDelivery>,
) -> DeliveryContext<JiraConfig, JiraConnection> {
    let status = match event_type {
        RESOLVED => "resolved",
        UPDATED => "identified",
        _ => "investigating",
    };
    DeliveryContext {
        event: Event {
            event_type: event_type.into(),
            payload: incident(status),
            timestamp: chrono::DateTime::from_timestamp(1_767_000_000, 0).expect("a time"),
            delivery_id: format!("dlv_{}", event_type.rsplit('.').next().unwrap_or("x")),
            attempt,
            event_id: format!("evt_{event_type}"),
        },
        subscription: Subscription {
            id: "sub_9".into(),
            name: "Ops".into(),
        },
        config,
        connection: connection(sink),
        correlation: Some(Correlation {
            key: "inc-42".into(),
            earlier,
        }),
    }
}

/// The incident's "created", delivered as issue `key`.
pub fn created_earlier(key: &str) -> Vec<CorrelatedDelivery> {
    vec![CorrelatedDelivery {
        event_type: CREATED.into(),
        external_id: Some(key.into()),
        state: Some(json!({"issueKey": key}).to_string()),
        delivered: true,
        ended_at: chrono::DateTime::from_timestamp(1_767_000_000, 0).expect("a time"),
        delivery_id: "dlv_created".into(),
    }]
}

/// Jira's 201 to a create.
pub fn issue_created(key: &str) -> ResponseSpec {
    ResponseSpec::status(201).json(&json!({
        "id": "10042", "key": key, "self": format!("https://x.atlassian.net/rest/api/3/issue/{key}")
    }))
}

/// Jira's 201 to a comment.
pub fn comment_added() -> ResponseSpec {
    ResponseSpec::status(201).json(&json!({"id": "10100", "body": {"type": "doc", "version": 1}}))
}

/// The `Authorization` header of the test connection.
pub fn basic_auth() -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}:{TOKEN}"));
    format!("Basic {encoded}")
}

/// The first `n` requests the sink got, each checked against Jira's official spec and
/// carrying the connection's basic auth.
pub async fn conforming(sink: &HttpSink, n: usize) -> Vec<RecordedRequest> {
    let requests = sink.wait_for_requests(n, WAIT).await;
    assert_eq!(requests.len(), n, "{requests:#?}");
    for r in &requests {
        Spec::vendor("jira").assert_conforms(r);
        assert_eq!(r.header("authorization"), Some(basic_auth().as_str()));
        // The spec leaves rich text untyped: check every ADF document against ADF's rules.
        each_doc(&r.json(), &mut adf_rules::assert_valid);
    }
    requests
}

/// Calls `f` on every ADF document (`{"type": "doc", …}`) inside `value`.
pub fn each_doc(value: &Value, f: &mut impl FnMut(&Value)) {
    match value {
        Value::Object(map) if map.get("type") == Some(&json!("doc")) => f(value),
        Value::Object(map) => map.values().for_each(|v| each_doc(v, f)),
        Value::Array(items) => items.iter().for_each(|v| each_doc(v, f)),
        _ => {}
    }
}

/// `METHOD path` of each request.
pub fn lines(requests: &[RecordedRequest]) -> Vec<String> {
    requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}
