//! The real `switchyard-plugin-webhook` binary as the host sees it: started with the handshake
//! variables, it announces its socket, serves health/Describe/Deliver over it, answers bad
//! input in-band and protocol errors with their status codes, and exits cleanly (socket
//! removed) on Shutdown or SIGTERM. Started by hand, it explains itself and exits 1.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use serde_json::json;
use switchyard_plugin_sdk::testkit::{HttpSink, ResponseSpec};
use switchyard_proto::go_plugin::{Empty, grpc_controller_client::GrpcControllerClient};
use switchyard_proto::handshake::{HandshakeLine, MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE};
use switchyard_proto::plugin::v1 as pb;
use switchyard_proto::plugin::v1::provider_plugin_client::ProviderPluginClient;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tonic::transport::{Channel, Endpoint, Uri};

const BINARY: &str = env!("CARGO_BIN_EXE_switchyard-plugin-webhook");
const WAIT: Duration = Duration::from_secs(30);

/// A running plugin process with its socket directory and captured stderr.
struct Running {
    child: Child,
    socket: PathBuf,
    channel: Channel,
    stderr: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

async fn start() -> Running {
    let dir = tempfile::Builder::new()
        .prefix("sy")
        .tempdir_in("/tmp")
        .unwrap();
    let mut child = Command::new(BINARY)
        .env_clear()
        .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "1")
        .env("PLUGIN_UNIX_SOCKET_DIR", dir.path())
        // The local receivers of these tests are not public addresses.
        .env("SWITCHYARD_NETWORK_ALLOW", "127.0.0.0/8")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stderr = Arc::new(Mutex::new(String::new()));
    let mut pipe = child.stderr.take().unwrap();
    let sink = stderr.clone();
    tokio::spawn(async move {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text).await;
        sink.lock().unwrap().push_str(&text);
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(WAIT, stdout.read_line(&mut line))
        .await
        .unwrap()
        .unwrap();
    let parsed = HandshakeLine::parse(&line).unwrap();
    assert_eq!(parsed.app_version, 1, "handshake line {line:?}");
    assert_eq!(parsed.server_cert.as_deref(), Some(""), "{line:?}");
    assert!(!parsed.carriage_return, "{line:?}");
    let socket = parsed.socket;
    assert_eq!(
        socket.parent(),
        Some(dir.path()),
        "socket inside PLUGIN_UNIX_SOCKET_DIR"
    );
    let channel = connect(&socket).await;
    Running {
        child,
        socket,
        channel,
        stderr,
        _dir: dir,
    }
}

async fn connect(socket: &Path) -> Channel {
    let socket = socket.to_path_buf();
    Endpoint::try_from("http://localhost")
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move {
                Ok::<_, std::io::Error>(TokioIo::new(
                    tokio::net::UnixStream::connect(socket).await?,
                ))
            }
        }))
        .await
        .unwrap()
}

fn deliver_request(config: serde_json::Value) -> pb::DeliverRequest {
    pb::DeliverRequest {
        provider_id: "webhook".into(),
        event: Some(pb::Event {
            event_type: "incident.incident.created".into(),
            payload_json: json!({"incidentId": "inc_7"}).to_string(),
            timestamp: Some(prost_types::Timestamp {
                seconds: 1_767_000_000,
                nanos: 0,
            }),
            delivery_id: "dlv_e2e".into(),
            attempt: 1,
            event_id: String::new(),
        }),
        subscription: Some(pb::Subscription {
            id: "sub_1".into(),
            name: "E2E".into(),
        }),
        config_json: config.to_string(),
        connection_json: String::new(),
        correlation: None,
    }
}

async fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("plugin exits")
        .unwrap()
}

