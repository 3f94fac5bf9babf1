//! Starting the plugin process: a scrubbed environment (only the handshake variables, the
//! network policy's allow-list and the spec's explicit `env`), stdin closed, stdout/stderr piped, its own session and process group,
//! and a parent-death signal (SIGKILL) so it cannot outlive the coordinator. Its resource
//! limits (`switchyard-rlimit`; core dumps off) are set in the child before exec, so they bind
//! from the plugin's first instruction — no window, as `prlimit` on the pid after the spawn
//! would leave. A pinned executable is executed through the descriptor its hash was checked
//! through (`/proc/self/fd/N`, argv\[0\] the configured path), never by its path again.
//!
//! This is the one module that may use `unsafe`: the pre-exec hook runs between fork and exec.
//! Note: Linux sends the parent-death signal when the *thread* that forked exits. Plugins are
//! spawned from tokio worker threads, which live as long as the runtime, so the signal fires when
//! the coordinator's runtime (or the whole process) goes away.
#![allow(unsafe_code)]

use super::options::{HostOptions, PluginSpec};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Stdio;
use switchyard_proto::handshake;
use tokio::process::{Child, Command};

/// Spawns the plugin with the handshake environment pointing at `socket_dir`; `pinned` is its
/// executable opened and checked against the spec's pin, executed instead of the path.
pub(crate) fn spawn(
    spec: &PluginSpec,
    opts: &HostOptions,
    socket_dir: &Path,
    pinned: Option<&File>,
) -> std::io::Result<Child> {
    let pinned_fd = pinned.map(AsRawFd::as_raw_fd);
    let mut cmd = match pinned_fd {
        Some(fd) => {
            let mut cmd = Command::new(format!("/proc/self/fd/{fd}"));
            cmd.arg0(&spec.command);
            cmd
        }
        None => Command::new(&spec.command),
    };
    // Computed before the fork: it reads /proc and allocates.
    let limits = switchyard_rlimit::Rlimits::new(spec.limits, switchyard_rlimit::effective_uid());
    cmd.args(&spec.args)
        .env_clear()
        .envs(&spec.env)
        // The handshake variables come last so a spec cannot override them by accident.
        .envs(handshake_env(opts, socket_dir))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A safety net only: the supervisor always reaps explicitly.
        .kill_on_drop(true);
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec. It calls only async-signal-safe
    // functions (setsid, prctl, getppid, _exit, fcntl, setrlimit), allocates nothing and
    // touches no locks.
    unsafe {
        cmd.pre_exec(move || {
            detach_and_bind_to_parent(parent)?;
            if let Some(fd) = pinned_fd {
                keep_open_across_exec(fd)?;
            }
            limits.apply()
        });
    }
    cmd.spawn()
}

/// The go-plugin handshake variables and the network policy's allow-list.
fn handshake_env(opts: &HostOptions, socket_dir: &Path) -> [(String, String); 4] {
    let versions = opts
        .protocol_versions
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    [
        (
            handshake::MAGIC_COOKIE_KEY.to_owned(),
            handshake::MAGIC_COOKIE_VALUE.to_owned(),
        ),
        (handshake::PROTOCOL_VERSIONS_ENV.to_owned(), versions),
        (
            handshake::UNIX_SOCKET_DIR_ENV.to_owned(),
            socket_dir.to_string_lossy().into_owned(),
        ),
        (
            super::options::NETWORK_ALLOW_ENV.to_owned(),
            opts.network_allow.join(","),
        ),
    ]
}

/// In the child: a new session (so terminal signals and our process group leave it alone, and
/// the whole group can be signalled at once), then SIGKILL when the parent dies.
fn detach_and_bind_to_parent(parent: u32) -> std::io::Result<()> {
    // SAFETY: setsid has no memory-safety preconditions; it fails only if we already lead a
    // process group, which a freshly forked child does not.
    if unsafe { libc::setsid() } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes a signal number and no pointers.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    // The parent may have died between fork and prctl; then the signal will never come.
    // SAFETY: getppid cannot fail; _exit never returns and is async-signal-safe.
    unsafe {
        if libc::getppid() != parent as libc::pid_t {
            libc::_exit(1);
        }
    }
    Ok(())
}

/// In the child: clears close-on-exec on the pinned executable's descriptor, which exec needs
/// open (as `/proc/self/fd/N`, and for a script its interpreter reads it). Only the child's copy
/// changes: other plugins forked meanwhile never inherit it.
fn keep_open_across_exec(fd: std::os::fd::RawFd) -> std::io::Result<()> {
    // SAFETY: fcntl(F_SETFD) on a descriptor this process owns; no pointers.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_allow_list_reaches_the_plugin_and_its_own_env_cannot_widen_it() {
        let mut spec = PluginSpec::new("/bin/sh");
        spec.args = vec![
            "-c".into(),
            "printf %s \"$SWITCHYARD_NETWORK_ALLOW\"".into(),
        ];
        spec.env.insert(
            super::super::options::NETWORK_ALLOW_ENV.into(),
            "0.0.0.0/0".into(),
        );
        let opts = HostOptions {
            network_allow: vec!["127.0.0.0/8".into(), "10.0.0.0/8".into()],
            ..HostOptions::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let out = spawn(&spec, &opts, dir.path(), None)
            .unwrap()
            .wait_with_output()
            .await
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "127.0.0.0/8,10.0.0.0/8"
        );
    }
}
