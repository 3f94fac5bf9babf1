//! The CLI's output to a closed pipe (`switchyard … | head -1`) ends quietly with status 0,
//! never with a panic: here for `serve --print-default-config`, which needs no coordinator
//! (`deliveries list` is covered in `api_hardening`).

use std::process::{Command, Stdio};

#[test]
fn print_default_config_into_a_closed_pipe_exits_quietly() {
    let mut child = Command::new(switchyard_e2e::binary(
        switchyard_e2e::coordinator::SWITCHYARD,
    ))
    .args(["serve", "--print-default-config"])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("run the CLI");
    // The reader is gone before the CLI writes a byte.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait for the CLI");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "{:?}: {err}", out.status);
}
