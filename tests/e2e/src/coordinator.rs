//! Coordinator kit for end-to-end tests: [`Coordinator`] runs the real `switchyard serve`
//! binary as a child process on a private temporary data dir with a generated config file
//! (the real webhook plugin, a fast retry schedule), captures its stderr, and hands out API
//! clients over its Unix socket. It can be stopped with SIGTERM, SIGKILLed, and started again
//! on the same data dir. Dropping it kills and reaps the process and removes the directory.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchyard::cli::client::{Clients, connect};
use switchyard_proto::coordinator::v1 as api;

/// How long the coordinator may take to start listening on a loaded 2-core machine.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The coordinator binary's name.
pub const SWITCHYARD: &str = "switchyard";

/// Options of a test coordinator.
#[derive(Debug, Clone)]
pub struct CoordinatorOptions {
    /// `delivery.retry_delays` (default: 100ms, 200ms: 3 attempts in all).
    pub retry_delays: Vec<String>,
    /// `delivery.max_retry_after`.
    pub max_retry_after: String,
    /// `api.max_payload_bytes`.
    pub max_payload_bytes: usize,
    /// More plugins besides the webhook plugin: (binary name in the target dir, arguments).
    pub extra_plugins: Vec<(String, Vec<String>)>,
    /// Extra environment variables of the coordinator process.
    pub env: Vec<(String, String)>,
    /// TOML appended to the generated config file, for what the environment cannot set
    /// (e.g. `[[api.tokens]]` tables, or `[api.tls]`).
    pub extra_config: String,
    /// Where the `switchyard` and plugin binaries are (default: next to the running
    /// executable). A bench points it at another build's `target/release` to compare builds;
    /// the config file then holds only keys that build's default config knows (an older
    /// coordinator refuses unknown keys: `plugins.network_allow` is left out when it has none).
    pub bin_dir: Option<PathBuf>,
}

impl Default for CoordinatorOptions {
    fn default() -> Self {
        Self {
            retry_delays: vec!["100ms".into(), "200ms".into()],
            max_retry_after: "10s".into(),
            max_payload_bytes: 512 * 1024,
            extra_plugins: Vec::new(),
            env: Vec::new(),
            extra_config: String::new(),
            bin_dir: None,
        }
    }
}

/// A running `switchyard serve` child process.
#[derive(Debug)]
pub struct Coordinator {
    dir: tempfile::TempDir,
    child: Option<Child>,
    stderr: Arc<Mutex<String>>,
    opts: CoordinatorOptions,
}

