//! Zero-downtime plugin upgrades through the real `switchyard serve`: the fixture plugin is
//! installed as an executable in a temporary directory (a small `sh` script that `exec`s the
//! real fixture binary with its version's arguments, so the process the coordinator runs and
//! reaps is the fixture itself), and a new version is installed the way installers do it:
//! written to a temporary file beside it and renamed over it.
//!
//! - Under load: while events flow to two `fixture.linked` subscriptions (config version 1),
//!   version 2 (config `labels`, with a migration from `tag`) replaces the binary. The
//!   coordinator's binary watch notices, starts it beside the old one, migrates the stored
//!   configs and switches: every delivery succeeds at its first attempt, the receiver got each
//!   exactly once, the configs are stored at version 2, the old process is reaped.
//! - Refused: a new version whose Describe is invalid, then one that cannot migrate a stored
//!   config, are refused with the reason in `last_reload_error` (API and CLI), and the old
//!   version keeps delivering; once the config is gone, `switchyard plugins reload` switches.
//!   SIGHUP reloads too.
//! - At the host: a call in flight during a reload finishes on the old process; the reload
//!   returns after it, with the old process reaped.
//! - An in-place overwrite of a running executable fails with ETXTBSY (Linux refuses to write
//!   a file that a process is executing), so installers must rename.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use switchyard::cli::client::Clients;
use switchyard::host::{GateFuture, ProviderEntry, Registry, UpgradeGate};
use switchyard_e2e::coordinator::{
    Coordinator, CoordinatorOptions, attempts, create_subscription, get_subscription, publish,
    register_incident, wait_final,
};
use switchyard_e2e::{deliver_request, leftovers, options, socket_root, wait_gone, webhook};
use switchyard_plugin_sdk::testkit::{HttpSink, ResponseSpec};
use switchyard_proto::coordinator::v1 as api;

const WAIT: Duration = Duration::from_secs(60);

/// A directory holding the installed plugin executable.
struct Install {
    dir: tempfile::TempDir,
}

impl Install {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("sy-upgrade")
            .tempdir()
            .expect("temp dir");
        Install { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("switchyard-plugin-fixture")
    }

    /// Installs the version that runs the fixture with `args`: a new file, renamed over.
    fn install(&self, args: &[&str]) {
        use std::os::unix::fs::PermissionsExt as _;
        let fixture = switchyard_e2e::binary(switchyard_e2e::FIXTURE);
        let script = format!(
            "#!/bin/sh\nexec {:?} {}\n",
            fixture.display().to_string(),
            args.join(" ")
        );
        let temp = self.dir.path().join(".switchyard-plugin-fixture.new");
        std::fs::write(&temp, script).expect("write the new version");
        std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::rename(&temp, self.path()).expect("rename it over the old one");
    }
}

/// A coordinator running the installed plugin (besides the webhook plugin), checking plugin
/// files every 100 ms.
async fn start(install: &Install) -> Coordinator {
    let opts = CoordinatorOptions {
        retry_delays: vec!["1h".into()],
        env: vec![("SWITCHYARD_PLUGINS__WATCH_INTERVAL".into(), "100ms".into())],
        extra_config: format!(
            "[[plugins.extra]]\ncommand = {:?}\n",
            install.path().display().to_string()
        ),
        ..CoordinatorOptions::default()
    };
    Coordinator::start(opts).await
}

/// The incident event type and a `fixture.linked` connection to `sink`; returns its id.
async fn setup(c: &mut Clients, sink: &HttpSink) -> String {
    register_incident(c).await;
    let req = api::CreateConnectionRequest {
        provider_id: "fixture.linked".into(),
        name: "linked".into(),
        config_json:
            json!({"baseUrl": sink.url(), "apiToken": "tok-upgrade", "nested": {"region": "eu"}})
                .to_string(),
    };
    c.connections
        .create_connection(req)
        .await
        .expect("create the connection")
        .into_inner()
        .connection
        .expect("a connection")
        .id
}

async fn linked(c: &mut Clients, name: &str, conn: &str, tag: &str) -> api::Subscription {
    let sub = api::Subscription {
        name: name.into(),
        provider_id: "fixture.linked".into(),
        config_json: json!({"connectionId": conn, "project": "p", "tag": tag}).to_string(),
        event_types: vec!["incident.*".into()],
        enabled: true,
        ..api::Subscription::default()
    };
    create_subscription(c, sub).await
}

