//! The webhook provider called in-process against the SDK's `HttpSink`: the request it sends
//! (method, headers, body shape, auth) and how each kind of answer maps to an outcome.

use std::time::Duration;

use serde_json::json;
use switchyard_plugin_sdk::net_policy::NetworkPolicy;
use switchyard_plugin_sdk::testkit::{HttpSink, RecordedRequest, ResponseSpec};
use switchyard_plugin_sdk::{
    DeliveryContext, DeliveryResult, Event, NoConnection, Outcome, Provider, Secret, Subscription,
};
use switchyard_plugin_webhook::signing::SigningKey;
use switchyard_plugin_webhook::{
    Auth, ContentType, CustomHeader, Method, Signing, WebhookConfig, WebhookProvider,
};

const WAIT: Duration = Duration::from_secs(20);

fn config(url: String) -> WebhookConfig {
    WebhookConfig {
        url,
        method: Method::Post,
        auth: Auth::None,
        custom_headers: Vec::new(),
        timeout_ms: 10_000,
        body_template: None,
        content_type: ContentType::Json,
        retry_on_status: Vec::new(),
        signing: None,
    }
}

fn context(config: WebhookConfig) -> DeliveryContext<WebhookConfig, NoConnection> {
    DeliveryContext {
        event: Event {
            event_type: "incident.incident.created".into(),
            payload: json!({"incidentId": "inc_1", "systemIds": ["a", "b"], "title": "Down"}),
            timestamp: chrono::DateTime::from_timestamp(1_767_000_000, 250_000_000).unwrap(),
            delivery_id: "dlv_123".into(),
            attempt: 2,
            event_id: "evt_7".into(),
        },
        subscription: Subscription {
            id: "sub_9".into(),
            name: "Ops".into(),
        },
        config,
        connection: NoConnection,
        correlation: None,
    }
}

async fn deliver_once(config: WebhookConfig) -> DeliveryResult {
    provider().deliver(context(config)).await
}

async fn only_request(sink: &HttpSink) -> RecordedRequest {
    let requests = sink.wait_for_requests(1, WAIT).await;
    assert_eq!(requests.len(), 1, "{requests:?}");
    requests.into_iter().next().unwrap()
}

