//! The operator's HTTP listener through `switchyard serve`: alive but not ready while a
//! plugin is still starting (it waits on a FIFO the test controls), ready once it is up, and
//! `/metrics` in Prometheus text format counting what a real delivery did.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use switchyard_e2e::coordinator::{
    SWITCHYARD, create_subscription, publish, register_incident, wait_final, webhook_subscription,
};
use switchyard_e2e::{WEBHOOK, binary};
use switchyard_plugin_sdk::testkit::HttpSink;
use switchyard_proto::coordinator::v1 as api;

/// A `switchyard serve` started by hand (the kit's waits for the API, which here must wait).
struct Serve {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn start(dir: &Path, fifo: &Path) -> Serve {
        let script = format!(
            "read go < '{}'; exec '{}'",
            fifo.display(),
            binary(WEBHOOK).display()
        );
        let config = format!(
            "data_dir = {data:?}\n[api]\nsocket = \"api.sock\"\ntcp_listen = \"\"\n\
             [plugins]\ndiscover_next_to_binary = false\nnetwork_allow = [\"127.0.0.0/8\"]\n\
             start_timeout = \"60s\"\n\
             [[plugins.extra]]\ncommand = \"/bin/sh\"\nargs = [\"-c\", {script:?}]\n\
             [observability]\nlisten = \"127.0.0.1:0\"\n",
            data = dir.join("data").display().to_string(),
        );
        let path = dir.join("switchyard.toml");
        std::fs::write(&path, config).expect("write the config");
        let mut child = Command::new(binary(SWITCHYARD))
            .args(["serve", "--config"])
            .arg(&path)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn switchyard serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let pipe = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        });
        Serve { child, stderr }
    }

    fn log(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The listener's address from the log line that announces it.
    fn metrics_addr(&self) -> String {
        eventually("the observability listener's log line", || {
            let log = self.log();
            let line = log.lines().find(|l| l.contains("observability listener"))?;
            let addr = line.split("Some(").nth(1)?.split(')').next()?;
            Some(addr.to_owned())
        })
    }
}

/// Polls `f` until it gives a value (bounded: 30 s).
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `GET path` over plain HTTP/1.1: (status, body).
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to the listener");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or("");
    (status, body.to_owned())
}

/// Checks that `text` is well-formed Prometheus text exposition: every sample line is
/// `name{labels} value` with a numeric value and a `# TYPE` declared for its family.
fn assert_exposition(text: &str) {
    let mut typed = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            typed.push(rest.split(' ').next().unwrap_or("").to_owned());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
        assert!(value.parse::<f64>().is_ok(), "not a number in {line:?}");
        let name = series.split('{').next().unwrap_or("");
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        assert!(
            typed.iter().any(|t| t == name || t == family),
            "no # TYPE for {name}"
        );
    }
}

/// The value of the sample whose line starts with `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit_once(' '))
        .and_then(|(_, v)| v.parse().ok())
}

#[tokio::test]
async fn ready_only_once_plugins_are_up_and_metrics_count_a_delivery() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("go");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    let serve = Serve::start(dir.path(), &fifo);
    let addr = serve.metrics_addr();
    assert_eq!(get(&addr, "/healthz").0, 200);
    let (status, body) = get(&addr, "/readyz");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("plugins") && body.contains("api"), "{body}");

    // Let the plugin start: the API comes up, then /readyz says ready.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .and_then(|mut f| f.write_all(b"go\n"))
        .expect("release the plugin");
    eventually("/readyz to be ready", || {
        (get(&addr, "/readyz").0 == 200).then_some(())
    });

    let socket = format!("unix:{}", dir.path().join("data/api.sock").display());
    let mut c = switchyard::cli::client::connect(&socket, None)
        .await
        .expect("connect");
    let sink = HttpSink::start().await;
    register_incident(&mut c).await;
    create_subscription(&mut c, webhook_subscription("ops", &sink.url())).await;
    let published = publish(
        &mut c,
        json!({"incidentId": "inc-1", "title": "Disk full"}),
        "",
    )
    .await;
    let delivery = &published.deliveries[0];
    let done = wait_final(&mut c, &delivery.id).await;
    assert_eq!(done.status(), api::DeliveryStatus::Succeeded);

    // A refused publish (the payload misses its schema's required title) counts with its code.
    let refused = c
        .events
        .publish_event(api::PublishEventRequest {
            event_type: "incident.incident.created".into(),
            payload_json: json!({"incidentId": "inc-2"}).to_string(),
            idempotency_key: String::new(),
            timestamp: None,
        })
        .await;
    assert_eq!(
        refused.map(|_| ()).unwrap_err().code(),
        tonic::Code::InvalidArgument
    );

    let (status, text) = get(&addr, "/metrics");
    assert_eq!(status, 200);
    assert_counted(&text);
    assert!(!text.contains(&delivery.id), "no ids as labels");
}

/// What one delivered publish and one refused publish leave in the metrics.
fn assert_counted(text: &str) {
    assert_exposition(text);
    let provider = "provider=\"webhook.webhook\"";
    assert_eq!(
        sample(
            text,
            &format!("switchyard_attempts_total{{{provider},result=\"delivered\"}}")
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            text,
            &format!("switchyard_deliveries_total{{{provider},status=\"succeeded\"}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(text, "switchyard_publish_duration_seconds_count"),
        Some(1.0)
    );
    assert_eq!(sample(text, "switchyard_backlog_due "), Some(0.0));
    assert_eq!(sample(text, "switchyard_backlog_in_flight "), Some(0.0));
    assert!(text.contains("switchyard_plugin_up{plugin="), "{text}");
    let publish = "method=\"/switchyard.coordinator.v1.EventService/PublishEvent\"";
    assert_eq!(
        sample(
            text,
            &format!("switchyard_api_requests_total{{{publish},code=\"ok\"}}")
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            text,
            &format!("switchyard_api_requests_total{{{publish},code=\"invalid_argument\"}}")
        ),
        Some(1.0)
    );
}
