//! Field mappings through a real delivery: the provider reads the create metadata of the
//! project and issue type (every page) and sends each mapped value converted to its field's
//! type — number, option, user, components, labels merged with its own, a date, rich text as
//! ADF; a value that does not fit its field is a permanent error naming the mapping, and no
//! issue is created. Every request checked against Jira's official spec.

mod support;

use serde_json::{Value, json};
use support::{CREATED, config, conforming, context, issue_created, lines};
use switchyard_plugin_jira::{FieldMapping, JiraConfig};
use switchyard_plugin_sdk::testkit::{HttpSink, ResponseSpec};
use switchyard_plugin_sdk::{Outcome, Provider};

fn field(id: &str, name: &str, schema: Value, allowed: Value) -> Value {
    json!({"fieldId": id, "key": id, "name": name, "required": false, "operations": ["set"],
           "schema": schema, "allowedValues": allowed})
}

/// The create screen's fields over two pages (Jira pages create metadata by `total`).
fn metadata_pages(sink: &HttpSink) {
    let first = vec![
        field(
            "customfield_10010",
            "Impact score",
            json!({"type": "number", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:float", "customId": 10010}),
            json!([]),
        ),
        field(
            "customfield_10020",
            "Severity",
            json!({"type": "option", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:select", "customId": 10020}),
            json!([{"id": "10100", "value": "Critical"}, {"id": "10101", "value": "Minor"}]),
        ),
        field(
            "assignee",
            "Assignee",
            json!({"type": "user", "system": "assignee"}),
            json!([]),
        ),
    ];
    let second = vec![
        field(
            "components",
            "Components",
            json!({"type": "array", "items": "component", "system": "components"}),
            json!([{"id": "7", "name": "checkout"}, {"id": "8", "name": "search"}]),
        ),
        field(
            "labels",
            "Labels",
            json!({"type": "array", "items": "string", "system": "labels"}),
            json!([]),
        ),
        field(
            "duedate",
            "Due date",
            json!({"type": "date", "system": "duedate"}),
            json!([]),
        ),
        field(
            "customfield_10030",
            "Notes",
            json!({"type": "string", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textarea", "customId": 10030}),
            json!([]),
        ),
    ];
    sink.push_response(
        ResponseSpec::status(200)
            .json(&json!({"startAt": 0, "maxResults": 3, "total": 7, "fields": first})),
    );
    sink.push_response(
        ResponseSpec::status(200)
            .json(&json!({"startAt": 3, "maxResults": 4, "total": 7, "fields": second})),
    );
}

fn mapped(pairs: &[(&str, &str)]) -> JiraConfig {
    let mut c = config();
    c.labels = vec!["incident".into()];
    c.field_mappings = pairs
        .iter()
        .map(|(k, t)| FieldMapping {
            field_key: (*k).into(),
            template: (*t).into(),
        })
        .collect();
    c
}

#[tokio::test]
async fn mapped_values_are_converted_to_their_fields_types() {
    let sink = HttpSink::start().await;
    metadata_pages(&sink);
    sink.push_response(issue_created("OPS-12"));
    let c = mapped(&[
        (
            "customfield_10010",
            "{{ payload.systemIds | length * 1.5 }}",
        ),
        ("customfield_10020", "{{ payload.severity }}"),
        ("assignee", "5b10ac8d82e05b22cc7d4ef5"),
        ("components", "Checkout, search"),
        ("labels", "{{ payload.systemIds | tojson }}"),
        ("duedate", "2026-12-31"),
        (
            "customfield_10030",
            "Runbook: [open](https://wiki.example.com/rb)",
        ),
    ]);
    let result = provider_deliver(&sink, c).await;
    assert!(result.is_delivered(), "{result:?}");

    let requests = conforming(&sink, 3).await;
    assert_eq!(
        lines(&requests),
        [
            "GET /rest/api/3/issue/createmeta/OPS/issuetypes/10001",
            "GET /rest/api/3/issue/createmeta/OPS/issuetypes/10001",
            "POST /rest/api/3/issue",
        ]
    );
    assert_eq!(
        requests[0].query.as_deref(),
        Some("startAt=0&maxResults=50")
    );
    assert_eq!(
        requests[1].query.as_deref(),
        Some("startAt=3&maxResults=50")
    );
    let fields = &requests[2].json()["fields"];
    assert_eq!(fields["customfield_10010"], json!(3.0));
    assert_eq!(fields["customfield_10020"], json!({"id": "10100"}));
    assert_eq!(
        fields["assignee"],
        json!({"accountId": "5b10ac8d82e05b22cc7d4ef5"})
    );
    assert_eq!(fields["components"], json!([{"id": "7"}, {"id": "8"}]));
    assert_eq!(
        fields["labels"],
        json!(["incident", "sys-a", "sys-b", "switchyard-dlv_created"])
    );
    assert_eq!(fields["duedate"], "2026-12-31");
    assert_eq!(
        fields["customfield_10030"]["content"][0]["content"][1],
        json!({"type": "text", "text": "open",
               "marks": [{"type": "link", "attrs": {"href": "https://wiki.example.com/rb"}}]})
    );
}

async fn provider_deliver(sink: &HttpSink, c: JiraConfig) -> switchyard_plugin_sdk::DeliveryResult {
    support::provider()
        .deliver(context(sink, c, CREATED, 1, Vec::new()))
        .await
}

#[tokio::test]
async fn a_value_that_does_not_fit_its_field_creates_nothing() {
    let sink = HttpSink::start().await;
    metadata_pages(&sink);
    let c = mapped(&[
        ("customfield_10020", "{{ payload.severity }}"),
        ("customfield_10010", "{{ payload.title }}"),
    ]);
    let result = provider_deliver(&sink, c).await;
    let Outcome::Permanent { error } = &result.outcome else {
        panic!("{result:?}");
    };
    assert!(
        error.starts_with("/fieldMappings/1/template: field Impact score (customfield_10010)"),
        "{error}"
    );
    assert!(
        error.contains("\"Checkout API down\" is not a number"),
        "{error}"
    );
    let requests = conforming(&sink, 2).await;
    assert!(requests.iter().all(|r| r.method == "GET"), "{requests:?}");
}

#[tokio::test]
async fn an_option_jira_does_not_allow_and_a_field_not_on_the_screen_are_named() {
    let sink = HttpSink::start().await;
    metadata_pages(&sink);
    let mut payloadless = mapped(&[("customfield_10020", "Blocker")]);
    let result = provider_deliver(&sink, payloadless.clone()).await;
    assert!(
        matches!(&result.outcome, Outcome::Permanent { error }
            if error.contains("\"Blocker\" is not one of its allowed values (Critical, Minor)")),
        "{result:?}"
    );
    metadata_pages(&sink);
    payloadless.field_mappings[0].field_key = "customfield_99999".into();
    let result = provider_deliver(&sink, payloadless).await;
    assert!(
        matches!(&result.outcome, Outcome::Permanent { error }
            if error.starts_with("/fieldMappings/0/fieldKey: field customfield_99999 is not on the create screen")),
        "{result:?}"
    );
    conforming(&sink, 4).await;
}