#[tokio::test]
async fn sends_the_default_body_and_headers() {
    let sink = HttpSink::start().await;
    let result = deliver_once(config(format!("{}/hooks/ops?team=a", sink.url()))).await;
    assert_eq!(
        result,
        DeliveryResult::delivered(Some("1".into())).with_status(200)
    );

    let request = only_request(&sink).await;
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/hooks/ops");
    assert_eq!(request.query.as_deref(), Some("team=a"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("x-delivery-id"), Some("dlv_123"));
    assert_eq!(
        request.header("x-event-type"),
        Some("incident.incident.created")
    );
    assert!(
        request
            .header("user-agent")
            .unwrap()
            .starts_with("switchyard-plugin/")
    );
    assert_eq!(request.header("authorization"), None);
    assert_eq!(
        request.json(),
        json!({
            "id": "dlv_123",
            "eventType": "incident.incident.created",
            "timestamp": "2025-12-29T09:20:00.250Z",
            "subscription": {"id": "sub_9", "name": "Ops"},
            "data": {"incidentId": "inc_1", "systemIds": ["a", "b"], "title": "Down"}
        })
    );
}

#[tokio::test]
async fn uses_the_configured_method_auth_and_custom_headers() {
    let sink = HttpSink::start().await;
    let cases = [
        (
            Method::Put,
            Auth::Bearer {
                token: Secret::new("tok"),
            },
            "Bearer tok",
        ),
        (
            Method::Patch,
            Auth::Basic {
                username: "alice".into(),
                password: Secret::new("pw"),
            },
            "Basic YWxpY2U6cHc=",
        ),
    ];
    for (i, (method, auth, expected)) in cases.into_iter().enumerate() {
        let mut config = config(sink.url());
        config.method = method;
        config.auth = auth;
        config.custom_headers = vec![CustomHeader {
            name: "X-Team".into(),
            value: "sre".into(),
        }];
        assert!(deliver_once(config).await.is_delivered());
        let request = &sink.wait_for_requests(i + 1, WAIT).await[i];
        assert_eq!(request.method, format!("{method:?}").to_uppercase());
        assert_eq!(request.header("authorization"), Some(expected));
        assert_eq!(request.header("x-team"), Some("sre"));
    }
}

#[tokio::test]
async fn header_auth_sets_the_chosen_header_and_custom_headers_cannot_spoof_ours() {
    let sink = HttpSink::start().await;
    let mut config = config(sink.url());
    config.auth = Auth::Header {
        name: "X-Api-Key".into(),
        value: Secret::new("k3y"),
    };
    config.custom_headers = vec![
        CustomHeader {
            name: "X-Delivery-Id".into(),
            value: "spoofed".into(),
        },
        CustomHeader {
            name: "Content-Type".into(),
            value: "text/plain".into(),
        },
    ];
    assert!(deliver_once(config).await.is_delivered());
    let request = only_request(&sink).await;
    assert_eq!(request.header("x-api-key"), Some("k3y"));
    assert_eq!(request.header("x-delivery-id"), Some("dlv_123"));
    assert_eq!(request.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn takes_the_external_id_from_id_external_id_or_message_id() {
    let sink = HttpSink::start().await;
    sink.push_response(ResponseSpec::status(201).json(&json!({"externalId": "EXT-7"})));
    sink.push_response(ResponseSpec::status(200).json(&json!({"messageId": 99})));
    sink.push_response(ResponseSpec::status(204));
    let provider = provider();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let result = provider.deliver(context(config(sink.url()))).await;
        match result.outcome {
            Outcome::Delivered { external_id } => ids.push(external_id),
            other => panic!("not delivered: {other:?}"),
        }
    }
    assert_eq!(ids, [Some("EXT-7".into()), Some("99".into()), None]);
}

#[tokio::test]
async fn maps_statuses_to_outcomes() {
    let sink = HttpSink::start().await;
    let provider = provider();
    let script = [
        (
            ResponseSpec::status(429).header("retry-after", "12"),
            "rate-limited 12s",
        ),
        (ResponseSpec::status(503), "rate-limited 60s"),
        (ResponseSpec::status(500).body("boom"), "retryable"),
        (ResponseSpec::status(408), "retryable"),
        (ResponseSpec::status(410), "permanent"),
        (ResponseSpec::status(400).body("bad field"), "permanent"),
        (
            ResponseSpec::status(302).header("location", "http://elsewhere/"),
            "permanent",
        ),
    ];
    for (response, expected) in script {
        let status = response.status;
        sink.push_response(response);
        let result = provider.deliver(context(config(sink.url()))).await;
        assert_eq!(result.status_code, Some(status));
        let got = match &result.outcome {
            Outcome::RateLimited { retry_after, .. } => {
                format!("rate-limited {}s", retry_after.as_secs())
            }
            Outcome::Retryable { .. } => "retryable".into(),
            Outcome::Permanent { .. } => "permanent".into(),
            Outcome::Delivered { .. } => "delivered".into(),
        };
        assert_eq!(got, expected, "HTTP {status}");
        assert!(
            result
                .error()
                .unwrap()
                .starts_with(&format!("HTTP {status}")),
            "{result:?}"
        );
    }
    let requests = sink.requests();
    assert_eq!(requests.len(), 7, "a redirect is not followed");
}

#[tokio::test]
async fn error_text_quotes_the_body_but_never_the_credentials() {
    let sink = HttpSink::start().await;
    sink.push_response(ResponseSpec::status(401).body("token rejected"));
    let mut config = config(sink.url());
    config.auth = Auth::Bearer {
        token: Secret::new("sup3r-s3cret"),
    };
    let result = deliver_once(config).await;
    let error = result.error().unwrap();
    assert_eq!(error, "HTTP 401 Unauthorized: token rejected");
    assert!(!error.contains("sup3r-s3cret"));
}

#[tokio::test]
async fn network_errors_and_timeouts_are_retryable() {
    // A port nobody listens on: bind one, then free it.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let result = deliver_once(config(format!("http://{closed}/x?token=secret-in-url"))).await;
    assert!(
        matches!(result.outcome, Outcome::Retryable { .. }),
        "{result:?}"
    );
    assert_eq!(result.status_code, None);
    assert!(
        !result.error().unwrap().contains("secret-in-url"),
        "{result:?}"
    );

    let sink = HttpSink::start().await;
    sink.push_response(ResponseSpec::status(200).delay(Duration::from_secs(30)));
    let mut config = config(sink.url());
    config.timeout_ms = 1000;
    let result = deliver_once(config).await;
    assert!(
        matches!(result.outcome, Outcome::Retryable { .. }),
        "{result:?}"
    );
    assert!(result.error().unwrap().contains("timed out"), "{result:?}");
}

#[tokio::test]
async fn builds_one_http_client_on_first_use_shared_by_clones() {
    let provider = provider();
    let clone = provider.clone();
    let first = provider.client().await.expect("the client builds");
    let again = clone.client().await.expect("the client builds");
    assert!(std::ptr::eq(first, again), "one pooled client for all");
}

#[tokio::test]
async fn query_auth_adds_the_parameter_to_the_urls_own_query() {
    let sink = HttpSink::start().await;
    let mut cfg = config(format!("{}/hook?team=ops", sink.url()));
    cfg.auth = Auth::Query {
        name: "api_key".into(),
        value: Secret::new("k y+/1"),
    };
    let result = deliver_once(cfg).await;
    assert!(result.is_delivered(), "{result:?}");
    let request = only_request(&sink).await;
    assert_eq!(request.path, "/hook");
    assert_eq!(
        request.query.as_deref(),
        Some("team=ops&api_key=k+y%2B%2F1")
    );
    assert_eq!(request.header("authorization"), None);
}

#[tokio::test]
async fn a_preview_is_exactly_the_request_deliver_sends_with_secrets_masked() {
    let sink = HttpSink::start().await;
    let mut config = config(format!("{}/hooks/ops?team=a", sink.url()));
    config.method = Method::Patch;
    config.auth = Auth::Basic {
        username: "alice".into(),
        password: Secret::new("pw-s3cret"),
    };
    config.custom_headers = vec![CustomHeader {
        name: "X-Team".into(),
        value: "sre".into(),
    }];
    let provider = provider();
    let preview = provider
        .preview(context(config.clone()))
        .await
        .expect("a preview");
    assert_eq!(sink.request_count(), 0, "a preview sent a request");
    assert!(provider.deliver(context(config)).await.is_delivered());
    let sent = only_request(&sink).await;

    assert_eq!(preview.method, sent.method);
    assert_eq!(preview.url, format!("{}{}?team=a", sink.url(), sent.path));
    assert_eq!(preview.body.as_bytes(), sent.body.as_slice());
    assert!(!format!("{preview:?}").contains("pw-s3cret"));
    assert!(!format!("{preview:?}").contains("YWxpY2U6cHctczNjcmV0"));
    for (name, value) in &preview.headers {
        let got = sent.header(name);
        if name == "authorization" {
            assert_eq!(value, "[REDACTED]");
            assert!(got.is_some_and(|v| v.starts_with("Basic ")), "{got:?}");
        } else {
            assert_eq!(got, Some(value.as_str()), "header {name}");
        }
    }
    let shown: Vec<&str> = preview.headers.iter().map(|(n, _)| n.as_str()).collect();
    for (name, _) in &sent.headers {
        // The transport's own headers are not the provider's request.
        if !["host", "content-length", "accept", "accept-encoding"].contains(&name.as_str()) {
            assert!(
                shown.contains(&name.as_str()),
                "the preview lacks {name}: {shown:?}"
            );
        }
    }
}

#[test]
fn validate_config_names_what_the_schema_cannot_check() {
    let mut clash = config("https://example.com/h".into());
    clash.auth = Auth::Header {
        name: "X-Api-Key".into(),
        value: Secret::new("k"),
    };
    clash.custom_headers = vec![
        CustomHeader {
            name: "x-api-key".into(),
            value: "v".into(),
        },
        CustomHeader {
            name: "Content-Type".into(),
            value: "text/plain".into(),
        },
        CustomHeader {
            name: "X-Team".into(),
            value: "ok".into(),
        },
    ];
    let paths: Vec<String> = switchyard_plugin_webhook::problems(&clash)
        .into_iter()
        .map(|d| d.json_path)
        .collect();
    assert_eq!(paths, ["/customHeaders/0/name", "/customHeaders/1/name"]);
    let mut reserved = config("https://example.com/h".into());
    reserved.auth = Auth::Header {
        name: "X-Delivery-Id".into(),
        value: Secret::new("k"),
    };
    let found = switchyard_plugin_webhook::problems(&reserved);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].json_path, "/auth/name");
    for url in ["https://", "ftp://example.com/x", "not a url"] {
        let found = switchyard_plugin_webhook::problems(&config(url.into()));
        assert_eq!(found.len(), 1, "{url}: {found:?}");
        assert_eq!(found[0].json_path, "/url");
    }
    assert!(switchyard_plugin_webhook::problems(&config("http://127.0.0.1:9/h".into())).is_empty());
}

