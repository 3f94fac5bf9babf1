//! What the command's process gets between fork and exec — the one module of this plugin that
//! may use `unsafe` (a pre-exec hook is unsafe by nature): resource limits (CPU seconds,
//! address space, open files, processes) and a parent-death signal, so a run cannot outlive
//! the plugin. Also makes the plugin a child subreaper, so the orphans of a killed command
//! become its children and can be reaped (see `run::reap_group`) instead of lingering as
//! zombies of a PID 1 that may never wait for them.
//!
//! RLIMIT_NPROC counts every process of the command's real user, not only the command's: the
//! limit set is that user's current count plus the configured number, which is why running
//! commands as their own user (`uid`) makes the limit exact. Root ignores it, so a plugin
//! running as root runs commands as nobody unless told otherwise (`run::identity`).
#![allow(unsafe_code)]

use std::os::unix::fs::MetadataExt as _;

use crate::allowed::Limits;

/// The limits as `setrlimit` takes them, computed before the fork (nothing allocates after).
#[derive(Debug, Clone, Copy)]
pub struct Rlimits {
    cpu: libc::rlim_t,
    address_space: libc::rlim_t,
    files: libc::rlim_t,
    processes: libc::rlim_t,
}

impl Rlimits {
    /// The limits of one run of a command as `uid`.
    #[must_use]
    pub fn new(limits: Limits, uid: u32) -> Self {
        let processes = processes_of(uid).saturating_add(limits.processes);
        Self {
            cpu: limits.cpu_seconds,
            address_space: limits.memory_mb.saturating_mul(1024 * 1024),
            files: limits.open_files,
            processes,
        }
    }
}

/// How many processes `uid` owns now (the owners of `/proc/<pid>`).
fn processes_of(uid: u32) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let count = entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| e.metadata().is_ok_and(|m| m.uid() == uid))
        .count();
    u64::try_from(count).unwrap_or(u64::MAX)
}

/// Installs the pre-exec hook on `cmd`. Runs after the user and group are switched (std does
/// that first), so the limits bind the command's own user.
pub fn install(cmd: &mut tokio::process::Command, limits: Rlimits) {
    // SAFETY: the closure runs in the forked child before exec. It calls only setrlimit and
    // prctl, which are async-signal-safe system calls; it allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(move || apply(limits));
    }
}

fn apply(limits: Rlimits) -> std::io::Result<()> {
    // The CPU hard limit one second above the soft one: the soft limit sends SIGXCPU, which
    // names the cause; the hard one SIGKILLs a command that ignores it.
    for (resource, soft, hard) in [
        (libc::RLIMIT_CPU, limits.cpu, limits.cpu.saturating_add(1)),
        (libc::RLIMIT_AS, limits.address_space, limits.address_space),
        (libc::RLIMIT_NOFILE, limits.files, limits.files),
        (libc::RLIMIT_NPROC, limits.processes, limits.processes),
    ] {
        let limit = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: setrlimit reads the struct we pass by reference; no other precondition.
        if unsafe { libc::setrlimit(resource, &raw const limit) } == -1 {
            return Err(std::io::Error::last_os_error());
        }
    }
    // The command dies with the plugin (the timeout could not be enforced any more). Set last:
    // a change of user clears it.
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes a signal number and no pointers.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Makes this process the subreaper of its descendants (idempotent).
pub fn become_subreaper() {
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) takes an integer flag and no pointers.
    let done = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
    if done == -1 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "cannot become a child subreaper; orphans of killed commands go to PID 1");
    }
}

/// This process's effective user and group ids.
#[must_use]
pub fn own_ids() -> (u32, u32) {
    // SAFETY: geteuid and getegid cannot fail and take no arguments.
    unsafe { (libc::geteuid(), libc::getegid()) }
}
