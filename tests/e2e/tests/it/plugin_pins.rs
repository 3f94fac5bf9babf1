//! Pinned and limited plugins, with the real coordinator and a copy of the fixture plugin: a
//! binary whose SHA-256 is not the pinned one (one byte changed) is refused — at the first
//! start, and at a restart after a crash, with both hashes in the log and in the provider's
//! `start_error` — and runs again once the pinned binary is back; the resource limits of the
//! config are what `/proc/<pid>/limits` of the running plugin shows, core dumps off.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::Digest as _;
use switchyard_e2e::coordinator::{Coordinator, CoordinatorOptions};
use switchyard_proto::coordinator::v1 as api;

/// A copy of the fixture plugin in its own directory, and its SHA-256.
struct Copy {
    dir: tempfile::TempDir,
    path: PathBuf,
    sha256: String,
}

fn hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn copy_fixture() -> Copy {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("switchyard-fixture-plugin");
    let bytes = std::fs::read(switchyard_e2e::binary(switchyard_e2e::FIXTURE)).expect("read");
    std::fs::write(&path, &bytes).expect("copy the fixture");
    make_executable(&path);
    Copy {
        sha256: hex(&bytes),
        dir,
        path,
    }
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// Replaces `path` (atomically, as an upgrade would: a running binary cannot be written) by
/// `bytes`.
fn replace(path: &Path, bytes: &[u8]) {
    let next = path.with_extension("next");
    std::fs::write(&next, bytes).expect("write");
    make_executable(&next);
    std::fs::rename(&next, path).expect("rename over the binary");
}

/// `bytes` with one byte changed, and its hash.
fn tampered(bytes: &[u8]) -> (Vec<u8>, String) {
    let mut out = bytes.to_vec();
    let middle = out.len() / 2;
    out[middle] ^= 0x01;
    let sha = hex(&out);
    (out, sha)
}

fn pinned_entry(path: &Path, sha256: &str, limits: &str) -> String {
    format!(
        "[[plugins.extra]]\ncommand = {:?}\nsha256 = {sha256:?}\nlimits = {limits}\n",
        path.display().to_string()
    )
}

async fn fixture_provider(c: &mut switchyard::cli::client::Clients) -> Option<api::Provider> {
    c.providers
        .get_provider(api::GetProviderRequest {
            id: "fixture.echo".into(),
        })
        .await
        .ok()
        .and_then(|r| r.into_inner().provider)
}

/// Polls the fixture's provider until `done` holds (bounded: 30 s).
async fn wait_provider(
    coord: &Coordinator,
    c: &mut switchyard::cli::client::Clients,
    done: impl Fn(&api::Provider) -> bool,
) -> api::Provider {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let p = fixture_provider(c).await.expect("the fixture's provider");
        if done(&p) {
            return p;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the provider did not get there: {p:?}; the coordinator's log:\n{}",
            coord.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The plugin processes of the coordinator `pid` whose argv[0] is `command`.
fn plugin_pid(coordinator: u32, command: &Path) -> Option<u32> {
    switchyard_e2e::children(coordinator)
        .into_iter()
        .find(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            cmdline.split(|b| *b == 0).next() == Some(command.as_os_str().as_encoded_bytes())
        })
}

/// The soft and hard values of one row of `/proc/<pid>/limits`.
fn limit(limits: &str, name: &str) -> (String, String) {
    let line = limits
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in {limits}"));
    let mut fields = line[name.len()..].split_whitespace();
    let mut next = || fields.next().unwrap_or_default().to_owned();
    (next(), next())
}

#[tokio::test]
async fn a_tampered_binary_is_refused_with_both_hashes() {
    let copy = copy_fixture();
    let original = std::fs::read(&copy.path).expect("read");
    let (bad, bad_sha) = tampered(&original);
    replace(&copy.path, &bad);
    let coord = Coordinator::start(CoordinatorOptions {
        extra_config: pinned_entry(&copy.path, &copy.sha256, "{}"),
        ..CoordinatorOptions::default()
    })
    .await;
    let log = coord.stderr();
    assert!(log.contains("refused to start plugin"), "{log}");
    assert!(
        log.contains(&copy.sha256) && log.contains(&bad_sha),
        "{log}"
    );
    let mut c = coord.clients().await;
    assert!(fixture_provider(&mut c).await.is_none(), "it must not run");
    let pid = coord.pid().expect("running");
    assert_eq!(plugin_pid(pid, &copy.path), None, "no process of it");
    drop(copy.dir);
}

#[tokio::test]
async fn limits_bind_the_plugin_and_a_restart_checks_the_pin_again() {
    let copy = copy_fixture();
    let limits =
        "{ open_files = 777, address_space_mb = 12345, processes = 300, cpu_seconds = 86400 }";
    let coord = Coordinator::start(CoordinatorOptions {
        extra_config: pinned_entry(&copy.path, &copy.sha256, limits),
        ..CoordinatorOptions::default()
    })
    .await;
    let mut c = coord.clients().await;
    let p = wait_provider(&coord, &mut c, |p| p.running).await;
    assert!(p.start_error.is_empty(), "{p:?}");
    let coordinator = coord.pid().expect("running");
    let pid = plugin_pid(coordinator, &copy.path).expect("the fixture's process");
    let seen = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let both = |v: &str| (v.to_owned(), v.to_owned());
    assert_eq!(limit(&seen, "Max open files"), both("777"), "{seen}");
    assert_eq!(
        limit(&seen, "Max address space"),
        both(&(12345u64 << 20).to_string())
    );
    assert_eq!(
        limit(&seen, "Max cpu time"),
        ("86400".into(), "86401".into())
    );
    assert_eq!(limit(&seen, "Max core file size"), both("0"));
    let nproc: u64 = limit(&seen, "Max processes").0.parse().expect("a number");
    assert!(nproc >= 300, "{seen}");

    // An "upgrade" that does not match the pin, then a crash: the restart refuses it.
    let original = std::fs::read(&copy.path).expect("read");
    let (bad, bad_sha) = tampered(&original);
    replace(&copy.path, &bad);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid")),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the plugin");
    let down = wait_provider(&coord, &mut c, |p| !p.running && !p.start_error.is_empty()).await;
    assert!(
        down.start_error.contains(&copy.sha256) && down.start_error.contains(&bad_sha),
        "{down:?}"
    );
    assert!(coord.stderr().contains(&bad_sha));
    assert_eq!(plugin_pid(coordinator, &copy.path), None);

    // The pinned binary back: the next restart takes it.
    replace(&copy.path, &original);
    let up = wait_provider(&coord, &mut c, |p| p.running).await;
    assert!(up.start_error.is_empty(), "{up:?}");
    let webhook = plugin_pid(
        coordinator,
        &switchyard_e2e::binary(switchyard_e2e::WEBHOOK),
    )
    .expect("the webhook plugin");
    let defaults = std::fs::read_to_string(format!("/proc/{webhook}/limits")).expect("limits");
    assert_eq!(limit(&defaults, "Max core file size"), both("0"));
    // The default, unless the coordinator's own hard limit (here the test's) is lower.
    let own = std::fs::read_to_string("/proc/self/limits").expect("limits");
    let hard: u64 = limit(&own, "Max open files").1.parse().unwrap_or(u64::MAX);
    assert_eq!(
        limit(&defaults, "Max open files").0,
        4096.min(hard).to_string(),
        "the default: {defaults}"
    );
}
