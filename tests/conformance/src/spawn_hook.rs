//! Starting a plugin as the coordinator's host does (`coordinator/src/host/spawn.rs`): in the
//! forked child, a new session (the plugin leads its own process group) and the parent-death
//! signal SIGKILL. The harness so checks what a plugin must do under the real host, not what
//! the host already guarantees.
//!
//! For the parent-death check, [`behind_a_parent`] puts a stand-in parent process between the
//! harness and the plugin: killing it is the coordinator's death as the plugin sees it (the
//! parent-death signal, and `getppid()` changing).
//!
//! The one module with `unsafe`: the pre-exec hooks run between fork and exec.
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

/// Makes `cmd` start behind a stand-in parent: the forked child P (in a session of its own,
/// dying with the harness) forks again; the grandchild G is set up as the host sets up a plugin
/// and goes on to exec it, while P drops every descriptor (so it holds none of the plugin's
/// pipes and the spawn completes once G has exec'd) and waits to be killed. The harness's
/// child is P; the plugin is P's child.
pub(crate) fn behind_a_parent(cmd: &mut Command) {
    // SAFETY: runs in the forked child before exec. setsid, prctl, fork, close, syscall
    // (close_range), pause and _exit are async-signal-safe; nothing allocates or locks.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 || libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            match libc::fork() {
                -1 => Err(std::io::Error::last_os_error()),
                0 => {
                    if libc::setsid() == -1
                        || libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                }
                _ => {
                    for fd in 0..3 {
                        libc::close(fd);
                    }
                    libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
                    loop {
                        libc::pause();
                    }
                }
            }
        });
    }
}
