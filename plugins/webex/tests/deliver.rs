//! The Webex provider called in-process against the SDK's `HttpSink` standing in for the
//! Webex API: every request checked against Webex's official Messaging spec; an incident's
//! created → resolved as a message and a reply in its thread; each answer's outcome; long
//! messages cut; the room picker across several `Link`-paged pages; the connection test; the
//! preview with the token masked; bad configs refused with their paths.

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
use switchyard_plugin_webex::{MARKDOWN_LIMIT, WebexConfig, WebexConnection, WebexProvider};
use switchyard_vendor_spec::Spec;

const WAIT: Duration = Duration::from_secs(20);
const TOKEN: &str = "ZjBhYmVlLWJvdC10b2tlbi0xMjM0NTY3ODkw_P0A1_org";
const ROOM: &str = "Y2lzY29zcGFyazovL3VzL1JPT00vcm9vbS0x";

fn connection(sink: &HttpSink) -> WebexConnection {
    WebexConnection {
        bot_token: Secret::new(TOKEN),
        base_url: Some(format!("{}/v1", sink.url())),
        timeout_ms: 10_000,
    }
}

fn config() -> WebexConfig {
    WebexConfig {
        connection_id: "conn-1".into(),
        room_id: ROOM.into(),
        markdown_template: None,
    }
}

fn context(
    sink: &HttpSink,
    event_type: &str,
    payload: Value,
    earlier: Vec<CorrelatedDelivery>,
) -> DeliveryContext<WebexConfig, WebexConnection> {
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
            name: "Ops room".into(),
        },
        config: config(),
        connection: connection(sink),
        correlation: Some(Correlation {
            key: "inc-42".into(),
            earlier,
        }),
    }
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

fn provider() -> WebexProvider {
    WebexProvider::with_policy(NetworkPolicy::parse("127.0.0.0/8").expect("a subnet"))
}

fn incident(status: &str) -> Value {
    json!({"incidentId": "inc-42", "title": "Checkout API down", "status": status,
           "severity": "critical", "systemIds": ["checkout-api"],
           "createdAt": "2026-12-02T17:30:00Z", "url": "https://status.example/inc-42"})
}

fn created_message(id: &str) -> ResponseSpec {
    ResponseSpec::status(200).json(&json!({"id": id, "roomId": ROOM, "roomType": "group"}))
}

/// Checks every request against the spec and the bot token; returns them.
async fn conforming(sink: &HttpSink, n: usize) -> Vec<RecordedRequest> {
    let requests = sink.wait_for_requests(n, WAIT).await;
    assert_eq!(requests.len(), n, "{requests:?}");
    for r in &requests {
        conforms(r);
    }
    requests
}

fn conforms(r: &RecordedRequest) {
    let mut checked = r.clone();
    // Webex pages with an opaque `cursor` inside the `Link` URL it hands out; its spec does
    // not declare that parameter, so it is checked here (against what the sink handed out)
    // and the rest of the request against the spec.
    checked.query = r.query.as_deref().map(|q| {
        q.split('&')
            .filter(|p| !p.starts_with("cursor="))
            .collect::<Vec<_>>()
            .join("&")
    });
    Spec::vendor("webex").assert_conforms(&checked);
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
}

#[tokio::test]
async fn an_incident_posts_a_message_and_its_resolution_replies_in_the_thread() {
    let sink = HttpSink::start().await;
    sink.push_response(created_message("MSG-1"));
    sink.push_response(created_message("MSG-2"));
    let p = provider();
    let created = p
        .deliver(context(
            &sink,
            "incident.incident.created",
            incident("investigating"),
            vec![],
        ))
        .await;
    assert_eq!(
        created.outcome,
        Outcome::Delivered {
            external_id: Some("MSG-1".into())
        }
    );
    let history = vec![earlier("incident.incident.created", &created)];
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
            external_id: Some("MSG-2".into())
        }
    );
    assert_eq!(resolved.state, None, "a reply opens no thread");
    let requests = conforming(&sink, 2).await;
    assert_eq!(requests[0].path, "/v1/messages");
    let first = requests[0].json();
    assert_eq!(first["roomId"], ROOM);
    assert!(first.get("parentId").is_none(), "{first}");
    let markdown = first["markdown"].as_str().unwrap();
    assert!(
        markdown.starts_with("🔴 **Checkout API down \\(investigating\\)**"),
        "{markdown}"
    );
    assert!(
        markdown.contains("**Systems:** checkout\\-api"),
        "{markdown}"
    );
    assert!(
        markdown.contains("(https://status.example/inc-42)"),
        "{markdown}"
    );
    assert!(
        first["text"]
            .as_str()
            .unwrap()
            .starts_with("Checkout API down")
    );
    let second = requests[1].json();
    assert_eq!(second["parentId"], "MSG-1");
    let reply = second["markdown"].as_str().unwrap();
    assert!(
        reply.starts_with("✅ **Checkout API down \\(resolved\\)**"),
        "{reply}"
    );
    assert!(
        !reply.contains("Follows up"),
        "a reply in the thread needs no note: {reply}"
    );
}

