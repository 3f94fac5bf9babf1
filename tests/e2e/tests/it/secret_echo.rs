//! Secrets echoed by a receiver, end to end: a real `switchyard serve` with the webhook plugin
//! (bearer, basic, custom-header and query-parameter auth), the Python example plugin (bearer)
//! and the fixture plugin in mode `raw-echo` (returns the receiver's whole answer without any
//! SDK, so only the coordinator's own scrubbing stands in the way). The receiver answers 400
//! repeating its request line, every header and the body. The canary secret, and its URL- and
//! base64-encoded forms, must then appear in no API response (GetDelivery, ListDeliveries,
//! ListDeliveryAttempts, WatchDeliveries), no CLI output (`deliveries show`, `deliveries list
//! --json`, `deliveries watch --json`), no line of the coordinator's stderr (plugin log lines
//! included) and no byte of any file under the data dir. A TestConnection through the raw
//! fixture, whose answer quotes the secret, is scrubbed too.
//!
//! The Python example plugin runs through its wrapper script, which needs the SDK's virtualenv
//! (`plugin-sdk/python/scripts/setup.sh`, run by `scripts/test.sh` before the Rust tests).

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use switchyard::cli::client::Clients;
use switchyard_e2e::coordinator::{
    Coordinator, CoordinatorOptions, SWITCHYARD, assert_not_in_data_dir, attempts,
    create_subscription, publish, register_incident, wait_final,
};
use switchyard_plugin_sdk::testkit::HttpSink;
use switchyard_proto::coordinator::v1 as api;

/// The secret: with characters URL-encoding changes, so its encoded forms differ from it.
const CANARY: &str = "Cnry-e2e-9f1e+tok/en=";
/// The basic-auth user name.
const USER: &str = "ops-user";

/// Every form in which the canary would leak.
fn forms() -> Vec<String> {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    vec![
        CANARY.to_owned(),
        "Cnry-e2e-9f1e%2Btok%2Fen%3D".to_owned(),
        "Cnry-e2e-9f1e%2btok%2fen%3d".to_owned(),
        b64(CANARY),
        b64(&format!("{USER}:{CANARY}")),
    ]
}

fn assert_hidden(what: &str, text: &str) {
    for form in forms() {
        assert!(!text.contains(&form), "{form:?} leaked in {what}: {text}");
    }
}

/// The Python example plugin's wrapper script, by absolute path (the kit joins plugin names to
/// the target dir, and joining an absolute path yields the path itself).
fn pyexample() -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../plugin-sdk/python");
    assert!(
        root.join(".venv-py/bin/python").is_file(),
        "the Python SDK's virtualenv is missing: run plugin-sdk/python/scripts/setup.sh"
    );
    root.join("switchyard-plugin-pyexample")
        .canonicalize()
        .expect("the pyexample wrapper")
        .display()
        .to_string()
}

/// One subscription per way the canary is sent, all to the echoing receiver.
fn subscriptions(url: &str) -> Vec<(&'static str, Value)> {
    let webhook = |auth: Value| json!({"url": url, "timeoutMs": 5000, "auth": auth});
    vec![
        (
            "webhook.webhook",
            webhook(json!({"type": "bearer", "token": CANARY})),
        ),
        (
            "webhook.webhook",
            webhook(json!({"type": "basic", "username": USER, "password": CANARY})),
        ),
        (
            "webhook.webhook",
            webhook(json!({"type": "header", "name": "X-Api-Key", "value": CANARY})),
        ),
        (
            "webhook.webhook",
            webhook(json!({"type": "query", "name": "api_key", "value": CANARY})),
        ),
        ("pyexample.http-post", json!({"url": url, "token": CANARY})),
        ("fixture.echo", json!({"url": url, "secret": CANARY})),
    ]
}

async fn subscribe_all(c: &mut Clients, url: &str) -> usize {
    let all = subscriptions(url);
    for (i, (provider, config)) in all.iter().enumerate() {
        let sub = api::Subscription {
            name: format!("echo-{i}"),
            provider_id: (*provider).into(),
            config_json: config.to_string(),
            event_types: vec!["incident.*".into()],
            enabled: true,
            ..api::Subscription::default()
        };
        let created = create_subscription(c, sub).await;
        assert_hidden("CreateSubscription", &format!("{created:?}"));
    }
    all.len()
}

