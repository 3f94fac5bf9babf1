//! How the synchronous [`crate::store::Store`] trait meets the async PostgreSQL client.
//!
//! The store owns a small tokio runtime of its own (two worker threads). Its I/O driver runs
//! the client's connections, its heartbeat and its LISTEN task; a trait call enters that
//! runtime's context and blocks its own thread on the query's future ([`Bridge::run`]).
//!
//! Why not an async trait: the engine, the API, the CLI and the secret rotation call the
//! store synchronously in dozens of places (six branches edit them at once), and sled, the
//! embedded default, is synchronous too. Blocking is what a sled call already does (about as
//! long: a query over a local socket takes tens of microseconds); on a multi-threaded runtime
//! the calling worker is handed over first (`block_in_place`), so other tasks keep running. The
//! futures need not be `'static` (they borrow the caller's arguments), because the caller's
//! thread waits for them.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

use crate::store::{StoreError, StoreResult};

/// The store's runtime; shut down in the background on drop (a runtime cannot be dropped
/// inside another one's context, which is where a store is often dropped).
#[derive(Debug)]
pub(super) struct Bridge {
    rt: Option<Runtime>,
}

impl Bridge {
    pub(super) fn new() -> StoreResult<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("switchyard-pg")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Backend(format!("cannot start the store's runtime: {e}")))?;
        Ok(Self { rt: Some(rt) })
    }

    /// The runtime's handle, to spawn the store's background tasks.
    pub(super) fn handle(&self) -> Option<&Handle> {
        self.rt.as_ref().map(Runtime::handle)
    }

    /// Runs `fut` to completion in the store's runtime context, blocking this thread.
    pub(super) fn run<F: Future>(&self, fut: F) -> F::Output {
        let Some(rt) = &self.rt else {
            unreachable!("the runtime is only taken on drop");
        };
        let block = || {
            let _entered = rt.enter();
            // Unconstrained: tokio's cooperative budget belongs to the caller's task, and once it
            // is spent, a tokio resource the query waits on (the pool's semaphore, the client's
            // channel) answers Pending and defers its wake-up until that task yields to its
            // scheduler — which never happens while this thread blocks. On a current-thread
            // runtime (no `block_in_place`, which lifts the budget itself) that was a deadlock:
            // a test's 128th store call in one poll never returned.
            block_on(tokio::task::unconstrained(fut))
        };
        match Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(block),
            _ => block(),
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// Wakes the thread blocked in [`block_on`].
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `fut` on this thread until it is ready, parking in between (the I/O it waits for is
/// driven by the store's runtime threads).
fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(value) = fut.as_mut().poll(&mut cx) {
            return value;
        }
        std::thread::park();
    }
}
