//! The Jira provider's configuration calls against an `HttpSink` standing in for the site,
//! every request checked against Jira's official spec: each resolver reads every page (page
//! beans by `isLast`, create metadata by `total`), issue types leave sub-tasks out, fields
//! mark the required ones; TestConnection asks `GET /rest/api/3/myself` (and, for a config,
//! whether its project can create its issue type); ValidateConfig names
//! each problem's path; Preview masks the credentials and sends nothing.

mod support;

use serde_json::{Value, json};
use support::{CREATED, TOKEN, UPDATED, config, conforming, connection, context, created_earlier};
use switchyard_plugin_jira::{FieldMapping, JiraConnection, resolver};
use switchyard_plugin_sdk::testkit::{HttpSink, ResponseSpec};
use switchyard_plugin_sdk::{
    ConnectionOption, Diagnostic, OptionsRequest, Provider, REDACTED, Secret, TestTarget,
};

async fn options(
    sink: &HttpSink,
    name: &str,
    context: Value,
) -> Result<Vec<ConnectionOption>, Vec<Diagnostic>> {
    support::provider()
        .get_connection_options(OptionsRequest {
            resolver: name.into(),
            connection: connection(sink),
            context,
        })
        .await
}

fn pairs(options: &[ConnectionOption]) -> Vec<(String, String)> {
    options
        .iter()
        .map(|o| (o.value.clone(), o.label.clone()))
        .collect()
}

fn page_bean(values: Value, start: usize, last: bool) -> ResponseSpec {
    ResponseSpec::status(200).json(&json!({
        "startAt": start, "maxResults": 2, "total": 5, "isLast": last, "values": values
    }))
}

