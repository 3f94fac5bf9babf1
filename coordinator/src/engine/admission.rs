//! Admission: whether the store may take more work. Past a limit — deliveries not yet finished,
//! the data dir's size, the free space left on its filesystem — publishes are refused with
//! [`EngineError::StorageFull`] (RESOURCE_EXHAUSTED at the API), saying what is full and what to
//! do; work already accepted goes on untouched (attempts, retries and purges still write), and
//! publishing resumes by itself once a measurement finds room again.
//!
//! The check on the publish path reads cached figures only (atomics). A monitor task refreshes
//! them: the data dir's size and free space every `check_interval` (a walk of a few files and a
//! `statvfs`), the pending count from a scan of the store's schedule, and — only while the
//! data dir's files are over their limit — the size of the records in them (sled does not
//! shrink its file after a purge but reuses the space: records well under the limit mean room
//! again). Scans run less often when they get slow (at most ~5 % of a core: never sooner than
//! 20 times their last duration). Between two
//! scans the deliveries accepted since the last one count as pending, so a burst cannot run far
//! past the limit; finished ones are noticed at the next scan.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{EngineError, Inner};

/// The limits; `None` for none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageLimits {
    /// Most deliveries not yet finished (pending, retrying, in flight) before publishes are
    /// refused.
    pub max_pending_deliveries: Option<usize>,
    /// Most bytes the data dir may hold (allocated on disk) before publishes are refused.
    pub max_data_dir_bytes: Option<u64>,
    /// Least free bytes on the data dir's filesystem; below it publishes are refused.
    pub min_free_disk_bytes: Option<u64>,
    /// The directory measured (`None`: no size or free-space limit applies).
    pub data_dir: Option<PathBuf>,
    /// How often the figures are refreshed.
    pub check_interval: Duration,
}

impl Default for StorageLimits {
    fn default() -> Self {
        Self {
            max_pending_deliveries: None,
            max_data_dir_bytes: None,
            min_free_disk_bytes: None,
            data_dir: None,
            check_interval: Duration::from_secs(1),
        }
    }
}

/// The figures the check reads, as last measured.
#[derive(Debug)]
pub(super) struct Admission {
    /// Deliveries pending at the last scan.
    pending_scanned: AtomicUsize,
    /// Deliveries accepted since the last scan began.
    accepted_since: AtomicUsize,
    data_dir_bytes: AtomicU64,
    /// The records' own size ([`crate::store::Store::stored_bytes`]) at the last scan, taken
    /// while the data dir is over its limit; `u64::MAX` when unknown.
    stored_bytes: AtomicU64,
    free_disk_bytes: AtomicU64,
}

impl Default for Admission {
    fn default() -> Self {
        Self {
            pending_scanned: AtomicUsize::new(0),
            accepted_since: AtomicUsize::new(0),
            data_dir_bytes: AtomicU64::new(0),
            stored_bytes: AtomicU64::new(u64::MAX),
            free_disk_bytes: AtomicU64::new(u64::MAX),
        }
    }
}

/// Turns bytes into the MiB the config speaks.
fn mib(bytes: u64) -> u64 {
    bytes / (1 << 20)
}

