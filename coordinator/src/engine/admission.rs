//! Admission: whether the store may take more work. Past a limit — deliveries not yet finished,
//! the data dir's size, the free space left on its filesystem — publishes are refused with
//! [`EngineError::StorageFull`] (RESOURCE_EXHAUSTED at the API), saying what is full and what to
//! do; work already accepted goes on untouched (attempts, retries and purges still write), and
//! publishing resumes by itself once a measurement finds room again.
//!
//! The check on the publish path reads cached figures only (atomics). A monitor task refreshes
//! them: the data dir's size and free space every `check_interval` (a walk of a few files and a
//! `statvfs`), the pending count from a scan of the store's schedule, run less often when it
//! gets slow (at most ~5 % of a core: never sooner than 20 times its last duration). Between two
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
#[derive(Debug, Default)]
pub(super) struct Admission {
    /// Deliveries pending at the last scan.
    pending_scanned: AtomicUsize,
    /// Deliveries accepted since the last scan began.
    accepted_since: AtomicUsize,
    data_dir_bytes: AtomicU64,
    free_disk_bytes: AtomicU64,
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
        if let Some(max) = limits.max_data_dir_bytes {
            let used = self.data_dir_bytes.load(Ordering::Relaxed);
            if used >= max {
                return Err(EngineError::StorageFull(format!(
                    "the data dir holds {} MiB, the limit is {} MiB (storage.max_data_dir_mb); \
                     publishing resumes by itself when finished deliveries are purged \
                     (delivery.retention) — shorten the retention, or raise the limit",
                    mib(used),
                    mib(max)
                )));
            }
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

    /// Counts the pending deliveries; what was accepted during the scan stays counted.
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
    let limits = &inner.cfg.storage;
    if let Some(dir) = &limits.data_dir {
        inner.admission.measure_disk(dir);
    }
    if limits.max_pending_deliveries.is_some() {
        inner.admission.scan_pending(inner);
    }
}

/// Refreshes the figures until shutdown.
pub(super) async fn monitor(inner: Arc<Inner>) {
    let limits = inner.cfg.storage.clone();
    if limits.data_dir.is_none() && limits.max_pending_deliveries.is_none() {
        return;
    }
    let mut next_scan = Instant::now();
    loop {
        tokio::select! {
            biased;
            () = inner.shutdown.cancelled() => break,
            () = tokio::time::sleep(limits.check_interval) => {}
        }
        let scan = limits.max_pending_deliveries.is_some() && Instant::now() >= next_scan;
        let i = Arc::clone(&inner);
        let took = tokio::task::spawn_blocking(move || {
            if let Some(dir) = &i.cfg.storage.data_dir {
                i.admission.measure_disk(dir);
            }
            let started = Instant::now();
            if scan {
                i.admission.scan_pending(&i);
            }
            started.elapsed()
        })
        .await;
        if let Ok(took) = took
            && scan
        {
            next_scan = Instant::now() + took * 20;
        }
    }
}
