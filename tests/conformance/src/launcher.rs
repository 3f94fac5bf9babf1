//! The harness's own plugin launcher. It starts plugins as the coordinator's host does (empty
//! environment plus the handshake variables, stdin closed, a new session, and the parent-death
//! signal SIGKILL; see `spawn_hook`), and gives the checks low-level control: start with or
//! without the magic cookie, offer any version list, start from a parent thread that can be
//! made to die (the host's parent death, as the kernel sees it), start through an intermediate
//! shell (a parent without the signal), signal the process, find the members of its process
//! group, and watch its stdout and stderr. Every process started here is killed (its whole process group)
//! and reaped, and its socket directory removed, when the [`Launched`] is dropped at the latest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use switchyard_proto::handshake::{self, HandshakeLine};
use tempfile::TempDir;
use tokio::process::{Child, Command};

use crate::output::{Captured, LineWait};

/// The network policy's allow-list handed to a plugin under test: the harness's sink listens
/// on loopback (the host would hand it `[plugins] network_allow`).
const LOOPBACK_ALLOW: (&str, &str) = ("SWITCHYARD_NETWORK_ALLOW", "127.0.0.0/8,::1/128");

/// The plugin executable and how to run it.
#[derive(Debug, Clone)]
pub struct Program {
    /// The executable (a path, or a name looked up in `PATH`).
    pub path: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Variables passed to the plugin besides `PATH` and the handshake variables; nothing else
    /// of the harness's environment reaches it (as with the coordinator's host).
    pub env: BTreeMap<String, String>,
}

impl Program {
    /// The command line, for reports.
    #[must_use]
    pub fn display(&self) -> String {
        let mut s = self.path.display().to_string();
        for a in &self.args {
            s.push(' ');
            s.push_str(a);
        }
        s
    }
}

/// How one launch deviates from a host's normal start.
#[derive(Debug, Clone)]
pub(crate) struct LaunchMode {
    /// Set the magic cookie variable.
    pub cookie: bool,
    /// The value of `PLUGIN_PROTOCOL_VERSIONS`.
    pub versions: String,
    /// Start the plugin through `sh`, which stays its parent and sets no parent-death signal
    /// (for the parent-watch recommendation).
    pub via_shell: bool,
    /// Start the plugin behind a stand-in parent process (see `spawn_hook::behind_a_parent`)
    /// that [`Launched::kill_parent`] kills: the coordinator's death as the plugin sees it
    /// (for the parent-death check).
    pub parent_process: bool,
}

impl LaunchMode {
    /// What a host does: cookie set, every version this build speaks offered.
    pub(crate) fn normal() -> LaunchMode {
        let versions: Vec<String> = switchyard_proto::PLUGIN_PROTOCOL_VERSIONS
            .iter()
            .map(u32::to_string)
            .collect();
        LaunchMode {
            cookie: true,
            versions: versions.join(","),
            via_shell: false,
            parent_process: false,
        }
    }
}

/// Parses a handshake line ([`HandshakeLine`], shared with the host) and holds it to the
/// letter of the protocol, which go-plugin's client and the Switchyard host are lenient about:
/// exactly `1|<ver>|unix|<path>|grpc|` — six fields, the last empty, ended by `\n` alone.
/// The error says which part is wrong.
pub(crate) fn parse_strict(line: &str) -> Result<HandshakeLine, String> {
    let parsed = HandshakeLine::parse(line).map_err(|err| err.to_string())?;
    if parsed.carriage_return {
        return Err("the line ends with `\\r`; end it with `\\n` only".to_owned());
    }
    match parsed.server_cert.as_deref() {
        None => Err("expected 6 `|`-separated fields (end the line with `|`), found 5".to_owned()),
        Some("") => Ok(parsed),
        Some(cert) => Err(format!(
            "the server-certificate field must be empty, found {cert:?}"
        )),
    }
}

