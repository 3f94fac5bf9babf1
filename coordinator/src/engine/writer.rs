//! The writer: group commit for what the engine writes at volume. Publishes (events with their
//! deliveries), attempt results and bare durability requests queue here; each round takes
//! everything queued, writes it in one store transaction ([`Store::write_batch`], each write
//! checked on its own), flushes (fsync) once, and only then answers every caller. Rounds run
//! back to back on the blocking pool (optionally at most once per `window`, like PostgreSQL's
//! `commit_delay`), so a round's size follows the load: under load one transaction and one
//! fsync cover dozens of writes; a lone write waits for its own round only.
//!
//! Why one transaction per round: a sled transaction rolls the log buffer twice (two log
//! writes, each waking all of sled's I/O threads) and takes a store-wide write lock. One per
//! publish or per result cost more than the writes in it (docs/benchmarks.md, "End to end").
//!
//! A crash before the answer loses nothing that was answered: an unanswered publish was never
//! acknowledged, and an unanswered result leaves its delivery due, so it is attempted again
//! (at-least-once).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::store::{InsertEvent, NewEventRecord, SaveDelivery, Store, StoreError, StoreResult};

/// A round stops taking requests once it writes this many deliveries. It bounds the
/// transaction's duration, during which the store's claims are locked (the dispatcher waits):
/// with one subscription a loaded round holds a few dozen, but one event can fan out to
/// hundreds.
const MAX_ROUND_DELIVERIES: usize = 1024;

/// What a publish gets back: its record (moved through the writer, not copied) and outcome.
pub(super) type Published = StoreResult<(NewEventRecord, InsertEvent)>;

enum Request {
    Publish(NewEventRecord, oneshot::Sender<Published>),
    /// The events of one `PublishEvents` call: taken by one round as a whole (the round may
    /// pass its delivery bound by one batch), so the batch costs one transaction and one flush.
    PublishMany(Vec<(NewEventRecord, oneshot::Sender<Published>)>),
    // Boxed: an attempt record is large, and every queued request would pay for it.
    Save(Box<SaveDelivery>, oneshot::Sender<StoreResult<()>>),
    Flush(oneshot::Sender<StoreResult<()>>),
}

/// Handle to the writer task; the task ends when the last handle is dropped.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    tx: mpsc::UnboundedSender<Request>,
}

/// What a caller is told when its request got no answer: the writer stopped, or its round's
/// task failed (logged); either way the write may or may not have happened.
fn unanswered() -> StoreError {
    StoreError::NotDurable("the write was not confirmed: the writer stopped or failed".into())
}

impl Writer {
    /// Starts the writer task for `store`; rounds start at most once per `window`.
    pub(crate) fn start(store: Arc<dyn Store>, window: Duration) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(store, window, rx));
        Self { tx }
    }

    /// Stores an event with its deliveries (an event of [`Store::write_batch`]); returns the
    /// record with the outcome once durable.
    pub(crate) async fn publish(&self, record: NewEventRecord) -> Published {
        self.ask(|answer| Request::Publish(record, answer)).await?
    }

    /// Stores several events with their deliveries in one round; returns each record with its
    /// outcome, in the order given, once durable.
    pub(crate) async fn publish_many(&self, records: Vec<NewEventRecord>) -> Vec<Published> {
        let (requests, answers): (Vec<_>, Vec<_>) = records
            .into_iter()
            .map(|record| {
                let (answer, rx) = oneshot::channel();
                ((record, answer), rx)
            })
            .unzip();
        // Unsent, the request is dropped with its answers: each then reads as unanswered.
        let _ = self.tx.send(Request::PublishMany(requests));
        let mut out = Vec::with_capacity(answers.len());
        for rx in answers {
            out.push(rx.await.unwrap_or_else(|_| Err(unanswered())));
        }
        out
    }

    /// Writes one delivery's new state (a save of [`Store::write_batch`]); returns once durable.
    pub(crate) async fn save(&self, write: SaveDelivery) -> StoreResult<()> {
        self.ask(|answer| Request::Save(Box::new(write), answer))
            .await?
    }

    /// Returns once every write made before the call is durable.
    pub(crate) async fn flush(&self) -> StoreResult<()> {
        self.ask(Request::Flush).await?
    }

    async fn ask<T>(&self, request: impl FnOnce(oneshot::Sender<T>) -> Request) -> StoreResult<T> {
        let (answer, rx) = oneshot::channel();
        self.tx.send(request(answer)).map_err(|_| unanswered())?;
        rx.await.map_err(|_| unanswered())
    }
}

