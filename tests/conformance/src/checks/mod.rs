//! The check table and the context checks run in. Each check is a small async function in the
//! module of its area; [`TABLE`] lists them once, in run order, with name, description and
//! gate. The runner applies the gate (which providers a check is about), runs the check with
//! an overall time limit, and afterwards makes sure the shared plugin is still healthy —
//! restarting it if a check crashed or wedged it, so one fault fails only its own checks.

mod capabilities;
mod context;
mod deliver;
mod describe;
mod handshake;
mod lifecycle;
mod secrets;

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use switchyard_proto::plugin::v1::Provider;

pub(crate) use context::Ctx;

use crate::Options;
use crate::report::{CheckReport, Outcome, Report};

/// A check's own time limit: far above what any check needs, only there so a wedged plugin
/// cannot stall the run.
const CHECK_LIMIT: Duration = Duration::from_secs(60);

/// Why a check stopped without passing.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The plugin broke the rule.
    Fail(String),
    /// The check does not apply.
    Skip(String),
    /// Not a failure: advice on what the plugin should do although the host covers it.
    Recommend(String),
}

/// A failure with `reason`.
pub(crate) fn fail(reason: impl Into<String>) -> Stop {
    Stop::Fail(reason.into())
}

/// A skip with `reason`.
pub(crate) fn skip(reason: impl Into<String>) -> Stop {
    Stop::Skip(reason.into())
}

/// A recommendation with `reason`.
pub(crate) fn recommend(reason: impl Into<String>) -> Stop {
    Stop::Recommend(reason.into())
}

/// A check's result: `Ok(detail)` when it passed.
pub(crate) type Verdict = Result<String, Stop>;
/// What a check function returns.
pub(crate) type CheckFuture<'a> = Pin<Box<dyn Future<Output = Verdict> + Send + 'a>>;
/// A check function.
pub(crate) type CheckFn = for<'a> fn(&'a mut Ctx) -> CheckFuture<'a>;

/// An optional feature of a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cap {
    /// `Capabilities.test_connection`.
    TestConnection,
    /// `Capabilities.connection_options`.
    ConnectionOptions,
    /// `Capabilities.migrate_config`.
    MigrateConfig,
}

impl Cap {
    /// Whether `p` declares it.
    pub(crate) fn declared_by(self, p: &Provider) -> bool {
        let caps = p.capabilities.unwrap_or_default();
        match self {
            Cap::TestConnection => caps.test_connection,
            Cap::ConnectionOptions => caps.connection_options,
            Cap::MigrateConfig => caps.migrate_config,
        }
    }

    /// The proto field name.
    pub(crate) fn field(self) -> &'static str {
        match self {
            Cap::TestConnection => "test_connection",
            Cap::ConnectionOptions => "connection_options",
            Cap::MigrateConfig => "migrate_config",
        }
    }
}

/// Which providers a check is about; no provider → skipped.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Gate {
    /// About the plugin as a whole (needs no Describe).
    Plugin,
    /// About every provider.
    Providers,
    /// About providers declaring the capability.
    Declared(Cap),
    /// About providers not declaring the capability.
    Undeclared(Cap),
    /// About providers with an `x-secret` field in one of their schemas.
    SecretField,
}

impl Gate {
    /// For listings.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Gate::Plugin | Gate::Providers => "-",
            Gate::Declared(Cap::TestConnection) => "test_connection",
            Gate::Declared(Cap::ConnectionOptions) => "connection_options",
            Gate::Declared(Cap::MigrateConfig) => "migrate_config",
            Gate::Undeclared(Cap::TestConnection) => "not test_connection",
            Gate::Undeclared(Cap::ConnectionOptions) => "not connection_options",
            Gate::Undeclared(Cap::MigrateConfig) => "not migrate_config",
            Gate::SecretField => "an x-secret field",
        }
    }

    fn admits(self, p: &Provider) -> bool {
        match self {
            Gate::Plugin | Gate::Providers => true,
            Gate::Declared(cap) => cap.declared_by(p),
            Gate::Undeclared(cap) => !cap.declared_by(p),
            Gate::SecretField => context::schemas_of(p)
                .iter()
                .any(|s| crate::config::has_secret(s, s, 0)),
        }
    }

    fn nobody(self) -> String {
        match self {
            Gate::Plugin | Gate::Providers => "the plugin serves no provider".to_owned(),
            Gate::Declared(cap) => format!("no provider declares capability {}", cap.field()),
            Gate::Undeclared(cap) => format!("every provider declares capability {}", cap.field()),
            Gate::SecretField => "no provider has an x-secret field".to_owned(),
        }
    }
}