/// A TestConnection whose raw answer quotes the secret: the API's answer does not.
async fn check_test_connection(c: &mut Clients, url: &str) {
    let test = api::TestConnectionRequest {
        provider_id: "fixture.echo".into(),
        kind: api::ConfigKind::Provider.into(),
        config_json: json!({"url": url, "secret": CANARY}).to_string(),
        connection_id: String::new(),
    };
    let verdict = c
        .connections
        .test_connection(test)
        .await
        .expect("test connection")
        .into_inner();
    assert!(!verdict.success, "{verdict:?}");
    assert!(
        verdict.message.contains("refused the secret [REDACTED]"),
        "{verdict:?}"
    );
    assert_hidden("TestConnection", &format!("{verdict:?}"));
}

/// `switchyard deliveries watch --json`, its stdout lines collected by a thread.
struct CliWatch {
    child: Child,
    out: Arc<Mutex<String>>,
}

impl CliWatch {
    fn start(coord: &Coordinator) -> Self {
        let mut child = cli_command(coord, &["--json", "deliveries", "watch"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("run switchyard deliveries watch");
        let stdout = child.stdout.take().expect("piped stdout");
        let out = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&out);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(mut text) = sink.lock() {
                    text.push_str(&line);
                    text.push('\n');
                }
            }
        });
        Self { child, out }
    }

    fn text(&self) -> String {
        self.out.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Whether it printed every delivery of `ids` with at least `attempts` attempts.
    fn shows(&self, ids: &[String], attempts: u64) -> bool {
        let text = self.text();
        ids.iter().all(|id| {
            text.lines().any(|line| {
                serde_json::from_str::<Value>(line).is_ok_and(|v| {
                    v["id"] == id.as_str() && v["attempts"].as_u64() >= Some(attempts)
                })
            })
        })
    }
}