async fn run(store: Arc<dyn Store>, window: Duration, mut rx: mpsc::UnboundedReceiver<Request>) {
    let mut last_start = Instant::now();
    while let Some(first) = rx.recv().await {
        tokio::time::sleep_until(last_start + window).await;
        last_start = Instant::now();
        let mut round = Round::default();
        round.push(first);
        while round.deliveries < MAX_ROUND_DELIVERIES
            && let Ok(more) = rx.try_recv()
        {
            round.push(more);
        }
        let s = Arc::clone(&store);
        let (writes, started) = (round.deliveries, Instant::now());
        let done = tokio::task::spawn_blocking(move || round.apply(&*s)).await;
        crate::observe::metrics::writer_round(writes, started.elapsed().as_secs_f64());
        match done {
            Ok(done) => done.answer(),
            // The answers are dropped with the round: each caller is told it is unconfirmed.
            Err(e) => tracing::error!(error = %e, "a write round failed"),
        }
    }
}

/// One round's requests, split by kind, with their answers.
#[derive(Default)]
struct Round {
    events: Vec<NewEventRecord>,
    event_answers: Vec<oneshot::Sender<Published>>,
    saves: Vec<SaveDelivery>,
    save_answers: Vec<oneshot::Sender<StoreResult<()>>>,
    flushes: Vec<oneshot::Sender<StoreResult<()>>>,
    /// Deliveries written so far: one per save, one per delivery of a new event.
    deliveries: usize,
}

/// A round after its write and flush.
struct Done {
    round: Round,
    events: Vec<StoreResult<InsertEvent>>,
    saves: Vec<StoreResult<()>>,
    /// The flush's error, if it failed.
    flush: Option<String>,
}

impl Round {
    fn push(&mut self, request: Request) {
        match request {
            Request::Publish(record, answer) => self.push_publish(record, answer),
            Request::PublishMany(batch) => {
                for (record, answer) in batch {
                    self.push_publish(record, answer);
                }
            }
            Request::Save(write, answer) => {
                self.deliveries += 1;
                self.saves.push(*write);
                self.save_answers.push(answer);
            }
            Request::Flush(answer) => self.flushes.push(answer),
        }
    }

    fn push_publish(&mut self, record: NewEventRecord, answer: oneshot::Sender<Published>) {
        self.deliveries += record.deliveries.len().max(1);
        self.events.push(record);
        self.event_answers.push(answer);
    }

    /// Writes everything in one batch, then flushes. Runs on the blocking pool.
    fn apply(self, store: &dyn Store) -> Done {
        let written = store.write_batch(&self.events, &self.saves);
        let flush = store.flush().err().map(|e| e.to_string());
        if let Some(e) = &flush {
            tracing::error!(error = %e, "flushing the store failed");
        }
        Done {
            round: self,
            events: written.events,
            saves: written.saves,
            flush,
        }
    }
}

impl Done {
    fn answer(self) {
        let durable = |r: StoreResult<()>| match (&self.flush, r) {
            (Some(e), Ok(())) => Err(StoreError::NotDurable(e.clone())),
            (_, r) => r,
        };
        let Round {
            events,
            event_answers,
            save_answers,
            flushes,
            ..
        } = self.round;
        for ((answer, record), result) in event_answers.into_iter().zip(events).zip(self.events) {
            let result = result.and_then(|outcome| durable(Ok(())).map(|()| (record, outcome)));
            let _ = answer.send(result);
        }
        for (answer, result) in save_answers.into_iter().zip(self.saves) {
            let _ = answer.send(durable(result));
        }
        for answer in flushes {
            let _ = answer.send(durable(Ok(())));
        }
    }
}
