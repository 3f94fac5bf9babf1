//! Running one command once: spawned directly (no shell), in a fresh temporary working
//! directory that is removed afterwards, with exactly the environment it is given, the payload
//! on stdin, in its own process group and under its resource limits (`limits`). When it exits,
//! or when its timeout passes, the whole group is killed with SIGKILL, so nothing it started
//! lives on; the group is killed too if the run is abandoned (the call cancelled). Its stdout
//! (the first [`CAPTURE_BYTES`]) and stderr (the last [`CAPTURE_BYTES`]) are captured, the
//! rest read and dropped so it never blocks on a full pipe.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};

use crate::allowed::Command;
use crate::limits;

/// How much of each output stream is kept.
pub const CAPTURE_BYTES: usize = 64 * 1024;
/// How long the killed group's pipes may stay open (a process that left the group may hold
/// them) before the capture stops waiting.
const DRAIN_GRACE: Duration = Duration::from_secs(2);
/// The user commands run as when the plugin is root and the operator named none.
pub const NOBODY: u32 = 65_534;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It exited with this code.
    Exited(i32),
    /// A signal killed it (not our timeout): the signal number.
    Signalled(i32),
    /// The timeout passed; it was killed with its group.
    TimedOut,
}

/// What one run left.
#[derive(Debug, Clone)]
pub struct Finished {
    /// How it ended.
    pub ended: Ended,
    /// The start of its stdout.
    pub stdout: Vec<u8>,
    /// The end of its stderr.
    pub stderr: Vec<u8>,
}

/// Why a command could not be started.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The working directory could not be made.
    #[error("cannot make a working directory for the command: {0}")]
    Workdir(std::io::Error),
    /// The exec (or a step before it) failed.
    #[error("cannot start {path} as uid {uid}: {source}")]
    Spawn {
        /// The executable.
        path: PathBuf,
        /// The user it was to run as.
        uid: u32,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The user and group a command runs as: the operator's (the group defaults to the number of
/// the user, as with per-user groups), else the plugin's own — except root, which becomes
/// nobody (RLIMIT_NPROC does not bind root).
#[must_use]
pub fn identity(command: &Command) -> (u32, u32) {
    let (euid, egid) = limits::own_ids();
    let fallback = if euid == 0 {
        (NOBODY, NOBODY)
    } else {
        (euid, egid)
    };
    (
        command.uid.unwrap_or(fallback.0),
        command.gid.or(command.uid).unwrap_or(fallback.1),
    )
}

/// Runs `command` with `extra_args` appended, `env` as its whole environment (the working
/// directory's path is given to `env` to build it) and `stdin` as its input.
///
/// # Errors
/// [`RunError`] when it cannot be started at all.
pub async fn run(
    command: &Command,
    extra_args: &[String],
    env: impl FnOnce(&Path) -> Vec<(String, String)>,
    stdin: Vec<u8>,
) -> Result<Finished, RunError> {
    let (uid, gid) = identity(command);
    let workdir = workdir(uid, gid).map_err(RunError::Workdir)?;
    limits::become_subreaper();
    let mut cmd = tokio::process::Command::new(&command.path);
    cmd.args(&command.args)
        .args(extra_args)
        .env_clear()
        .envs(env(workdir.path()))
        .current_dir(workdir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if (uid, gid) != limits::own_ids() {
        cmd.uid(uid).gid(gid);
    }
    limits::install(&mut cmd, limits::rlimits(command.limits, uid));
    let mut child = cmd.spawn().map_err(|source| RunError::Spawn {
        path: command.path.clone(),
        uid,
        source,
    })?;
    let mut group = Group(
        child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw),
    );
    let result = supervise(&mut child, &mut group, command.timeout(), stdin).await;
    drop(group);
    // `workdir` is removed here, after every process that could write in it is dead.
    Ok(result)
}

/// Feeds stdin, captures the outputs, waits for the exit or the timeout, kills the group.
async fn supervise(
    child: &mut tokio::process::Child,
    group: &mut Group,
    timeout: Duration,
    stdin: Vec<u8>,
) -> Finished {
    if let Some(mut pipe) = child.stdin.take() {
        // A command that does not read its input closes the pipe: not an error.
        tokio::spawn(async move {
            let _ = pipe.write_all(&stdin).await;
        });
    }
    let stdout = tokio::spawn(capture(child.stdout.take(), Keep::Head));
    let stderr = tokio::spawn(capture(child.stderr.take(), Keep::Tail));
    let ended = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => ended_of(status),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot wait for the command");
            Ended::Signalled(libc::SIGKILL)
        }
        Err(_) => Ended::TimedOut,
    };
    group.kill();
    if ended == Ended::TimedOut {
        // Reaped by its own handle first, so the group reaping below never takes it.
        let _ = child.wait().await;
    }
    group.kill_and_reap().await;
    let collect = |mut task: tokio::task::JoinHandle<Vec<u8>>| async move {
        match tokio::time::timeout(DRAIN_GRACE, &mut task).await {
            Ok(Ok(bytes)) => bytes,
            // A process that left the group holds the pipe: stop reading it.
            _ => {
                task.abort();
                Vec::new()
            }
        }
    };
    Finished {
        ended,
        stdout: collect(stdout).await,
        stderr: collect(stderr).await,
    }
}

fn ended_of(status: std::process::ExitStatus) -> Ended {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => Ended::Exited(code),
        (None, Some(signal)) => Ended::Signalled(signal),
        (None, None) => Ended::Signalled(0),
    }
}

/// A fresh private directory, owned by the command's user.
fn workdir(uid: u32, gid: u32) -> std::io::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("switchyard-shell-")
        .tempdir()?;
    let own = limits::own_ids();
    if (uid, gid) != own {
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))?;
    }
    Ok(dir)
}

#[derive(Clone, Copy)]
enum Keep {
    Head,
    Tail,
}

/// Reads a stream to its end, keeping its first or last [`CAPTURE_BYTES`].
async fn capture(stream: Option<impl AsyncRead + Unpin>, keep: Keep) -> Vec<u8> {
    let Some(mut stream) = stream else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    let mut buf = vec![0u8; 8192];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => n,
        };
        match keep {
            Keep::Head => {
                let room = CAPTURE_BYTES.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
            Keep::Tail => {
                kept.extend_from_slice(&buf[..n]);
                let excess = kept.len().saturating_sub(CAPTURE_BYTES);
                kept.drain(..excess);
            }
        }
    }
}

/// The command's process group; killed when dropped, whatever happened before.
struct Group(Option<Pid>);

impl Group {
    fn kill(&self) {
        if let Some(pgid) = self.0 {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }

    /// SIGKILL to the group until no member is left, reaping the orphans this process
    /// inherited as their subreaper. Bounded by [`DRAIN_GRACE`]: a zombie whose parent is
    /// not this process (and never reaps it) keeps the group alive for ever.
    async fn kill_and_reap(&mut self) {
        let Some(pgid) = self.0 else { return };
        let deadline = tokio::time::Instant::now() + DRAIN_GRACE;
        while tokio::time::Instant::now() < deadline {
            if killpg(pgid, Signal::SIGKILL).is_err() {
                // Empty: its number may now go to a new group, which must not be signalled.
                self.0 = None;
                return;
            }
            if reap_group(pgid) == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}

/// Reaps every exited child in group `pgid`; how many.
fn reap_group(pgid: Pid) -> usize {
    let mut reaped = 0;
    loop {
        match waitpid(Pid::from_raw(-pgid.as_raw()), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return reaped,
            Ok(_) => reaped += 1,
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}