#[tokio::test]
async fn a_preview_masks_the_secret_of_query_auth_in_the_url() {
    let mut cfg = config("https://example.com/hook?team=ops".into());
    cfg.auth = Auth::Query {
        name: "api_key".into(),
        value: Secret::new("k y+/1"),
    };
    let preview = provider().preview(context(cfg)).await.expect("a preview");
    assert_eq!(
        preview.url,
        "https://example.com/hook?team=ops&api_key=[REDACTED]"
    );
    assert!(!format!("{preview:?}").contains("k+y%2B%2F1"));
}

/// `whsec_` + the base64 of 32 bytes of `byte`.
fn whsec(byte: u8) -> Secret {
    use base64::Engine as _;
    Secret::new(format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode([byte; 32])
    ))
}

#[tokio::test]
async fn a_signed_delivery_carries_the_standard_webhooks_headers_over_its_exact_body() {
    let sink = HttpSink::start().await;
    let mut cfg = config(sink.url());
    cfg.signing = Some(Signing {
        secrets: vec![whsec(1)],
    });
    assert!(deliver_once(cfg).await.is_delivered());
    let sent = only_request(&sink).await;
    assert_eq!(sent.header("webhook-id"), Some("dlv_123"));
    let timestamp: i64 = sent.header("webhook-timestamp").unwrap().parse().unwrap();
    let key = SigningKey::parse(whsec(1).expose()).unwrap();
    assert_eq!(
        sent.header("webhook-signature"),
        Some(key.sign("dlv_123", timestamp, &sent.body).as_str())
    );
    // The attempt's time, not the event's: receivers reject stale timestamps.
    assert!(timestamp > 1_767_000_000, "{timestamp}");
}