impl Admission {
    /// `Err` naming what is full, when a limit is reached.
    pub(super) fn check(&self, limits: &StorageLimits) -> Result<(), EngineError> {
        if let Some(max) = limits.max_pending_deliveries {
            let pending = self.pending_scanned.load(Ordering::Relaxed)
                + self.accepted_since.load(Ordering::Relaxed);
            if pending >= max {
                return Err(EngineError::StorageFull(format!(
                    "{pending} deliveries are pending, the limit is {max} \
                     (storage.max_pending_deliveries); publishing resumes by itself as they \
                     finish — check that their receivers are reachable, or raise the limit"
                )));
            }
        }
        if let Some(max) = limits.max_data_dir_bytes
            && self.over_data_dir_limit(max)
        {
            return Err(EngineError::StorageFull(format!(
                "the data dir holds {} MiB, the limit is {} MiB (storage.max_data_dir_mb); \
                 publishing resumes by itself when finished deliveries are purged \
                 (delivery.retention) — shorten the retention, or raise the limit",
                mib(self.data_dir_bytes.load(Ordering::Relaxed)),
                mib(max)
            )));
        }
        if let Some(min) = limits.min_free_disk_bytes {
            let free = self.free_disk_bytes.load(Ordering::Relaxed);
            if free < min {
                return Err(EngineError::StorageFull(format!(
                    "the data dir's filesystem has {} MiB free, less than the {} MiB kept free \
                     (storage.min_free_disk_mb); publishing resumes by itself when space is \
                     freed — free disk space, or shorten delivery.retention",
                    mib(free),
                    mib(min)
                )));
            }
        }
        Ok(())
    }

    /// Whether the data dir is full: its files reach `max` and the records in them (when the
    /// store can tell) fill at least 90 % of it. Files stay large after a purge while the store
    /// reuses the space freed inside them, so below 90 % of live records there is room again;
    /// the margin keeps a store near the limit from growing its files past it.
    fn over_data_dir_limit(&self, max: u64) -> bool {
        let files = self.data_dir_bytes.load(Ordering::Relaxed);
        let records = self.stored_bytes.load(Ordering::Relaxed);
        files >= max && (records == u64::MAX || records >= max - max / 10)
    }

    /// Counts `deliveries` just accepted as pending until the next scan.
    pub(super) fn accepted(&self, deliveries: usize) {
        self.accepted_since.fetch_add(deliveries, Ordering::Relaxed);
    }

    /// Measures the data dir's size and free space.
    fn measure_disk(&self, dir: &Path) {
        self.data_dir_bytes.store(allocated(dir), Ordering::Relaxed);
        if let Ok(stat) = nix::sys::statvfs::statvfs(dir) {
            // Blocks available to an unprivileged user, as `df` shows them.
            let free = stat.blocks_available().saturating_mul(stat.fragment_size());
            self.free_disk_bytes.store(free, Ordering::Relaxed);
        }
    }

    /// Measures the records' own size (a scan of the store), or forgets it when the store
    /// cannot tell.
    fn scan_stored(&self, inner: &Inner) {
        match inner.store.stored_bytes() {
            Ok(bytes) => self
                .stored_bytes
                .store(bytes.unwrap_or(u64::MAX), Ordering::Relaxed),
            Err(e) => tracing::warn!(error = %e, "measuring the stored records failed"),
        }
    }

    /// Counts the pending deliveries; what was accepted during the scan stays counted. That errs
    /// on the safe side: a delivery the scan saw but whose publish was answered only after the
    /// scan began (its round's flush) is counted twice until the next scan.
    fn scan_pending(&self, inner: &Inner) {
        let before = self.accepted_since.load(Ordering::Relaxed);
        match inner.store.backlog(inner.clock.now()) {
            Ok(b) => {
                self.pending_scanned
                    .store(b.due + b.scheduled + b.in_flight, Ordering::Relaxed);
                self.accepted_since.fetch_sub(before, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(error = %e, "counting pending deliveries failed"),
        }
    }
}

/// Bytes allocated on disk for everything under `dir` (what `du` counts).
fn allocated(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => allocated(&e.path()),
            Ok(m) => m.blocks().saturating_mul(512),
            Err(_) => 0,
        })
        .sum()
}

/// Measures everything once (at start, before the first publish).
pub(super) fn measure(inner: &Inner) {
    measure_round(
        inner,
        inner.cfg.storage.max_pending_deliveries.is_some(),
        true,
    );
}