#[tokio::test]
async fn without_a_known_thread_a_follow_up_is_a_new_message_that_says_what_it_follows() {
    let sink = HttpSink::start().await;
    let mut origin = CorrelatedDelivery {
        event_type: "incident.incident.created".into(),
        external_id: Some("MSG-0".into()),
        // Posted to another room before the subscription was changed.
        state: Some(json!({"roomId": "other-room", "messageId": "MSG-0"}).to_string()),
        delivered: true,
        ended_at: chrono::DateTime::from_timestamp(1_767_000_060, 0).unwrap(),
        delivery_id: "dlv_0".into(),
    };
    let p = provider();
    let ctx = context(
        &sink,
        "incident.incident.updated",
        incident("identified"),
        vec![origin.clone()],
    );
    let result = p.deliver(ctx).await;
    assert!(result.is_delivered(), "{result:?}");
    assert!(
        result.state.is_some(),
        "a new message opens a thread of its own"
    );
    origin.state = None;
    let ctx = context(
        &sink,
        "incident.incident.updated",
        incident("x"),
        vec![origin],
    );
    assert!(p.deliver(ctx).await.is_delivered());
    for r in conforming(&sink, 2).await {
        let body = r.json();
        assert!(body.get("parentId").is_none(), "{body}");
        let markdown = body["markdown"].as_str().unwrap();
        assert!(
            markdown.contains(
                "_Follows up on incident\\.incident\\.created of 2025\\-12\\-29 09:21 UTC_"
            ),
            "{markdown}"
        );
    }
}

#[tokio::test]
async fn answers_map_to_outcomes_with_hints() {
    let sink = HttpSink::start().await;
    let message = |text: &str| json!({"message": text, "trackingId": "ROUTER_1"});
    sink.push_response(
        ResponseSpec::status(401).json(&message("The request requires a valid access token")),
    );
    sink.push_response(ResponseSpec::status(403).json(&message("Forbidden")));
    sink.push_response(ResponseSpec::status(404).json(&message("Could not find a room")));
    sink.push_response(ResponseSpec::status(400).json(&message("Message is too long")));
    sink.push_response(ResponseSpec::status(429).header("retry-after", "7"));
    sink.push_response(
        ResponseSpec::status(429).header("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"),
    );
    sink.push_response(ResponseSpec::status(502));
    sink.push_response(ResponseSpec::status(500).json(&message("Internal error")));
    let p = provider();
    let mut outcomes = Vec::new();
    for _ in 0..8 {
        let ctx = context(&sink, "incident.incident.created", incident("new"), vec![]);
        outcomes.push(p.deliver(ctx).await.outcome);
    }
    let permanent = |o: &Outcome, needle: &str| matches!(o, Outcome::Permanent { error } if error.contains(needle));
    assert!(
        permanent(&outcomes[0], "bot token is wrong"),
        "{:?}",
        outcomes[0]
    );
    assert!(
        permanent(&outcomes[1], "still a member"),
        "{:?}",
        outcomes[1]
    );
    assert!(
        permanent(&outcomes[2], "add the bot to the room"),
        "{:?}",
        outcomes[2]
    );
    assert!(
        permanent(&outcomes[3], "Message is too long"),
        "{:?}",
        outcomes[3]
    );
    assert_eq!(
        outcomes[4],
        Outcome::RateLimited {
            error: "HTTP 429 Too Many Requests".into(),
            retry_after: Duration::from_secs(7)
        }
    );
    // An HTTP-date in the past: go again at once.
    assert!(
        matches!(outcomes[5], Outcome::RateLimited { retry_after, .. } if retry_after == Duration::ZERO),
        "{:?}",
        outcomes[5]
    );
    assert!(
        matches!(outcomes[6], Outcome::Retryable { .. }),
        "{:?}",
        outcomes[6]
    );
    assert!(
        matches!(outcomes[7], Outcome::Retryable { .. }),
        "{:?}",
        outcomes[7]
    );
    conforming(&sink, 8).await;
}