fn queries(requests: &[switchyard_plugin_sdk::testkit::RecordedRequest]) -> Vec<String> {
    requests
        .iter()
        .map(|r| r.query.clone().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn projects_are_read_to_the_last_page() {
    let sink = HttpSink::start().await;
    let project = |key: &str, name: &str| json!({"id": "1", "key": key, "name": name});
    sink.push_response(page_bean(
        json!([project("OPS", "Operations"), project("WEB", "Web")]),
        0,
        false,
    ));
    sink.push_response(page_bean(
        json!([project("DB", "Databases"), project("NET", "Network")]),
        2,
        false,
    ));
    sink.push_response(page_bean(json!([project("SEC", "Security")]), 4, true));
    let found = options(&sink, resolver::PROJECTS, json!({}))
        .await
        .expect("projects");
    assert_eq!(
        pairs(&found),
        [
            ("OPS".into(), "Operations (OPS)".into()),
            ("WEB".into(), "Web (WEB)".into()),
            ("DB".into(), "Databases (DB)".into()),
            ("NET".into(), "Network (NET)".into()),
            ("SEC".into(), "Security (SEC)".into()),
        ]
    );
    let requests = conforming(&sink, 3).await;
    assert!(
        requests
            .iter()
            .all(|r| r.path == "/rest/api/3/project/search")
    );
    assert_eq!(
        queries(&requests),
        [
            "startAt=0&maxResults=50",
            "startAt=2&maxResults=50",
            "startAt=4&maxResults=50"
        ]
    );
}

#[tokio::test]
async fn priorities_come_from_priority_search_every_page() {
    let sink = HttpSink::start().await;
    sink.push_response(page_bean(
        json!([{"id": "1", "name": "Highest"}, {"id": "2", "name": "High"}]),
        0,
        false,
    ));
    sink.push_response(page_bean(json!([{"id": "3", "name": "Medium"}]), 2, true));
    let found = options(&sink, resolver::PRIORITIES, json!({}))
        .await
        .expect("priorities");
    assert_eq!(
        pairs(&found),
        [
            ("1".into(), "Highest".into()),
            ("2".into(), "High".into()),
            ("3".into(), "Medium".into())
        ]
    );
    let requests = conforming(&sink, 2).await;
    assert!(
        requests
            .iter()
            .all(|r| r.path == "/rest/api/3/priority/search")
    );
}

#[tokio::test]
async fn issue_types_depend_on_the_project_and_leave_sub_tasks_out() {
    let sink = HttpSink::start().await;
    let none = options(&sink, resolver::ISSUE_TYPES, json!({}))
        .await
        .expect("no project");
    assert!(none.is_empty());
    assert_eq!(sink.request_count(), 0);
    let kind =
        |id: &str, name: &str, subtask: bool| json!({"id": id, "name": name, "subtask": subtask});
    sink.push_response(ResponseSpec::status(200).json(&json!({
        "startAt": 0, "maxResults": 2, "total": 3,
        "issueTypes": [kind("10001", "Bug", false), kind("10003", "Sub-task", true)]
    })));
    sink.push_response(ResponseSpec::status(200).json(&json!({
        "startAt": 2, "maxResults": 2, "total": 3, "issueTypes": [kind("10002", "Incident", false)]
    })));
    let found = options(&sink, resolver::ISSUE_TYPES, json!({"projectKey": "OPS"}))
        .await
        .expect("issue types");
    assert_eq!(
        pairs(&found),
        [
            ("10001".into(), "Bug".into()),
            ("10002".into(), "Incident".into())
        ]
    );
    let requests = conforming(&sink, 2).await;
    assert!(
        requests
            .iter()
            .all(|r| r.path == "/rest/api/3/issue/createmeta/OPS/issuetypes")
    );
    assert_eq!(queries(&requests)[1], "startAt=2&maxResults=50");
}

#[tokio::test]
async fn fields_mark_the_required_ones_and_leave_out_what_the_provider_sets() {
    let sink = HttpSink::start().await;
    let f = |id: &str, name: &str, required: bool, schema: Value| {
        json!({"fieldId": id, "key": id, "name": name, "required": required,
               "operations": ["set"], "schema": schema})
    };
    sink.push_response(ResponseSpec::status(200).json(&json!({
        "startAt": 0, "maxResults": 2, "total": 4, "fields": [
            f("project", "Project", true, json!({"type": "project", "system": "project"})),
            f("summary", "Summary", true, json!({"type": "string", "system": "summary"}))
        ]
    })));
    sink.push_response(ResponseSpec::status(200).json(&json!({
        "startAt": 2, "maxResults": 2, "total": 4, "fields": [
            f("customfield_10010", "Team", true, json!({"type": "option", "custom": "x:select"})),
            f("labels", "Labels", false, json!({"type": "array", "items": "string", "system": "labels"}))
        ]
    })));
    let found = options(
        &sink,
        resolver::FIELDS,
        json!({"projectKey": "OPS", "issueTypeId": "10001"}),
    )
    .await
    .expect("fields");
    assert_eq!(
        pairs(&found),
        [
            ("summary".into(), "Summary *".into()),
            ("customfield_10010".into(), "Team *".into()),
            ("labels".into(), "Labels".into()),
        ]
    );
    assert_eq!(found[2].description.as_deref(), Some("array of string"));
    conforming(&sink, 2).await;
}

#[tokio::test]
async fn a_resolver_jira_refuses_says_why() {
    let sink = HttpSink::start().await;
    sink.push_response(ResponseSpec::status(404).json(&json!({
        "errorMessages": ["No project could be found with key 'NOPE'."], "errors": {}
    })));
    let found = options(&sink, resolver::ISSUE_TYPES, json!({"projectKey": "NOPE"})).await;
    let problems = found.expect_err("a failure");
    assert!(
        problems[0]
            .message
            .contains("No project could be found with key 'NOPE'."),
        "{problems:?}"
    );
    conforming(&sink, 1).await;
}

#[tokio::test]
async fn test_connection_asks_who_the_token_belongs_to() {
    let sink = HttpSink::start().await;
    sink.push_response(ResponseSpec::status(200).json(&json!({
        "accountId": "5b10a2844c20165700ede21g", "displayName": "Switchyard Bot", "active": true
    })));
    sink.push_response(
        ResponseSpec::status(401).body("Client must be authenticated to access this resource."),
    );
    let p = support::provider();
    let ok = p
        .test_connection(TestTarget::Connection(connection(&sink)))
        .await;
    assert!(ok.success, "{ok:?}");
    assert!(ok.message.contains("as Switchyard Bot"), "{ok:?}");
    let refused = p
        .test_connection(TestTarget::Connection(connection(&sink)))
        .await;
    assert!(!refused.success);
    assert!(refused.message.contains("API token"), "{refused:?}");
    let requests = conforming(&sink, 2).await;
    assert!(
        requests
            .iter()
            .all(|r| r.method == "GET" && r.path == "/rest/api/3/myself")
    );
}

#[tokio::test]
async fn validation_names_each_problem_by_its_path() {
    let p = support::provider();
    let mut c = config();
    c.summary_template = Some("{% if %}".into());
    c.field_mappings = vec![
        FieldMapping {
            field_key: "summary".into(),
            template: "x".into(),
        },
        FieldMapping {
            field_key: "labels".into(),
            template: "{{ payload.a }}".into(),
        },
        FieldMapping {
            field_key: "labels".into(),
            template: "{{ unclosed".into(),
        },
    ];
    let sink = HttpSink::start().await;
    let found = p
        .validate_config(TestTarget::Config {
            config: c,
            connection: connection(&sink),
        })
        .await;
    let paths: Vec<&str> = found.iter().map(|d| d.json_path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/summaryTemplate",
            "/fieldMappings/0/fieldKey",
            "/fieldMappings/2/fieldKey",
            "/fieldMappings/2/template"
        ],
        "{found:?}"
    );
    let bad = JiraConnection {
        base_url: "ftp://jira.example.com".into(),
        email: "bot".into(),
        api_token: Secret::new(" "),
    };
    let found = p.validate_config(TestTarget::Connection(bad)).await;
    let paths: Vec<&str> = found.iter().map(|d| d.json_path.as_str()).collect();
    assert_eq!(paths, ["/baseUrl", "/email", "/apiToken"], "{found:?}");
}

#[tokio::test]
async fn preview_masks_the_credentials_and_sends_nothing() {
    let sink = HttpSink::start().await;
    let p = support::provider();
    let create = p
        .preview(context(&sink, config(), CREATED, 1, Vec::new()))
        .await
        .expect("a preview");
    assert_eq!(create.url, format!("{}/rest/api/3/issue", sink.url()));
    assert!(
        create
            .headers
            .contains(&("authorization".into(), format!("Basic {REDACTED}"))),
        "{create:?}"
    );
    let body: Value = serde_json::from_str(&create.body).expect("JSON");
    assert_eq!(
        body["fields"]["summary"],
        "Checkout API down (investigating)"
    );
    let comment = p
        .preview(context(
            &sink,
            config(),
            UPDATED,
            1,
            created_earlier("OPS-7"),
        ))
        .await
        .expect("a preview");
    assert!(
        comment.url.ends_with("/rest/api/3/issue/OPS-7/comment"),
        "{comment:?}"
    );
    for shown in [&create, &comment] {
        assert!(!format!("{shown:?}").contains(TOKEN));
    }
    assert_eq!(sink.request_count(), 0);
}

#[tokio::test]
async fn testing_a_config_checks_its_project_and_issue_type() {
    let sink = HttpSink::start().await;
    let me = json!({"accountId": "a1", "displayName": "Switchyard Bot"});
    let types = json!({"startAt": 0, "maxResults": 50, "total": 2, "issueTypes": [
        {"id": "10001", "name": "Bug", "subtask": false},
        {"id": "10003", "name": "Sub-task", "subtask": true}
    ]});
    for _ in 0..2 {
        sink.push_response(ResponseSpec::status(200).json(&me));
        sink.push_response(ResponseSpec::status(200).json(&types));
    }
    let p = support::provider();
    let test = |config| {
        p.test_connection(TestTarget::Config {
            config,
            connection: connection(&sink),
        })
    };
    let ok = test(config()).await;
    assert!(ok.success, "{ok:?}");
    assert!(
        ok.message.ends_with("project OPS can create Bug issues"),
        "{ok:?}"
    );
    let mut sub_task = config();
    sub_task.issue_type_id = "10003".into();
    let refused = test(sub_task).await;
    assert!(!refused.success, "{refused:?}");
    assert!(
        refused
            .message
            .ends_with("project OPS has no issue type 10003 (it has: Bug (10001))"),
        "{refused:?}"
    );
    let requests = conforming(&sink, 4).await;
    assert_eq!(
        requests[1].path,
        "/rest/api/3/issue/createmeta/OPS/issuetypes"
    );
}

#[tokio::test]
async fn a_preview_with_mapped_fields_reads_the_create_metadata_and_writes_nothing() {
    let sink = HttpSink::start().await;
    sink.push_response(ResponseSpec::status(200).json(&json!({
        "startAt": 0, "maxResults": 50, "total": 1, "fields": [{
            "fieldId": "customfield_10010", "key": "customfield_10010", "name": "Impact",
            "required": false, "operations": ["set"], "schema": {"type": "number"}
        }]
    })));
    let mut c = config();
    c.field_mappings = vec![FieldMapping {
        field_key: "customfield_10010".into(),
        template: "{{ payload.systemIds | length }}".into(),
    }];
    let shown = support::provider()
        .preview(context(&sink, c, CREATED, 1, Vec::new()))
        .await
        .expect("a preview");
    let body: Value = serde_json::from_str(&shown.body).expect("JSON");
    assert_eq!(body["fields"]["customfield_10010"], json!(2));
    let requests = conforming(&sink, 1).await;
    assert_eq!(requests[0].method, "GET");
}