/// One row of the table.
#[derive(Debug)]
pub(crate) struct CheckDef {
    /// `area/what`.
    pub name: &'static str,
    /// What it requires of a plugin.
    pub description: &'static str,
    /// Which providers it is about.
    pub gate: Gate,
    /// The check.
    pub run: CheckFn,
}

macro_rules! check {
    ($name:literal, $gate:expr, $run:path, $description:literal) => {
        CheckDef {
            name: $name,
            description: $description,
            gate: $gate,
            run: $run,
        }
    };
}

/// Every check, in run order.
pub(crate) static TABLE: &[CheckDef] = &[
    check!(
        "handshake/no-cookie",
        Gate::Plugin,
        handshake::no_cookie,
        "Started without the magic cookie, the plugin exits non-zero, explains on stderr, prints nothing on stdout."
    ),
    check!(
        "handshake/line",
        Gate::Plugin,
        handshake::line,
        "The first stdout line is exactly `1|<version>|unix|<socket>|grpc|`."
    ),
    check!(
        "handshake/version-offered",
        Gate::Plugin,
        handshake::version_offered,
        "The announced app protocol version is one the host offered."
    ),
    check!(
        "handshake/version-unsupported",
        Gate::Plugin,
        handshake::version_unsupported,
        "Offered only version 999, the plugin refuses: exits non-zero with a stderr message, or announces a version not offered."
    ),
    check!(
        "handshake/socket-dir",
        Gate::Plugin,
        handshake::socket_dir,
        "The socket is created inside PLUGIN_UNIX_SOCKET_DIR."
    ),
    check!(
        "handshake/health",
        Gate::Plugin,
        handshake::health,
        "grpc.health.v1.Health reports service \"plugin\" SERVING."
    ),
    check!(
        "handshake/authority-localhost",
        Gate::Plugin,
        handshake::authority,
        "Calls dialled with :authority `localhost` over the Unix socket are served."
    ),
    check!(
        "describe/ids",
        Gate::Plugin,
        describe::ids,
        "The plugin id and provider ids are well-formed; provider ids are unique; names and schemas present."
    ),
    check!(
        "describe/schemas-valid",
        Gate::Providers,
        describe::schemas_valid,
        "Every schema is valid JSON Schema 2020-12 and follows Switchyard's x-key rules."
    ),
    check!(
        "describe/stable",
        Gate::Plugin,
        describe::stable,
        "Two Describe calls return the same answer."
    ),
    check!(
        "describe/protocol-version",
        Gate::Plugin,
        describe::protocol_version,
        "Describe's protocol_version equals the version announced in the handshake."
    ),
    check!(
        "describe/example-payload",
        Gate::Providers,
        describe::example_payload,
        "Every documentation example payload is valid JSON."
    ),
    check!(
        "describe/supported-events",
        Gate::Providers,
        describe::supported_events,
        "Every supported event id is lowercase dot-separated segments (`a.b.c`)."
    ),
    check!(
        "deliver/answers",
        Gate::Providers,
        deliver::answers,
        "A Deliver with a valid config against the local sink is answered within the deadline with a consistent result."
    ),
    check!(
        "deliver/invalid-config",
        Gate::Providers,
        deliver::invalid_config,
        "A config that violates the schema is answered in-band: diagnostics with JSON paths, outcome PERMANENT."
    ),
    check!(
        "deliver/unknown-provider",
        Gate::Plugin,
        deliver::unknown_provider,
        "A Deliver for a provider id the plugin does not serve gets NOT_FOUND."
    ),
    check!(
        "deliver/concurrent-32",
        Gate::Providers,
        deliver::concurrent,
        "32 concurrent Deliver calls are all answered."
    ),
    check!(
        "deliver/cancel",
        Gate::Providers,
        deliver::cancel,
        "A call cancelled while the provider waits on a slow endpoint does not wedge the plugin."
    ),
    check!(
        "deliver/payload-empty",
        Gate::Providers,
        deliver::payload_empty,
        "An empty `{}` payload is answered cleanly (any outcome; no INTERNAL or transport error)."
    ),
    check!(
        "deliver/payload-nested-64",
        Gate::Providers,
        deliver::payload_nested,
        "A payload nested 64 levels deep is answered cleanly."
    ),
    check!(
        "deliver/payload-1mib",
        Gate::Providers,
        deliver::payload_large,
        "A 1 MiB payload is answered cleanly."
    ),
    check!(
        "capabilities/test-connection-declared",
        Gate::Declared(Cap::TestConnection),
        capabilities::test_connection_declared,
        "A declared TestConnection answers (not UNIMPLEMENTED, not INTERNAL)."
    ),
    check!(
        "capabilities/test-connection-undeclared",
        Gate::Undeclared(Cap::TestConnection),
        capabilities::test_connection_undeclared,
        "TestConnection on a provider that does not declare it gets UNIMPLEMENTED."
    ),
    check!(
        "capabilities/connection-options-declared",
        Gate::Declared(Cap::ConnectionOptions),
        capabilities::options_declared,
        "A declared GetConnectionOptions answers for every x-options-resolver of the schemas."
    ),
    check!(
        "capabilities/connection-options-undeclared",
        Gate::Undeclared(Cap::ConnectionOptions),
        capabilities::options_undeclared,
        "GetConnectionOptions on a provider that does not declare it gets UNIMPLEMENTED."
    ),
    check!(
        "capabilities/unknown-resolver",
        Gate::Declared(Cap::ConnectionOptions),
        capabilities::unknown_resolver,
        "An unknown resolver name gets a clean error: NOT_FOUND or in-band diagnostics."
    ),
    check!(
        "capabilities/migrate-config-declared",
        Gate::Declared(Cap::MigrateConfig),
        capabilities::migrate_declared,
        "A declared MigrateConfig answers (not UNIMPLEMENTED, not INTERNAL)."
    ),
    check!(
        "capabilities/migrate-config-undeclared",
        Gate::Undeclared(Cap::MigrateConfig),
        capabilities::migrate_undeclared,
        "MigrateConfig on a provider that does not declare it gets UNIMPLEMENTED."
    ),
    check!(
        "secrets/not-in-output",
        Gate::SecretField,
        secrets::not_in_output,
        "A secret placed in every x-secret field never appears on stdout or stderr over Deliver and TestConnection."
    ),
    check!(
        "lifecycle/shutdown",
        Gate::Plugin,
        lifecycle::shutdown,
        "After GRPCController.Shutdown the process exits within 2 s and removes its socket."
    ),
    check!(
        "lifecycle/sigterm",
        Gate::Plugin,
        lifecycle::sigterm,
        "On SIGTERM the process exits."
    ),
    check!(
        "lifecycle/parent-death",
        Gate::Plugin,
        lifecycle::parent_death,
        "Started as the host starts it (own session, PR_SET_PDEATHSIG), when its parent dies no process of the plugin's process group survives."
    ),
    check!(
        "lifecycle/parent-watch",
        Gate::Plugin,
        lifecycle::parent_watch,
        "Recommendation: started without a parent-death signal, the plugin notices its parent's death by itself and exits."
    ),
];

