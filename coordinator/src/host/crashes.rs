//! Reports of plugin crashes (exits the host did not ask for) to whoever listens: the engine
//! turns each into the operational event `switchyard.plugin.crashed`. A broadcast channel in
//! the host's options, so every supervisor of one host reports to the same listeners; with
//! none listening a report costs nothing, and a listener too slow to keep up loses the oldest.

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

/// Reports kept for a slow listener.
const CAPACITY: usize = 256;

/// One crash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginCrash {
    /// The plugin's name (its executable's file name).
    pub plugin: String,
    /// The process that exited.
    pub pid: u32,
    /// How it exited, e.g. "signal: 9 (SIGKILL)".
    pub status: String,
    /// When the host noticed.
    pub at: DateTime<Utc>,
}

/// Where the supervisors of one host report crashes. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CrashReports(broadcast::Sender<PluginCrash>);

impl Default for CrashReports {
    fn default() -> Self {
        Self(broadcast::channel(CAPACITY).0)
    }
}

impl CrashReports {
    /// Tells the listeners (none listening is fine).
    pub(crate) fn report(&self, crash: PluginCrash) {
        let _ = self.0.send(crash);
    }

    /// A listener of the crashes reported from now on.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<PluginCrash> {
        self.0.subscribe()
    }
}
