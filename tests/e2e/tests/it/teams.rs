//! The Teams plugin end to end: a real `switchyard serve` hosting the real plugin binary, and
//! one incident created → resolved to two subscriptions. Graph: a connection pointed at a local
//! server standing in for both Entra ID's token endpoint and Microsoft Graph; through the
//! coordinator's API the team picker follows `@odata.nextLink`, the channel picker lists the
//! picked team's channels and the connection test passes; then the server sees a channel
//! message and a reply to it — one token request for all of it (Graph requests valid under
//! Graph's official spec, the token request under the client-credentials form). Workflows: a
//! second local server sees two cards, the second saying what it follows. The previews show
//! the cards with the secrets masked; the client secret and the workflow's signature are in
//! no API answer, log line or file.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard::cli::client::Clients;
use switchyard_e2e::coordinator::{
    Coordinator, CoordinatorOptions, assert_not_in_data_dir, create_subscription,
    register_correlated, wait_final,
};
use switchyard_plugin_sdk::testkit::{HttpSink, ResponseSpec};
use switchyard_proto::coordinator::v1 as api;
use switchyard_vendor_spec::Spec;

const CREATED: &str = "incident.incident.created";
const RESOLVED: &str = "incident.incident.resolved";
const SECRET: &str = "e2e~Gr4ph.Client-Secret_0123456789abcdef";
const SIG: &str = "e2eW0rkfl0wSignature_abcdef0123456789";
const TENANT: &str = "0d5f4a3e-1b2c-4d5e-8f90-a1b2c3d4e5f6";
const TEAM: &str = "team-e2e";
const CHANNEL: &str = "19:e2e@thread.tacv2";

async fn publish(c: &mut Clients, event_type: &str, status: &str) -> Vec<api::Delivery> {
    let payload = json!({"incidentId": "inc-5", "title": "Checkout down", "status": status,
                         "severity": "major", "url": "https://status.example/inc-5"});
    let r = c
        .events
        .publish_event(api::PublishEventRequest {
            event_type: event_type.into(),
            payload_json: payload.to_string(),
            ..Default::default()
        })
        .await
        .expect("publish")
        .into_inner();
    assert_eq!(r.deliveries.len(), 2, "{r:?}");
    r.deliveries
}

async fn graph_connection(c: &mut Clients, sink: &HttpSink) -> String {
    let config = json!({"tenantId": TENANT, "clientId": "app-e2e", "clientSecret": SECRET,
                        "authorityUrl": sink.url(), "graphBaseUrl": format!("{}/v1.0", sink.url())});
    let created = c
        .connections
        .create_connection(api::CreateConnectionRequest {
            provider_id: "teams.graph".into(),
            name: "Graph app".into(),
            config_json: config.to_string(),
        })
        .await
        .expect("create the connection")
        .into_inner();
    assert!(!format!("{created:?}").contains(SECRET), "{created:?}");
    created.connection.expect("a connection").id
}

fn subscription(name: &str, provider: &str, config: Value) -> api::Subscription {
    api::Subscription {
        name: name.into(),
        provider_id: provider.into(),
        config_json: config.to_string(),
        event_types: vec!["incident.*".into()],
        enabled: true,
        ..Default::default()
    }
}

/// The card of a Graph message (its attachment carries the card as JSON text).
fn graph_card(body: &Value) -> Value {
    serde_json::from_str(body["attachments"][0]["content"].as_str().unwrap()).unwrap()
}

fn preview(coord: &Coordinator, sub: &str) -> String {
    let (ok, stdout, stderr) = coord.cli(&[
        "subscriptions",
        "preview",
        sub,
        "--event-type",
        CREATED,
        "--payload",
        r#"{"incidentId":"inc-5","title":"Checkout down"}"#,
    ]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("AdaptiveCard") && stdout.contains("[REDACTED]"),
        "{stdout}"
    );
    stdout
}

/// The options a resolver of the Graph connection `id` offers, through the coordinator.
async fn options(c: &mut Clients, id: &str, resolver: &str, context: Value) -> Vec<String> {
    let answer = c
        .connections
        .get_connection_options(api::GetConnectionOptionsRequest {
            provider_id: "teams.graph".into(),
            connection_id: id.into(),
            resolver_name: resolver.into(),
            context_json: context.to_string(),
        })
        .await
        .expect("options")
        .into_inner();
    answer.options.into_iter().map(|o| o.value).collect()
}

/// The team picker (two pages joined by `@odata.nextLink`), the channel picker (for the
/// team picked) and the connection test, through the coordinator's API: one token serves
/// them all. Leaves five requests on the sink.
async fn pickers_and_test(c: &mut Clients, graph: &HttpSink, id: &str) {
    let item = |kind: &str, i: u32| json!({"id": format!("{kind}-{i}"), "displayName": kind});
    let next = format!(
        "{}/v1.0/teams?$select=id,displayName,description&$skiptoken=t2",
        graph.url()
    );
    graph.push_response(ResponseSpec::status(200).json(&json!({
        "token_type": "Bearer", "expires_in": 3599, "access_token": "eyJ.e2e-access"})));
    let pages = [
        json!({"value": [item("team", 1)], "@odata.nextLink": next}),
        json!({"value": [item("team", 2)]}),
        json!({"value": [item("channel", 1)]}),
        json!({"value": [item("team", 1)]}),
    ];
    for page in pages {
        graph.push_response(ResponseSpec::status(200).json(&page));
    }
    assert_eq!(
        options(c, id, "teams", json!({})).await,
        ["team-1", "team-2"]
    );
    let channels = options(c, id, "channels", json!({"teamId": TEAM})).await;
    assert_eq!(channels, ["channel-1"]);
    let tested = c
        .connections
        .test_connection(api::TestConnectionRequest {
            provider_id: "teams.graph".into(),
            kind: api::ConfigKind::Connection.into(),
            config_json: String::new(),
            connection_id: id.into(),
        })
        .await
        .expect("a connection test")
        .into_inner();
    assert!(tested.success, "{tested:?}");
}

