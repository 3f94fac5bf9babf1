//! The Switchyard plugin conformance harness, modelled on CSI's `csi-sanity`: it starts a
//! plugin executable (or connects to an already running plugin's socket), runs a table of
//! small checks against it — handshake, Describe, Deliver, the optional capabilities, secret
//! hygiene, lifecycle — and reports each as passed, failed (with the reason) or skipped (with
//! why). Checks are gated on the capabilities each provider declares.
//!
//! Use it from the command line (`switchyard-conformance path/to/plugin`) or from a plugin's
//! own `cargo test`:
//!
//! ```no_run
//! let report = switchyard_conformance::run(
//!     switchyard_conformance::Options::command("target/debug/switchyard-plugin-webhook"),
//! );
//! assert!(report.passed(), "{}", report.to_text());
//! ```
//!
//! Module map:
//! - [`report`]: outcomes and the text / JSON / JUnit renderings.
//! - [`config`]: the `--config` file and configs built from provider schemas.
//! - `checks`: the check table, the run context and one module per area.
//! - `launcher`, `output`, `client`, `blackhole`: starting plugins, capturing their output,
//!   dialling their socket, and a never-answering TCP sink.

mod blackhole;
mod checks;
mod client;
pub mod config;
mod launcher;
mod output;
pub mod report;
mod spawn_hook;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub use config::{ConfigError, ConfigFile, ProviderOverrides, SINK_URL_PLACEHOLDER};
pub use launcher::Program;
pub use regex::Regex;
pub use report::{CheckReport, Outcome, Report};

/// What to test.
#[derive(Debug, Clone)]
pub enum Target {
    /// Start this executable (every check applies).
    Command(Program),
    /// Connect to an already running plugin's Unix socket; checks that must start the plugin
    /// themselves (handshake, lifecycle, output inspection) are skipped.
    Socket(PathBuf),
}

/// How long the harness waits for each kind of event. The defaults are generous enough for a
/// loaded CI machine; a conforming plugin answers in milliseconds, so they rarely matter.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// From spawn to the handshake line.
    pub start: Duration,
    /// Deadline of each RPC.
    pub call: Duration,
    /// For the process to exit when it must (no cookie, SIGTERM, parent died). Generous: a
    /// loaded machine has stalled the exec of a freshly built binary for over 5 s, and these
    /// checks judge behaviour, not speed.
    pub exit: Duration,
    /// From Shutdown's answer to the process's exit: the protocol's 2 seconds.
    pub shutdown: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            start: Duration::from_secs(10),
            call: Duration::from_secs(10),
            exit: Duration::from_secs(15),
            shutdown: Duration::from_secs(2),
        }
    }
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The plugin under test.
    pub target: Target,
    /// Per-provider configs merged over the ones built from the schemas.
    pub config: ConfigFile,
    /// Only checks whose name matches (a regex search, e.g. `^deliver/`).
    pub focus: Option<Regex>,
    /// Leaves out checks whose name matches.
    pub skip: Option<Regex>,
    /// Waiting limits.
    pub timeouts: Timeouts,
    /// Where the private socket directories of started plugins are made; None for the temp
    /// dir (or `/tmp` when its path is too long for a socket).
    pub socket_root: Option<PathBuf>,
}

impl Options {
    /// Tests the executable at `path` (no arguments, no extra environment).
    #[must_use]
    pub fn command(path: impl Into<PathBuf>) -> Options {
        let program = Program {
            path: path.into(),
            args: Vec::new(),
            env: BTreeMap::new(),
        };
        Options::new(Target::Command(program))
    }

    /// Tests the plugin already serving on `socket`.
    #[must_use]
    pub fn socket(socket: impl Into<PathBuf>) -> Options {
        Options::new(Target::Socket(socket.into()))
    }

    /// Options with defaults for `target`.
    #[must_use]
    pub fn new(target: Target) -> Options {
        let (config, timeouts) = (ConfigFile::default(), Timeouts::default());
        Options {
            target,
            config,
            focus: None,
            skip: None,
            timeouts,
            socket_root: None,
        }
    }

    /// Appends an argument to the plugin's command line (no effect with a socket target).
    #[must_use]
    pub fn arg(mut self, arg: impl Into<String>) -> Options {
        if let Target::Command(p) = &mut self.target {
            p.args.push(arg.into());
        }
        self
    }

    /// Passes an environment variable to the plugin (no effect with a socket target).
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Options {
        if let Target::Command(p) = &mut self.target {
            p.env.insert(key.into(), value.into());
        }
        self
    }

    /// Runs only the checks whose name matches `pattern`.
    ///
    /// # Errors
    /// When `pattern` is not a valid regex.
    pub fn focus(mut self, pattern: &str) -> Result<Options, regex::Error> {
        self.focus = Some(Regex::new(pattern)?);
        Ok(self)
    }

    /// Leaves out the checks whose name matches `pattern`.
    ///
    /// # Errors
    /// When `pattern` is not a valid regex.
    pub fn skip(mut self, pattern: &str) -> Result<Options, regex::Error> {
        self.skip = Some(Regex::new(pattern)?);
        Ok(self)
    }

    /// Uses `config` for provider and connection configs.
    #[must_use]
    pub fn with_config(mut self, config: ConfigFile) -> Options {
        self.config = config;
        self
    }

    /// True when the check called `name` is selected by `focus` and `skip`.
    #[must_use]
    pub fn selects(&self, name: &str) -> bool {
        self.focus.as_ref().is_none_or(|re| re.is_match(name))
            && !self.skip.as_ref().is_some_and(|re| re.is_match(name))
    }

    fn target_label(&self) -> String {
        match &self.target {
            Target::Command(p) => p.display(),
            Target::Socket(s) => format!("socket {}", s.display()),
        }
    }
}

/// One entry of the check table, for listings.
#[derive(Debug, Clone, Copy)]
pub struct CheckInfo {
    /// `area/what`.
    pub name: &'static str,
    /// What the check requires of a plugin.
    pub description: &'static str,
    /// What a provider must declare for the check to apply ("-" for none).
    pub gate: &'static str,
}

/// Every check the harness knows, in run order.
#[must_use]
pub fn checks() -> Vec<CheckInfo> {
    checks::TABLE
        .iter()
        .map(|c| CheckInfo {
            name: c.name,
            description: c.description,
            gate: c.gate.label(),
        })
        .collect()
}

/// Runs the selected checks on a runtime of its own. Call [`run_async`] instead from inside an
/// async context (a `#[tokio::test]`).
#[must_use]
pub fn run(opts: Options) -> Report {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    match runtime {
        Ok(rt) => rt.block_on(run_async(opts)),
        Err(e) => setup_failure(&opts, format!("cannot start a tokio runtime: {e}")),
    }
}

/// Runs the selected checks on the current tokio runtime (which needs the time and I/O
/// drivers). Every process it starts is reaped and every temporary directory removed before it
/// returns, whatever the checks found.
pub async fn run_async(opts: Options) -> Report {
    checks::run_all(opts).await
}

fn setup_failure(opts: &Options, reason: String) -> Report {
    let check = CheckReport {
        name: "harness/setup".to_owned(),
        description: "The harness itself could start.".to_owned(),
        outcome: Outcome::Failed { reason },
        duration: Duration::ZERO,
    };
    Report {
        target: opts.target_label(),
        checks: vec![check],
        duration: Duration::ZERO,
    }
}
