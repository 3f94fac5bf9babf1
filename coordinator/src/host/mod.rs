//! The plugin host: starts plugin processes, speaks go-plugin's handshake with them, supervises
//! them (restart with backoff after a crash) and stops them without leaving anything behind.
//!
//! Module map, one concern each (see `docs/handshake.md` for the wire steps):
//! - `options`: [`PluginSpec`] and [`HostOptions`].
//! - `socket_dir`: the private 0700 socket directory; stale ones are swept.
//! - `pin`: the executable's SHA-256 pin, checked before every start.
//! - `spawn`: the child process (scrubbed env, own session, parent-death signal, resource
//!   limits, a pinned binary executed from the descriptor it was checked through). The only
//!   module with `unsafe`.
//! - `handshake`: reading and checking the first stdout line.
//! - `connect`: the tonic channel over the Unix socket (`:authority` localhost).
//! - `stdio`: go-plugin's `plugin.GRPCStdio` stream, read and logged.
//! - `stderr`: plugin log lines re-emitted through `tracing`; the tail for errors.
//! - `log_secrets`: the secrets of a plugin's recent calls, hidden in its log lines.
//! - `describe`: health check, Describe, and the checks of its answer.
//! - `launch`: the start sequence as a chain of those steps.
//! - `supervisor`, `state`: crash detection, restart, graceful stop on request, taking over a
//!   new version and retiring the old process.
//! - `reload`: a new version started beside the running one, checked, swapped in
//!   ([`Registry::reload`], [`UpgradeGate`]).
//! - `binary_watch`: notices a plugin's executable replaced on disk.
//! - `calls`: deadline, in-flight bound, status mapping.
//! - `stop`: Shutdown → SIGTERM → SIGKILL of the process group; always reaped.
//! - [`Plugin`], [`Registry`]: the public handles. Errors: [`StartError`], [`CallError`].
//!
//! Cleanup after a SIGKILLed coordinator: plugins die with it (parent-death signal, and the
//! SDK's own parent watch); their socket directories are removed by the next host that starts
//! under the same `socket_root` (`sy-<pid>-*` directories whose pid is dead).

mod binary_watch;
mod calls;
mod connect;
mod crashes;
mod describe;
mod error;
mod handshake;
mod launch;
mod log_secrets;
mod options;
mod pin;
mod plugin;
mod registry;
mod reload;
mod socket_dir;
mod spawn;
mod state;
mod stderr;
mod stdio;
mod stop;
mod supervisor;

pub use binary_watch::{BinaryWatch, Fingerprint};
pub use crashes::{CrashReports, PluginCrash};
pub use error::{CallError, StartError};
pub use log_secrets::{HiddenInLogs, RECENT_CALLS};
pub use options::{HostOptions, PluginSpec};
pub use pin::Sha256;
pub use plugin::Plugin;
pub use registry::{ProviderEntry, Registry};
pub use reload::{GateFuture, LastReload, ReloadError, Reloaded, UpgradeGate};
pub use socket_dir::SUN_PATH_MAX;
