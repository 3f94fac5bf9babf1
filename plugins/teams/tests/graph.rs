//! The Graph provider called in-process against the SDK's `HttpSink` standing in for both
//! Microsoft Entra ID's token endpoint and Microsoft Graph: every Graph request checked
//! against Graph's official (Teams) spec, every token request against the OAuth 2.0
//! client-credentials form by hand (the token endpoint is not in the Graph spec). An
//! incident's created → resolved as a message and a reply; one token for many deliveries and
//! a new one after expiry (a manual clock, no sleeping); a 401 drops the token once; each
//! answer's outcome; the pickers across several pages; the connection test; the preview.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use switchyard_plugin_sdk::net_policy::NetworkPolicy;
use switchyard_plugin_sdk::proto::plugin::v1 as pb;
use switchyard_plugin_sdk::proto::plugin::v1::provider_plugin_server::ProviderPlugin;
use switchyard_plugin_sdk::service::ProviderService;
use switchyard_plugin_sdk::testkit::{HttpSink, RecordedRequest, ResponseSpec};
use switchyard_plugin_sdk::{
    CorrelatedDelivery, Correlation, DeliveryContext, DeliveryResult, Event, OptionsRequest,
    Outcome, Plugin, Provider, Secret, Subscription, TestTarget,
};
use switchyard_plugin_teams::token::{EXPIRY_MARGIN, ManualClock};
use switchyard_plugin_teams::{GraphConfig, GraphConnection, GraphProvider};
use switchyard_vendor_spec::Spec;

const WAIT: Duration = Duration::from_secs(20);
const TENANT: &str = "0d5f4a3e-1b2c-4d5e-8f90-a1b2c3d4e5f6";
const CLIENT: &str = "6e7f8a9b-0c1d-4e2f-9a3b-c4d5e6f7a8b9";
const SECRET: &str = "Xq8Q~client.secret-Value_0123456789abcdef";
const ACCESS: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.access-token-one";
const TEAM: &str = "a1b2c3d4-team-4d5e-8f90-0a1b2c3d4e5f";
const CHANNEL: &str = "19:0a1b2c3d4e5f@thread.tacv2";

fn connection(sink: &HttpSink) -> GraphConnection {
    GraphConnection {
        tenant_id: TENANT.into(),
        client_id: CLIENT.into(),
        client_secret: Secret::new(SECRET),
        authority_url: Some(sink.url()),
        graph_base_url: Some(format!("{}/v1.0", sink.url())),
        timeout_ms: 10_000,
    }
}

fn config() -> GraphConfig {
    GraphConfig {
        connection_id: "conn-1".into(),
        team_id: TEAM.into(),
        channel_id: CHANNEL.into(),
        title_template: None,
        text_template: None,
    }
}

fn context(
    sink: &HttpSink,
    event_type: &str,
    payload: Value,
    earlier: Vec<CorrelatedDelivery>,
) -> DeliveryContext<GraphConfig, GraphConnection> {
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
            name: "Ops channel".into(),
        },
        config: config(),
        connection: connection(sink),
        correlation: Some(Correlation {
            key: "inc-42".into(),
            earlier,
        }),
    }
}

fn incident(status: &str) -> Value {
    json!({"incidentId": "inc-42", "title": "Checkout API down", "status": status,
           "severity": "major", "description": "Payments fail", "systemIds": ["checkout-api"],
           "url": "https://status.example/inc-42"})
}

/// What the coordinator hands a later delivery after `result` of `event_type` succeeded.
fn earlier(event_type: &str, result: &DeliveryResult) -> CorrelatedDelivery {
    let Outcome::Delivered { external_id } = &result.outcome else {
        panic!("not delivered: {result:?}");
    };
    CorrelatedDelivery {
        event_type: event_type.into(),
        external_id: external_id.clone(),
        state: result.state.clone(),
        delivered: true,
        ended_at: chrono::DateTime::from_timestamp(1_767_000_060, 0).unwrap(),
        delivery_id: format!("dlv_{event_type}"),
    }
}