#[tokio::test]
async fn a_preview_of_a_signed_config_masks_the_signature() {
    let mut cfg = config("https://example.com/h".into());
    cfg.signing = Some(Signing {
        secrets: vec![whsec(1), whsec(2)],
    });
    let preview = provider().preview(context(cfg)).await.expect("a preview");
    let header = |name: &str| {
        preview
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("webhook-id"), Some("dlv_123"));
    assert!(header("webhook-timestamp").is_some_and(|t| t.parse::<i64>().is_ok()));
    assert_eq!(header("webhook-signature"), Some("[REDACTED]"));
}

#[test]
fn validate_config_refuses_unusable_signing_secrets_and_clashing_headers() {
    let mut cfg = config("https://example.com/h".into());
    cfg.signing = Some(Signing {
        secrets: vec![
            whsec(1),
            Secret::new("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Secret::new("whsec_***"),
            Secret::new("whsec_c2hvcnQ="),
        ],
    });
    cfg.custom_headers = vec![CustomHeader {
        name: "Webhook-Signature".into(),
        value: "v".into(),
    }];
    let found = switchyard_plugin_webhook::problems(&cfg);
    let paths: Vec<&str> = found.iter().map(|d| d.json_path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/signing/secrets/1",
            "/signing/secrets/2",
            "/signing/secrets/3",
            "/customHeaders/0/name"
        ],
        "{found:?}"
    );
    assert!(found[0].message.contains("whsec_"), "{found:?}");
    assert!(!format!("{found:?}").contains("MfKQ9r8G"), "{found:?}");
}

#[test]
fn validate_config_refuses_retry_statuses_that_are_no_http_error() {
    let mut cfg = config("https://example.com/h".into());
    cfg.retry_on_status = vec![409, 99, 204, 600, 423];
    let found = switchyard_plugin_webhook::problems(&cfg);
    let paths: Vec<&str> = found.iter().map(|d| d.json_path.as_str()).collect();
    assert_eq!(
        paths,
        ["/retryOnStatus/1", "/retryOnStatus/2", "/retryOnStatus/3"],
        "{found:?}"
    );
    assert!(found[1].message.contains("2xx"), "{found:?}");
}

#[tokio::test]
async fn a_body_template_is_checked_at_save_time_and_shown_rendered_in_a_preview() {
    let mut cfg = config("https://example.com/h".into());
    cfg.body_template = Some("{\"t\": \"{{ payload.title }\"}".into());
    let found = switchyard_plugin_webhook::problems(&cfg);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].json_path, "/bodyTemplate");
    assert!(found[0].message.contains("does not compile"), "{found:?}");

    cfg.body_template = Some("{\"t\": \"{{ payload.title }}\", \"e\": \"{{ eventType }}\"}".into());
    cfg.content_type = ContentType::Form;
    assert!(switchyard_plugin_webhook::problems(&cfg).is_empty());
    let preview = provider()
        .preview(context(cfg.clone()))
        .await
        .expect("a preview");
    assert_eq!(preview.body, "e=incident.incident.created&t=Down");

    cfg.body_template = Some("[\"{{ payload.title }}\"]".into());
    let refused = provider()
        .preview(context(cfg))
        .await
        .expect_err("a list is no form");
    assert_eq!(refused[0].json_path, "/bodyTemplate", "{refused:?}");
}

/// The provider, allowed to reach the local receivers of these tests (loopback is not public).
fn provider() -> WebhookProvider {
    let loopback = NetworkPolicy::parse("127.0.0.0/8").expect("a subnet");
    WebhookProvider::with_policy(loopback)
}