/// Why a plugin could not be brought up to a handshake.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    /// The executable could not be started.
    #[error("could not start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    /// It exited (or closed stdout) before a complete first line.
    #[error(
        "the plugin exited before printing a handshake line (stdout: {stdout:?}; stderr: {stderr:?})"
    )]
    ExitedEarly { stdout: String, stderr: String },
    /// No first line within the start timeout.
    #[error("no handshake line within {timeout:?} (stdout so far: {stdout:?}; stderr: {stderr:?})")]
    Timeout {
        timeout: Duration,
        stdout: String,
        stderr: String,
    },
    /// The first line is not a handshake line.
    #[error("malformed handshake line {line:?}: {why}")]
    Malformed { line: String, why: String },
}

/// Process-wide count of launches that need this process to be a child subreaper.
static SUBREAPER_USERS: Mutex<usize> = Mutex::new(0);

/// A started plugin process (or the shell wrapping it) with its captured output.
#[derive(Debug)]
pub(crate) struct Launched {
    child: Child,
    status: Option<ExitStatus>,
    /// Process group of everything started (the child leads it).
    pgid: Pid,
    /// Started through the shell or a stand-in parent: the plugin is then its child.
    via_shell: bool,
    /// The plugin itself when started through the shell, once known.
    grandchild: Option<Pid>,
    /// The announced socket when it lies outside `dir` (go-plugin < 1.5 uses its temp dir);
    /// removed on drop like the directory.
    outside_socket: Option<PathBuf>,
    dir: TempDir,
    /// The plugin's stdout.
    pub stdout: Captured,
    /// The plugin's stderr.
    pub stderr: Captured,
}

impl Launched {
    /// Starts `program` as `mode` says, in its own process group with stdin closed and a fresh
    /// private socket directory.
    pub(crate) fn spawn(
        program: &Program,
        mode: &LaunchMode,
        socket_root: Option<&Path>,
    ) -> Result<Launched, StartError> {
        let spawn_err = |source| StartError::Spawn {
            program: program.display(),
            source,
        };
        let dir = socket_dir(socket_root).map_err(spawn_err)?;
        let mut cmd = if mode.via_shell {
            let mut c = Command::new("/bin/sh");
            c.arg("-c")
                .arg("\"$@\" & wait")
                .arg("sh")
                .arg(&program.path);
            c
        } else {
            Command::new(&program.path)
        };
        cmd.args(&program.args).env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        cmd.envs(&program.env)
            .env(handshake::PROTOCOL_VERSIONS_ENV, &mode.versions)
            .env(handshake::UNIX_SOCKET_DIR_ENV, dir.path())
            // The harness's own HTTP sink listens on loopback, which is not public.
            .env(LOOPBACK_ALLOW.0, LOOPBACK_ALLOW.1)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if mode.parent_process {
            crate::spawn_hook::behind_a_parent(&mut cmd);
        } else {
            crate::spawn_hook::as_the_host_does(&mut cmd);
        }
        let intermediate = mode.via_shell || mode.parent_process;
        if mode.cookie {
            cmd.env(handshake::MAGIC_COOKIE_KEY, handshake::MAGIC_COOKIE_VALUE);
        }
        if intermediate {
            subreaper(true);
        }
        let spawned = cmd.spawn();
        if intermediate && spawned.is_err() {
            subreaper(false);
        }
        let mut child = spawned.map_err(spawn_err)?;
        let raw = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .unwrap_or(0);
        let stdout = child.stdout.take().map(Captured::drain).unwrap_or_default();
        let stderr = child.stderr.take().map(Captured::drain).unwrap_or_default();
        Ok(Launched {
            child,
            status: None,
            pgid: Pid::from_raw(raw),
            via_shell: intermediate,
            grandchild: None,
            outside_socket: None,
            dir,
            stdout,
            stderr,
        })
    }

