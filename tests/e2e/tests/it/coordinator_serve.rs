//! `switchyard serve` and the CLI as users run them: the client commands against a running
//! coordinator (tables and `--json`), gRPC health and reflection on the API socket, the bearer
//! token, the refusal to listen on a non-loopback address without one, and a clean SIGTERM.

use std::process::{Command, Stdio};

use switchyard_e2e::coordinator::{Coordinator, CoordinatorOptions, SWITCHYARD};
use switchyard_proto::coordinator::v1 as api;

/// Runs the CLI against `coord`; returns (success, stdout, stderr).
fn cli(coord: &Coordinator, args: &[&str]) -> (bool, String, String) {
    coord.cli(args)
}

#[tokio::test]
async fn the_cli_manages_and_inspects_a_running_coordinator() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    switchyard_e2e::coordinator::register_incident(&mut c).await;

    let (ok, out, err) = cli(&coord, &["providers", "list"]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with("ID") && out.contains("webhook.webhook") && out.contains("running"),
        "{out}"
    );

    let (ok, out, err) = cli(
        &coord,
        &[
            "subscriptions",
            "create",
            "--name",
            "cli",
            "--provider",
            "webhook.webhook",
            "--event-type",
            "incident.*",
            "--config",
            r#"{"url":"http://127.0.0.1:9"}"#,
            "--retry-delays",
            "1h",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("incident.*"), "{out}");

    let (ok, out, err) = cli(&coord, &["--json", "subscriptions", "list"]);
    assert!(ok, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out).expect("--json prints JSON");
    assert_eq!(list["total"], 1);
    assert_eq!(
        list["subscriptions"][0]["config"]["method"], "POST",
        "defaults applied"
    );

    let (ok, out, err) = cli(
        &coord,
        &[
            "--json",
            "events",
            "publish",
            "--type",
            "incident.incident.created",
            "--payload",
            r#"{"incidentId":"i","title":"t"}"#,
        ],
    );
    assert!(ok, "{err}");
    let published: serde_json::Value = serde_json::from_str(&out).expect("--json prints JSON");
    let id = published["deliveries"][0]["id"]
        .as_str()
        .expect("a delivery id")
        .to_owned();

    let (ok, out, err) = cli(&coord, &["deliveries", "show", &id]);
    assert!(ok, "{err}");
    assert!(out.contains(&id), "{out}");
    let (ok, out, err) = cli(&coord, &["stats", "--hours", "1"]);
    assert!(ok, "{err}");
    assert!(out.contains("incident.incident.created"), "{out}");

    let (ok, _, err) = cli(&coord, &["subscriptions", "show", "not-an-id"]);
    assert!(!ok);
    assert!(err.contains("InvalidArgument"), "{err}");
}

#[tokio::test]
async fn health_and_reflection_are_served_and_sigterm_stops_cleanly() {
    let mut coord = Coordinator::start_default().await;
    let clients = coord.clients().await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(clients.channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health check")
        .into_inner();
    assert_eq!(
        status.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );

    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let mut reflection = ServerReflectionClient::new(clients.channel.clone());
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = reflection
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .expect("reflection")
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) = stream
        .message()
        .await
        .expect("a reflection answer")
        .and_then(|r| r.message_response)
    else {
        panic!("expected a service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"switchyard.coordinator.v1.EventService".to_owned()),
        "{names:?}"
    );

    // A watcher that never hangs up must not hold up the shutdown.
    let mut watcher = clients.deliveries.clone();
    let watch = watcher
        .watch_deliveries(api::WatchDeliveriesRequest::default())
        .await;
    let mut stream = watch.expect("watch").into_inner();
    drop((health, reflection));
    let exit = coord.terminate().await;
    assert!(exit.success(), "exit {exit}; stderr:\n{}", coord.stderr());
    assert!(!coord.socket().exists(), "the API socket is removed");
    assert!(
        coord.stderr().contains("switchyard stopped"),
        "{}",
        coord.stderr()
    );
    assert!(
        matches!(stream.message().await, Ok(None) | Err(_)),
        "the watch stream ended"
    );
}

#[tokio::test]
async fn the_api_is_served_on_loopback_tcp_too() {
    let coord = Coordinator::start(CoordinatorOptions {
        env: vec![("SWITCHYARD_API__TCP_LISTEN".into(), "127.0.0.1:0".into())],
        ..Default::default()
    })
    .await;
    let addr = coord.tcp_addr();
    let mut c = switchyard::cli::client::connect(&format!("http://{addr}"), None)
        .await
        .expect("connect over TCP");
    let req = api::ListProvidersRequest {};
    let providers = c
        .providers
        .list_providers(req)
        .await
        .expect("list over TCP");
    assert!(
        providers
            .into_inner()
            .providers
            .iter()
            .any(|p| p.id == "webhook.webhook")
    );
}

#[tokio::test]
async fn a_configured_token_is_required() {
    let coord = Coordinator::start(CoordinatorOptions {
        env: vec![("SWITCHYARD_API__AUTH_TOKEN".into(), "let-me-in".into())],
        ..Default::default()
    })
    .await;
    let mut anonymous = coord.clients().await;
    let denied = anonymous
        .providers
        .list_providers(api::ListProvidersRequest {})
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::Unauthenticated);
    let mut wrong = switchyard::cli::client::connect(&coord.addr(), Some("let-me-out"))
        .await
        .unwrap();
    assert!(
        wrong
            .providers
            .list_providers(api::ListProvidersRequest {})
            .await
            .is_err()
    );
    let mut authed = switchyard::cli::client::connect(&coord.addr(), Some("let-me-in"))
        .await
        .unwrap();
    assert!(
        authed
            .providers
            .list_providers(api::ListProvidersRequest {})
            .await
            .is_ok()
    );
}

#[test]
fn a_non_loopback_listener_without_a_token_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(switchyard_e2e::binary(SWITCHYARD))
        .arg("serve")
        .env("SWITCHYARD_DATA_DIR", dir.path())
        .env("SWITCHYARD_API__TCP_LISTEN", "0.0.0.0:0")
        .env("SWITCHYARD_PLUGINS__DISCOVER_NEXT_TO_BINARY", "false")
        .env_remove("SWITCHYARD_API__AUTH_TOKEN")
        .stdin(Stdio::null())
        .output()
        .expect("run switchyard serve");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("api.auth_token") && err.contains("0.0.0.0:0"),
        "{err}"
    );
}

#[test]
fn the_default_config_is_printable_and_documented() {
    let out = Command::new(switchyard_e2e::binary(SWITCHYARD))
        .args(["serve", "--print-default-config"])
        .output()
        .expect("run switchyard serve --print-default-config");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("data_dir = \"./switchyard-data\"") && text.contains("retry_delays"),
        "{text}"
    );
}
