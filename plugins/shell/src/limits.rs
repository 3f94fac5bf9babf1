//! What the command's process gets between fork and exec — the one module of this plugin that
//! may use `unsafe` (a pre-exec hook is unsafe by nature): resource limits (CPU seconds,
//! address space, open files, processes; core dumps off — `switchyard-rlimit`, shared with the
//! coordinator's plugin host) and a parent-death signal, so a run cannot outlive
//! the plugin. Also makes the plugin a child subreaper, so the orphans of a killed command
//! become its children and can be reaped (see `run::reap_group`) instead of lingering as
//! zombies of a PID 1 that may never wait for them.
//!
//! RLIMIT_NPROC counts every process of the command's real user, not only the command's: the
//! limit set is that user's current count plus the configured number, which is why running
//! commands as their own user (`uid`) makes the limit exact. Root ignores it, so a plugin
//! running as root runs commands as nobody unless told otherwise (`run::identity`).
#![allow(unsafe_code)]

use switchyard_rlimit::Limits as Shared;
pub use switchyard_rlimit::Rlimits;

use crate::allowed::Limits;

/// The limits of one run of a command as `uid` (the shared crate's, with core dumps off).
#[must_use]
pub fn rlimits(limits: Limits, uid: u32) -> Rlimits {
    Rlimits::new(
        Shared {
            cpu_seconds: Some(limits.cpu_seconds),
            address_space_bytes: Some(limits.memory_mb.saturating_mul(1024 * 1024)),
            open_files: Some(limits.open_files),
            processes: Some(limits.processes),
        },
        uid,
    )
}

/// Installs the pre-exec hook on `cmd`. Runs after the user and group are switched (std does
/// that first), so the limits bind the command's own user.
pub fn install(cmd: &mut tokio::process::Command, limits: Rlimits) {
    // SAFETY: the closure runs in the forked child before exec. It calls only setrlimit (in
    // `Rlimits::apply`) and prctl, which are async-signal-safe system calls; it allocates
    // nothing and takes no lock.
    unsafe {
        cmd.pre_exec(move || apply(limits));
    }
}

fn apply(limits: Rlimits) -> std::io::Result<()> {
    limits.apply()?;
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