impl Coordinator {
    /// Starts a coordinator on a fresh data dir and waits until its API answers.
    ///
    /// # Panics
    /// When it does not start within [`START_TIMEOUT`] (the panic shows its stderr).
    pub async fn start(opts: CoordinatorOptions) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("sy")
            .tempdir()
            .expect("temp dir");
        let mut c = Self {
            dir,
            child: None,
            stderr: Arc::default(),
            opts,
        };
        c.spawn().await;
        c
    }

    /// Starts a coordinator with the default options.
    pub async fn start_default() -> Self {
        Self::start(CoordinatorOptions::default()).await
    }

    /// The data dir (holds the database and the generated secret key).
    #[must_use]
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The API socket.
    #[must_use]
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("api.sock")
    }

    /// The address for `--addr`.
    #[must_use]
    pub fn addr(&self) -> String {
        format!("unix:{}", self.socket().display())
    }

    /// The config file the coordinator runs with.
    #[must_use]
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("switchyard.toml")
    }

    /// The running process's id.
    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The TCP address of the API as the coordinator logged it when it started listening
    /// (start it with `SWITCHYARD_API__TCP_LISTEN=127.0.0.1:0`).
    ///
    /// The line is read from the coordinator's stderr by another thread, so it may arrive a
    /// moment after the API answers: this waits for it (bounded: 10 s).
    ///
    /// # Panics
    /// When the log names no TCP address by then.
    #[must_use]
    pub fn tcp_addr(&self) -> std::net::SocketAddr {
        let parse = |log: &str| {
            log.split("tcp=Some(")
                .nth(1)
                .and_then(|rest| rest.split(')').next())
                .and_then(|addr| addr.parse().ok())
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.stderr();
            if let Some(addr) = parse(&log) {
                return addr;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no TCP address in the log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Everything the coordinator wrote to stderr so far (all runs).
    #[must_use]
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// New API clients.
    ///
    /// # Panics
    /// When the API cannot be reached.
    pub async fn clients(&self) -> Clients {
        connect(&self.addr(), None)
            .await
            .expect("connect to the coordinator")
    }

    /// Runs the `switchyard` CLI against this coordinator (no token in the environment);
    /// returns (success, stdout, stderr).
    ///
    /// # Panics
    /// When the binary cannot be run.
    #[must_use]
    pub fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(self.binary(SWITCHYARD))
            .arg("--addr")
            .arg(self.addr())
            .args(args)
            .env_remove("SWITCHYARD_TOKEN")
            .stdin(Stdio::null())
            .output()
            .expect("run the switchyard CLI");
        let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
        (out.status.success(), text(out.stdout), text(out.stderr))
    }

    /// The path of binary `name`: in [`CoordinatorOptions::bin_dir`], or next to this executable.
    fn binary(&self, name: &str) -> PathBuf {
        match &self.opts.bin_dir {
            Some(dir) => dir.join(name),
            None => crate::binary(name),
        }
    }

    /// Whether the coordinator binary knows `plugins.network_allow` (every build of this tree
    /// does; an older one from [`CoordinatorOptions::bin_dir`] may not).
    fn knows_network_allow(&self) -> bool {
        if self.opts.bin_dir.is_none() {
            return true;
        }
        Command::new(self.binary(SWITCHYARD))
            .args(["serve", "--print-default-config"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("network_allow"))
    }

    fn write_config(&self) {
        let webhook = self.binary(crate::WEBHOOK);
        let delays: Vec<String> = self
            .opts
            .retry_delays
            .iter()
            .map(|d| format!("{d:?}"))
            .collect();
        let mut plugins = format!(
            "[[plugins.extra]]\ncommand = {:?}\n",
            webhook.display().to_string()
        );
        for (name, args) in &self.opts.extra_plugins {
            let command = self.binary(name).display().to_string();
            plugins.push_str(&format!(
                "[[plugins.extra]]\ncommand = {command:?}\nargs = {args:?}\n"
            ));
        }
        let toml = format!(
            "data_dir = {data:?}\n\
             [api]\nsocket = {sock:?}\ntcp_listen = \"\"\nmax_payload_bytes = {max}\n\
             [plugins]\ndiscover_next_to_binary = false\nstart_timeout = \"30s\"\n\
             {allow}\
             {plugins}\
             [delivery]\nretry_delays = [{delays}]\njitter = 0.0\nmax_retry_after = {cap:?}\n\
             [log]\nlevel = \"info,switchyard=debug\"\n{extra}",
            allow = if self.knows_network_allow() {
                "network_allow = [\"127.0.0.0/8\"]\n"
            } else {
                ""
            },
            data = self.data_dir().display().to_string(),
            sock = self.socket().display().to_string(),
            max = self.opts.max_payload_bytes,
            delays = delays.join(", "),
            cap = self.opts.max_retry_after,
            extra = self.opts.extra_config,
        );
        std::fs::write(self.config_path(), toml).expect("write the config file");
    }

    async fn spawn(&mut self) {
        self.write_config();
        let mut cmd = Command::new(self.binary(SWITCHYARD));
        cmd.arg("serve")
            .arg("--config")
            .arg(self.config_path())
            .env_remove("RUST_LOG")
            .envs(self.opts.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn switchyard serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&self.stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        });
        self.child = Some(child);
        self.wait_ready().await;
    }

    /// Polls the API until it answers (bounded by [`START_TIMEOUT`]).
    async fn wait_ready(&mut self) {
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "switchyard serve exited during start ({status}); stderr:\n{}",
                    self.stderr()
                );
            }
            if self.socket().exists() && api_answers(&self.addr()).await {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "switchyard serve did not start within {START_TIMEOUT:?}; stderr:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the process with SIGKILL (no shutdown at all) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits (bounded) for a clean exit; returns the exit status.
    ///
    /// # Panics
    /// When it does not exit within 60 s.
    pub async fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the coordinator is running");
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status;
            }
            if tokio::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "switchyard serve did not exit within 60 s of SIGTERM; stderr:\n{}",
                    self.stderr()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts the coordinator again on the same data dir and config (after kill/terminate).
    pub async fn restart(&mut self) {
        assert!(
            self.child.is_none(),
            "stop the coordinator before restarting it"
        );
        self.spawn().await;
    }

    /// Every regular file below the data dir, recursively.
    #[must_use]
    pub fn data_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        walk(&self.data_dir(), &mut out);
        out
    }
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        self.kill();
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.is_file() {
            out.push(path);
        }
    }
}