/// The Graph server saw one token request (for the pickers, the test and both deliveries),
/// the lists, a channel message and a reply to it; returns the messages path.
async fn graph_thread_seen(graph: &HttpSink) -> String {
    let requests = graph.wait_for_requests(7, Duration::from_secs(30)).await;
    assert_eq!(requests.len(), 7, "{requests:?}");
    assert_eq!(requests[0].path, format!("/{TENANT}/oauth2/v2.0/token"));
    // The token endpoint is not in the Graph spec: the OAuth 2.0 client-credentials form.
    assert_eq!(
        requests[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let mut form: Vec<String> = String::from_utf8_lossy(&requests[0].body)
        .split('&')
        .map(|p| p.split('=').next().unwrap_or("").to_owned())
        .collect();
    form.sort();
    assert_eq!(form, ["client_id", "client_secret", "grant_type", "scope"]);
    assert!(String::from_utf8_lossy(&requests[0].body).contains("grant_type=client_credentials"));
    let messages = format!("/v1.0/teams/{TEAM}/channels/{CHANNEL}/messages");
    assert_eq!(requests[5].path, messages);
    assert_eq!(
        requests[6].path,
        format!("{messages}/1767000000001/replies")
    );
    assert_eq!(
        requests[2]
            .query
            .as_deref()
            .map(|q| q.ends_with("&$skiptoken=t2")),
        Some(true)
    );
    for r in &requests[1..] {
        // Graph's opaque `$skiptoken` (from its nextLink) is not in its spec; the rest is.
        let mut checked = r.clone();
        checked.query = r.query.as_ref().map(|q| q.replace("&$skiptoken=t2", ""));
        Spec::vendor("msgraph").assert_conforms(&checked);
        assert_eq!(r.header("authorization"), Some("Bearer eyJ.e2e-access"));
    }
    assert_eq!(
        graph_card(&requests[5].json())["body"][0]["style"],
        "attention"
    );
    assert_eq!(graph_card(&requests[6].json())["body"][0]["style"], "good");
    messages
}

/// The workflow saw two cards, the second saying what it follows.
async fn workflow_cards_seen(workflow: &HttpSink) {
    let cards = workflow.wait_for_requests(2, Duration::from_secs(30)).await;
    assert_eq!(cards.len(), 2);
    for card in &cards {
        assert_eq!(card.json()["type"], "message");
        assert_eq!(
            card.json()["attachments"][0]["content"]["type"],
            "AdaptiveCard"
        );
    }
    assert!(
        cards[1]
            .json()
            .to_string()
            .contains("Follows up on incident.incident.created")
    );
}

#[tokio::test]
async fn an_incident_becomes_a_graph_thread_and_two_workflow_cards() {
    let coord = Coordinator::start(CoordinatorOptions {
        extra_plugins: vec![("switchyard-plugin-teams".into(), Vec::new())],
        ..CoordinatorOptions::default()
    })
    .await;
    let mut c = coord.clients().await;
    register_correlated(&mut c, &[CREATED, RESOLVED], "/incidentId").await;
    let graph = HttpSink::start().await;
    let workflow = HttpSink::start().await;
    let connection = graph_connection(&mut c, &graph).await;
    pickers_and_test(&mut c, &graph, &connection).await;
    for id in ["1767000000001", "1767000000002"] {
        graph.push_response(ResponseSpec::status(201).json(&json!({"id": id})));
    }
    let graph_sub = create_subscription(
        &mut c,
        subscription(
            "ops-channel",
            "teams.graph",
            json!({"connectionId": connection, "teamId": TEAM, "channelId": CHANNEL}),
        ),
    )
    .await;
    let hook = format!(
        "{}/workflows/e2e/triggers/manual/paths/invoke?api-version=1&sig={SIG}",
        workflow.url()
    );
    let workflow_sub = create_subscription(
        &mut c,
        subscription("ops-flow", "teams.workflow", json!({"webhookUrl": hook})),
    )
    .await;
    assert!(
        !format!("{workflow_sub:?}").contains(SIG),
        "{workflow_sub:?}"
    );

    let mut deliveries = publish(&mut c, CREATED, "investigating").await;
    deliveries.extend(publish(&mut c, RESOLVED, "resolved").await);
    for d in &deliveries {
        let done = wait_final(&mut c, &d.id).await;
        assert_eq!(done.status(), api::DeliveryStatus::Succeeded, "{done:?}");
    }

    let messages = graph_thread_seen(&graph).await;
    workflow_cards_seen(&workflow).await;

    let shown = preview(&coord, &graph_sub.id);
    assert!(shown.contains(&messages), "{shown}");
    let shown = preview(&coord, &workflow_sub.id);
    assert!(
        !shown.contains(SIG) && !shown.contains("/workflows/e2e"),
        "{shown}"
    );
    assert_eq!(
        graph.request_count() + workflow.request_count(),
        9,
        "a preview sent something"
    );
    for secret in [SECRET, SIG] {
        assert_not_in_data_dir(&coord, secret);
        assert!(!coord.stderr().contains(secret), "a secret in the log");
    }
}