#[tokio::test]
async fn an_unreachable_api_is_retryable() {
    let closed = HttpSink::start().await;
    let ctx = context(
        &closed,
        "incident.incident.created",
        incident("new"),
        vec![],
    );
    drop(closed);
    let result = provider().deliver(ctx).await;
    assert!(
        matches!(result.outcome, Outcome::Retryable { .. }),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_api_echoing_the_request_never_gets_the_token_out_of_the_plugin() {
    let echo = HttpSink::start_echo(400).await;
    // Through the SDK's gRPC service, as the coordinator calls the plugin: it scrubs the
    // call's secrets out of the answer.
    let plugin = Plugin::new("webex", "0")
        .provider(provider())
        .build()
        .expect("a plugin");
    let service = ProviderService::new(plugin, 1);
    let request = pb::DeliverRequest {
        provider_id: "webex".into(),
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
        answer.error.contains("you sent: POST /v1/messages"),
        "{answer:?}"
    );
    assert!(answer.error.contains("[REDACTED]"), "{answer:?}");
    assert!(!format!("{answer:?}").contains(TOKEN), "{answer:?}");
}

#[tokio::test]
async fn long_messages_and_templates_are_cut_to_the_webex_limit_not_refused() {
    let sink = HttpSink::start().await;
    let p = provider();
    let mut payload = incident("investigating");
    payload["description"] = json!("Ünïcödé ".repeat(2_000));
    let ctx = context(&sink, "incident.incident.created", payload.clone(), vec![]);
    assert!(p.deliver(ctx).await.is_delivered());
    let mut ctx = context(&sink, "incident.incident.created", payload, vec![]);
    ctx.config.markdown_template = Some("**{{ payload.title }}** {{ payload.description }}".into());
    assert!(p.deliver(ctx).await.is_delivered());
    for r in conforming(&sink, 2).await {
        let body = r.json();
        for field in ["markdown", "text"] {
            let text = body[field].as_str().unwrap();
            assert!(
                text.len() <= MARKDOWN_LIMIT,
                "{field}: {} bytes",
                text.len()
            );
            assert!(text.ends_with('…') || field == "markdown", "{field}");
        }
    }
}

/// A page of `GET /rooms` with `n` rooms from `first`, linking to `next` when given.
fn rooms_page(first: usize, n: usize, next: Option<String>) -> ResponseSpec {
    let items: Vec<Value> = (first..first + n)
        .map(|i| json!({"id": format!("room-{i}"), "title": format!("Room {i}"), "type": "group"}))
        .collect();
    let page = ResponseSpec::status(200).json(&json!({"items": items}));
    match next {
        Some(url) => page.header("link", format!("<{url}>; rel=\"next\"")),
        None => page,
    }
}

#[tokio::test]
async fn the_room_picker_follows_the_link_header_to_the_last_page() {
    let sink = HttpSink::start().await;
    let base = format!("{}/v1", sink.url());
    sink.push_response(rooms_page(
        0,
        100,
        Some(format!("{base}/rooms?max=100&cursor=c2")),
    ));
    sink.push_response(rooms_page(
        100,
        100,
        Some(format!("{base}/rooms?max=100&cursor=c3")),
    ));
    sink.push_response(rooms_page(200, 7, None));
    let options = provider()
        .get_connection_options(OptionsRequest {
            resolver: "rooms".into(),
            connection: connection(&sink),
            context: json!({}),
        })
        .await
        .expect("rooms");
    assert_eq!(options.len(), 207);
    assert_eq!(options[0].value, "room-0");
    assert_eq!(options[206].label, "Room 206");
    assert_eq!(options[206].description.as_deref(), Some("group"));
    let requests = conforming(&sink, 3).await;
    let queries: Vec<_> = requests.iter().map(|r| r.query.clone().unwrap()).collect();
    assert_eq!(
        queries,
        ["max=100", "max=100&cursor=c2", "max=100&cursor=c3"]
    );
    assert!(
        requests
            .iter()
            .all(|r| r.path == "/v1/rooms" && r.method == "GET")
    );
}

#[tokio::test]
async fn the_room_picker_sends_the_token_to_no_other_host_and_names_failures() {
    let sink = HttpSink::start().await;
    sink.push_response(rooms_page(
        0,
        1,
        Some("http://127.0.0.2:9/v1/rooms?cursor=x".into()),
    ));
    sink.push_response(ResponseSpec::status(401).json(&json!({"message": "Unauthorized"})));
    let p = provider();
    let ask = || {
        p.get_connection_options(OptionsRequest {
            resolver: "rooms".into(),
            connection: connection(&sink),
            context: json!({}),
        })
    };
    let elsewhere = ask().await.expect_err("refused");
    assert!(
        elsewhere[0].message.contains("another host"),
        "{elsewhere:?}"
    );
    let unauthorized = ask().await.expect_err("refused");
    assert_eq!(unauthorized[0].json_path, "/roomId");
    assert!(
        unauthorized[0].message.contains("HTTP 401"),
        "{unauthorized:?}"
    );
    assert!(
        unauthorized[0].message.contains("bot token"),
        "{unauthorized:?}"
    );
    conforming(&sink, 2).await;
}

#[tokio::test]
async fn the_connection_test_asks_who_the_bot_is() {
    let sink = HttpSink::start().await;
    sink.push_response(ResponseSpec::status(200).json(&json!({
        "id": "P1", "displayName": "Switchyard Bot", "emails": ["sy@webex.bot"], "type": "bot"})));
    sink.push_response(ResponseSpec::status(401).json(&json!({"message": "Unauthorized"})));
    let p = provider();
    let ok = p
        .test_connection(TestTarget::Connection(connection(&sink)))
        .await;
    assert!(ok.success, "{ok:?}");
    assert_eq!(ok.message, "Connected as Switchyard Bot");
    let refused = p
        .test_connection(TestTarget::Connection(connection(&sink)))
        .await;
    assert!(
        !refused.success && refused.message.contains("bot token"),
        "{refused:?}"
    );
    let requests = conforming(&sink, 2).await;
    assert!(requests.iter().all(|r| r.path == "/v1/people/me"));
}

#[tokio::test]
async fn preview_masks_the_token_and_bad_configs_are_refused_with_paths() {
    let sink = HttpSink::start().await;
    let shown = provider()
        .preview(context(
            &sink,
            "incident.incident.created",
            incident("investigating"),
            vec![],
        ))
        .await
        .expect("a preview");
    assert_eq!(shown.url, format!("{}/v1/messages", sink.url()));
    assert!(shown.body.contains("Checkout API down"), "{}", shown.body);
    assert!(!format!("{shown:?}").contains(TOKEN));
    assert!(
        shown
            .headers
            .contains(&("authorization".into(), "Bearer [REDACTED]".into()))
    );
    assert_eq!(sink.request_count(), 0);
    let mut bad = config();
    bad.markdown_template = Some("{% if %}".into());
    let found = provider()
        .validate_config(TestTarget::Config {
            config: bad,
            connection: connection(&sink),
        })
        .await;
    let paths: Vec<&str> = found.iter().map(|d| d.json_path.as_str()).collect();
    assert_eq!(paths, ["/markdownTemplate"], "{found:?}");
    let mut bad = connection(&sink);
    bad.bot_token = Secret::new(" ");
    bad.base_url = Some("ftp://webex".into());
    let found = provider()
        .validate_config(TestTarget::Connection(bad))
        .await;
    let paths: Vec<&str> = found.iter().map(|d| d.json_path.as_str()).collect();
    assert_eq!(paths, ["/botToken", "/baseUrl"], "{found:?}");
}
