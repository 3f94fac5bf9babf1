//! One start of a plugin process, as a chain of named steps: SHA-256 pin (when configured) →
//! socket directory → spawn → first stdout line → parse and check it → connect → health check
//! → Describe and its checks. A failure at any step kills the process group, reaps the process
//! and removes the directory before the error is returned. The result is an [`Instance`]: one running, accepted plugin process.
//! Right after connecting, the host starts reading go-plugin's `plugin.GRPCStdio` stream
//! (`stdio`), so a Go plugin's handlers can print without blocking.

use super::connect::connect;
use super::describe::{check_describe, describe, health_check};
use super::error::StartError;
use super::handshake::{
    Announcement, FirstLine, LineProblem, Placement, parse_line, plugin_temp_dir, read_first_line,
};
use super::log_secrets::LogSecrets;
use super::options::{HostOptions, PluginSpec};
use super::socket_dir::SocketDir;
use super::spawn::spawn;
use super::stderr::{StderrTail, pump};
use super::stdio;
use super::stop::kill_group;
use nix::sys::signal::Signal;
use std::path::PathBuf;
use std::time::Duration;
use switchyard_proto::plugin::v1::DescribeResponse;
use tokio::io::{BufReader, Lines};
use tokio::process::{Child, ChildStdout};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tonic::transport::Channel;

/// How long to wait for a dead plugin's output pipes to drain (a grandchild may hold them open).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// A spawned process that has not been accepted yet.
#[derive(Debug)]
pub(crate) struct Process {
    /// The plugin's name for logs (its executable's file name).
    pub(crate) name: String,
    pub(crate) child: Child,
    /// Also the process group id (the plugin leads its own session).
    pub(crate) pid: u32,
    pub(crate) tail: StderrTail,
    /// Taken (and awaited) once by [`Process::drain_output`].
    stderr_task: Option<JoinHandle<()>>,
    stdout_task: Option<JoinHandle<()>>,
    /// Reads `plugin.GRPCStdio` (ends with the plugin, or at once if it does not serve it).
    stdio_task: Option<JoinHandle<()>>,
    /// Removed, with the socket in it, when the process is dropped.
    dir: SocketDir,
}

/// A running plugin process that passed every start check.
#[derive(Debug)]
pub(crate) struct Instance {
    pub(crate) process: Process,
    pub(crate) channel: Channel,
    pub(crate) describe: DescribeResponse,
    pub(crate) socket: PathBuf,
}

/// Starts the plugin and runs the whole start sequence within `opts.start_timeout`; its stderr
/// lines are scrubbed with `secrets`.
pub(crate) async fn launch(
    spec: &PluginSpec,
    opts: &HostOptions,
    secrets: &LogSecrets,
) -> Result<Instance, StartError> {
    // Checked before every start, restarts included; the file checked is the one executed.
    let pinned = spec
        .sha256
        .map(|pin| super::pin::verify(&spec.command, pin))
        .transpose()?;
    let dir = SocketDir::create(&opts.socket_root).map_err(StartError::SocketDir)?;
    let spawned = spawn(spec, opts, dir.path(), pinned.as_ref());
    drop(pinned);
    let mut child = spawned.map_err(|source| StartError::Spawn {
        command: spec.command.clone(),
        source,
    })?;
    let deadline = Instant::now() + opts.start_timeout;
    let pid = child.id().unwrap_or_default();
    let tail = StderrTail::default();
    let name = spec.name();
    let stderr_task = child
        .stderr
        .take()
        .map(|stderr| pump(name.clone(), pid, stderr, tail.clone(), secrets.clone()));
    let stdout = child.stdout.take();
    let mut process = Process {
        name,
        child,
        pid,
        tail,
        stderr_task,
        stdout_task: None,
        stdio_task: None,
        dir,
    };
    match accept(&mut process, stdout, spec, opts, deadline, secrets).await {
        Ok((channel, describe, socket)) => Ok(Instance {
            process,
            channel,
            describe,
            socket,
        }),
        Err(err) => {
            process.kill_and_reap().await;
            Err(err)
        }
    }
}

