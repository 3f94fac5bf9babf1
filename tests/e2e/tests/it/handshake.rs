//! The handshake, from both sides: a plugin run by hand refuses to start; the host reports a
//! version mismatch, a garbage or noisy first line, an early exit and a hang, each with the
//! error that says what went wrong — and leaves no socket directory behind.

use std::time::Duration;
use switchyard::host::{HostOptions, Plugin, StartError};
use switchyard_e2e::{WEBHOOK, binary, fixture, leftovers, options, socket_root};

#[test]
fn a_plugin_started_without_the_cookie_explains_and_exits_1() {
    let output = std::process::Command::new(binary(WEBHOOK))
        .env_remove("SWITCHYARD_PLUGIN_MAGIC_COOKIE")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run the webhook plugin by hand");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        output.stdout.is_empty(),
        "stdout: {:?}",
        String::from_utf8_lossy(&output.stdout)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not meant to be run directly"), "{stderr}");
    assert!(
        stderr.contains("SWITCHYARD_PLUGIN_MAGIC_COOKIE"),
        "{stderr}"
    );
}

async fn start_err(mode: &str, opts: HostOptions) -> StartError {
    match Plugin::start(fixture(mode), opts).await {
        Ok(plugin) => {
            plugin.stop().await;
            panic!("mode {mode} started")
        }
        Err(err) => err,
    }
}

#[tokio::test]
async fn a_plugin_announcing_an_unoffered_version_is_refused_naming_both_sides() {
    let root = socket_root();
    let err = start_err("wrong-version", options(root.path())).await;
    assert!(
        matches!(err, StartError::VersionMismatch { announced: 99, .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains("99") && text.contains("[1]"), "{text}");
    assert!(leftovers(root.path()).is_empty());
}

#[tokio::test]
async fn no_common_version_makes_the_plugin_exit_with_both_lists() {
    let root = socket_root();
    let opts = HostOptions {
        protocol_versions: vec![7, 8],
        ..options(root.path())
    };
    let err = start_err("good", opts).await;
    let StartError::ExitedEarly { stderr_tail, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        stderr_tail.contains("[7, 8]") && stderr_tail.contains("[1]"),
        "{err}"
    );
}

#[tokio::test]
async fn a_garbage_first_line_is_quoted() {
    let root = socket_root();
    let err = start_err("garbage-handshake", options(root.path())).await;
    assert!(
        matches!(err, StartError::MalformedHandshake { .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("\"hello from the fixture, this is no handshake\""),
        "{err}"
    );
    assert!(leftovers(root.path()).is_empty());
}

#[tokio::test]
async fn stdout_noise_before_the_handshake_is_reported_with_its_likely_cause() {
    let root = socket_root();
    let err = start_err("stdout-noise", options(root.path())).await;
    let text = err.to_string();
    assert!(
        text.contains("\"fixture starting up\"") && text.contains("writes to stdout"),
        "{text}"
    );
}

#[tokio::test]
async fn an_exit_during_start_carries_the_stderr_tail() {
    let root = socket_root();
    let err = start_err("exit-early", options(root.path())).await;
    let StartError::ExitedEarly {
        status,
        stderr_tail,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert!(status.contains('3'), "{status}");
    assert!(
        stderr_tail.contains("exiting with status 3 before the handshake"),
        "{err}"
    );
    assert!(leftovers(root.path()).is_empty());
}

#[tokio::test]
async fn a_plugin_that_never_answers_hits_the_start_timeout() {
    let root = socket_root();
    let opts = HostOptions {
        start_timeout: Duration::from_secs(1),
        ..options(root.path())
    };
    let err = start_err("hang", opts).await;
    assert!(matches!(err, StartError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("handshake"), "{err}");
    assert!(
        leftovers(root.path()).is_empty(),
        "{:?}",
        leftovers(root.path())
    );
}

#[tokio::test]
async fn a_socket_root_too_long_for_sun_path_is_refused_before_spawning() {
    let root = socket_root();
    let long = root.path().join("d".repeat(80));
    let err = start_err("good", options(&long)).await;
    assert!(matches!(err, StartError::SocketDir(_)), "{err}");
    assert!(err.to_string().contains("too long"), "{err}");
}
