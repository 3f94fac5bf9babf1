//! How a served plugin process ends, with a real process tree: this test binary re-runs itself
//! as the plugin (test `plugin_process`, active only with `ROLE_ENV` set) under `sh` as its
//! parent. A SIGTERM while the parent lives is a graceful stop (exit 0); the parent's death
//! (SIGKILL) makes the plugin exit at once (exit 1, no drain). Either way its socket and the
//! then-empty socket directory are gone. A plugin whose own schema is broken still announces,
//! then stops and exits 1.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;
use schemars::JsonSchema;
use serde::Deserialize;
use switchyard_plugin_sdk::proto::handshake::{self as hs, HandshakeLine};
use switchyard_plugin_sdk::{DeliveryContext, DeliveryResult, NoConnection, Plugin, Provider};

/// Set (to anything) in the environment of the re-run that acts as the plugin.
const ROLE_ENV: &str = "SDK_PROCESS_TEST_ROLE";
/// Generous: a loaded 2-core machine.
const PATIENCE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Deserialize, JsonSchema)]
struct Empty {}

struct Echo;

impl Provider for Echo {
    type Config = Empty;
    type Connection = NoConnection;

    fn id(&self) -> &'static str {
        "echo"
    }
    fn display_name(&self) -> &'static str {
        "Echo"
    }
    fn description(&self) -> &'static str {
        "Answers at once."
    }
    async fn deliver(&self, _ctx: DeliveryContext<Empty, NoConnection>) -> DeliveryResult {
        DeliveryResult::delivered(None)
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
struct BrokenConfig {
    /// `"type": "nonsense"` violates the 2020-12 meta-schema.
    #[expect(dead_code, reason = "only its schema matters here")]
    #[schemars(extend("type" = "nonsense"))]
    field: String,
}

/// A provider whose own config schema is invalid.
struct Broken;

impl Provider for Broken {
    type Config = BrokenConfig;
    type Connection = NoConnection;

    fn id(&self) -> &'static str {
        "broken"
    }
    fn display_name(&self) -> &'static str {
        "Broken"
    }
    fn description(&self) -> &'static str {
        "Has an invalid schema."
    }
    async fn deliver(&self, _ctx: DeliveryContext<BrokenConfig, NoConnection>) -> DeliveryResult {
        DeliveryResult::delivered(None)
    }
}

/// The plugin side: serves only when re-run by the tests below.
#[test]
fn plugin_process() {
    let Some(role) = std::env::var_os(ROLE_ENV) else {
        return;
    };
    let plugin = Plugin::new("proc-test", "1");
    let plugin = if role == "broken" {
        plugin.provider(Broken)
    } else {
        plugin.provider(Echo)
    };
    let code = switchyard_plugin_sdk::serve(plugin);
    std::process::exit(if code == std::process::ExitCode::SUCCESS {
        0
    } else {
        1
    });
}

/// A running plugin under an `sh` parent.
struct Tree {
    sh: Child,
    plugin: Pid,
    socket: PathBuf,
    dir: PathBuf,
}

/// Kills what a failed test left running (a passing test has reaped both already) and
/// removes the socket directory.
#[derive(Default)]
struct Cleanup {
    sh: Option<u32>,
    plugin: Option<Pid>,
    dir: PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(sh) = self.sh.and_then(|pid| i32::try_from(pid).ok()) {
            let _ = kill(Pid::from_raw(sh), Signal::SIGKILL);
        }
        if let Some(plugin) = self.plugin {
            let _ = kill(plugin, Signal::SIGKILL);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts `sh`, which starts this binary as the plugin and waits for it (exiting with its
/// status); returns once the handshake line is read.
fn start(cleanup: &mut Cleanup, role: &str) -> Tree {
    let dir = tempfile::Builder::new()
        .prefix("sy-sdk-test-")
        .tempdir()
        .expect("socket dir")
        .keep();
    let mut sh = Command::new("sh")
        .arg("-c")
        .arg(r#""$0" plugin_process --exact --nocapture --test-threads=1 & wait $!"#)
        .arg(std::env::current_exe().expect("test binary"))
        .env(ROLE_ENV, role)
        .env(hs::MAGIC_COOKIE_KEY, hs::MAGIC_COOKIE_VALUE)
        .env(hs::PROTOCOL_VERSIONS_ENV, "1")
        .env(hs::UNIX_SOCKET_DIR_ENV, &dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sh");
    cleanup.sh = Some(sh.id());
    cleanup.dir.clone_from(&dir);
    let stdout = sh.stdout.take().expect("stdout");
    // libtest prints its own words first ("test plugin_process ... "), without a newline.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let line = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| {
                let last = line.rsplit(' ').next()?;
                last.starts_with("1|").then(|| last.to_owned())
            });
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(PATIENCE)
        .ok()
        .flatten()
        .expect("a handshake line");
    let socket = HandshakeLine::parse(&line)
        .expect("a handshake line")
        .socket;
    let pid = socket
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.strip_prefix("plugin-"))
        .and_then(|s| s.parse().ok())
        .expect("plugin-<pid>.sock");
    cleanup.plugin = Some(Pid::from_raw(pid));
    assert!(socket.exists(), "the socket exists while serving");
    Tree {
        sh,
        plugin: Pid::from_raw(pid),
        socket,
        dir,
    }
}

/// Waits (off this thread, at most `PATIENCE`) for a blocking wait to finish.
fn within<T: Send + 'static>(what: &str, wait: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(wait());
    });
    rx.recv_timeout(PATIENCE)
        .unwrap_or_else(|_| panic!("{what} did not happen"))
}

#[test]
fn sigterm_with_the_parent_alive_is_a_graceful_stop() {
    let mut cleanup = Cleanup::default();
    let mut tree = start(&mut cleanup, "echo");
    kill(tree.plugin, Signal::SIGTERM).expect("signal the plugin");
    // `sh` exits with the plugin's status once the plugin exits.
    let status = within("the plugin's exit", move || tree.sh.wait());
    (cleanup.sh, cleanup.plugin) = (None, None);
    assert_eq!(status.expect("sh status").code(), Some(0), "graceful stop");
    assert!(!tree.socket.exists(), "socket removed");
    assert!(!tree.dir.exists(), "empty socket directory removed");
}

#[test]
fn the_parents_death_ends_the_plugin_at_once() {
    // Orphans are re-parented to this process, so it can reap the plugin and see its status.
    nix::sys::prctl::set_child_subreaper(true).expect("become a subreaper");
    let mut cleanup = Cleanup::default();
    let mut tree = start(&mut cleanup, "echo");
    tree.sh.kill().expect("SIGKILL the parent");
    tree.sh.wait().expect("reap sh");
    cleanup.sh = None;
    let plugin = tree.plugin;
    let status = within("the plugin's exit", move || waitpid(plugin, None));
    cleanup.plugin = None;
    // Status 1 is the orphan path; a drain would have ended with 0.
    assert_eq!(
        status.expect("plugin status"),
        WaitStatus::Exited(plugin, 1)
    );
    assert!(!tree.socket.exists(), "socket removed");
    assert!(!tree.dir.exists(), "empty socket directory removed");
}

#[test]
fn a_broken_own_schema_ends_the_plugin_with_status_1() {
    let mut cleanup = Cleanup::default();
    // The handshake comes first; the schema check after it fails and stops the plugin.
    let mut tree = start(&mut cleanup, "broken");
    let status = within("the plugin's exit", move || tree.sh.wait());
    (cleanup.sh, cleanup.plugin) = (None, None);
    assert_eq!(status.expect("sh status").code(), Some(1));
    assert!(!tree.socket.exists(), "socket removed");
}
