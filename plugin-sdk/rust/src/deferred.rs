//! [`Deferred`]: a value computed once, off the start-up path, by whichever comes first — the
//! background schema check started by `Plugin::build` or a caller that needs the value now.
//! Async callers wait without blocking a runtime thread; sync callers block only while another
//! thread is in the middle of computing it.

use std::sync::{Mutex, PoisonError};

use tokio::sync::SetOnce;

/// A once-computed value with both a blocking and an async way to get it.
pub(crate) struct Deferred<T> {
    value: SetOnce<T>,
    /// Held while computing, so the value is computed at most once.
    computing: Mutex<()>,
}

impl<T> Deferred<T> {
    pub(crate) fn new() -> Self {
        Self {
            value: SetOnce::new(),
            computing: Mutex::new(()),
        }
    }

    /// The value if it is already there (one atomic load).
    pub(crate) fn get(&self) -> Option<&T> {
        self.value.get()
    }

    /// The value, computing it with `compute` on this thread unless it is there already; if
    /// another thread is computing it, blocks until that one is done.
    pub(crate) fn get_or_compute(&self, compute: impl FnOnce() -> T) -> &T {
        let mut compute = Some(compute);
        // At most two turns: the value is set before the lock is released.
        loop {
            if let Some(value) = self.value.get() {
                return value;
            }
            let _guard = self
                .computing
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if self.value.get().is_none()
                && let Some(compute) = compute.take()
            {
                // Cannot fail: only the lock holder sets the value.
                let _ = self.value.set(compute());
            }
        }
    }

    /// Waits (asynchronously) until the value has been computed by someone.
    pub(crate) async fn wait(&self) -> &T {
        self.value.wait().await
    }
}
