//! The dispatcher: sleeps until the earliest due time in the store's schedule index (waking
//! early when new work is scheduled), claims what is due in batches (O(due), never a scan of
//! everything pending) and spawns one attempt task per delivery. Deliveries a crash left in
//! flight are still in the schedule, so they are simply due again at the next start. Also the
//! periodic retention purge.

use std::sync::Arc;

use tokio::time::{Instant, sleep_until};

use super::{Inner, attempt};

/// The longest the dispatcher sleeps (it wakes earlier for due or new work); bounded so that
/// the store's periodic full scan of the schedule runs even when nothing else happens.
const IDLE: std::time::Duration = std::time::Duration::from_secs(30);

/// The dispatcher loop; ends when the shutdown token is cancelled.
pub(super) async fn run(inner: Arc<Inner>) {
    loop {
        if inner.shutdown.is_cancelled() {
            break;
        }
        let Some(room) = wait_for_room(&inner).await else {
            break;
        };
        let batch = room.min(inner.cfg.dispatch_batch.max(1));
        let claimed = match inner.store.claim_due(inner.clock.now(), batch) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot claim due deliveries; retrying in 1 s");
                if !idle_until(&inner, Instant::now() + std::time::Duration::from_secs(1)).await {
                    break;
                }
                continue;
            }
        };
        let full = claimed.len() == batch;
        for d in claimed {
            inner.publish_update(&d, None);
            let permit = Arc::clone(&inner.claimed).try_acquire_owned().ok();
            inner
                .tracker
                .spawn(attempt::run_scheduled(Arc::clone(&inner), d, permit));
        }
        if full {
            tokio::task::yield_now().await;
            continue;
        }
        let wake_at = match inner.store.next_due() {
            Ok(Some(due)) => inner.clock.instant_at(due).min(Instant::now() + IDLE),
            Ok(None) => Instant::now() + IDLE,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the schedule");
                Instant::now() + std::time::Duration::from_secs(1)
            }
        };
        if !idle_until(&inner, wake_at).await {
            break;
        }
    }
    tracing::debug!("dispatcher stopped");
}

/// Waits until at least one more delivery may be claimed; returns how many, or `None` on
/// shutdown.
async fn wait_for_room(inner: &Inner) -> Option<usize> {
    let room = inner.claimed.available_permits();
    if room > 0 {
        return Some(room);
    }
    tokio::select! {
        biased;
        () = inner.shutdown.cancelled() => None,
        permit = inner.claimed.acquire() => permit.ok().map(|_| 1),
    }
}

/// Sleeps until `at` or new work; false on shutdown.
async fn idle_until(inner: &Inner, at: Instant) -> bool {
    tokio::select! {
        biased;
        () = inner.shutdown.cancelled() => false,
        () = inner.wake.notified() => true,
        () = sleep_until(at) => true,
    }
}

/// Wakes the dispatcher whenever the store signals work scheduled by another coordinator
/// sharing it ([`crate::store::Store::wake_signal`]), until shutdown.
pub(super) async fn forward_wakes(inner: Arc<Inner>, signal: Arc<tokio::sync::Notify>) {
    loop {
        tokio::select! {
            biased;
            () = inner.shutdown.cancelled() => break,
            () = signal.notified() => inner.wake.notify_one(),
        }
    }
}

/// Purges finished deliveries older than the retention, every `purge_interval`.
pub(super) async fn purge_loop(inner: Arc<Inner>) {
    loop {
        let at = Instant::now() + inner.cfg.purge_interval;
        tokio::select! {
            biased;
            () = inner.shutdown.cancelled() => break,
            () = sleep_until(at) => {}
        }
        let cutoff = chrono::Duration::from_std(inner.cfg.retention)
            .ok()
            .and_then(|r| inner.clock.now().checked_sub_signed(r))
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        let store = Arc::clone(&inner.store);
        match tokio::task::spawn_blocking(move || store.purge_finished(cutoff)).await {
            Ok(Ok(p)) if p.events > 0 => {
                tracing::info!(
                    events = p.events,
                    deliveries = p.deliveries,
                    "purged finished deliveries"
                );
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "retention purge failed"),
            Err(e) => tracing::error!(error = %e, "retention purge task failed"),
        }
    }
}
