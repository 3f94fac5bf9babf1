//! The host side of go-plugin's handshake: read the plugin's first stdout line (racing its exit
//! and the start deadline), then parse `CORE|APP|unix|ADDR|grpc|` and check it against what we
//! offered: core version 1, an app version we offered, a socket inside our private directory.
//! Anything printed to stdout after that line is logged, never fatal.
//!
//! go-plugin before v1.5 ignores `PLUGIN_UNIX_SOCKET_DIR` and creates its socket in the
//! plugin's temp dir (`$TMPDIR`, `/tmp` when unset — the host passes no `TMPDIR` unless the
//! plugin's `env` names one). Such a socket is accepted ([`Placement::TempDir`]); the host
//! warns and removes it when the plugin stops. A socket anywhere else is refused, but as a
//! well-formed line ([`LineProblem::Elsewhere`]), not as stdout noise.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use switchyard_proto::handshake::HandshakeLine;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};
use tokio::time::Instant;

/// What came first on the plugin's stdout.
#[derive(Debug)]
pub(crate) enum FirstLine {
    /// A line (not yet parsed); the reader continues after it.
    Line(String, Lines<BufReader<ChildStdout>>),
    /// The process exited (or closed stdout) without printing a line.
    Exited(Option<ExitStatus>),
    /// The deadline passed.
    TimedOut,
}

/// Waits for the first stdout line, the child's exit, or the deadline, whichever comes first.
pub(crate) async fn read_first_line(
    child: &mut Child,
    stdout: ChildStdout,
    deadline: Instant,
) -> FirstLine {
    let mut lines = BufReader::new(stdout).lines();
    tokio::select! {
        line = lines.next_line() => match line {
            Ok(Some(line)) => FirstLine::Line(line, lines),
            // stdout closed: the process is exiting; collect its status (briefly).
            Ok(None) | Err(_) => FirstLine::Exited(exit_status(child, deadline).await),
        },
        status = child.wait() => FirstLine::Exited(status.ok()),
        () = tokio::time::sleep_until(deadline) => FirstLine::TimedOut,
    }
}

async fn exit_status(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    tokio::time::timeout_at(deadline, child.wait())
        .await
        .ok()?
        .ok()
}

/// A parsed and checked handshake line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Announcement {
    /// The negotiated app protocol version.
    pub(crate) version: u32,
    /// The plugin's Unix socket.
    pub(crate) socket: PathBuf,
    /// Where the socket lies.
    pub(crate) placement: Placement,
}

/// Where an accepted socket lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Inside the directory the host gave in `PLUGIN_UNIX_SOCKET_DIR`.
    Ours,
    /// Directly in the plugin's temp dir (go-plugin < 1.5); the host removes it on stop.
    TempDir,
}

/// Why a handshake line was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LineProblem {
    /// The line does not have the handshake's shape; the text says which part is wrong.
    Malformed(String),
    /// The app version is not one we offered.
    Version(u32),
    /// A well-formed line whose socket is neither in our directory nor in the plugin's temp dir.
    Elsewhere(PathBuf),
}

/// Parses the line ([`HandshakeLine`], shared with the conformance harness) and checks it
/// against what this host offered; `temp_dir` is the plugin's own temp dir. Like go-plugin's
/// client, the host tolerates a missing sixth field and a `\r`.
pub(crate) fn parse_line(
    line: &str,
    offered: &[u32],
    socket_dir: &Path,
    temp_dir: &Path,
) -> Result<Announcement, LineProblem> {
    let line = HandshakeLine::parse(line).map_err(|err| LineProblem::Malformed(err.to_string()))?;
    let placement = match line.socket.parent() {
        Some(dir) if dir == socket_dir => Placement::Ours,
        Some(dir) if dir == temp_dir => Placement::TempDir,
        _ => return Err(LineProblem::Elsewhere(line.socket)),
    };
    if !offered.contains(&line.app_version) {
        return Err(LineProblem::Version(line.app_version));
    }
    Ok(Announcement {
        version: line.app_version,
        socket: line.socket,
        placement,
    })
}

/// The temp dir of a plugin started with `env` (and nothing else of ours): its `TMPDIR` if
/// the spec sets one, else `/tmp`, as Go's `os.TempDir` and Rust's `std::env::temp_dir` do.
pub(crate) fn plugin_temp_dir(env: &std::collections::BTreeMap<String, String>) -> PathBuf {
    match env.get("TMPDIR").map(|t| t.trim_end_matches('/')) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from("/tmp"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = "/tmp/sy-1-2";

    fn parse(line: &str) -> Result<Announcement, LineProblem> {
        parse_line(line, &[1, 2], Path::new(DIR), Path::new("/tmp"))
    }

    #[test]
    fn a_go_plugin_line_parses() {
        let ok = parse("1|2|unix|/tmp/sy-1-2/plugin.sock|grpc|\n").unwrap();
        assert_eq!(
            ok,
            Announcement {
                version: 2,
                socket: PathBuf::from("/tmp/sy-1-2/plugin.sock"),
                placement: Placement::Ours,
            }
        );
    }

    #[test]
    fn an_old_go_plugin_socket_in_the_temp_dir_is_accepted_as_such() {
        let ok = parse("1|1|unix|/tmp/plugin551743553|grpc|").unwrap();
        assert_eq!(ok.placement, Placement::TempDir);
        assert_eq!(ok.socket, PathBuf::from("/tmp/plugin551743553"));
    }

    #[test]
    fn a_well_formed_line_with_a_socket_elsewhere_is_not_malformed() {
        for socket in ["/elsewhere/p.sock", "/tmp/sub/p.sock", "/"] {
            let line = format!("1|1|unix|{socket}|grpc|");
            assert_eq!(
                parse(&line),
                Err(LineProblem::Elsewhere(PathBuf::from(socket))),
                "{line}"
            );
        }
    }

    #[test]
    fn the_plugin_temp_dir_follows_its_tmpdir() {
        let mut env = std::collections::BTreeMap::new();
        assert_eq!(plugin_temp_dir(&env), PathBuf::from("/tmp"));
        env.insert("TMPDIR".to_owned(), "/var/tmp/".to_owned());
        assert_eq!(plugin_temp_dir(&env), PathBuf::from("/var/tmp"));
    }

    #[test]
    fn an_unoffered_version_is_a_version_problem() {
        assert_eq!(
            parse("1|99|unix|/tmp/sy-1-2/p.sock|grpc|"),
            Err(LineProblem::Version(99))
        );
    }

    #[test]
    fn malformed_lines_say_which_field() {
        for (line, field) in [
            ("hello world", "at least 5"),
            ("2|1|unix|/tmp/sy-1-2/p.sock|grpc|", "field 1"),
            ("1|x|unix|/tmp/sy-1-2/p.sock|grpc|", "field 2"),
            ("1|1|tcp|127.0.0.1:1234|grpc|", "field 3"),
            ("1|1|unix|/tmp/sy-1-2/p.sock|netrpc|", "field 5"),
            ("1|1|unix|relative.sock|grpc|", "field 4"),
        ] {
            match parse(line) {
                Err(LineProblem::Malformed(why)) => assert!(why.contains(field), "{line}: {why}"),
                other => panic!("{line}: {other:?}"),
            }
        }
    }
}
