//! The Jira plugin end to end: a real `switchyard serve` hosting the real plugin binary, a
//! saved connection and a subscription pointed at a local server standing in for a Jira Cloud
//! site. One incident created → updated → resolved becomes one issue, one comment, then a
//! comment and a transition (each request valid under Jira's official spec); a create that
//! times out after Jira made the issue is retried by the engine, which finds the issue and
//! creates no second one; the project
//! resolver and TestConnection go through the host with the saved connection. The API token
//! is in no API answer, no preview, no log line and no file of the data dir — also when the
//! site echoes the request (and its basic auth) back in an error.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use switchyard::cli::client::Clients;
use switchyard_e2e::coordinator::{
    Coordinator, CoordinatorOptions, assert_not_in_data_dir, attempts, create_subscription,
    register_correlated, wait_final,
};
use switchyard_plugin_sdk::testkit::{HttpSink, RecordedRequest, ResponseSpec};
use switchyard_proto::coordinator::v1 as api;
use switchyard_vendor_spec::Spec;

const CREATED: &str = "incident.incident.created";
const UPDATED: &str = "incident.incident.updated";
const RESOLVED: &str = "incident.incident.resolved";
const PROVIDER: &str = "jira.jira";
const EMAIL: &str = "bot@example.com";
const TOKEN: &str = "ATATT3xFfGF0e2eJIRAtoken0c0ffee77";
const WAIT: Duration = Duration::from_secs(30);

fn options() -> CoordinatorOptions {
    CoordinatorOptions {
        extra_plugins: vec![("switchyard-plugin-jira".into(), Vec::new())],
        ..CoordinatorOptions::default()
    }
}

/// Every form of the token a leak could take: itself and the basic-auth credentials.
fn secret_forms() -> [String; 2] {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}:{TOKEN}"));
    [TOKEN.to_owned(), basic]
}

fn assert_hidden(what: &str, text: &str) {
    for form in secret_forms() {
        assert!(
            !text.contains(&form),
            "the API token leaked in {what}: {text}"
        );
    }
}

async fn save_connection(c: &mut Clients, base_url: &str) -> api::Connection {
    let created = c
        .connections
        .create_connection(api::CreateConnectionRequest {
            provider_id: PROVIDER.into(),
            name: "Jira (ops)".into(),
            config_json: json!({"baseUrl": base_url, "email": EMAIL, "apiToken": TOKEN})
                .to_string(),
        })
        .await
        .expect("create the connection")
        .into_inner();
    assert_hidden("CreateConnection", &format!("{created:?}"));
    created.connection.expect("a connection")
}

async fn subscribe(c: &mut Clients, connection: &str, timeout_ms: u32) -> api::Subscription {
    let config = json!({
        "connectionId": connection, "projectKey": "OPS", "issueTypeId": "10001",
        "descriptionTemplate": "**{{ payload.title }}** is {{ payload.status }}",
        "resolveTransition": "Done", "timeoutMs": timeout_ms
    });
    let sub = create_subscription(
        c,
        api::Subscription {
            name: "tickets".into(),
            provider_id: PROVIDER.into(),
            config_json: config.to_string(),
            event_types: vec!["incident.*".into()],
            enabled: true,
            ..Default::default()
        },
    )
    .await;
    assert_hidden("CreateSubscription", &format!("{sub:?}"));
    sub
}