    /// Reads and parses the handshake line.
    pub(crate) async fn handshake(
        &mut self,
        timeout: Duration,
    ) -> Result<HandshakeLine, StartError> {
        let line = match self.stdout.first_line(timeout).await {
            Ok(line) => line,
            Err(LineWait::Eof(stdout)) => {
                let stderr = self.stderr_tail_after_exit().await;
                return Err(StartError::ExitedEarly { stdout, stderr });
            }
            Err(LineWait::Timeout(stdout)) => {
                let stderr = self.stderr.tail(2000);
                return Err(StartError::Timeout {
                    timeout,
                    stdout,
                    stderr,
                });
            }
        };
        if self.via_shell && self.grandchild.is_none() {
            self.grandchild = child_of(self.pgid);
        }
        let parsed = parse_strict(&line).map_err(|why| StartError::Malformed { line, why })?;
        if parsed.socket.parent() != Some(self.dir.path()) {
            self.outside_socket = Some(parsed.socket.clone());
        }
        Ok(parsed)
    }

    async fn stderr_tail_after_exit(&self) -> String {
        // The process is gone or going; give its stderr a moment to drain completely.
        self.stderr.wait_eof(Duration::from_secs(2)).await;
        self.stderr.tail(2000)
    }

    /// The private directory passed as `PLUGIN_UNIX_SOCKET_DIR`.
    pub(crate) fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The plugin's pid (the shell's child when started through the shell).
    pub(crate) fn plugin_pid(&self) -> Option<Pid> {
        if self.via_shell {
            self.grandchild
        } else {
            Some(self.pgid)
        }
    }

    /// Sends `signal` to the direct child only.
    pub(crate) fn signal_child(&self, signal: Signal) {
        let _ = kill(self.pgid, signal);
    }

    /// The exit status if the direct child has exited (reaping it), without waiting.
    pub(crate) fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits up to `timeout` for the direct child to exit; its status, or None if still running.
    pub(crate) async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.status.is_none()
            && let Ok(Ok(status)) = tokio::time::timeout(timeout, self.child.wait()).await
        {
            self.status = Some(status);
        }
        self.status
    }

    /// Waits up to `timeout` for the plugin started through the shell to be gone.
    pub(crate) async fn wait_grandchild_gone(&self, timeout: Duration) -> bool {
        let Some(pid) = self.grandchild else {
            return true;
        };
        let deadline = Instant::now() + timeout;
        // Not our child (or only by subreaping), so there is no exit event to await: poll.
        while Instant::now() < deadline {
            if pid_gone(pid) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        pid_gone(pid)
    }

    /// SIGKILLs the stand-in parent: the kernel then sends the plugin its parent-death signal
    /// and re-parents it, as when the coordinator dies.
    pub(crate) fn kill_parent(&self) {
        self.signal_child(Signal::SIGKILL);
    }

    /// Waits up to `timeout` until no live process is left in the plugin's own process group
    /// (it leads one, as under the host); the survivors' pids (empty when none).
    pub(crate) async fn wait_group_gone(&self, timeout: Duration) -> Vec<Pid> {
        let Some(group) = self.plugin_pid() else {
            return Vec::new();
        };
        let deadline = Instant::now() + timeout;
        // Members of a group are not all our children, so there is no exit event to await.
        loop {
            let alive = group_members(group);
            if alive.is_empty() || Instant::now() >= deadline {
                return alive;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Kills the whole process group and reaps everything.
    pub(crate) async fn kill(&mut self) {
        let _ = killpg(self.pgid, Signal::SIGKILL);
        self.wait_exit(Duration::from_secs(5)).await;
        self.reap_grandchild();
    }

    fn reap_grandchild(&mut self) {
        if let Some(pid) = self.grandchild {
            // Its own group, when it leads one (behind a stand-in parent), with it.
            let _ = killpg(pid, Signal::SIGKILL);
            let _ = kill(pid, Signal::SIGKILL);
            // Reaps it if the subreaper made it ours; otherwise its new parent does.
            let _ = waitpid(pid, None);
        }
    }
}

impl Drop for Launched {
    fn drop(&mut self) {
        if self.try_status().is_none() {
            let _ = killpg(self.pgid, Signal::SIGKILL);
            // SIGKILL takes effect at once; reap synchronously so no zombie outlives us.
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.try_status().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
        } else {
            let _ = killpg(self.pgid, Signal::SIGKILL);
        }
        self.reap_grandchild();
        remove_socket(self.outside_socket.take());
        if self.via_shell {
            subreaper(false);
        }
    }
}

/// Removes a plugin's socket outside its directory, if it is still a socket (never another file).
fn remove_socket(socket: Option<PathBuf>) {
    use std::os::unix::fs::FileTypeExt;
    if let Some(socket) = socket
        && std::fs::symlink_metadata(&socket).is_ok_and(|m| m.file_type().is_socket())
    {
        let _ = std::fs::remove_file(socket);
    }
}

/// The live processes (not zombies) of process group `pgid`, from /proc.
fn group_members(pgid: Pid) -> Vec<Pid> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let (state, _, group) = proc_stat_group(&stat)?;
            (group == pgid.as_raw() && !matches!(state, 'Z' | 'X')).then(|| Pid::from_raw(pid))
        })
        .collect()
}