/// Runs every selected check and cleans up.
pub(crate) async fn run_all(opts: Options) -> Report {
    let started = Instant::now();
    let target = opts.target_label();
    let mut cx = Ctx::new(opts).await;
    let mut checks = Vec::new();
    let selected: Vec<&CheckDef> = TABLE.iter().filter(|d| cx.opts.selects(d.name)).collect();
    for def in selected {
        let t = Instant::now();
        let mut outcome = run_one(&mut cx, def).await;
        let duration = t.elapsed();
        if let (Some(what), Outcome::Failed { reason }) = (cx.settle().await, &mut outcome) {
            reason.push('\n');
            reason.push_str(&what);
        }
        checks.push(CheckReport {
            name: def.name.to_owned(),
            description: def.description.to_owned(),
            outcome,
            duration,
        });
        // The sink's recordings are not needed between checks; keep memory flat.
        cx.sink.take_requests();
    }
    cx.close().await;
    Report {
        target,
        checks,
        duration: started.elapsed(),
    }
}

async fn run_one(cx: &mut Ctx, def: &CheckDef) -> Outcome {
    if let Err(stop) = apply_gate(cx, def.gate).await {
        return outcome(Err(stop));
    }
    match tokio::time::timeout(CHECK_LIMIT, (def.run)(cx)).await {
        Ok(verdict) => outcome(verdict),
        Err(_) => outcome(Err(fail(format!(
            "the check did not finish within {CHECK_LIMIT:?}"
        )))),
    }
}

async fn apply_gate(cx: &mut Ctx, gate: Gate) -> Result<(), Stop> {
    cx.targets.clear();
    if matches!(gate, Gate::Plugin) {
        return Ok(());
    }
    let described = cx.describe().await?;
    cx.targets = described
        .providers
        .into_iter()
        .filter(|p| gate.admits(p))
        .collect();
    if cx.targets.is_empty() {
        return Err(skip(gate.nobody()));
    }
    Ok(())
}

fn outcome(verdict: Verdict) -> Outcome {
    match verdict {
        Ok(detail) => Outcome::Passed { detail },
        Err(Stop::Fail(reason)) => Outcome::Failed { reason },
        Err(Stop::Skip(reason)) => Outcome::Skipped { reason },
        Err(Stop::Recommend(reason)) => Outcome::Recommendation { reason },
    }
}