/// Handshake, connect (and follow the stdio stream), health check, Describe.
async fn accept(
    process: &mut Process,
    stdout: Option<ChildStdout>,
    spec: &PluginSpec,
    opts: &HostOptions,
    deadline: Instant,
    secrets: &LogSecrets,
) -> Result<(Channel, DescribeResponse, PathBuf), StartError> {
    let timeout = |stage| StartError::Timeout {
        command: spec.command.clone(),
        stage,
        timeout: opts.start_timeout,
    };
    let stdout = stdout.ok_or_else(|| protocol(spec, "reading stdout", "no stdout pipe".into()))?;
    let (line, rest) = match read_first_line(&mut process.child, stdout, deadline).await {
        FirstLine::Line(line, rest) => (line, rest),
        FirstLine::Exited(status) => return Err(process.exited_early(spec, status).await),
        FirstLine::TimedOut => return Err(timeout("print its handshake line")),
    };
    let announced = announcement(process, spec, opts, line)?;
    process.stdout_task = Some(log_stdout(process.name.clone(), process.pid, rest));
    let channel = within(deadline, connect(&announced.socket))
        .await
        .ok_or_else(|| timeout("accept a connection"))?
        .map_err(|e| protocol(spec, "connecting to the socket", e.to_string()))?;
    process.stdio_task = Some(stdio::follow(
        process.name.clone(),
        process.pid,
        channel.clone(),
        secrets.clone(),
    ));
    within(deadline, health_check(channel.clone()))
        .await
        .ok_or_else(|| timeout("answer the health check"))?
        .map_err(|e| protocol(spec, "health check", e))?;
    let describe = within(deadline, describe(channel.clone()))
        .await
        .ok_or_else(|| timeout("answer Describe"))?
        .map_err(|e| protocol(spec, "Describe", e))?;
    check_describe(&describe, announced.version)?;
    Ok((channel, describe, announced.socket))
}

/// Parses and checks the handshake line; a socket in the plugin's temp dir (go-plugin < 1.5)
/// is accepted with a warning and adopted, so it is removed when the plugin stops.
fn announcement(
    process: &mut Process,
    spec: &PluginSpec,
    opts: &HostOptions,
    line: String,
) -> Result<Announcement, StartError> {
    let temp_dir = plugin_temp_dir(&spec.env);
    let announced = parse_line(
        &line,
        &opts.protocol_versions,
        process.dir.path(),
        &temp_dir,
    )
    .map_err(|problem| match problem {
        LineProblem::Malformed(reason) => StartError::MalformedHandshake {
            command: spec.command.clone(),
            line,
            reason,
        },
        LineProblem::Version(announced) => StartError::VersionMismatch {
            command: spec.command.clone(),
            offered: opts.protocol_versions.clone(),
            announced,
        },
        LineProblem::Elsewhere(socket) => StartError::SocketElsewhere {
            command: spec.command.clone(),
            socket,
            dir: process.dir.path().to_path_buf(),
            temp_dir: temp_dir.clone(),
        },
    })?;
    if announced.placement == Placement::TempDir {
        tracing::warn!(
            plugin = %process.name,
            socket = %announced.socket.display(),
            "the plugin ignored PLUGIN_UNIX_SOCKET_DIR and put its socket in its temp dir \
             (go-plugin before v1.5 does); accepted, and removed when the plugin stops"
        );
        process.dir.adopt(announced.socket.clone());
    }
    Ok(announced)
}

async fn within<F: Future>(deadline: Instant, fut: F) -> Option<F::Output> {
    tokio::time::timeout_at(deadline, fut).await.ok()
}

fn protocol(spec: &PluginSpec, stage: &'static str, detail: String) -> StartError {
    StartError::Protocol {
        command: spec.command.clone(),
        stage,
        detail,
    }
}

/// Stdout after the handshake line is not part of the protocol: log it, never fail on it.
fn log_stdout(name: String, pid: u32, mut lines: Lines<BufReader<ChildStdout>>) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::info!(target: "switchyard::plugin", plugin = %name, pid, stream = "stdout", "{line}");
        }
    })
}

impl Process {
    /// The error for a process that exited before its handshake, with its stderr tail.
    async fn exited_early(
        &mut self,
        spec: &PluginSpec,
        status: Option<std::process::ExitStatus>,
    ) -> StartError {
        self.drain_output().await;
        StartError::ExitedEarly {
            command: spec.command.clone(),
            status: status.map_or_else(|| "exit status unknown".to_owned(), |s| s.to_string()),
            stderr_tail: self.tail.render(),
        }
    }

    /// Waits (briefly) until stdout and stderr reach their end, so the tail is complete.
    pub(crate) async fn drain_output(&mut self) {
        let tasks = [
            self.stderr_task.take(),
            self.stdout_task.take(),
            self.stdio_task.take(),
        ];
        for task in tasks.into_iter().flatten() {
            let abort = task.abort_handle();
            if tokio::time::timeout(DRAIN_TIMEOUT, task).await.is_err() {
                abort.abort();
            }
        }
    }

    /// SIGKILLs the whole process group and reaps the plugin; used on failed starts and after
    /// a crash (to take any grandchildren with it).
    pub(crate) async fn kill_and_reap(&mut self) {
        kill_group(self.pid, Signal::SIGKILL);
        let _ = self.child.wait().await;
        kill_group(self.pid, Signal::SIGKILL);
        self.drain_output().await;
    }
}