/// Refreshes the figures until shutdown.
pub(super) async fn monitor(inner: Arc<Inner>) {
    let limits = inner.cfg.storage.clone();
    if limits.data_dir.is_none() && limits.max_pending_deliveries.is_none() {
        return;
    }
    let (mut next_scan, mut next_stored) = (Instant::now(), Instant::now());
    loop {
        tokio::select! {
            biased;
            () = inner.shutdown.cancelled() => break,
            () = tokio::time::sleep(limits.check_interval) => {}
        }
        let scan = limits.max_pending_deliveries.is_some() && Instant::now() >= next_scan;
        let stored = Instant::now() >= next_stored;
        let i = Arc::clone(&inner);
        let took = tokio::task::spawn_blocking(move || measure_round(&i, scan, stored)).await;
        // Each scan runs at most once per 20 times its last duration (~5 % of a core).
        if let Ok((pending_took, stored_took)) = took {
            if let Some(t) = pending_took {
                next_scan = Instant::now() + t * 20;
            }
            if let Some(t) = stored_took {
                next_stored = Instant::now() + t * 20;
            }
        }
    }
}

/// One round of the monitor: the disk figures, then the scans it is due for (the records' size
/// only while the data dir's files are over the limit). Returns how long each scan took.
fn measure_round(
    inner: &Inner,
    pending: bool,
    stored: bool,
) -> (Option<Duration>, Option<Duration>) {
    let limits = &inner.cfg.storage;
    let timed = |f: &dyn Fn()| {
        let started = Instant::now();
        f();
        started.elapsed()
    };
    let mut stored_took = None;
    if let Some(dir) = &limits.data_dir {
        inner.admission.measure_disk(dir);
        let over = limits
            .max_data_dir_bytes
            .is_some_and(|max| inner.admission.data_dir_bytes.load(Ordering::Relaxed) >= max);
        if over && stored {
            stored_took = Some(timed(&|| inner.admission.scan_stored(inner)));
        }
    }
    let pending_took = pending.then(|| timed(&|| inner.admission.scan_pending(inner)));
    (pending_took, stored_took)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn limits(max_mb: u64) -> StorageLimits {
        StorageLimits {
            max_data_dir_bytes: Some(max_mb * MIB),
            ..StorageLimits::default()
        }
    }

    #[test]
    fn files_over_the_limit_are_full_unless_the_records_in_them_leave_room() {
        let a = Admission::default();
        a.data_dir_bytes.store(2 * MIB, Ordering::Relaxed);
        assert!(a.check(&limits(3)).is_ok(), "under the limit");
        a.data_dir_bytes.store(4 * MIB, Ordering::Relaxed);
        let full = a.check(&limits(3)).unwrap_err().to_string();
        assert!(
            full.contains("4 MiB") && full.contains("storage.max_data_dir_mb"),
            "{full}"
        );
        // Purged: the file stays at 4 MiB but holds 1 MiB of records.
        a.stored_bytes.store(MIB, Ordering::Relaxed);
        assert!(a.check(&limits(3)).is_ok(), "room inside the files");
        // Within 10 % of the limit: full again.
        a.stored_bytes.store(3 * MIB - MIB / 20, Ordering::Relaxed);
        assert!(a.check(&limits(3)).is_err());
    }

    #[test]
    fn little_free_disk_and_pending_deliveries_refuse_with_what_to_do() {
        let a = Admission::default();
        let free = StorageLimits {
            min_free_disk_bytes: Some(256 * MIB),
            max_pending_deliveries: Some(10),
            ..StorageLimits::default()
        };
        assert!(
            a.check(&free).is_ok(),
            "unknown free space is not a refusal"
        );
        a.free_disk_bytes.store(100 * MIB, Ordering::Relaxed);
        let e = a.check(&free).unwrap_err().to_string();
        assert!(
            e.contains("100 MiB free") && e.contains("min_free_disk_mb"),
            "{e}"
        );
        a.free_disk_bytes.store(300 * MIB, Ordering::Relaxed);
        a.accepted(10);
        let e = a.check(&free).unwrap_err().to_string();
        assert!(e.contains("10 deliveries are pending"), "{e}");
    }
}