#[tokio::test]
async fn serves_describe_and_deliver_then_stops_on_shutdown() {
    let mut plugin = start().await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(plugin.channel.clone());
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "plugin".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        serving.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let mut client = ProviderPluginClient::new(plugin.channel.clone());
    let described = client
        .describe(pb::DescribeRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(described.plugin_id, "webhook");
    assert_eq!(described.protocol_version, 1);
    let provider = &described.providers[0];
    assert_eq!(provider.id, "webhook");
    let schema: serde_json::Value =
        serde_json::from_str(&provider.config_schema.as_ref().unwrap().json_schema).unwrap();
    assert!(schema.to_string().contains(r#""x-secret":true"#));
    assert!(!provider.capabilities.unwrap().test_connection);

    let sink = HttpSink::start().await;
    let config = json!({"url": format!("{}/in", sink.url()), "auth": {"type": "bearer", "token": "tok-e2e"}});
    let answer = client
        .deliver(deliver_request(config))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.outcome, pb::Outcome::Delivered as i32, "{answer:?}");
    assert!(answer.success);
    assert_eq!(answer.external_id, "1");
    assert_eq!(answer.status_code, 200);
    let request = &sink.wait_for_requests(1, WAIT).await[0];
    assert_eq!(request.header("authorization"), Some("Bearer tok-e2e"));
    assert_eq!(request.json()["data"]["incidentId"], "inc_7");

    let mut controller = GrpcControllerClient::new(plugin.channel.clone());
    controller.shutdown(Empty {}).await.unwrap();
    let status = wait_exit(&mut plugin.child).await;
    assert!(status.success(), "{status:?}");
    assert!(!plugin.socket.exists(), "socket removed");
    assert!(
        !plugin.stderr.lock().unwrap().contains("tok-e2e"),
        "secret leaked to stderr"
    );
}

#[tokio::test]
async fn answers_bad_input_in_band_and_protocol_errors_with_codes() {
    let mut plugin = start().await;
    let mut client = ProviderPluginClient::new(plugin.channel.clone());

    let answer = client
        .deliver(deliver_request(
            json!({"url": "ftp-nope", "timeoutMs": 5, "auth": {"type": "bearer", "token": 7}}),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.outcome, pb::Outcome::Permanent as i32);
    let paths: Vec<&str> = answer
        .diagnostics
        .iter()
        .map(|d| d.json_path.as_str())
        .collect();
    assert!(
        paths.contains(&"/url") && paths.contains(&"/timeoutMs"),
        "{answer:?}"
    );

    let mut unknown = deliver_request(json!({}));
    unknown.provider_id = "nope".into();
    let status = client.deliver(unknown).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);

    let mut no_event = deliver_request(json!({}));
    no_event.event = None;
    let status = client.deliver(no_event).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);

    let status = client
        .test_connection(pb::TestConnectionRequest {
            provider_id: "webhook".into(),
            kind: pb::ConfigKind::Provider as i32,
            config_json: "{}".into(),
            connection_json: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(plugin.child.id().unwrap()).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = wait_exit(&mut plugin.child).await;
    assert!(status.success(), "{status:?}");
    assert!(!plugin.socket.exists(), "socket removed");
}

#[tokio::test]
async fn run_by_hand_it_explains_itself_and_exits_1() {
    let output = Command::new(BINARY)
        .env_remove(MAGIC_COOKIE_KEY)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "nothing on stdout");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Switchyard provider plugin"), "{stderr}");
    assert!(stderr.contains("switchyard-conformance"), "{stderr}");
}

#[tokio::test]
async fn exits_when_its_parent_dies() {
    let dir = tempfile::Builder::new()
        .prefix("sy")
        .tempdir_in("/tmp")
        .unwrap();
    // `sh` is the plugin's parent; the plugin inherits its stdout pipe.
    let mut parent = Command::new("sh")
        .arg("-c")
        .arg(format!("'{BINARY}' & wait"))
        .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "1")
        .env("PLUGIN_UNIX_SOCKET_DIR", dir.path())
        // The local receivers of these tests are not public addresses.
        .env("SWITCHYARD_NETWORK_ALLOW", "127.0.0.0/8")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(parent.stdout.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(WAIT, stdout.read_line(&mut line))
        .await
        .unwrap()
        .unwrap();
    let socket = HandshakeLine::parse(&line).unwrap().socket;
    assert!(socket.exists());

    parent.start_kill().unwrap();
    parent.wait().await.unwrap();
    // The plugin held the last write end of the pipe: EOF means it has exited.
    let mut rest = String::new();
    let eof = tokio::time::timeout(WAIT, stdout.read_to_string(&mut rest)).await;
    assert!(eof.is_ok(), "plugin still running after its parent died");
    assert_eq!(rest, "", "nothing after the handshake line on stdout");
    assert!(!socket.exists(), "socket removed");
}

/// The secret of [`a_receiver_echoing_its_request_gets_no_secret_back`]: with characters that
/// URL-encoding changes, so its encoded forms are distinct.
const CANARY: &str = "Cnry-7f1e+tok/en=";

/// Every form in which [`CANARY`] would leak: as it is, URL-encoded, base64 of `user:canary`.
fn canary_forms() -> Vec<String> {
    use base64::Engine as _;
    vec![
        CANARY.to_owned(),
        "Cnry-7f1e%2Btok%2Fen%3D".to_owned(),
        base64::engine::general_purpose::STANDARD.encode(format!("ops-user:{CANARY}")),
    ]
}

#[tokio::test]
async fn a_receiver_echoing_its_request_gets_no_secret_back() {
    let mut plugin = start().await;
    let mut client = ProviderPluginClient::new(plugin.channel.clone());
    let sink = HttpSink::start_echo(400).await;
    let auths = [
        json!({"type": "bearer", "token": CANARY}),
        json!({"type": "basic", "username": "ops-user", "password": CANARY}),
        json!({"type": "header", "name": "X-Api-Key", "value": CANARY}),
        json!({"type": "query", "name": "api_key", "value": CANARY}),
    ];
    for (i, auth) in auths.iter().enumerate() {
        let config = json!({"url": format!("{}/hook", sink.url()), "auth": auth});
        let answer = client
            .deliver(deliver_request(config))
            .await
            .unwrap()
            .into_inner();
        let sent = &sink.wait_for_requests(i + 1, WAIT).await[i];
        let sent_text = format!("{} {:?} {:?}", sent.path, sent.query, sent.headers);
        assert!(
            canary_forms()
                .iter()
                .any(|f| sent_text.contains(f.as_str())),
            "the receiver got the secret ({auth}): {sent_text}"
        );
        assert_eq!(answer.outcome, pb::Outcome::Permanent as i32, "{answer:?}");
        assert!(answer.error.contains("you sent: POST /hook"), "{answer:?}");
        assert!(answer.error.contains("[REDACTED]"), "{auth}: {answer:?}");
        for form in canary_forms() {
            assert!(!format!("{answer:?}").contains(&form), "{auth}: {answer:?}");
        }
    }
    let mut controller = GrpcControllerClient::new(plugin.channel.clone());
    controller.shutdown(Empty {}).await.unwrap();
    assert!(wait_exit(&mut plugin.child).await.success());
    let stderr = plugin.stderr.lock().unwrap().clone();
    for form in canary_forms() {
        assert!(!stderr.contains(&form), "secret in stderr: {stderr}");
    }
}

/// A `whsec_` secret of 32 bytes of `byte`.
fn whsec(byte: u8) -> String {
    use base64::Engine as _;
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode([byte; 32])
    )
}

/// The project venv's Python (made by `plugin-sdk/python/scripts/setup.sh`, which
/// `scripts/test.sh` runs before `cargo test`).
fn venv_python() -> PathBuf {
    let python =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugin-sdk/python/.venv-py/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run plugin-sdk/python/scripts/setup.sh first",
        python.display()
    );
    python
}

