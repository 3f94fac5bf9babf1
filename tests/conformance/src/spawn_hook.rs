//! Starting a plugin as the coordinator's host does (`coordinator/src/host/spawn.rs`): in the
//! forked child, a new session (the plugin leads its own process group) and the parent-death
//! signal SIGKILL. The harness so checks what a plugin must do under the real host, not what
//! the host already guarantees.
//!
//! The one module with `unsafe`: the pre-exec hook runs between fork and exec.
#![allow(unsafe_code)]

use tokio::process::Command;

/// Adds the host's pre-exec hook to `cmd`.
pub(crate) fn as_the_host_does(cmd: &mut Command) {
    // SAFETY: the closure runs in the forked child before exec and calls only async-signal-safe
    // functions (setsid, prctl); it allocates nothing and takes no locks.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
