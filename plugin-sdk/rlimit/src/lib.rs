//! Resource limits for a child process, shared by the coordinator (for the plugins it starts)
//! and the shell plugin (for the commands it runs): CPU seconds, address space, open files and
//! processes, and core dumps always off. [`Rlimits`] is computed before the fork (it reads
//! `/proc` and allocates), and [`Rlimits::apply`] runs in the forked child before exec: it only
//! calls `setrlimit`, an async-signal-safe system call, allocates nothing and takes no lock.
//!
//! RLIMIT_NPROC counts every process (and thread) of the child's real user, not only the
//! child's: the limit set is that user's current count plus the allowance, so it bounds what
//! the child can add. Root ignores it.
//!
//! The one crate of the workspace besides the hosts' spawn modules that may use `unsafe`:
//! `setrlimit` and `geteuid` are foreign functions.
#![allow(unsafe_code)]

use std::os::unix::fs::MetadataExt as _;

/// What a child may use; `None` leaves a limit as inherited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// RLIMIT_CPU: CPU seconds over the process's whole life (SIGXCPU at the soft limit, SIGKILL
    /// one second later).
    pub cpu_seconds: Option<u64>,
    /// RLIMIT_AS: address space, in bytes.
    pub address_space_bytes: Option<u64>,
    /// RLIMIT_NOFILE: open file descriptors.
    pub open_files: Option<u64>,
    /// Processes and threads the child may add to its user's current count (RLIMIT_NPROC).
    pub processes: Option<u64>,
}

/// The limits as `setrlimit` takes them, ready to apply in a forked child. A limit above the
/// hard limit this process runs under is lowered to it (an unprivileged child cannot be given
/// more).
#[derive(Debug, Clone, Copy)]
pub struct Rlimits {
    /// (resource, soft, hard), `None` for a limit left alone; the last entry is RLIMIT_CORE.
    entries: [Option<(Resource, libc::rlim_t, libc::rlim_t)>; 5],
}

// The type of setrlimit's first argument differs between the C libraries.
#[cfg(target_env = "gnu")]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
type Resource = libc::c_int;

impl Rlimits {
    /// The limits of a child that will run as `uid` (for the process count).
    #[must_use]
    pub fn new(limits: Limits, uid: u32) -> Self {
        let same = |resource, value: u64| {
            let value = value.min(hard_limit(resource));
            Some((resource, value, value))
        };
        Self {
            entries: [
                // The hard CPU limit one second above the soft one: the soft limit sends
                // SIGXCPU, which names the cause; the hard one SIGKILLs a child that ignores it.
                limits.cpu_seconds.map(|s| {
                    let hard = s.saturating_add(1).min(hard_limit(libc::RLIMIT_CPU));
                    (libc::RLIMIT_CPU, s.min(hard), hard)
                }),
                limits
                    .address_space_bytes
                    .and_then(|b| same(libc::RLIMIT_AS, b)),
                limits.open_files.and_then(|n| same(libc::RLIMIT_NOFILE, n)),
                limits
                    .processes
                    .and_then(|n| same(libc::RLIMIT_NPROC, processes_of(uid).saturating_add(n))),
                same(libc::RLIMIT_CORE, 0),
            ],
        }
    }

    /// Sets the limits on the calling process. Meant for a forked child before exec: it only
    /// calls `setrlimit`.
    ///
    /// # Errors
    /// The OS error of the first `setrlimit` that failed (e.g. a limit above the hard limit
    /// the coordinator itself runs under).
    pub fn apply(&self) -> std::io::Result<()> {
        for &(resource, soft, hard) in self.entries.iter().flatten() {
            let limit = libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            // SAFETY: setrlimit reads the struct we pass by reference; no other precondition.
            if unsafe { libc::setrlimit(resource, &raw const limit) } == -1 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

/// The hard limit this process runs under: a child cannot be given more (without privilege),
/// so higher values are lowered to it.
fn hard_limit(resource: Resource) -> libc::rlim_t {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass by reference; no other precondition.
    if unsafe { libc::getrlimit(resource, &raw mut limit) } == -1 {
        return libc::RLIM_INFINITY;
    }
    limit.rlim_max
}

/// How many processes `uid` owns now (the owners of `/proc/<pid>`).
#[must_use]
pub fn processes_of(uid: u32) -> u64 {
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

/// This process's effective user id.
#[must_use]
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid cannot fail and takes no arguments.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt as _;

    /// The limits as a child sees them, in `/proc/self/limits`.
    fn limits_seen(limits: Limits) -> String {
        let r = Rlimits::new(limits, effective_uid());
        let mut cmd = std::process::Command::new("/bin/cat");
        cmd.arg("/proc/self/limits");
        // SAFETY: apply only calls setrlimit (see its doc).
        unsafe {
            cmd.pre_exec(move || r.apply());
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    }

    fn row<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap();
        line[name.len()..].split_whitespace().collect()
    }

    #[test]
    fn the_child_gets_the_limits_and_no_core_dumps() {
        let seen = limits_seen(Limits {
            cpu_seconds: Some(30),
            address_space_bytes: Some(1 << 30),
            open_files: Some(100),
            processes: Some(50),
        });
        assert_eq!(row(&seen, "Max cpu time")[..2], ["30", "31"]);
        assert_eq!(row(&seen, "Max address space")[..2], ["1073741824"; 2]);
        assert_eq!(row(&seen, "Max open files")[..2], ["100"; 2]);
        assert_eq!(row(&seen, "Max core file size")[..2], ["0"; 2]);
        let nproc: u64 = row(&seen, "Max processes")[0].parse().unwrap();
        assert!(nproc >= 50, "{nproc}");
    }

    #[test]
    fn limits_left_out_stay_as_inherited() {
        let own = std::fs::read_to_string("/proc/self/limits").unwrap();
        let seen = limits_seen(Limits::default());
        assert_eq!(row(&seen, "Max open files"), row(&own, "Max open files"));
        assert_eq!(row(&seen, "Max core file size")[..2], ["0"; 2]);
    }
}
