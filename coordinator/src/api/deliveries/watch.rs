//! The `WatchDeliveries` server stream: the engine's broadcast of delivery changes, filtered
//! per client. A client that falls behind gets one `lagged` message saying how many changes it
//! missed, then the stream goes on. The stream ends when the client goes away (the send fails),
//! at shutdown (even for a client that stopped reading), or when the broadcast closes.

use switchyard_proto::coordinator::v1 as api;
use tokio::sync::broadcast::error::RecvError;

use super::{WatchStream, delivery_to_api};
use crate::api::ApiContext;
use crate::api::convert::parse_opt_id;
use crate::api::status::ApiResult;
use crate::model::{EventId, SubscriptionId};

/// The filtered stream for one client.
pub(super) fn stream(ctx: &ApiContext, req: api::WatchDeliveriesRequest) -> ApiResult<WatchStream> {
    let subscription: Option<SubscriptionId> =
        parse_opt_id("subscription_id", &req.subscription_id)?;
    let event: Option<EventId> = parse_opt_id("event_id", &req.event_id)?;
    let mut updates = ctx.engine.watch();
    let shutdown = ctx.shutdown.clone();
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    tokio::spawn(async move {
        loop {
            let received = tokio::select! {
                () = shutdown.cancelled() => break,
                received = updates.recv() => received,
            };
            let msg = match received {
                Ok(update) => {
                    let d = &update.delivery;
                    if subscription.is_some_and(|s| s != d.subscription_id)
                        || event.is_some_and(|e| e != d.event_id)
                    {
                        continue;
                    }
                    api::WatchDeliveriesResponse {
                        delivery: Some(delivery_to_api(d)),
                        lagged: 0,
                    }
                }
                Err(RecvError::Lagged(n)) => api::WatchDeliveriesResponse {
                    delivery: None,
                    lagged: n,
                },
                Err(RecvError::Closed) => break,
            };
            let sent = tokio::select! {
                () = shutdown.cancelled() => break,
                sent = tx.send(Ok(msg)) => sent,
            };
            if sent.is_err() {
                break; // the client went away
            }
        }
    });
    Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
}