/// Whether the API answers a call (the listeners are bound only after the plugins started).
async fn api_answers(addr: &str) -> bool {
    let Ok(mut clients) = connect(addr, None).await else {
        return false;
    };
    let req = switchyard_proto::coordinator::v1::ListProvidersRequest {};
    match clients.providers.list_providers(req).await {
        Ok(_) => true,
        // Up, but asking for a token this probe does not have.
        Err(status) => status.code() == tonic::Code::Unauthenticated,
    }
}

// === API helpers shared by the coordinator tests ===

/// The event type every coordinator test publishes: an incident with `incidentId`, `title`,
/// optional `systemId` / `systemIds[]`.
pub const INCIDENT: &str = "incident.incident.created";

/// Registers [`INCIDENT`] with a payload schema requiring `incidentId` and `title`.
///
/// # Panics
/// When the API refuses.
pub async fn register_incident(c: &mut Clients) {
    let schema = serde_json::json!({
        "type": "object",
        "required": ["incidentId", "title"],
        "properties": {
            "incidentId": {"type": "string"},
            "title": {"type": "string"},
            "severity": {"type": "string", "enum": ["minor", "major", "critical"]},
            "systemId": {"type": "string"},
            "systemIds": {"type": "array", "items": {"type": "string"}}
        }
    });
    let event_type = api::EventType {
        id: INCIDENT.into(),
        display_name: "Incident created".into(),
        category: "Incidents".into(),
        payload_schema_json: schema.to_string(),
        ..api::EventType::default()
    };
    c.event_types
        .register_event_type(api::RegisterEventTypeRequest {
            event_type: Some(event_type),
        })
        .await
        .expect("register the incident event type");
}

/// Registers each of `ids` (no payload schema) with `correlation_path`, e.g. `/incidentId`.
///
/// # Panics
/// When the API refuses.
pub async fn register_correlated(c: &mut Clients, ids: &[&str], correlation_path: &str) {
    for id in ids {
        c.event_types
            .register_event_type(api::RegisterEventTypeRequest {
                event_type: Some(api::EventType {
                    id: (*id).into(),
                    display_name: (*id).into(),
                    correlation_path: correlation_path.into(),
                    ..Default::default()
                }),
            })
            .await
            .expect("register the event type");
    }
}

/// A webhook subscription to `url` for `incident.*`, enabled, with the coordinator's retry
/// policy.
#[must_use]
pub fn webhook_subscription(name: &str, url: &str) -> api::Subscription {
    api::Subscription {
        name: name.into(),
        provider_id: "webhook.webhook".into(),
        config_json: serde_json::json!({ "url": url, "timeoutMs": 5000 }).to_string(),
        event_types: vec!["incident.*".into()],
        enabled: true,
        ..api::Subscription::default()
    }
}

/// Creates a subscription and returns it as stored.
///
/// # Panics
/// When the API refuses.
pub async fn create_subscription(c: &mut Clients, sub: api::Subscription) -> api::Subscription {
    c.subscriptions
        .create_subscription(api::CreateSubscriptionRequest {
            subscription: Some(sub),
        })
        .await
        .expect("create the subscription")
        .into_inner()
        .subscription
        .expect("a subscription in the response")
}

