//! `switchyard serve`: loads the configuration, locks the data dir (one coordinator per data
//! dir, see [`lock`]) and opens it (secret key, store), starts the plugins, the engine and the
//! API listeners, and on SIGTERM/SIGINT shuts them down in order: stop accepting API calls, let
//! the engine finish or hand back in-flight deliveries, stop the plugins. One
//! `CancellationToken` made here is passed down; nothing is global.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::ServeArgs;
use crate::api::{ApiContext, ApiServer};
use crate::cfg::{self, Config, LogFormat};
use crate::engine::{Engine, EngineConfig, StorageLimits};
use crate::host::{HostOptions, PluginSpec, Registry};
use crate::model::RetryPolicy;
use crate::observe::readiness::Step;
use crate::secrets::Secrets;
use crate::secrets::rotate::{RotateError, Rotation, RotationOptions};
use crate::store::{PgOptions, PgStore, SledStore, Store};

mod lock;
mod observability;
mod plugins;
mod reloads;

/// Why the coordinator could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeFailure {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] cfg::ConfigError),
    /// Logging could not be set up.
    #[error("invalid log configuration (log.level): {0}")]
    Log(String),
    /// The data dir could not be created.
    #[error("cannot create the data dir {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Another coordinator runs on the data dir, or it cannot be locked.
    #[error(transparent)]
    Lock(#[from] lock::LockError),
    /// The secret key could not be loaded.
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SecretsError),
    /// The store could not be opened.
    #[error("cannot open the database in {path}: {source}")]
    Store {
        /// The database directory.
        path: PathBuf,
        /// The store's error.
        source: crate::store::StoreError,
    },
    /// The PostgreSQL store could not be opened.
    #[error("cannot open the PostgreSQL store (store.url): {0}")]
    Database(crate::store::StoreError),
    /// Plugin discovery failed.
    #[error("cannot list plugins in {path}: {source}")]
    Discover {
        /// The directory searched.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The engine could not start.
    #[error("the delivery engine could not start: {0}")]
    Engine(#[from] crate::engine::EngineError),
    /// The API could not be served.
    #[error(transparent)]
    Api(#[from] crate::api::ServeError),
    /// The `OTEL_*` variables ask for traces that cannot be exported.
    #[error("traces: {0}")]
    Traces(#[from] switchyard_traces::TracesError),
    /// The operator's HTTP listener could not be bound.
    #[error("cannot listen on {addr} (observability.listen): {source}")]
    Observability {
        /// The address.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Runs the coordinator until SIGTERM or SIGINT.
///
/// # Errors
/// [`ServeFailure`] naming what to fix.
pub(super) async fn run(args: ServeArgs) -> Result<(), ServeFailure> {
    if args.print_default_config {
        // Through the CLI's one stdout writer: a closed pipe (`| head -1`) ends quietly.
        super::output::emit(cfg::DEFAULT_TOML);
        return Ok(());
    }
    // First: until tokio's handler for a signal is installed, its default action applies, and
    // SIGHUP's (an operator asking for a reload) would kill a coordinator still starting.
    let signals = StopSignals::install();
    let cfg = Arc::new(cfg::load(args.config.as_deref(), std::env::vars())?);
    init_logging(&cfg)?;
    let traces = switchyard_traces::init_from_env("switchyard")?;
    if traces.is_some() {
        tracing::info!("exporting traces over OTLP (OTEL_EXPORTER_OTLP_ENDPOINT)");
    }
    let shutdown = CancellationToken::new();
    tokio::spawn(signals.wait(shutdown.clone()));
    let result = run_with(cfg, shutdown).await;
    // The spans of the last moments (the shutdown's included) are exported before exit.
    if let Some(traces) = traces {
        traces.shutdown().await;
    }
    result
}

/// Opens the store `[store]` names: sled in the data dir, or the shared PostgreSQL database.
fn open_store(cfg: &Config) -> Result<Arc<dyn Store>, ServeFailure> {
    match &cfg.store.backend {
        cfg::StoreBackend::Sled => {
            let db = cfg.data_dir.join("db");
            let store =
                SledStore::open(&db).map_err(|source| ServeFailure::Store { path: db, source })?;
            Ok(Arc::new(store))
        }
        cfg::StoreBackend::Postgres(url) => {
            let options = PgOptions {
                url: url.expose().to_owned(),
                lease: cfg.store.lease,
                pool_size: cfg.store.pool_size.get(),
                schema: None,
            };
            Ok(Arc::new(
                PgStore::open(options).map_err(ServeFailure::Database)?,
            ))
        }
    }
}

/// Runs the coordinator with a loaded configuration until `shutdown` is cancelled.
///
/// # Errors
/// [`ServeFailure`] naming what to fix.
pub async fn run_with(cfg: Arc<Config>, shutdown: CancellationToken) -> Result<(), ServeFailure> {
    create_private_dir(&cfg.data_dir)?;
    // Held until the end: before it, nothing in the data dir is touched (key, database).
    let _lock = lock::DataDirLock::acquire(&cfg.data_dir, &cfg.api.socket)?;
    let (observed, observe_addr) = observability::start(&cfg, &shutdown).await?;
    let secret_env = std::env::var(cfg::SECRET_KEY_ENV).ok();
    let secrets = Arc::new(Secrets::load_or_generate(
        &cfg.data_dir,
        cfg.secrets.key_file.as_deref(),
        secret_env,
    )?);
    let store = open_store(&cfg)?;
    let _ = observed.store.set(store.clone());
    observed.readiness.done(Step::StoreOpen);

    let specs = plugins::discover(&cfg.plugins, &cfg.shell)?;
    tracing::info!(plugins = specs.len(), "starting plugins");
    let host_opts = host_options(&cfg);
    // Before the plugins start: a crash during the start is reported too.
    let crashes = host_opts.crashes.subscribe();
    let (registry, failures) = Registry::start(specs, host_opts).await;
    for (path, err) in failures {
        tracing::error!(plugin = %path.display(), error = %err, "plugin failed to start; its providers are unavailable");
    }
    // With a shared store, claim only the deliveries of providers this coordinator runs.
    let served: Vec<String> = registry
        .providers()
        .into_iter()
        .map(|p| p.qualified_id)
        .collect();
    store.serve_providers(&served);
    observed.readiness.done(Step::PluginsStarted);

    let engine = Engine::start(
        store.clone(),
        registry.clone(),
        secrets.clone(),
        engine_config(&cfg),
        shutdown.child_token(),
    )
    .await?;
    engine.publish_plugin_crashes(crashes);
    let rotation = Arc::new(Rotation::new(
        secrets.clone(),
        store.clone(),
        rotation_options(),
    ));
    let resume = tokio::spawn(resume_rotation(rotation.clone(), shutdown.child_token()));
    let reloads = reloads::start(&registry, &engine, cfg.plugins.watch_interval, &shutdown);
    let ctx = ApiContext {
        store: store.clone(),
        registry: registry.clone(),
        secrets,
        rotation,
        engine: engine.clone(),
        max_payload_bytes: cfg.api.max_payload_bytes.get(),
        default_jitter: cfg.delivery.jitter,
        payload_validators: crate::api::payload_schemas::PayloadValidators::default(),
        shutdown: shutdown.clone(),
    };
    let server = ApiServer::bind(ctx, &cfg.api).await?;
    tracing::info!(socket = %cfg.api.socket.display(), tcp = ?server.tcp_addr(), observability = ?observe_addr, "switchyard is listening");
    observed.readiness.done(Step::ApiListening);
    let served = server.serve(shutdown.clone()).await;
    observed.readiness.stopping();

    // The API has stopped accepting; now the deliveries, then the plugins they need.
    tracing::info!("shutting down: finishing in-flight deliveries");
    shutdown.cancel();
    engine.stopped().await;
    // It stops at its next record; the next start finishes it.
    let _ = resume.await;
    // A reload in progress ends (its candidate stopped) before the plugins are stopped.
    for task in reloads {
        let _ = task.await;
    }
    registry.stop_all().await;
    if let Err(e) = store.flush() {
        tracing::error!(error = %e, "final flush of the database failed");
    }
    tracing::info!("switchyard stopped");
    served.map_err(ServeFailure::from)
}

/// Finishes a rotation that a crash or a shutdown interrupted (the key file still holds
/// previous keys), while the coordinator serves.
async fn resume_rotation(rotation: Arc<Rotation>, shutdown: CancellationToken) {
    match rotation.resume(&shutdown).await {
        None | Some(Ok(_)) => {}
        Some(Err(RotateError::ShuttingDown)) => {
            tracing::info!(
                "secret key rotation interrupted by the shutdown; the next start finishes it"
            );
        }
        Some(Err(e)) => {
            tracing::error!(error = %e, "the unfinished secret key rotation did not complete; run `switchyard secrets rotate` to retry")
        }
    }
}

fn rotation_options() -> RotationOptions {
    let pause = std::env::var(cfg::ROTATION_PAUSE_ENV).ok();
    RotationOptions {
        pause_after: pause.and_then(|n| n.parse().ok()),
    }
}

fn host_options(cfg: &Config) -> HostOptions {
    HostOptions {
        start_timeout: cfg.plugins.start_timeout,
        call_timeout: cfg.plugins.call_timeout,
        max_in_flight: cfg.plugins.max_in_flight.get(),
        stop_grace: cfg.plugins.stop_grace,
        network_allow: cfg.plugins.network_allow.clone(),
        ..HostOptions::default()
    }
}

fn engine_config(cfg: &Config) -> EngineConfig {
    let d = &cfg.delivery;
    EngineConfig {
        retry: RetryPolicy {
            delays: d.retry_delays.clone(),
            jitter: d.jitter,
        },
        retry_after_cap: d.max_retry_after,
        delivery_deadline: d.delivery_deadline,
        plugin_concurrency: cfg.plugins.max_in_flight.get(),
        subscription_concurrency: d.max_in_flight_per_subscription.get(),
        retention: d.retention,
        purge_interval: d.purge_interval,
        payload_limit: cfg.api.max_payload_bytes.get(),
        guard: guard_config(&cfg.guard),
        storage: StorageLimits {
            max_pending_deliveries: cfg.storage.max_pending_deliveries,
            max_data_dir_bytes: cfg.storage.max_data_dir_bytes,
            min_free_disk_bytes: cfg.storage.min_free_disk_bytes,
            data_dir: Some(cfg.data_dir.clone()),
            check_interval: cfg.storage.check_interval,
        },
        ..EngineConfig::default()
    }
}

fn guard_config(g: &crate::cfg::GuardConfig) -> crate::engine::GuardConfig {
    crate::engine::GuardConfig {
        breaker: crate::engine::BreakerConfig {
            window: g.breaker_window,
            min_attempts: g.breaker_min_attempts,
            failure_ratio: g.breaker_failure_ratio,
            cool_down: g.breaker_cool_down,
            max_cool_down: g.breaker_max_cool_down,
        },
        auto_disable_after: g.auto_disable_after,
    }
}

/// Creates the data dir, private to this user (it holds the key and the database).
fn create_private_dir(path: &Path) -> Result<(), ServeFailure> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|source| ServeFailure::DataDir {
            path: path.to_owned(),
            source,
        })
}

fn init_logging(cfg: &Config) -> Result<(), ServeFailure> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => {
            tracing_subscriber::EnvFilter::try_new(directives)
        }
        _ => tracing_subscriber::EnvFilter::try_new(&cfg.log.level),
    }
    .map_err(|e| ServeFailure::Log(e.to_string()))?;
    // Colours only for a person at a terminal, never into files or log collectors.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let result = match cfg.log.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    result.map_err(|e| ServeFailure::Log(e.to_string()))
}

/// SIGTERM and SIGINT, which stop the coordinator, with SIGHUP's handler installed beside them
/// (its reloads are started with the engine, [`reloads::start`]; one received before is
/// ignored: the plugins are being started from their current binaries anyway).
struct StopSignals {
    /// `None` when the handlers could not be installed (logged once logging is up).
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl StopSignals {
    fn install() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        // Tokio never uninstalls a signal's handler, so dropping this stream keeps SIGHUP from
        // killing the process.
        drop(signal(SignalKind::hangup()));
        let streams = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(term), Ok(int)) => Some((term, int)),
            _ => None,
        };
        Self { streams }
    }

    /// Cancels `shutdown` on the first SIGTERM or SIGINT.
    async fn wait(self, shutdown: CancellationToken) {
        let Some((mut term, mut int)) = self.streams else {
            tracing::error!("cannot install signal handlers; stop the coordinator with SIGKILL");
            return;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
            () = shutdown.cancelled() => return,
        }
        shutdown.cancel();
    }
}

/// The spec of one configured plugin: its pin (its own, else `[plugins.sha256]`'s) and its
/// limits over `[plugins.limits]`.
fn spec_of(entry: &cfg::PluginEntry, plugins: &cfg::PluginsConfig) -> PluginSpec {
    PluginSpec {
        command: entry.command.clone(),
        args: entry.args.clone(),
        env: entry.env.clone(),
        sha256: entry
            .sha256
            .or_else(|| cfg::pin_of(&plugins.sha256, &entry.command)),
        limits: entry.limits.over(plugins.limits).to_host(),
    }
}
