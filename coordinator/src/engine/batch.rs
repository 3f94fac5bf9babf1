//! Publishing: the checks and fan-out of one event before it is written ([`Engine::prepare`],
//! shared by `publish` and the batch), and [`Engine::publish_many`], which takes many events in
//! one call: each is checked on its own (a refused one does not fail the others) and the
//! accepted ones go to the writer as one request, so the batch costs one write round — one
//! transaction and one flush — instead of one round per event.

use serde_json::Value;

use super::{Engine, EngineError, Published, duplicate_of, fanout};
use crate::model::{Delivery, Event, EventId, NewEvent, Subscription};
use crate::store::{NewEventRecord, StoreError};

/// An event after its checks, before the write.
pub(super) enum Prepared {
    /// Its idempotency key names an event stored earlier: answered from that one once what was
    /// written before is durable.
    Seen(Seen),
    /// A new event with its planned deliveries, and its payload as JSON text.
    New(NewEventRecord, String),
}

/// A publish whose idempotency key was seen, with the event stored under it.
pub(super) struct Seen {
    event_type: String,
    payload: Value,
    earlier: Event,
    deliveries: Vec<Delivery>,
}

impl Seen {
    /// The earlier event when this publish repeats it; a conflict when it sends another one.
    pub(super) fn answer(self) -> Result<Published, EngineError> {
        duplicate_of(
            &self.event_type,
            &self.payload,
            self.earlier,
            self.deliveries,
        )
    }
}

impl Engine {
    /// Checks `new` (payload object and size, idempotency key) and plans its deliveries over
    /// `subs`. Writes nothing.
    pub(super) fn prepare(
        &self,
        new: NewEvent,
        subs: &[Subscription],
    ) -> Result<Prepared, EngineError> {
        let inner = &self.inner;
        let payload_json = fanout::check_payload(&new.payload, inner.cfg.payload_limit)?;
        if let Some(key) = &new.idempotency_key
            && let Some((earlier, deliveries)) = inner.store.find_by_idempotency_key(key)?
        {
            return Ok(Prepared::Seen(Seen {
                event_type: new.event_type,
                payload: new.payload,
                earlier,
                deliveries,
            }));
        }
        let now = inner.clock.now();
        let event = fanout::event(new, now);
        let deliveries = fanout::plan(subs, &event, &inner.providers, now);
        Ok(Prepared::New(
            NewEventRecord { event, deliveries },
            payload_json,
        ))
    }

    /// Accepts many events at once, each as [`Engine::publish`] would, in one write round.
    /// Returns one result per event, in order, once every accepted one is durable. Two events
    /// of the batch with the same idempotency key: the second is a duplicate of the first.
    /// `Err` only when nothing can be taken (shutting down, storage full, the subscriptions
    /// unreadable).
    pub async fn publish_many(
        &self,
        news: Vec<NewEvent>,
    ) -> Result<Vec<Result<Published, EngineError>>, EngineError> {
        let inner = &self.inner;
        if inner.shutdown.is_cancelled() {
            return Err(EngineError::ShuttingDown);
        }
        // The whole batch is refused when storage is full: nothing of it is stored.
        inner.admission.check(&inner.cfg.storage)?;
        let subs = inner.store.subscriptions()?;
        let started = std::time::Instant::now();
        let mut results: Vec<Option<Result<Published, EngineError>>> =
            std::iter::repeat_with(|| None).take(news.len()).collect();
        let (mut seen, mut records, mut slots) = (Vec::new(), Vec::new(), Vec::new());
        for (i, new) in news.into_iter().enumerate() {
            match self.prepare(new, &subs) {
                Ok(Prepared::Seen(s)) => seen.push((i, s)),
                Ok(Prepared::New(record, json)) => {
                    records.push(self.cache_for_write(record.event, record.deliveries, json));
                    slots.push(i);
                }
                Err(e) => results[i] = Some(Err(e)),
            }
        }
        let ids: Vec<EventId> = records.iter().map(|r| r.event.id).collect();
        // A repeated key is answered only once what was written before it is durable.
        let flushed = async {
            if seen.is_empty() {
                Ok(())
            } else {
                inner.writer.flush().await
            }
        };
        let (written, flushed) = tokio::join!(inner.writer.publish_many(records), flushed);
        let seconds = started.elapsed().as_secs_f64();
        for ((i, id), written) in slots.into_iter().zip(ids).zip(written) {
            results[i] = Some(self.settle(id, written));
            crate::observe::metrics::published(seconds);
        }
        for (i, s) in seen {
            results[i] = Some(match &flushed {
                Ok(()) => s.answer(),
                Err(e) => Err(StoreError::NotDurable(e.to_string()).into()),
            });
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or(Err(EngineError::ShuttingDown)))
            .collect())
    }
}