/// A fresh 0700 socket directory with a short path (the `sun_path` limit is 108 bytes), under
/// `root` if given, else the temp dir (or `/tmp` when that path is long).
fn socket_dir(root: Option<&Path>) -> std::io::Result<TempDir> {
    let tmp = std::env::temp_dir();
    let base = match root {
        Some(root) => root.to_path_buf(),
        None if tmp.as_os_str().len() <= 60 => tmp,
        None => PathBuf::from("/tmp"),
    };
    tempfile::Builder::new().prefix("swyc-").tempdir_in(base)
}

/// Makes this process a child subreaper while any launch needs it, so a plugin whose parent
/// shell was killed is re-parented to us and can be reaped (instead of lingering as a zombie
/// under an init that does not reap).
fn subreaper(on: bool) {
    let mut users = SUBREAPER_USERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let before = *users;
    *users = if on {
        before + 1
    } else {
        before.saturating_sub(1)
    };
    if (before == 0) != (*users == 0) {
        let _ = nix::sys::prctl::set_child_subreaper(*users > 0);
    }
}

/// The first child process of `parent`, from /proc.
fn child_of(parent: Pid) -> Option<Pid> {
    let entries = std::fs::read_dir("/proc").ok()?;
    entries.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        (proc_stat(&stat)?.1 == parent.as_raw()).then(|| Pid::from_raw(pid))
    })
}

/// (state, ppid) from a /proc/<pid>/stat line; the command name may contain spaces and `)`.
fn proc_stat(stat: &str) -> Option<(char, i32)> {
    proc_stat_group(stat).map(|(state, ppid, _)| (state, ppid))
}

/// (state, ppid, process group) from a /proc/<pid>/stat line.
fn proc_stat_group(stat: &str) -> Option<(char, i32, i32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, ppid, pgrp))
}

/// True when `pid` has exited: reaped now, already gone, or a zombie awaiting another parent.
fn pid_gone(pid: Pid) -> bool {
    match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::StillAlive) => false,
        Ok(_) => true,
        Err(_) => match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => proc_stat(&stat).is_some_and(|(state, _)| matches!(state, 'Z' | 'X')),
            Err(_) => true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_good_line() {
        let line = parse_strict("1|1|unix|/tmp/x/plugin.sock|grpc|").expect("valid");
        assert_eq!(line.app_version, 1);
        assert_eq!(line.socket, PathBuf::from("/tmp/x/plugin.sock"));
    }

    #[test]
    fn rejects_bad_lines() {
        for bad in [
            "hello",
            "2|1|unix|/tmp/s|grpc|",
            "1|x|unix|/tmp/s|grpc|",
            "1|1|tcp|127.0.0.1:5|grpc|",
            "1|1|unix|rel/s|grpc|",
            "1|1|unix|/tmp/s|netrpc|",
            "1|1|unix|/tmp/s|grpc|CERT",
            "1|1|unix|/tmp/s|grpc",
            "1|1|unix|/tmp/s|grpc|\r",
        ] {
            assert!(parse_strict(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn reads_proc_stat() {
        assert_eq!(proc_stat("12 (a) b) S 7 12 12"), Some(('S', 7)));
        assert_eq!(proc_stat_group("12 (a) b) S 7 9 12"), Some(('S', 7, 9)));
    }
}
