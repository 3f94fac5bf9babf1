//! Go plugins through a real `switchyard serve`: two plugins served by plain hashicorp/go-plugin
//! (no Switchyard SDK; `tests/go-plugins/`) and the Go SDK's example plugin, each built with
//! `go build` (once per test run, into `target/<profile>/go-plugins/`; `go` must be on PATH).
//!
//! - go-plugin v1.8: a delivery whose handler writes 1 MiB to stdout is delivered in one
//!   attempt (go-plugin sends that output over `plugin.GRPCStdio`, which blocks unless the host
//!   reads it) and the output shows up in the coordinator's log with the plugin's name, the
//!   subscription's token (which the handler printed too) scrubbed.
//! - go-plugin v1.4.8 ignores `PLUGIN_UNIX_SOCKET_DIR` and puts its socket in `/tmp`: hosted
//!   (with a warning) and delivering; the socket is removed when the coordinator stops.
//! - The Go SDK's example plugin delivers its rendered template.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::json;
use switchyard_e2e::coordinator::{
    Coordinator, CoordinatorOptions, attempts, create_subscription, publish, register_incident,
    wait_final,
};
use switchyard_plugin_sdk::testkit::{HttpSink, ResponseSpec};
use switchyard_proto::coordinator::v1 as api;

const TOKEN: &str = "go-e2e-t0ken-5ecret";

/// The Go binaries, built once: (name, Go package directory relative to the repo root).
const GO_BINARIES: [(&str, &str); 3] = [
    ("plain-v18", "tests/go-plugins/plain-v18"),
    ("plain-v14", "tests/go-plugins/plain-v14"),
    ("switchyard-plugin-go-example", "plugin-sdk/go/example"),
];

/// Builds every Go binary (once) and returns the path of `name`.
fn go_binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = BUILT
        .get_or_init(build_go_binaries)
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}"));
    dir.join(name)
}

fn build_go_binaries() -> Result<PathBuf, String> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // target/<profile>/deps/it-… → target/<profile>/go-plugins
    let out = exe
        .ancestors()
        .nth(2)
        .ok_or("no target dir")?
        .join("go-plugins");
    for (name, package) in GO_BINARIES {
        let status = std::process::Command::new("go")
            .args(["build", "-o"])
            .arg(out.join(name))
            .arg(".")
            .current_dir(repo.join(package))
            .status()
            .map_err(|e| format!("cannot run `go build` (is Go installed?): {e}"))?;
        if !status.success() {
            return Err(format!("`go build` of {package} failed: {status}"));
        }
    }
    Ok(out)
}

async fn hosting(binary: &str) -> Coordinator {
    let path = go_binary(binary).display().to_string();
    Coordinator::start(CoordinatorOptions {
        // An absolute path: the kit joins it onto the target dir, which keeps it as it is.
        extra_plugins: vec![(path, Vec::new())],
        ..CoordinatorOptions::default()
    })
    .await
}

/// Subscribes `provider` to incidents with the sink as receiver, publishes one incident and
/// waits for its delivery to end; (delivery, attempts).
async fn deliver_one(
    coord: &Coordinator,
    provider: &str,
    config: serde_json::Value,
    payload: serde_json::Value,
) -> (api::Delivery, Vec<api::DeliveryAttempt>) {
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    create_subscription(
        &mut c,
        api::Subscription {
            name: "go".into(),
            provider_id: provider.into(),
            config_json: config.to_string(),
            event_types: vec!["incident.*".into()],
            enabled: true,
            ..Default::default()
        },
    )
    .await;
    let published = publish(&mut c, payload, "go-1").await;
    let delivery = wait_final(&mut c, &published.deliveries[0].id).await;
    let tried = attempts(&mut c, &delivery.id).await;
    (delivery, tried)
}

