//! LISTEN/NOTIFY: one connection of its own (not from the pool) listens on `switchyard_due`
//! (a publish or a promotion scheduled work: wake the dispatcher) and `switchyard_config`
//! (configuration changed: drop the caches). When the connection fails it reconnects after a
//! second; since notifications may have been missed meanwhile, every (re)connect wakes the
//! dispatcher and drops the caches.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{Notify, mpsc};
use tokio_postgres::{AsyncMessage, NoTls};
use tokio_util::sync::CancellationToken;

/// Listens until `stop`, reconnecting as needed.
pub(super) async fn run(
    config: tokio_postgres::Config,
    wake: Arc<Notify>,
    generation: Arc<AtomicU64>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            ended = listen_once(&config, &wake, &generation) => {
                if let Err(e) = ended {
                    tracing::warn!(error = %e, "the PostgreSQL LISTEN connection failed; reconnecting");
                }
            }
        }
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// One connection's life: returns when it ends.
async fn listen_once(
    config: &tokio_postgres::Config,
    wake: &Notify,
    generation: &AtomicU64,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if tx.send(n.channel().to_owned()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    });
    client
        .batch_execute("LISTEN switchyard_due; LISTEN switchyard_config")
        .await?;
    generation.fetch_add(1, Ordering::SeqCst);
    wake.notify_one();
    while let Some(channel) = rx.recv().await {
        if channel == "switchyard_config" {
            generation.fetch_add(1, Ordering::SeqCst);
        } else {
            wake.notify_one();
        }
    }
    drop(client);
    match driver.await {
        Ok(result) => result,
        Err(_) => Ok(()),
    }
}