impl Drop for CliWatch {
    // It streams forever: stop it and reap it.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What `switchyard deliveries watch --json` prints about a manual attempt of every delivery.
/// The CLI connects at some point after it starts, and says nothing until a change: so the
/// deliveries are redelivered until it has shown each one's new attempt (bounded: 30 s).
async fn cli_watch_output(coord: &Coordinator, c: &mut Clients, ids: &[String]) -> String {
    let watch = CliWatch::start(coord);
    for round in 1..=4u64 {
        for id in ids {
            let req = api::RedeliverDeliveryRequest { id: id.clone() };
            // Refused while the previous round's attempt is still in flight: fine.
            let _ = c.deliveries.redeliver_delivery(req).await;
        }
        for id in ids {
            wait_final(c, id).await;
        }
        // Doubling: a quick first try, then more time for a loaded machine.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1 << round);
        while !watch.shows(ids, 2) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if watch.shows(ids, 2) {
            return watch.text();
        }
        eprintln!("the CLI watch missed round {round}; redelivering again");
    }
    panic!(
        "the CLI watch never showed every redelivery: {}",
        watch.text()
    );
}

fn cli_command(coord: &Coordinator, args: &[&str]) -> Command {
    let mut cmd = Command::new(switchyard_e2e::binary(SWITCHYARD));
    cmd.arg("--addr")
        .arg(coord.addr())
        .args(args)
        .env_remove("SWITCHYARD_TOKEN")
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Runs the CLI; asserts it succeeded and that neither output holds the canary.
fn cli_hidden(coord: &Coordinator, args: &[&str]) -> String {
    let out = cli_command(coord, args)
        .stdout(Stdio::piped())
        .output()
        .expect("run the switchyard CLI");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "switchyard {args:?}: {stderr}");
    assert_hidden(&format!("`switchyard {}`", args.join(" ")), &stdout);
    assert_hidden(&format!("`switchyard {}` stderr", args.join(" ")), &stderr);
    stdout
}

/// Reads the watch stream until every delivery in `ids` was seen after its attempt.
async fn watch_until_attempted(
    stream: &mut tonic::Streaming<api::WatchDeliveriesResponse>,
    ids: &[String],
) -> String {
    let mut seen = String::new();
    let mut done = std::collections::BTreeSet::new();
    while done.len() < ids.len() {
        let next = tokio::time::timeout(Duration::from_secs(60), stream.message()).await;
        let msg = next
            .expect("a watch message within 60 s")
            .expect("the watch stream")
            .expect("the watch stream stays open");
        seen.push_str(&format!("{msg:?}\n"));
        if let Some(d) = msg.delivery.filter(|d| d.attempts > 0) {
            done.insert(d.id);
        }
    }
    seen
}

/// Every delivery's answer through the API: echoed (so the test means something), redacted.
async fn check_api(c: &mut Clients, ids: &[String]) {
    for id in ids {
        let d = wait_final(c, id).await;
        assert_eq!(d.status(), api::DeliveryStatus::Failed, "{d:?}");
        assert!(
            d.last_error.contains("you sent: POST /"),
            "not the echo: {d:?}"
        );
        assert_hidden("GetDelivery", &format!("{d:?}"));
        let tried = attempts(c, id).await;
        assert_eq!(tried.len(), 1, "{tried:?}");
        assert_hidden("ListDeliveryAttempts", &format!("{tried:?}"));
    }
    let listed = c
        .deliveries
        .list_deliveries(api::ListDeliveriesRequest::default())
        .await
        .expect("list deliveries")
        .into_inner();
    assert_eq!(listed.deliveries.len(), ids.len());
    assert_hidden("ListDeliveries", &format!("{listed:?}"));
    let redacted = listed
        .deliveries
        .iter()
        .filter(|d| d.last_error.contains("[REDACTED]"))
        .count();
    // The Python SDK quotes only 200 bytes of the body, which end before the echoed header.
    assert!(redacted >= ids.len() - 1, "{listed:?}");
}

fn check_cli(coord: &Coordinator, ids: &[String], watched: &str) {
    for id in ids {
        cli_hidden(coord, &["deliveries", "show", id]);
        cli_hidden(coord, &["--json", "deliveries", "show", id]);
    }
    let listed = cli_hidden(coord, &["--json", "deliveries", "list"]);
    assert!(
        ids.iter().all(|id| listed.contains(id.as_str())),
        "{listed}"
    );
    assert_hidden("`switchyard deliveries watch --json`", watched);
    assert!(
        watched.contains("you sent"),
        "the watch saw no failed attempt: {watched}"
    );
}

#[tokio::test]
async fn a_secret_echoed_by_the_receiver_never_surfaces() {
    let opts = CoordinatorOptions {
        extra_plugins: vec![
            (switchyard_e2e::FIXTURE.into(), vec!["raw-echo".into()]),
            (pyexample(), Vec::new()),
        ],
        ..CoordinatorOptions::default()
    };
    let mut coord = Coordinator::start(opts).await;
    let mut c = coord.clients().await;
    let receiver = HttpSink::start_echo(400).await;
    register_incident(&mut c).await;
    let url = format!("{}/hook", receiver.url());
    let n = subscribe_all(&mut c, &url).await;
    let watch_req = api::WatchDeliveriesRequest::default();
    let mut stream = c
        .deliveries
        .watch_deliveries(watch_req)
        .await
        .expect("watch")
        .into_inner();

    let published = publish(&mut c, json!({"incidentId": "inc-echo", "title": "t"}), "").await;
    let ids: Vec<String> = published.deliveries.iter().map(|d| d.id.clone()).collect();
    assert_eq!(ids.len(), n, "{published:?}");
    let got = receiver.wait_for_requests(n, Duration::from_secs(60)).await;
    assert_eq!(got.len(), n, "every subscription reached the receiver");
    let watched = watch_until_attempted(&mut stream, &ids).await;
    assert_hidden("WatchDeliveries", &watched);
    check_api(&mut c, &ids).await;
    let cli_watched = cli_watch_output(&coord, &mut c, &ids).await;
    check_cli(&coord, &ids, &cli_watched);
    check_test_connection(&mut c, &url).await;

    drop((stream, c));
    assert!(coord.terminate().await.success());
    let stderr = coord.stderr();
    assert!(
        stderr.contains("receiver answered 400"),
        "the raw plugin's log line: {stderr}"
    );
    assert_hidden("the coordinator's stderr", &stderr);
    for form in forms() {
        assert_not_in_data_dir(&coord, &form);
    }
}
