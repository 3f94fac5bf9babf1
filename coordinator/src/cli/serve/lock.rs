//! One coordinator per data dir: [`DataDirLock`] holds an exclusive `flock` on
//! `<data_dir>/switchyard.lock` for the life of `switchyard serve`, taken before the secret key
//! and the database are opened. A second coordinator on the same data dir fails at once,
//! naming the pid and socket of the one that runs (written into the file after taking the lock).
//!
//! The kernel drops the lock when the process ends, however it ends, so the file left behind
//! by a SIGKILLed coordinator blocks nothing: the next one takes the lock and rewrites it. The
//! file is never removed: removing it would let two processes lock two different files.

use std::fs::File;
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// The lock file's name in the data dir.
pub const LOCK_FILE: &str = "switchyard.lock";

/// Why the data dir could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the lock.
    #[error(
        "another coordinator ({holder}) already runs on data dir {}; stop it or use another data dir",
        data_dir.display()
    )]
    Held {
        /// The data dir.
        data_dir: PathBuf,
        /// "pid N, socket PATH", as the holder wrote it.
        holder: String,
    },
    /// The lock file could not be opened, locked or written.
    #[error("cannot lock the data dir with {}: {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct DataDirLock {
    _file: Flock<File>,
}

impl DataDirLock {
    /// Locks `data_dir` for this process, recording its pid and API `socket`.
    ///
    /// # Errors
    /// [`LockError::Held`] when another coordinator runs on `data_dir`; [`LockError::Io`]
    /// when the lock file cannot be used.
    pub fn acquire(data_dir: &Path, socket: &Path) -> Result<Self, LockError> {
        let path = data_dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        // Not truncated on open: the holder's pid and socket are what a second start reports.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let mut file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => locked,
            Err((mut file, Errno::EWOULDBLOCK)) => {
                return Err(LockError::Held {
                    data_dir: data_dir.to_owned(),
                    holder: holder(&mut file),
                });
            }
            Err((_, errno)) => return Err(io(errno.into())),
        };
        let record = format!("pid {}, socket {}\n", std::process::id(), socket.display());
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(record.as_bytes()).map_err(io)?;
        Ok(Self { _file: file })
    }
}

/// What the holder wrote, or a placeholder while it has not written yet.
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.take(4096).read_to_string(&mut text);
    match text.trim() {
        "" => "pid and socket not recorded yet".to_owned(),
        record => record.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_data_dir_names_the_holder_and_a_released_one_is_taken_again() {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("api.sock");
        let first = DataDirLock::acquire(dir.path(), &socket).expect("first lock");
        // flock locks belong to the open file, so a second open in this process conflicts too.
        let err = DataDirLock::acquire(dir.path(), &socket).expect_err("second lock");
        let want = format!(
            "another coordinator (pid {}, socket {}) already runs on data dir {}; stop it or use another data dir",
            std::process::id(),
            socket.display(),
            dir.path().display()
        );
        assert_eq!(err.to_string(), want);
        drop(first);
        let other = dir.path().join("other.sock");
        let _again = DataDirLock::acquire(dir.path(), &other).expect("lock after release");
        let record = std::fs::read_to_string(dir.path().join(LOCK_FILE)).expect("lock file");
        assert_eq!(
            record,
            format!("pid {}, socket {}\n", std::process::id(), other.display())
        );
    }
}