/// The subscription `id` as stored.
///
/// # Panics
/// When the API refuses.
pub async fn get_subscription(c: &mut Clients, id: &str) -> api::Subscription {
    c.subscriptions
        .get_subscription(api::GetSubscriptionRequest { id: id.into() })
        .await
        .expect("get the subscription")
        .into_inner()
        .subscription
        .expect("a subscription")
}

/// Publishes an incident with `payload` and returns the response.
///
/// # Panics
/// When the API refuses.
pub async fn publish(
    c: &mut Clients,
    payload: serde_json::Value,
    key: &str,
) -> api::PublishEventResponse {
    c.events
        .publish_event(api::PublishEventRequest {
            event_type: INCIDENT.into(),
            payload_json: payload.to_string(),
            idempotency_key: key.into(),
            timestamp: None,
        })
        .await
        .expect("publish the event")
        .into_inner()
}

/// Polls a delivery until `done(status)` holds (bounded: 30 s), and returns it.
///
/// # Panics
/// When it does not get there in time (the panic shows its last state).
pub async fn wait_delivery(
    c: &mut Clients,
    id: &str,
    done: impl Fn(api::DeliveryStatus) -> bool,
) -> api::Delivery {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let d = c
            .deliveries
            .get_delivery(api::GetDeliveryRequest { id: id.into() })
            .await
            .expect("get the delivery")
            .into_inner()
            .delivery
            .expect("a delivery in the response");
        if done(d.status()) {
            return d;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "delivery did not reach the expected status in 30 s: {d:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls a delivery until its status is final (succeeded, failed or cancelled).
pub async fn wait_final(c: &mut Clients, id: &str) -> api::Delivery {
    wait_delivery(c, id, |s| {
        matches!(
            s,
            api::DeliveryStatus::Succeeded
                | api::DeliveryStatus::Failed
                | api::DeliveryStatus::Cancelled
        )
    })
    .await
}

/// The attempts of a delivery.
///
/// # Panics
/// When the API refuses.
pub async fn attempts(c: &mut Clients, id: &str) -> Vec<api::DeliveryAttempt> {
    c.deliveries
        .list_delivery_attempts(api::ListDeliveryAttemptsRequest {
            delivery_id: id.into(),
        })
        .await
        .expect("list the attempts")
        .into_inner()
        .attempts
}

/// How many deliveries match `status` (all when unspecified).
///
/// # Panics
/// When the API refuses.
pub async fn count_deliveries(c: &mut Clients, status: api::DeliveryStatus) -> u64 {
    c.deliveries
        .list_deliveries(api::ListDeliveriesRequest {
            status: status.into(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("list deliveries")
        .into_inner()
        .total
}

// === Plugins with arguments, changed between runs ===

impl Coordinator {
    /// The options the next [`Coordinator::restart`] writes its config file from: change the
    /// plugins' arguments (e.g. a fixture's `--config-version`) between two runs on one data dir.
    pub fn options_mut(&mut self) -> &mut CoordinatorOptions {
        &mut self.opts
    }
}

/// Options with the fixture plugin (`switchyard-fixture-plugin`) started with `args`, besides
/// the webhook plugin.
#[must_use]
pub fn with_fixture_args(args: &[&str]) -> CoordinatorOptions {
    CoordinatorOptions {
        extra_plugins: vec![(
            crate::FIXTURE.to_owned(),
            args.iter().map(|a| (*a).to_owned()).collect(),
        )],
        ..CoordinatorOptions::default()
    }
}

/// Asserts that `needle` occurs in no regular file below the coordinator's data dir (the raw
/// database files and the key file included).
///
/// # Panics
/// When the data dir is empty or a file holds `needle`.
pub fn assert_not_in_data_dir(coord: &Coordinator, needle: &str) {
    let files = coord.data_files();
    assert!(!files.is_empty(), "the data dir holds no files");
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        let found = bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(!found, "the plaintext secret is in {}", file.display());
    }
}