/// Runs the PyPI `standardwebhooks` verifier on `request`: every `accept` secret must verify
/// it, every `reject` secret must not.
fn verify_with_standardwebhooks(
    request: &switchyard_plugin_sdk::testkit::RecordedRequest,
    accept: &[String],
    reject: &[String],
) {
    let headers: serde_json::Map<String, serde_json::Value> = request
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let sent = json!({
        "headers": headers,
        "body": String::from_utf8(request.body.clone()).unwrap(),
        "accept": accept,
        "reject": reject,
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sent.json");
    std::fs::write(&file, sent.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/verify_standard_webhooks.py");
    let output = std::process::Command::new(venv_python())
        .arg(script)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "standardwebhooks: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn signs_with_every_secret_as_an_independent_verifier_checks() {
    let mut plugin = start().await;
    let mut client = ProviderPluginClient::new(plugin.channel.clone());
    let sink = HttpSink::start().await;
    let (old, new, unknown) = (whsec(1), whsec(2), whsec(3));
    let config = json!({
        "url": format!("{}/in", sink.url()),
        "signing": {"secrets": [old, new]},
    });
    let answer = client
        .deliver(deliver_request(config))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.outcome, pb::Outcome::Delivered as i32, "{answer:?}");
    let request = &sink.wait_for_requests(1, WAIT).await[0];
    assert_eq!(request.header("webhook-id"), Some("dlv_e2e"));
    let signatures = request.header("webhook-signature").unwrap_or_default();
    assert_eq!(
        signatures
            .split(' ')
            .filter(|s| s.starts_with("v1,"))
            .count(),
        2,
        "{signatures}"
    );
    verify_with_standardwebhooks(request, &[old.clone(), new.clone()], &[unknown]);

    let mut controller = GrpcControllerClient::new(plugin.channel.clone());
    controller.shutdown(Empty {}).await.unwrap();
    assert!(wait_exit(&mut plugin.child).await.success());
    let stderr = plugin.stderr.lock().unwrap().clone();
    assert!(
        !stderr.contains(&old[6..]) && !stderr.contains(&new[6..]),
        "secret in stderr: {stderr}"
    );
}

#[tokio::test]
async fn sends_form_bodies_and_retries_the_statuses_listed_in_retry_on_status() {
    let mut plugin = start().await;
    let mut client = ProviderPluginClient::new(plugin.channel.clone());
    let sink = HttpSink::start().await;
    let url = format!("{}/in", sink.url());
    let answer = client
        .deliver(deliver_request(json!({"url": url, "contentType": "form"})))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.outcome, pb::Outcome::Delivered as i32, "{answer:?}");
    let form = &sink.wait_for_requests(1, WAIT).await[0];
    assert_eq!(
        form.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let fields: std::collections::HashMap<String, String> =
        form_urlencoded::parse(&form.body).into_owned().collect();
    assert_eq!(fields["eventType"], "incident.incident.created");
    assert_eq!(fields["id"], "dlv_e2e");
    let data: serde_json::Value = serde_json::from_str(&fields["data"]).unwrap();
    assert_eq!(data, json!({"incidentId": "inc_7"}));

    let conflict = || ResponseSpec::status(409).body("busy");
    for (retry_on_status, outcome) in [
        (json!([423, 409]), pb::Outcome::Retryable),
        (json!([]), pb::Outcome::Permanent),
    ] {
        sink.push_response(conflict());
        let config = json!({"url": url, "retryOnStatus": retry_on_status});
        let answer = client
            .deliver(deliver_request(config))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(answer.outcome, outcome as i32, "{answer:?}");
        assert_eq!(answer.status_code, 409, "{answer:?}");
    }
    let mut controller = GrpcControllerClient::new(plugin.channel.clone());
    controller.shutdown(Empty {}).await.unwrap();
    assert!(wait_exit(&mut plugin.child).await.success());
}

/// A body template in Checkstack's placeholders, nested and flat.
const CHECKSTACK_TEMPLATE: &str = r#"{"text": "{{ payload.title | json_escape }}", "type": "{{event.type}}",
 "delivery": "{{ deliveryId }}", "sub": "{{ subscriptionName }}", "at": "{{ timestamp }}",
 "severity": "{{ payload.severity | default("unknown") }}", "n": {{ payload.count }}}"#;

#[tokio::test]
async fn renders_the_body_template_and_refuses_one_that_is_not_json() {
    let mut plugin = start().await;
    let mut client = ProviderPluginClient::new(plugin.channel.clone());
    let sink = HttpSink::start().await;
    let url = format!("{}/in", sink.url());
    let mut request = deliver_request(json!({"url": url, "bodyTemplate": CHECKSTACK_TEMPLATE}));
    if let Some(event) = request.event.as_mut() {
        event.payload_json = json!({"title": "Disk \"full\"", "count": 3}).to_string();
    }
    let answer = client.deliver(request).await.unwrap().into_inner();
    assert_eq!(answer.outcome, pb::Outcome::Delivered as i32, "{answer:?}");
    let sent = &sink.wait_for_requests(1, WAIT).await[0];
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(
        sent.json(),
        json!({"text": "Disk \"full\"", "type": "incident.incident.created",
               "delivery": "dlv_e2e", "sub": "E2E", "at": "2025-12-29T09:20:00Z",
               "severity": "unknown", "n": 3}),
        "{}",
        String::from_utf8_lossy(&sent.body)
    );

    // `payload.count` is missing here, so `"n": }` is no JSON: permanent, naming the field.
    let config = json!({"url": url, "bodyTemplate": CHECKSTACK_TEMPLATE});
    let answer = client
        .deliver(deliver_request(config))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.outcome, pb::Outcome::Permanent as i32, "{answer:?}");
    assert!(answer.error.contains("/bodyTemplate"), "{answer:?}");
    assert_eq!(sink.request_count(), 1, "an invalid body was sent");
    let mut controller = GrpcControllerClient::new(plugin.channel.clone());
    controller.shutdown(Empty {}).await.unwrap();
    assert!(wait_exit(&mut plugin.child).await.success());
}
