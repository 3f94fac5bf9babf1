//! Calls through the host: the real webhook plugin delivering to a local HTTP server (the
//! request it receives is checked field by field), the fixture's optional capabilities, and the
//! mapping of plugin answers to `CallError` (retryable or not).

use serde_json::json;
use std::time::Duration;
use switchyard::host::{CallError, Plugin};
use switchyard_e2e::{deliver_request, fixture, options, socket_root, webhook};
use switchyard_plugin_sdk::testkit::{HttpSink, ResponseSpec};
use switchyard_proto::plugin::v1::{
    ConfigKind, GetConnectionOptionsRequest, MigrateConfigRequest, Outcome, TestConnectionRequest,
};

#[tokio::test]
async fn the_webhook_plugin_delivers_an_event_to_a_local_http_server() {
    switchyard_e2e::init_tracing();
    let sink = HttpSink::start().await;
    sink.push_response(ResponseSpec::status(200).json(&json!({"id": "msg-42"})));
    let root = socket_root();
    let plugin = Plugin::start(webhook(), options(root.path()))
        .await
        .expect("start webhook");
    assert_eq!(plugin.id(), "webhook");
    assert!(plugin.provider("webhook").is_some());

    let config = json!({
        "url": format!("{}/hooks/incidents", sink.url()),
        "method": "PUT",
        "auth": {"type": "bearer", "token": "tok-s3cret"},
        "customHeaders": [{"name": "X-Team", "value": "sre"}]
    });
    let response = plugin
        .deliver(deliver_request("webhook", &config))
        .await
        .expect("deliver");
    assert_eq!(response.outcome(), Outcome::Delivered, "{response:?}");
    assert!(response.success);
    assert_eq!(response.external_id, "msg-42");

    let requests = sink.wait_for_requests(1, Duration::from_secs(10)).await;
    let request = &requests[0];
    assert_eq!(request.method, "PUT");
    assert_eq!(request.path, "/hooks/incidents");
    assert_eq!(request.header("x-delivery-id"), Some("dlv-0001"));
    assert_eq!(
        request.header("x-event-type"),
        Some("incident.incident.created")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("authorization"), Some("Bearer tok-s3cret"));
    assert_eq!(request.header("x-team"), Some("sre"));
    let body = request.json();
    assert_eq!(body["id"], "dlv-0001");
    assert_eq!(body["eventType"], "incident.incident.created");
    assert_eq!(
        body["subscription"],
        json!({"id": "sub-1", "name": "On-call hook"})
    );
    assert_eq!(body["data"]["incidentId"], "inc-1");
    assert_eq!(body["data"]["systemIds"], json!(["sys-1"]));
    assert!(
        body["timestamp"]
            .as_str()
            .is_some_and(|t| t.starts_with("2026-")),
        "{body}"
    );
    plugin.stop().await;
}

#[tokio::test]
async fn an_invalid_config_is_answered_in_band_with_its_path() {
    let root = socket_root();
    let plugin = Plugin::start(webhook(), options(root.path()))
        .await
        .expect("start webhook");
    let response = plugin
        .deliver(deliver_request("webhook", &json!({"url": 5})))
        .await
        .expect("deliver");
    assert_eq!(response.outcome(), Outcome::Permanent);
    assert!(
        response.diagnostics.iter().any(|d| d.json_path == "/url"),
        "{response:?}"
    );
    plugin.stop().await;
}

#[tokio::test]
async fn the_fixture_answers_every_capability() {
    let root = socket_root();
    let plugin = Plugin::start(fixture("good"), options(root.path()))
        .await
        .expect("start");
    let response = plugin
        .deliver(deliver_request("echo", &json!({"secret": "x"})))
        .await
        .expect("deliver");
    assert_eq!(response.external_id, "echo-dlv-0001");

    let test = TestConnectionRequest {
        provider_id: "echo".into(),
        kind: ConfigKind::Provider.into(),
        config_json: "{}".into(),
        connection_json: String::new(),
    };
    assert!(
        plugin
            .test_connection(test)
            .await
            .expect("test connection")
            .success
    );

    let options = GetConnectionOptionsRequest {
        provider_id: "echo".into(),
        resolver_name: "items".into(),
        connection_json: String::new(),
        context_json: "{}".into(),
    };
    let values: Vec<String> = plugin
        .get_connection_options(options)
        .await
        .expect("options")
        .options
        .into_iter()
        .map(|o| o.value)
        .collect();
    assert_eq!(values, ["a", "b"]);

    let migrate = MigrateConfigRequest {
        provider_id: "echo".into(),
        kind: ConfigKind::Provider.into(),
        from_version: 1,
        config_json: json!({"delay_ms": 5}).to_string(),
    };
    let migrated = plugin.migrate_config(migrate).await.expect("migrate");
    assert_eq!(migrated.version, 2);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&migrated.config_json).unwrap(),
        json!({"delayMs": 5})
    );
    plugin.stop().await;
}

#[tokio::test]
async fn plugin_errors_map_to_call_errors() {
    let root = socket_root();
    let good = Plugin::start(fixture("good"), options(root.path()))
        .await
        .expect("start");
    let err = good
        .deliver(deliver_request("nope", &json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::NotFound(_)) && !err.is_retryable(),
        "{err}"
    );
    good.stop().await;

    let unimplemented = Plugin::start(fixture("unimplemented-capability"), options(root.path()))
        .await
        .expect("start");
    let test = TestConnectionRequest {
        provider_id: "echo".into(),
        config_json: "{}".into(),
        ..Default::default()
    };
    let err = unimplemented.test_connection(test).await.unwrap_err();
    assert!(
        matches!(err, CallError::Unimplemented(_)) && !err.is_retryable(),
        "{err}"
    );
    unimplemented.stop().await;

    let internal = Plugin::start(fixture("internal-on-bad-config"), options(root.path()))
        .await
        .expect("start");
    let err = internal
        .deliver(deliver_request("echo", &json!({"delayMs": "soon"})))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CallError::Rpc(s) if s.code() == tonic::Code::Internal)
            && err.is_retryable(),
        "{err}"
    );
    internal.stop().await;
}

#[tokio::test]
async fn a_call_past_its_deadline_fails_as_retryable() {
    let root = socket_root();
    let opts = switchyard::host::HostOptions {
        call_timeout: Duration::from_millis(300),
        ..options(root.path())
    };
    let plugin = Plugin::start(fixture("good"), opts).await.expect("start");
    let err = plugin
        .deliver(deliver_request("echo", &json!({"delayMs": 60_000})))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::DeadlineExceeded) && err.is_retryable(),
        "{err}"
    );
    assert!(plugin.is_running());
    plugin.stop().await;
}
