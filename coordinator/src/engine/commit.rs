//! Group commit: many concurrent publishes share one `Store::flush`. A publisher enqueues a
//! waiter after its write; the committer takes every waiter queued so far, flushes once (on the
//! blocking pool) and answers them all. A waiter queued during a flush waits for the next one,
//! so its write is always covered. Flushes start at most once per `window` (like PostgreSQL's
//! `commit_delay`): under load each fsync then covers more publishes, at the price of up to one
//! window of extra latency.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::store::Store;

type Waiter = oneshot::Sender<Result<(), String>>;

/// Handle to the committer task; the task ends when the last handle is dropped.
#[derive(Debug, Clone)]
pub(crate) struct GroupCommit {
    tx: mpsc::UnboundedSender<Waiter>,
}

impl GroupCommit {
    /// Starts the committer task for `store`.
    pub(crate) fn start(store: Arc<dyn Store>, window: Duration) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(store, rx, window));
        Self { tx }
    }

    /// Returns once every write made before the call is durable. `Err` carries the flush error.
    pub(crate) async fn flush(&self) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(tx)
            .map_err(|_| "the committer has stopped".to_owned())?;
        rx.await
            .map_err(|_| "the committer has stopped".to_owned())?
    }
}

async fn run(store: Arc<dyn Store>, mut rx: mpsc::UnboundedReceiver<Waiter>, window: Duration) {
    let mut last_start = Instant::now();
    while let Some(first) = rx.recv().await {
        tokio::time::sleep_until(last_start + window).await;
        last_start = Instant::now();
        let mut waiters = vec![first];
        while let Ok(w) = rx.try_recv() {
            waiters.push(w);
        }
        let s = Arc::clone(&store);
        let result = match tokio::task::spawn_blocking(move || s.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(format!("flush task failed: {e}")),
        };
        if let Err(e) = &result {
            tracing::error!(error = %e, "flushing the store failed");
        }
        for w in waiters {
            let _ = w.send(result.clone());
        }
    }
}