fn provider_on(clock: Arc<ManualClock>) -> GraphProvider {
    GraphProvider::with_policy(
        NetworkPolicy::parse("127.0.0.0/8").expect("a subnet"),
        clock,
    )
}

fn provider() -> GraphProvider {
    provider_on(Arc::new(ManualClock::default()))
}

fn token(access: &str, expires_in: u64) -> ResponseSpec {
    ResponseSpec::status(200).json(&json!({"token_type": "Bearer", "expires_in": expires_in,
                                           "ext_expires_in": expires_in, "access_token": access}))
}

fn created(id: &str) -> ResponseSpec {
    ResponseSpec::status(201).json(&json!({"id": id, "messageType": "message"}))
}

fn is_token_request(r: &RecordedRequest) -> bool {
    r.path.ends_with("/oauth2/v2.0/token")
}

/// A token request as OAuth 2.0 client credentials (RFC 6749 §4.4) and Entra ID's v2.0
/// endpoint want it: `POST /{tenant}/oauth2/v2.0/token`, a form body with exactly
/// `grant_type=client_credentials`, `client_id`, `client_secret` and `scope`, no bearer.
fn assert_token_request(sink: &HttpSink, r: &RecordedRequest) {
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, format!("/{TENANT}/oauth2/v2.0/token"));
    assert_eq!(r.query, None);
    assert_eq!(
        r.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(r.header("authorization"), None);
    let mut form: Vec<(String, String)> = url_form(&r.body);
    form.sort();
    let scope = format!("{}/.default", sink.url());
    let mut expected = vec![
        ("client_id".to_owned(), CLIENT.to_owned()),
        ("client_secret".to_owned(), SECRET.to_owned()),
        ("grant_type".to_owned(), "client_credentials".to_owned()),
        ("scope".to_owned(), scope),
    ];
    expected.sort();
    assert_eq!(form, expected);
}