#[tokio::test]
async fn a_go_plugin_v18_printing_1_mib_to_stdout_delivers_and_its_output_is_logged() {
    let mut coord = hosting("plain-v18").await;
    let sink = HttpSink::start().await;
    sink.push_response(ResponseSpec::status(200).json(&json!({"id": "rcv-1"})));
    let config = json!({"url": format!("{}/hook", sink.url()), "token": TOKEN});
    let payload = json!({"incidentId": "inc-1", "title": "Flood", "stdoutBytes": 1 << 20});
    let (delivery, tried) = deliver_one(&coord, "go-plain-v18.relay", config, payload).await;
    assert_eq!(
        delivery.status(),
        api::DeliveryStatus::Succeeded,
        "{delivery:?}"
    );
    assert_eq!(tried.len(), 1, "one attempt, no timeout: {tried:?}");
    assert_eq!(tried[0].external_id, "rcv-1");
    let requests = sink.wait_for_requests(1, Duration::from_secs(10)).await;
    assert_eq!(
        requests[0].header("authorization"),
        Some(&*format!("Bearer {TOKEN}"))
    );
    assert_eq!(requests[0].json()["payload"]["incidentId"], "inc-1");

    coord.terminate().await;
    let log = coord.stderr();
    let flood: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("relay-stdout-flood"))
        .collect();
    // ~8,250 lines of 127 bytes make the MiB; every one of them reached the log, named.
    let done = flood
        .iter()
        .find(|l| l.contains("relay-stdout-flood done after"))
        .unwrap_or_else(|| {
            panic!(
                "the last stdout line is not in the log ({} lines were)",
                flood.len()
            )
        });
    let count: usize = done
        .split("done after ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("the line count");
    // The numbered lines, the last line, and the one quoting the token.
    assert_eq!(
        flood.len(),
        count + 2,
        "some stdout lines are missing from the log"
    );
    assert!(
        flood
            .iter()
            .any(|l| l.contains("relay-stdout-flood token [REDACTED]")),
        "the token line is not in the log, scrubbed"
    );
    assert!(flood.iter().all(|l| l.contains("plain-v18")), "{done}");
    assert!(!log.contains(TOKEN), "the token reached the log");
}

#[tokio::test]
async fn a_go_plugin_v14_with_its_socket_in_tmp_is_hosted_and_delivers() {
    let mut coord = hosting("plain-v14").await;
    let sink = HttpSink::start().await;
    let config = json!({"url": sink.url()});
    let payload = json!({"incidentId": "inc-2", "title": "Old go-plugin"});
    let (delivery, _) = deliver_one(&coord, "go-plain-v14.relay", config, payload).await;
    assert_eq!(
        delivery.status(),
        api::DeliveryStatus::Succeeded,
        "{delivery:?}"
    );
    assert_eq!(sink.request_count(), 1);

    let log = coord.stderr();
    let warning = log
        .lines()
        .find(|l| l.contains("ignored PLUGIN_UNIX_SOCKET_DIR"))
        .unwrap_or_else(|| panic!("no warning about the socket's place in:\n{log}"));
    let socket = warning
        .split("socket=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .map(|s| PathBuf::from(s.trim_matches('"')))
        .expect("the socket path in the warning");
    assert!(socket.starts_with("/tmp"), "{warning}");
    assert!(
        socket.exists(),
        "{socket:?} should exist while the plugin runs"
    );
    coord.terminate().await;
    assert!(
        !socket.exists(),
        "{socket:?} left behind after the plugin stopped"
    );
}

#[tokio::test]
async fn the_go_sdk_example_plugin_delivers_its_rendered_template() {
    let coord = hosting("switchyard-plugin-go-example").await;
    let sink = HttpSink::start().await;
    sink.push_response(ResponseSpec::status(202).json(&json!({"id": "m-9"})));
    let config = json!({"url": sink.url(), "token": TOKEN, "text": "{{ payload.title }} on {{ payload.incidentId }}"});
    let payload = json!({"incidentId": "inc-3", "title": "Checkout down"});
    let (delivery, tried) = deliver_one(&coord, "go-example.notify", config, payload).await;
    assert_eq!(
        delivery.status(),
        api::DeliveryStatus::Succeeded,
        "{delivery:?}"
    );
    assert_eq!(tried[0].external_id, "m-9");
    let request = &sink.wait_for_requests(1, Duration::from_secs(10)).await[0];
    assert_eq!(request.json()["text"], "Checkout down on inc-3");
    assert_eq!(
        request.header("idempotency-key"),
        Some(delivery.id.as_str())
    );
    assert!(!coord.stderr().contains(TOKEN), "the token reached the log");
}