async fn publish(c: &mut Clients, event_type: &str, status: &str) -> api::Delivery {
    let payload = json!({"incidentId": "inc-7", "title": "Checkout down", "status": status});
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

fn script_the_issue(sink: &HttpSink) {
    let transitions =
        json!({"transitions": [{"id": "21", "name": "In Progress"}, {"id": "31", "name": "Done"}]});
    for response in [
        ResponseSpec::status(201).json(&json!({"id": "10001", "key": "OPS-1", "self": "x"})),
        ResponseSpec::status(201).json(&json!({"id": "100"})),
        ResponseSpec::status(201).json(&json!({"id": "101"})),
        ResponseSpec::status(200).json(&transitions),
        ResponseSpec::status(204),
    ] {
        sink.push_response(response);
    }
}

fn assert_issue_comment_transition(requests: &[RecordedRequest]) {
    let lines: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        lines,
        [
            "POST /rest/api/3/issue",
            "POST /rest/api/3/issue/OPS-1/comment",
            "POST /rest/api/3/issue/OPS-1/comment",
            "GET /rest/api/3/issue/OPS-1/transitions",
            "POST /rest/api/3/issue/OPS-1/transitions",
        ]
    );
    for r in requests {
        Spec::vendor("jira").assert_conforms(r);
        assert_eq!(
            r.header("authorization"),
            Some(format!("Basic {}", secret_forms()[1]).as_str())
        );
    }
    let description = &requests[0].json()["fields"]["description"];
    assert_eq!(
        description["content"][0]["content"][0]["marks"][0]["type"],
        "strong"
    );
    assert_eq!(requests[4].json(), json!({"transition": {"id": "31"}}));
}

#[tokio::test]
async fn an_incident_becomes_one_jira_issue_commented_then_transitioned() {
    let coord = Coordinator::start(options()).await;
    let mut c = coord.clients().await;
    register_correlated(&mut c, &[CREATED, UPDATED, RESOLVED], "/incidentId").await;
    let sink = HttpSink::start().await;
    script_the_issue(&sink);
    let conn = save_connection(&mut c, &sink.url()).await;
    let sub = subscribe(&mut c, &conn.id, 5000).await;

    let mut deliveries = Vec::new();
    for (event_type, status) in [
        (CREATED, "investigating"),
        (UPDATED, "identified"),
        (RESOLVED, "resolved"),
    ] {
        let d = publish(&mut c, event_type, status).await;
        deliveries.push(d);
    }
    for d in &deliveries {
        let done = wait_final(&mut c, &d.id).await;
        assert_eq!(done.status(), api::DeliveryStatus::Succeeded, "{done:?}");
        let last = attempts(&mut c, &d.id).await.pop().expect("an attempt");
        assert_eq!(last.external_id, "OPS-1");
    }
    assert_issue_comment_transition(&sink.wait_for_requests(5, WAIT).await);

    resolver_and_test_through_the_host(&mut c, &sink, &conn.id).await;
    let (ok, stdout, stderr) = coord.cli(&[
        "subscriptions",
        "preview",
        &sub.id,
        "--event-type",
        CREATED,
        "--payload",
        r#"{"incidentId":"inc-8","title":"Search down"}"#,
    ]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("/rest/api/3/issue") && stdout.contains("[REDACTED]"),
        "{stdout}"
    );
    assert_hidden("the preview", &stdout);
    assert_eq!(sink.request_count(), 8, "the preview sent something");
    for form in secret_forms() {
        assert_not_in_data_dir(&coord, &form);
    }
    assert_hidden("the coordinator's log", &coord.stderr());
}

/// The project resolver (two pages) and TestConnection, with the saved connection.
async fn resolver_and_test_through_the_host(c: &mut Clients, sink: &HttpSink, connection: &str) {
    let page = |values: Value, last: bool| {
        ResponseSpec::status(200)
            .json(&json!({"startAt": 0, "maxResults": 1, "isLast": last, "values": values}))
    };
    sink.push_response(page(
        json!([{"id": "1", "key": "OPS", "name": "Operations"}]),
        false,
    ));
    sink.push_response(page(
        json!([{"id": "2", "key": "WEB", "name": "Web"}]),
        true,
    ));
    sink.push_response(
        ResponseSpec::status(200).json(&json!({"accountId": "a1", "displayName": "Bot"})),
    );
    let options = c
        .connections
        .get_connection_options(api::GetConnectionOptionsRequest {
            provider_id: PROVIDER.into(),
            connection_id: connection.into(),
            resolver_name: "projectOptions".into(),
            context_json: "{}".into(),
        })
        .await
        .expect("project options")
        .into_inner();
    let values: Vec<&str> = options.options.iter().map(|o| o.value.as_str()).collect();
    assert_eq!(values, ["OPS", "WEB"], "{options:?}");
    let verdict = c
        .connections
        .test_connection(api::TestConnectionRequest {
            provider_id: PROVIDER.into(),
            kind: api::ConfigKind::Connection.into(),
            config_json: String::new(),
            connection_id: connection.into(),
        })
        .await
        .expect("test the connection")
        .into_inner();
    assert!(
        verdict.success && verdict.message.contains("as Bot"),
        "{verdict:?}"
    );
    let requests = sink.wait_for_requests(8, WAIT).await;
    for r in &requests[5..] {
        Spec::vendor("jira").assert_conforms(r);
    }
    assert_eq!(requests[7].path, "/rest/api/3/myself");
}

