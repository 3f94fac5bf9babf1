//! The harness as a library: against an already running plugin (`Options::socket`), and the
//! promise that every process it starts is gone and every socket directory removed when `run`
//! returns, even after checks failed and the plugin crashed.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use switchyard_conformance::{Options, report, run};
use switchyard_proto::handshake::{self, HandshakeLine};

/// A fixture started the way a host starts it; killed and reaped on drop.
struct Started(Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn checks_an_already_running_plugin_through_its_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(common::fixture())
        .arg("good")
        .env(handshake::MAGIC_COOKIE_KEY, handshake::MAGIC_COOKIE_VALUE)
        .env(handshake::PROTOCOL_VERSIONS_ENV, "1")
        .env(handshake::UNIX_SOCKET_DIR_ENV, dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the fixture");
    let stdout = child.stdout.take().expect("piped stdout");
    let started = Started(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("handshake line");
    let socket = HandshakeLine::parse(&line)
        .expect("a handshake line")
        .socket
        .display()
        .to_string();

    let report = run(Options::socket(&socket));
    assert!(report.passed(), "{}", report.to_text());
    for name in [
        "handshake/no-cookie",
        "handshake/line",
        "secrets/not-in-output",
        "lifecycle/shutdown",
    ] {
        let check = report.get(name).expect("selected");
        assert!(
            check.outcome.is_skipped(),
            "{name} should be skipped with --socket:\n{}",
            report.to_text()
        );
    }
    for name in [
        "handshake/health",
        "describe/schemas-valid",
        "deliver/answers",
        "capabilities/migrate-config-declared",
    ] {
        let check = report.get(name).expect("selected");
        assert!(
            check.outcome.is_passed(),
            "{name} should pass:\n{}",
            report.to_text()
        );
    }
    drop(started);
}

/// Pids of live processes whose environment holds `tag`.
fn processes_tagged(tag: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter(|e| {
            let environ = std::fs::read(e.path().join("environ")).unwrap_or_default();
            environ.split(|b| *b == 0).any(|var| var == tag.as_bytes())
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn leaves_no_process_or_socket_directory_behind() {
    // A plugin that crashes (and is restarted), and one that ignores Shutdown and SIGTERM.
    for (mode, focus) in [
        ("crash-on-deliver", "^deliver/"),
        ("ignore-shutdown", "^(lifecycle/shutdown|secrets/)"),
    ] {
        let root = tempfile::tempdir().expect("tempdir");
        let tag_value = format!("{mode}-{}", std::process::id());
        let opts = Options::command(common::fixture())
            .arg(mode)
            .env("CONFORMANCE_TEST_TAG", &tag_value);
        let mut opts = opts.focus(focus).expect("valid regex");
        opts.socket_root = Some(root.path().to_path_buf());
        let report = run(opts);
        assert!(!report.passed(), "{mode} must fail some checks");
        if mode == "crash-on-deliver" {
            // The reason says what happened to the process, not only what the call saw.
            let check = report.get("deliver/answers").expect("selected");
            let report::Outcome::Failed { reason } = &check.outcome else {
                panic!("{}", report.to_text())
            };
            assert!(reason.contains("the plugin died"), "{reason}");
        }
        let left: Vec<_> = std::fs::read_dir(root.path())
            .expect("read root")
            .flatten()
            .map(|e| e.path())
            .collect();
        assert!(left.is_empty(), "{mode}: left behind {left:?}");
        let tag = format!("CONFORMANCE_TEST_TAG={tag_value}");
        assert_eq!(
            processes_tagged(&tag),
            Vec::<String>::new(),
            "{mode}: processes still running"
        );
    }
}