fn url_form(body: &[u8]) -> Vec<(String, String)> {
    // The form decoder of a URL's query is the `application/x-www-form-urlencoded` one.
    let text = format!("http://form/?{}", String::from_utf8_lossy(body));
    reqwest::Url::parse(&text)
        .expect("a form body")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Checks every request (token requests by hand, Graph requests against the spec); returns
/// the Graph requests.
async fn conforming(sink: &HttpSink, n: usize) -> (Vec<RecordedRequest>, usize) {
    let requests = sink.wait_for_requests(n, WAIT).await;
    assert_eq!(requests.len(), n, "{requests:?}");
    let mut graph = Vec::new();
    let mut tokens = 0;
    for r in requests {
        if is_token_request(&r) {
            assert_token_request(sink, &r);
            tokens += 1;
            continue;
        }
        let mut checked = r.clone();
        // Graph pages with an opaque `$skiptoken` inside the `@odata.nextLink` it hands out;
        // the spec does not declare it, so it is left out of the spec check (the tests check
        // it against what the sink handed out).
        checked.query = r.query.as_deref().map(|q| {
            q.split('&')
                .filter(|p| !p.starts_with("$skiptoken=") && !p.starts_with("%24skiptoken="))
                .collect::<Vec<_>>()
                .join("&")
        });
        Spec::vendor("msgraph").assert_conforms(&checked);
        assert!(
            r.header("authorization")
                .is_some_and(|a| a.starts_with("Bearer "))
        );
        graph.push(r);
    }
    (graph, tokens)
}

/// The card a Graph message carries (its attachment's content is the card as JSON text).
fn card_of(body: &Value) -> Value {
    let attachment = &body["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let id = attachment["id"].as_str().unwrap();
    assert_eq!(
        body["body"],
        json!({"contentType": "html", "content": format!("<attachment id=\"{id}\"></attachment>")})
    );
    serde_json::from_str(attachment["content"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn an_incident_posts_a_message_and_its_resolution_replies_to_it() {
    let sink = HttpSink::start().await;
    sink.push_response(token(ACCESS, 3599));
    sink.push_response(created("1767000000001"));
    sink.push_response(created("1767000000002"));
    let p = provider();
    let opened = p
        .deliver(context(
            &sink,
            "incident.incident.created",
            incident("investigating"),
            vec![],
        ))
        .await;
    assert_eq!(
        opened.outcome,
        Outcome::Delivered {
            external_id: Some("1767000000001".into())
        }
    );
    let history = vec![earlier("incident.incident.created", &opened)];
    let resolved = p
        .deliver(context(
            &sink,
            "incident.incident.resolved",
            incident("resolved"),
            history,
        ))
        .await;
    assert_eq!(
        resolved.outcome,
        Outcome::Delivered {
            external_id: Some("1767000000002".into())
        }
    );
    let (graph, tokens) = conforming(&sink, 3).await;
    assert_eq!(tokens, 1);
    let messages = format!("/v1.0/teams/{TEAM}/channels/{CHANNEL}/messages");
    assert_eq!(graph[0].path, messages);
    assert_eq!(graph[1].path, format!("{messages}/1767000000001/replies"));
    assert_eq!(
        graph[0].header("authorization"),
        Some(format!("Bearer {ACCESS}").as_str())
    );
    let card = card_of(&graph[0].json());
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(
        card["body"][0]["items"][0]["text"],
        "Checkout API down (investigating)"
    );
    assert_eq!(card["body"][0]["style"], "attention");
    assert_eq!(card["body"][1]["text"], "Payments fail");
    assert_eq!(card["actions"][0]["url"], "https://status.example/inc-42");
    let reply = card_of(&graph[1].json());
    assert_eq!(reply["body"][0]["style"], "good");
    assert!(!reply.to_string().contains("Follows up"), "{reply}");
}

#[tokio::test]
async fn one_token_serves_many_deliveries_and_a_new_one_is_fetched_after_expiry() {
    let sink = HttpSink::start().await;
    sink.push_response(token(ACCESS, 3600));
    for i in 0..5 {
        sink.push_response(created(&format!("m{i}")));
    }
    sink.push_response(created("m5"));
    sink.push_response(token("eyJ.second-token", 3600));
    sink.push_response(created("m6"));
    let clock = Arc::new(ManualClock::default());
    let p = provider_on(clock.clone());
    let deliver = || {
        p.deliver(context(
            &sink,
            "incident.incident.created",
            incident("new"),
            vec![],
        ))
    };
    for _ in 0..5 {
        assert!(deliver().await.is_delivered());
    }
    assert_eq!(
        conforming(&sink, 6).await.1,
        1,
        "one token for five deliveries"
    );
    // Still used one second before the safety margin before expiry, not at it.
    clock.advance(Duration::from_secs(3600) - EXPIRY_MARGIN - Duration::from_secs(1));
    assert!(deliver().await.is_delivered());
    assert_eq!(conforming(&sink, 7).await.1, 1);
    clock.advance(Duration::from_secs(1));
    assert!(deliver().await.is_delivered());
    let (graph, tokens) = conforming(&sink, 9).await;
    assert_eq!(tokens, 2);
    assert_eq!(
        graph[5].header("authorization"),
        Some(format!("Bearer {ACCESS}").as_str())
    );
    assert_eq!(
        graph[6].header("authorization"),
        Some("Bearer eyJ.second-token")
    );
}

#[tokio::test]
async fn a_401_drops_the_token_once_and_an_application_only_refusal_is_explained() {
    let sink = HttpSink::start().await;
    let unauthorized = |message: &str| {
        ResponseSpec::status(401)
            .json(&json!({"error": {"code": "Unauthorized", "message": message}}))
    };
    sink.push_response(token(ACCESS, 3600));
    sink.push_response(unauthorized(
        "Access token has expired or is not yet valid.",
    ));
    sink.push_response(token("eyJ.fresh", 3600));
    sink.push_response(created("m1"));
    let p = provider();
    let ctx = || context(&sink, "incident.incident.created", incident("new"), vec![]);
    assert!(p.deliver(ctx()).await.is_delivered());
    let import = "Message POST is allowed in application-only context only for import purposes.";
    sink.push_response(unauthorized(import));
    sink.push_response(token("eyJ.third", 3600));
    sink.push_response(unauthorized(import));
    let refused = p.deliver(ctx()).await;
    assert!(
        matches!(&refused.outcome, Outcome::Permanent { error } if error.contains("HTTP 401")
            && error.contains("Workflows provider")),
        "{refused:?}"
    );
    let (graph, tokens) = conforming(&sink, 7).await;
    assert_eq!(
        tokens, 3,
        "a new token after each first 401, none after the second"
    );
    assert_eq!(graph[1].header("authorization"), Some("Bearer eyJ.fresh"));
}

#[tokio::test]
async fn answers_map_to_outcomes_with_hints() {
    let sink = HttpSink::start().await;
    let error = |status: u16, code: &str| {
        ResponseSpec::status(status).json(&json!({"error": {"code": code, "message": code}}))
    };
    sink.push_response(token(ACCESS, 3600));
    sink.push_response(error(403, "Forbidden"));
    sink.push_response(error(404, "NotFound"));
    sink.push_response(error(400, "BadRequest"));
    sink.push_response(error(429, "TooManyRequests").header("retry-after", "5"));
    sink.push_response(error(503, "ServiceUnavailable").header("retry-after", "2"));
    sink.push_response(error(500, "InternalServerError"));
    sink.push_response(ResponseSpec::status(504));
    let p = provider();
    let mut outcomes = Vec::new();
    for _ in 0..7 {
        let ctx = context(&sink, "incident.incident.created", incident("new"), vec![]);
        outcomes.push(p.deliver(ctx).await.outcome);
    }
    let permanent = |o: &Outcome, needle: &str| matches!(o, Outcome::Permanent { error } if error.contains(needle));
    assert!(
        permanent(&outcomes[0], "admin consent"),
        "{:?}",
        outcomes[0]
    );
    assert!(
        permanent(&outcomes[1], "pick the team and channel again"),
        "{:?}",
        outcomes[1]
    );
    assert!(permanent(&outcomes[2], "BadRequest"), "{:?}", outcomes[2]);
    assert!(
        matches!(outcomes[3], Outcome::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(5)),
        "{:?}",
        outcomes[3]
    );
    assert!(
        matches!(outcomes[4], Outcome::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(2)),
        "{:?}",
        outcomes[4]
    );
    assert!(
        matches!(outcomes[5], Outcome::Retryable { .. }),
        "{:?}",
        outcomes[5]
    );
    assert!(
        matches!(outcomes[6], Outcome::Retryable { .. }),
        "{:?}",
        outcomes[6]
    );
    assert_eq!(conforming(&sink, 8).await.1, 1);
}

#[tokio::test]
async fn a_refused_token_request_is_permanent_and_names_the_credentials() {
    let sink = HttpSink::start().await;
    sink.push_response(
        ResponseSpec::status(401).json(&json!({"error": "invalid_client",
        "error_description": "AADSTS7000215: Invalid client secret provided."})),
    );
    sink.push_response(ResponseSpec::status(200).json(&json!({"token_type": "Bearer"})));
    sink.push_response(ResponseSpec::status(429).header("retry-after", "9"));
    let p = provider();
    let ctx = || context(&sink, "incident.incident.created", incident("new"), vec![]);
    let invalid = p.deliver(ctx()).await.outcome;
    assert!(
        matches!(&invalid, Outcome::Permanent { error } if error.contains("AADSTS7000215")
            && error.contains("client secret")),
        "{invalid:?}"
    );
    let empty = p.deliver(ctx()).await.outcome;
    assert!(
        matches!(&empty, Outcome::Permanent { error } if error.contains("without an access_token")),
        "{empty:?}"
    );
    let limited = p.deliver(ctx()).await.outcome;
    assert!(
        matches!(limited, Outcome::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(9)),
        "{limited:?}"
    );
    assert_eq!(
        conforming(&sink, 3).await.1,
        3,
        "nothing was posted without a token"
    );
}

/// A Graph list page of `n` items from `first`, linking to `next` when given.
fn page(kind: &str, first: usize, n: usize, next: Option<String>) -> ResponseSpec {
    let items: Vec<Value> = (first..first + n)
        .map(|i| json!({"id": format!("{kind}-{i}"), "displayName": format!("{kind} {i}")}))
        .collect();
    let mut body = json!({"value": items});
    if let Some(next) = next {
        body["@odata.nextLink"] = json!(next);
    }
    ResponseSpec::status(200).json(&body)
}

fn options(resolver: &str, sink: &HttpSink, context: Value) -> OptionsRequest<GraphConnection> {
    OptionsRequest {
        resolver: resolver.into(),
        connection: connection(sink),
        context,
    }
}

#[tokio::test]
async fn the_team_and_channel_pickers_follow_next_links_to_the_last_page() {
    let sink = HttpSink::start().await;
    let base = format!("{}/v1.0", sink.url());
    let select = "$select=id,displayName,description";
    sink.push_response(token(ACCESS, 3600));
    sink.push_response(page(
        "team",
        0,
        100,
        Some(format!("{base}/teams?{select}&$skiptoken=p2")),
    ));
    sink.push_response(page(
        "team",
        100,
        100,
        Some(format!("{base}/teams?{select}&$skiptoken=p3")),
    ));
    sink.push_response(page("team", 200, 3, None));
    let p = provider();
    let teams = p
        .get_connection_options(options("teams", &sink, json!({})))
        .await
        .expect("teams");
    assert_eq!(teams.len(), 203);
    assert_eq!(
        (teams[202].value.as_str(), teams[202].label.as_str()),
        ("team-202", "team 202")
    );
    let channels_of = format!("{base}/teams/team-7/channels?$select=id,displayName,membershipType");
    sink.push_response(page(
        "channel",
        0,
        2,
        Some(format!("{channels_of}&$skiptoken=c2")),
    ));
    sink.push_response(page("channel", 2, 1, None));
    let channels = p
        .get_connection_options(options("channels", &sink, json!({"teamId": "team-7"})))
        .await
        .expect("channels");
    let ids: Vec<&str> = channels.iter().map(|c| c.value.as_str()).collect();
    assert_eq!(ids, ["channel-0", "channel-1", "channel-2"]);
    let (graph, tokens) = conforming(&sink, 6).await;
    assert_eq!(tokens, 1, "the pickers share the cached token");
    let queries: Vec<String> = graph.iter().map(|r| r.query.clone().unwrap()).collect();
    assert_eq!(queries[0], select);
    assert_eq!(queries[1], format!("{select}&$skiptoken=p2"));
    assert_eq!(queries[2], format!("{select}&$skiptoken=p3"));
    assert_eq!(graph[3].path, "/v1.0/teams/team-7/channels");
    assert_eq!(
        graph[4].query.as_deref(),
        Some("$select=id,displayName,membershipType&$skiptoken=c2")
    );
    let no_team = p
        .get_connection_options(options("channels", &sink, json!({})))
        .await
        .expect_err("a team is needed");
    assert_eq!(no_team[0].json_path, "/teamId");
}

#[tokio::test]
async fn a_next_link_to_another_host_is_not_followed_with_the_token() {
    let sink = HttpSink::start().await;
    sink.push_response(token(ACCESS, 3600));
    sink.push_response(page(
        "team",
        0,
        1,
        Some("http://127.0.0.2:9/v1.0/teams?$skiptoken=x".into()),
    ));
    let refused = provider()
        .get_connection_options(options("teams", &sink, json!({})))
        .await
        .expect_err("refused");
    assert_eq!(refused[0].json_path, "/teamId");
    assert!(refused[0].message.contains("another host"), "{refused:?}");
    conforming(&sink, 2).await;
}

#[tokio::test]
async fn the_connection_test_gets_a_token_and_lists_one_team() {
    let sink = HttpSink::start().await;
    sink.push_response(token(ACCESS, 3600));
    sink.push_response(page("team", 0, 1, None));
    let p = provider();
    let ok = p
        .test_connection(TestTarget::Connection(connection(&sink)))
        .await;
    assert!(ok.success, "{ok:?}");
    assert!(ok.message.contains("team 0"), "{ok:?}");
    let (graph, tokens) = conforming(&sink, 2).await;
    assert_eq!(tokens, 1);
    assert_eq!(graph[0].path, "/v1.0/teams");
    assert_eq!(
        graph[0].query.as_deref(),
        Some("$select=id,displayName&$top=1")
    );
    let broken = HttpSink::start().await;
    broken.push_response(
        ResponseSpec::status(400).json(&json!({"error": "invalid_request",
        "error_description": "AADSTS90002: Tenant not found."})),
    );
    let failed = p
        .test_connection(TestTarget::Connection(connection(&broken)))
        .await;
    assert!(
        !failed.success && failed.message.contains("AADSTS90002"),
        "{failed:?}"
    );
    conforming(&broken, 1).await;
}

#[tokio::test]
async fn preview_masks_the_token_and_bad_configs_are_refused_with_paths() {
    let sink = HttpSink::start().await;
    let origin = CorrelatedDelivery {
        event_type: "incident.incident.created".into(),
        external_id: Some("m-1".into()),
        state: Some(json!({"teamId": TEAM, "channelId": CHANNEL, "messageId": "m-1"}).to_string()),
        delivered: true,
        ended_at: chrono::DateTime::from_timestamp(1_767_000_060, 0).unwrap(),
        delivery_id: "dlv_0".into(),
    };
    let ctx = context(
        &sink,
        "incident.incident.resolved",
        incident("resolved"),
        vec![origin],
    );
    let shown = provider().preview(ctx).await.expect("a preview");
    assert!(
        shown.url.ends_with("/messages/m-1/replies"),
        "{}",
        shown.url
    );
    assert!(
        shown
            .headers
            .contains(&("authorization".into(), "Bearer [REDACTED]".into()))
    );
    assert!(!format!("{shown:?}").contains(SECRET));
    assert_eq!(sink.request_count(), 0, "a preview asks for no token");
    let mut bad = config();
    bad.title_template = Some("{{ oops".into());
    bad.text_template = Some("{% for %}".into());
    let found = provider()
        .validate_config(TestTarget::Config {
            config: bad,
            connection: connection(&sink),
        })
        .await;
    let paths: Vec<&str> = found.iter().map(|d| d.json_path.as_str()).collect();
    assert_eq!(paths, ["/titleTemplate", "/textTemplate"], "{found:?}");
    let mut bad = connection(&sink);
    bad.tenant_id = " ".into();
    bad.client_secret = Secret::new("");
    bad.graph_base_url = Some("graph.microsoft.com".into());
    let found = provider()
        .validate_config(TestTarget::Connection(bad))
        .await;
    let paths: Vec<&str> = found.iter().map(|d| d.json_path.as_str()).collect();
    assert_eq!(
        paths,
        ["/tenantId", "/clientSecret", "/graphBaseUrl"],
        "{found:?}"
    );
}

#[tokio::test]
async fn neither_the_access_token_nor_the_client_secret_comes_back_when_echoed() {
    // Graph echoing the request (with its bearer token) in an error.
    let tokens = HttpSink::start().await;
    tokens.push_response(token(ACCESS, 3600));
    let echo = HttpSink::start_echo(400).await;
    let mut ctx = context(
        &tokens,
        "incident.incident.created",
        incident("new"),
        vec![],
    );
    ctx.connection.graph_base_url = Some(format!("{}/v1.0", echo.url()));
    let result = provider().deliver(ctx).await;
    let text = format!("{result:?}");
    assert!(text.contains("you sent: POST /v1.0/teams/"), "{text}");
    assert!(
        !text.contains(ACCESS) && text.contains("Bearer [REDACTED]"),
        "{text}"
    );
    // The token endpoint echoing the form (with the client secret), through the SDK's service
    // as the coordinator calls the plugin.
    let plugin = Plugin::new("teams", "0")
        .provider(provider())
        .build()
        .expect("a plugin");
    let service = ProviderService::new(plugin, 1);
    let request = pb::DeliverRequest {
        provider_id: "graph".into(),
        event: Some(pb::Event {
            event_type: "incident.incident.created".into(),
            payload_json: incident("new").to_string(),
            delivery_id: "dlv_1".into(),
            attempt: 1,
            ..Default::default()
        }),
        subscription: Some(pb::Subscription::default()),
        config_json: serde_json::to_string(&config()).unwrap(),
        connection_json: serde_json::to_string(&connection(&echo)).unwrap(),
        correlation: None,
    };
    let answer = service
        .deliver(tonic::Request::new(request))
        .await
        .expect("an answer")
        .into_inner();
    assert_eq!(answer.outcome, pb::Outcome::Permanent as i32, "{answer:?}");
    assert!(
        answer.error.contains("the token request failed"),
        "{answer:?}"
    );
    assert!(!format!("{answer:?}").contains(SECRET), "{answer:?}");
}

#[tokio::test]
async fn concurrent_deliveries_wait_for_one_token_request() {
    let sink = HttpSink::start().await;
    // The first request to arrive is the only token request; the posts get the sink's
    // default `200 {"id": …}`.
    sink.push_response(token(ACCESS, 3600));
    let p = provider();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let (p, ctx) = (
            p.clone(),
            context(&sink, "incident.incident.created", incident("new"), vec![]),
        );
        tasks.spawn(async move { p.deliver(ctx).await });
    }
    while let Some(result) = tasks.join_next().await {
        assert!(result.expect("a delivery").is_delivered());
    }
    let (graph, tokens) = conforming(&sink, 13).await;
    assert_eq!(
        tokens, 1,
        "one token request for twelve concurrent deliveries"
    );
    assert_eq!(graph.len(), 12);
}

#[tokio::test]
async fn a_follow_up_whose_thread_is_elsewhere_is_a_new_message_saying_what_it_follows() {
    let sink = HttpSink::start().await;
    sink.push_response(token(ACCESS, 3600));
    sink.push_response(created("m-new"));
    let origin = CorrelatedDelivery {
        event_type: "incident.incident.created".into(),
        external_id: Some("m-old".into()),
        // Posted to another channel before the subscription was changed.
        state: Some(
            json!({"teamId": TEAM, "channelId": "19:old@thread.tacv2",
                           "messageId": "m-old"})
            .to_string(),
        ),
        delivered: true,
        ended_at: chrono::DateTime::from_timestamp(1_767_000_060, 0).unwrap(),
        delivery_id: "dlv_0".into(),
    };
    let ctx = context(
        &sink,
        "incident.incident.updated",
        incident("identified"),
        vec![origin],
    );
    let result = provider().deliver(ctx).await;
    assert!(result.is_delivered(), "{result:?}");
    let state: Value = serde_json::from_str(result.state.as_deref().unwrap()).unwrap();
    assert_eq!(
        state,
        json!({"teamId": TEAM, "channelId": CHANNEL, "messageId": "m-new"})
    );
    let (graph, _) = conforming(&sink, 2).await;
    assert_eq!(
        graph[0].path,
        format!("/v1.0/teams/{TEAM}/channels/{CHANNEL}/messages")
    );
    let card = card_of(&graph[0].json());
    let note = card["body"].as_array().unwrap().last().unwrap()["text"].clone();
    assert_eq!(
        note,
        "Follows up on incident.incident.created of 2025-12-29 09:21 UTC"
    );
}
