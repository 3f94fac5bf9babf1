//! Recording attempt results in batches. An attempt task hands its delivery's new state to the
//! recorder and waits; the recorder takes every result queued so far, writes them in one store
//! transaction ([`Store::save_deliveries`]) on the blocking pool, makes the batch durable through
//! the group commit ([`GroupCommit`]), and only then answers each task. So a result counts as
//! settled (watch update, claim released) only once it is durable, and under load one
//! transaction and one fsync cover many results. A crash before the answer leaves the delivery
//! due in the store: it is attempted again (at-least-once).

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::commit::GroupCommit;
use crate::store::{SaveDelivery, Store, StoreError};

/// Most results written in one transaction (bounds the transaction's size and latency).
const MAX_BATCH: usize = 512;

type Answer = oneshot::Sender<Result<(), StoreError>>;

/// Handle to the recorder task; the task ends when the last handle is dropped.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    tx: mpsc::UnboundedSender<(SaveDelivery, Answer)>,
}

impl Recorder {
    /// Starts the recorder task writing to `store`, durable through `commit`.
    pub(crate) fn start(store: Arc<dyn Store>, commit: GroupCommit) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(store, commit, rx));
        Self { tx }
    }

    /// Writes one delivery's new state; returns once it is durable (or why it was refused).
    pub(crate) async fn save(&self, write: SaveDelivery) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        let stopped = || StoreError::Conflict("the result recorder has stopped".into());
        self.tx.send((write, tx)).map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

async fn run(
    store: Arc<dyn Store>,
    commit: GroupCommit,
    mut rx: mpsc::UnboundedReceiver<(SaveDelivery, Answer)>,
) {
    let mut queued = Vec::new();
    while rx.recv_many(&mut queued, MAX_BATCH).await > 0 {
        let (writes, answers): (Vec<SaveDelivery>, Vec<Answer>) =
            std::mem::take(&mut queued).into_iter().unzip();
        let s = Arc::clone(&store);
        let results = match tokio::task::spawn_blocking(move || s.save_deliveries(&writes)).await {
            Ok(results) => results,
            Err(e) => {
                tracing::error!(error = %e, "the result writer failed");
                continue; // The answers are dropped: each task reports the recorder stopped.
            }
        };
        // The flush runs beside the next batch's write; the group commit merges flushes.
        let commit = commit.clone();
        tokio::spawn(async move {
            let durable = commit.flush().await;
            for (answer, result) in answers.into_iter().zip(results) {
                let result = match (&durable, result) {
                    (Err(e), Ok(())) => Err(StoreError::Corrupt {
                        tree: "deliveries",
                        message: format!("the result was written but not flushed: {e}"),
                    }),
                    (_, r) => r,
                };
                let _ = answer.send(result);
            }
        });
    }
}