#[tokio::test]
async fn a_site_echoing_the_credentials_back_leaks_nothing() {
    let coord = Coordinator::start(options()).await;
    let mut c = coord.clients().await;
    register_correlated(&mut c, &[CREATED], "/incidentId").await;
    let echo = HttpSink::start_echo(400).await;
    let conn = save_connection(&mut c, &echo.url()).await;
    subscribe(&mut c, &conn.id, 5000).await;
    let d = publish(&mut c, CREATED, "investigating").await;
    let done = wait_final(&mut c, &d.id).await;
    assert_eq!(done.status(), api::DeliveryStatus::Failed, "{done:?}");
    let tried = attempts(&mut c, &d.id).await;
    assert_eq!(tried.len(), 1, "a 400 is permanent: {tried:?}");
    assert!(tried[0].error.contains("HTTP 400"), "{tried:?}");
    assert!(tried[0].response_excerpt.contains("you sent"), "{tried:?}");
    let received = echo.wait_for_requests(1, WAIT).await;
    assert_eq!(
        received[0].header("authorization"),
        Some(format!("Basic {}", secret_forms()[1]).as_str()),
        "the site did get the credentials"
    );
    assert_hidden("the attempt", &format!("{tried:?} {done:?}"));
    assert_hidden("the coordinator's log", &coord.stderr());
    for form in secret_forms() {
        assert_not_in_data_dir(&coord, &form);
    }
}

#[tokio::test]
async fn a_create_retried_after_a_timeout_finds_the_issue_and_creates_no_other() {
    let coord = Coordinator::start(options()).await;
    let mut c = coord.clients().await;
    register_correlated(&mut c, &[CREATED], "/incidentId").await;
    let sink = HttpSink::start().await;
    // Jira makes the issue but answers long after the plugin stopped waiting (1 s).
    let made = ResponseSpec::status(201).json(&json!({"id": "10005", "key": "OPS-5", "self": "x"}));
    sink.push_response(made.delay(Duration::from_secs(120)));
    sink.push_response(
        ResponseSpec::status(200).json(&json!({"issues": [{"id": "10005", "key": "OPS-5"}]})),
    );
    let conn = save_connection(&mut c, &sink.url()).await;
    subscribe(&mut c, &conn.id, 1000).await;
    let d = publish(&mut c, CREATED, "investigating").await;
    let done = wait_final(&mut c, &d.id).await;
    assert_eq!(done.status(), api::DeliveryStatus::Succeeded, "{done:?}");
    let tried = attempts(&mut c, &d.id).await;
    assert_eq!(tried.len(), 2, "{tried:?}");
    assert!(tried[0].error.contains("timed out"), "{tried:?}");
    assert_eq!(tried[1].external_id, "OPS-5");
    let requests = sink.wait_for_requests(2, WAIT).await;
    let lines: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        lines,
        ["POST /rest/api/3/issue", "POST /rest/api/3/search/jql"]
    );
    for r in &requests {
        Spec::vendor("jira").assert_conforms(r);
    }
    let label = requests[0].json()["fields"]["labels"][0].clone();
    let jql = requests[1].json()["jql"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        jql.contains(&format!("labels = {label}")),
        "{jql} / {label}"
    );
}