async fn provider(c: &mut Clients) -> api::Provider {
    c.providers
        .get_provider(api::GetProviderRequest {
            id: "fixture.linked".into(),
        })
        .await
        .expect("get the provider")
        .into_inner()
        .provider
        .expect("a provider")
}

/// Polls the provider until `done` holds (bounded by [`WAIT`]).
async fn wait_provider(c: &mut Clients, done: impl Fn(&api::Provider) -> bool) -> api::Provider {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let p = provider(c).await;
        if done(&p) {
            return p;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "provider never got there: {p:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn config_version(p: &api::Provider) -> u32 {
    p.config_schema.as_ref().map_or(0, |s| s.version)
}

/// The pid of the coordinator's child running the fixture binary.
fn fixture_pid(coord: &Coordinator) -> Option<u32> {
    let parent = coord.pid()?;
    let fixture = switchyard_e2e::binary(switchyard_e2e::FIXTURE);
    let fixture = std::fs::canonicalize(&fixture).unwrap_or(fixture);
    switchyard_e2e::child_pid(parent, |exe| exe == fixture)
}

/// Waits until the fixture's process is another than `old`, and returns it.
async fn wait_new_pid(coord: &Coordinator, old: u32) -> u32 {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(pid) = fixture_pid(coord).filter(|p| *p != old) {
            return pid;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no new fixture process"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Publishes incidents one after the other until `stop`; returns their delivery ids.
async fn publish_until(mut c: Clients, stop: Arc<AtomicBool>) -> Vec<String> {
    let mut ids = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let published = publish(
            &mut c,
            json!({"incidentId": format!("inc-{n}"), "title": "t"}),
            "",
        )
        .await;
        ids.extend(published.deliveries.into_iter().map(|d| d.id));
    }
    ids
}

/// Every delivery succeeded at its first attempt, and the receiver got each exactly once.
async fn assert_all_delivered_once(c: &mut Clients, sink: &HttpSink, ids: &[String]) {
    for id in ids {
        let d = wait_final(c, id).await;
        assert_eq!(d.status(), api::DeliveryStatus::Succeeded, "{d:?}");
        let tries = attempts(c, id).await;
        assert_eq!(
            tries.len(),
            1,
            "a delivery needed more than one attempt: {tries:?}"
        );
    }
    let got = sink.wait_for_requests(ids.len(), WAIT).await;
    let mut seen: Vec<&str> = got
        .iter()
        .filter_map(|r| r.header("x-delivery-id"))
        .collect();
    seen.sort_unstable();
    let mut want: Vec<&str> = ids.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(seen, want, "the receiver got every delivery exactly once");
}

fn config_of(sub: &api::Subscription) -> Value {
    serde_json::from_str(&sub.config_json).expect("config_json is JSON")
}

#[tokio::test]
async fn a_replaced_binary_takes_over_under_load_without_a_failed_delivery() {
    let sink = HttpSink::start().await;
    let install = Install::new();
    install.install(&["good", "--config-version", "1"]);
    let coord = start(&install).await;
    let mut c = coord.clients().await;
    let conn = setup(&mut c, &sink).await;
    let red = linked(&mut c, "red", &conn, "red,blue").await;
    let green = linked(&mut c, "green", &conn, "green").await;
    assert_eq!(red.config_version, 1);
    let old_pid = fixture_pid(&coord).expect("the fixture runs");

    let stop = Arc::new(AtomicBool::new(false));
    let publisher = tokio::spawn(publish_until(coord.clients().await, Arc::clone(&stop)));
    while sink.request_count() < 40 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    install.install(&["good", "--config-version", "2"]);
    // The new version is described as soon as it takes over; the reload is recorded once the
    // old process is reaped.
    let upgraded = wait_provider(&mut c, |p| p.last_reload_time.is_some()).await;
    assert_eq!(config_version(&upgraded), 2, "{upgraded:?}");
    assert!(upgraded.last_reload_error.is_empty(), "{upgraded:?}");
    let during = sink.request_count();
    while sink.request_count() < during + 40 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let ids = publisher.await.expect("the publisher");
    assert_all_delivered_once(&mut c, &sink, &ids).await;

    for (sub, labels) in [(&red, json!(["red", "blue"])), (&green, json!(["green"]))] {
        let stored = get_subscription(&mut c, &sub.id).await;
        assert_eq!(stored.config_version, 2, "{stored:?}");
        assert_eq!(config_of(&stored)["labels"], labels, "{stored:?}");
        assert!(stored.enabled, "{stored:?}");
    }
    let versions: Vec<String> = sink
        .requests()
        .iter()
        .filter_map(|r| r.header("x-linked-config-version").map(str::to_owned))
        .collect();
    let (first, last) = (versions.first(), versions.last());
    assert_eq!(
        (first.map(String::as_str), last.map(String::as_str)),
        (Some("1"), Some("2"))
    );
    assert!(
        wait_gone(old_pid, WAIT).await,
        "the old process {old_pid} was not reaped"
    );
    let new_pid = fixture_pid(&coord).expect("the new version runs");
    assert_ne!(new_pid, old_pid);
    assert!(
        coord.stderr().contains("plugin reloaded"),
        "{}",
        coord.stderr()
    );
}

/// Publishes one incident and asserts that each of its deliveries succeeded with `version`.
async fn deliver_one(c: &mut Clients, sink: &HttpSink, version: &str) {
    let before = sink.request_count();
    let published = publish(c, json!({"incidentId": "one", "title": "t"}), "").await;
    for d in &published.deliveries {
        let d = wait_final(c, &d.id).await;
        assert_eq!(d.status(), api::DeliveryStatus::Succeeded, "{d:?}");
    }
    let got = sink
        .wait_for_requests(before + published.deliveries.len(), WAIT)
        .await;
    for r in &got[before..] {
        assert_eq!(r.header("x-linked-config-version"), Some(version));
    }
}

#[tokio::test]
async fn a_broken_new_version_is_refused_and_the_old_keeps_delivering() {
    let sink = HttpSink::start().await;
    let install = Install::new();
    install.install(&["good", "--config-version", "1"]);
    let coord = start(&install).await;
    let mut c = coord.clients().await;
    let conn = setup(&mut c, &sink).await;
    let red = linked(&mut c, "red", &conn, "red").await;
    let pid = fixture_pid(&coord).expect("the fixture runs");

    install.install(&["invalid-schema", "--config-version", "2"]);
    let refused = wait_provider(&mut c, |p| !p.last_reload_error.is_empty()).await;
    assert!(
        refused.last_reload_error.contains("config_schema"),
        "{refused:?}"
    );
    assert_eq!(
        config_version(&refused),
        1,
        "the old version is still described"
    );
    assert!(refused.running);
    assert_eq!(
        fixture_pid(&coord),
        Some(pid),
        "the old process still serves"
    );
    deliver_one(&mut c, &sink, "1").await;

    // A config version 2 cannot take: the migration refuses a tag with whitespace.
    let spaced = linked(&mut c, "spaced", &conn, "a b").await;
    install.install(&["good", "--config-version", "2"]);
    let refused = wait_provider(&mut c, |p| {
        p.last_reload_error.contains("cannot be migrated")
    })
    .await;
    assert!(
        refused.last_reload_error.contains(&spaced.id),
        "{refused:?}"
    );
    assert_eq!(config_version(&refused), 1);
    deliver_one(&mut c, &sink, "1").await;
    let kept = get_subscription(&mut c, &spaced.id).await;
    assert_eq!((kept.config_version, kept.enabled), (1, true), "{kept:?}");
    assert_eq!(config_of(&kept)["tag"], json!("a b"), "nothing was written");
    assert_eq!(fixture_pid(&coord), Some(pid));

    let (ok, _, err) = coord.cli(&["plugins", "reload", "fixture"]);
    assert!(
        !ok && err.contains("FailedPrecondition") && err.contains("cannot be migrated"),
        "{err}"
    );
    let (ok, out, _) = coord.cli(&["providers", "show", "fixture.linked"]);
    assert!(ok && out.contains("REFUSED"), "{out}");
    let (ok, _, err) = coord.cli(&["plugins", "reload", "nope"]);
    assert!(
        !ok && err.contains("NotFound") && err.contains("fixture"),
        "{err}"
    );

    c.subscriptions
        .delete_subscription(api::DeleteSubscriptionRequest {
            id: spaced.id.clone(),
        })
        .await
        .expect("delete the subscription that cannot migrate");
    let (ok, out, err) = coord.cli(&["--json", "plugins", "reload", "fixture"]);
    assert!(ok, "{err}");
    let reloaded: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(reloaded["oldPid"], json!(pid), "{reloaded}");
    assert!(
        !process_alive(pid),
        "the old process is reaped when the reload returns"
    );
    let stored = get_subscription(&mut c, &red.id).await;
    assert_eq!(stored.config_version, 2, "{stored:?}");
    assert!(provider(&mut c).await.last_reload_error.is_empty());
    deliver_one(&mut c, &sink, "2").await;

    sighup_reloads(&coord, &mut c, &sink).await;
}

/// SIGHUP reloads every plugin: the fixture runs in a new process, the old one is reaped, and
/// deliveries go on.
async fn sighup_reloads(coord: &Coordinator, c: &mut Clients, sink: &HttpSink) {
    let current = fixture_pid(coord).expect("the new version runs");
    let coordinator =
        nix::unistd::Pid::from_raw(i32::try_from(coord.pid().expect("pid")).expect("pid"));
    nix::sys::signal::kill(coordinator, nix::sys::signal::Signal::SIGHUP).expect("SIGHUP");
    let after_hup = wait_new_pid(coord, current).await;
    assert!(
        wait_gone(current, WAIT).await,
        "SIGHUP's old process was not reaped"
    );
    assert_ne!(after_hup, current);
    deliver_one(c, sink, "2").await;
}

fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[tokio::test]
async fn an_in_place_overwrite_of_a_running_binary_fails_with_etxtbsy() {
    let install = Install::new();
    install.install(&["good"]);
    let coord = start(&install).await;
    let pid = fixture_pid(&coord).expect("the fixture runs");
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).expect("its executable");
    // Opened for writing without truncating: nothing is changed even where it were allowed.
    let err = std::fs::OpenOptions::new()
        .write(true)
        .open(&exe)
        .expect_err("Linux refuses to open a running executable for writing");
    assert_eq!(err.raw_os_error(), Some(nix::libc::ETXTBSY), "{err}");
    assert_eq!(fixture_pid(&coord), Some(pid));
}

/// A gate that accepts every new version (no stored configs at the host level).
struct AcceptAll;

impl UpgradeGate for AcceptAll {
    fn check<'a>(&'a self, _: &'a [ProviderEntry]) -> GateFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }

    fn switched<'a>(&'a self, _: &'a str) -> GateFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// At the host: a call in flight when the reload starts (its receiver answers late) finishes
/// on the old process, successfully, while new calls already go to the new one; the reload
/// returns only after that call ended, with the old process reaped, and nothing is left in the
/// socket root once the registry stops.
#[tokio::test]
async fn a_call_in_flight_finishes_on_the_old_process_during_a_reload() {
    let root = socket_root();
    let sink = HttpSink::start().await;
    sink.push_response(ResponseSpec::status(200).delay(Duration::from_secs(2)));
    let (registry, errors) = Registry::start(vec![webhook()], options(root.path())).await;
    assert!(errors.is_empty(), "{errors:?}");
    let old = registry.resolve("webhook.webhook").expect("webhook");
    let old_pid = old.plugin.pid().expect("running");
    let request = deliver_request("webhook", &json!({"url": sink.url()}));
    let slow = tokio::spawn(async move {
        let answer = old.plugin.deliver(request).await;
        (answer, std::time::Instant::now())
    });
    sink.wait_for_requests(1, WAIT).await;

    let reloading = registry.clone();
    let reload = tokio::spawn(async move {
        let done = reloading.reload("webhook", &AcceptAll).await;
        (done, std::time::Instant::now())
    });
    let deadline = tokio::time::Instant::now() + WAIT;
    let new = loop {
        let entry = registry.resolve("webhook.webhook").expect("webhook");
        if entry.plugin.pid().is_some_and(|pid| pid != old_pid) {
            break entry;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new version never took over"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let fast = new
        .plugin
        .deliver(deliver_request("webhook", &json!({"url": sink.url()})))
        .await;
    assert!(fast.is_ok(), "{fast:?}");

    let (answer, slow_done) = slow.await.expect("the slow call");
    assert!(answer.is_ok(), "the call in flight failed: {answer:?}");
    let (done, reload_done) = reload.await.expect("the reload");
    let done = done.expect("reloaded");
    assert_eq!(done.old_pid, Some(old_pid));
    assert!(
        slow_done <= reload_done,
        "the reload returned before the old call ended"
    );
    assert!(!process_alive(old_pid), "the old process is reaped");
    registry.stop_all().await;
    assert!(
        leftovers(root.path()).is_empty(),
        "{:?}",
        leftovers(root.path())
    );
}
