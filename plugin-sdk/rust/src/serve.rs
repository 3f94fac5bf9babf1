//! [`serve`]: the whole life of a plugin process, composed from the public building blocks —
//! logging, build, handshake ([`crate::handshake`]), the services ([`crate::service`]) — plus
//! the ways it ends: Shutdown RPC, SIGTERM/SIGINT, or the parent process dying. The socket is
//! removed on every exit path.

use std::process::ExitCode;
use std::time::Duration;

use switchyard_proto::handshake::HEALTH_SERVICE_NAME;
use tokio_stream::wrappers::UnixListenerStream;
use tokio_util::sync::CancellationToken;

use crate::handshake::{self, BoundSocket, HandshakeError, Negotiated};
use crate::plugin::{BuiltPlugin, Plugin, PluginError};
use crate::service;

/// How long calls in flight may take to finish after a stop was requested. Below the 2 s a
/// host (like go-plugin's) waits after Shutdown before it escalates to signals.
pub const DRAIN_TIMEOUT: Duration = Duration::from_millis(1500);

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The plugin definition is broken (bad id, invalid schema…).
    #[error("invalid plugin: {0}")]
    Plugin(#[from] PluginError),
    /// The handshake failed.
    #[error("{0}")]
    Handshake(#[from] HandshakeError),
    /// The gRPC server failed.
    #[error("gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The async runtime could not be created.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// Runs the plugin: installs logging, performs the handshake and serves until told to stop.
/// Returns the process exit code (0 after a clean stop, 1 otherwise); without the magic cookie
/// it explains on stderr what this binary is and returns 1, printing nothing on stdout.
///
/// ```no_run
/// # fn demo(provider: impl switchyard_plugin_sdk::Provider) -> std::process::ExitCode {
/// use switchyard_plugin_sdk::{Plugin, serve};
/// serve(Plugin::new("my-plugin", env!("CARGO_PKG_VERSION")).provider(provider))
/// # }
/// ```
#[must_use]
pub fn serve(plugin: Plugin) -> ExitCode {
    crate::log::init();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)
        .and_then(|runtime| {
            let result = runtime.block_on(async {
                let traces = crate::trace::init();
                let result = serve_async(plugin).await;
                if let Some(traces) = traces {
                    traces.shutdown().await;
                }
                result
            });
            // Do not wait for stragglers (a DNS lookup on a blocking thread): the host is
            // waiting for us to exit.
            runtime.shutdown_timeout(Duration::from_millis(100));
            result
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(ServeError::Handshake(err @ HandshakeError::NotLaunchedByHost { .. })) => {
            // For a human: plain text, not a JSON log line.
            eprintln!("{err}");
            ExitCode::FAILURE
        }
        Err(err) => {
            tracing::error!("plugin failed: {err}");
            ExitCode::FAILURE
        }
    }
}

/// [`serve`] inside an existing tokio runtime (logging not installed).
///
/// The handshake is announced before the schemas are checked: that check runs on a background
/// thread, started right after the announcement, while the host connects. Calls that use a
/// config wait for it; if a schema is broken, the problem is logged, `Describe` is refused with
/// `FAILED_PRECONDITION` from then on, and this returns [`ServeError::Plugin`] (exit status 1)
/// after a graceful stop. (`Describe` does not wait for the check: the host checks the schemas
/// against the meta-schema itself, and what only compiling finds ends the plugin moments later.)
///
/// # Errors
/// [`ServeError`] when the plugin is invalid, the handshake fails or the server fails.
pub async fn serve_async(plugin: Plugin) -> Result<(), ServeError> {
    let negotiated = handshake::negotiate()?;
    let plugin = plugin.build()?;
    let stop = CancellationToken::new();
    watch_parent(stop.clone());
    watch_signals(stop.clone());
    let mut socket = handshake::bind(&negotiated)?;
    handshake::announce(&negotiated, &socket)?;
    tracing::info!(
        plugin = plugin.id(),
        version = plugin.version(),
        protocol = negotiated.protocol_version,
        "plugin serving"
    );
    // Only now: checking the schemas must not delay the handshake line.
    plugin.start_schema_check();
    let checker = stop_on_broken_schemas(plugin.clone(), stop.clone());
    let result = run_server(plugin.clone(), &negotiated, &mut socket, stop).await;
    checker.abort();
    // The outcome is recorded before the checker stops the server, so this cannot miss it.
    if let Some(Err(err)) = plugin.schema_check_outcome() {
        return Err(ServeError::Plugin(err.clone()));
    }
    result
}

/// Waits for the background schema check; a broken schema is logged and stops the plugin.
fn stop_on_broken_schemas(
    plugin: BuiltPlugin,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(err) = plugin.schemas_checked().await {
            tracing::error!("invalid plugin, stopping: {err}");
            stop.cancel();
        }
    })
}

/// Serves the plugin's services on `socket` until `stop` fires, then drains calls in flight
/// (at most [`DRAIN_TIMEOUT`]) and removes the socket.
///
/// # Errors
/// [`ServeError::Transport`] when the server fails.
pub async fn run_server(
    plugin: BuiltPlugin,
    negotiated: &Negotiated,
    socket: &mut BoundSocket,
    stop: CancellationToken,
) -> Result<(), ServeError> {
    let Some(listener) = socket.take_listener() else {
        return Ok(());
    };
    let (health, health_service) = service::health_service().await;
    let router = tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(service::controller_service(stop.clone()))
        .add_service(service::provider_service(
            plugin,
            negotiated.protocol_version,
        ));
    let drained = stop.clone();
    let server =
        router.serve_with_incoming_shutdown(UnixListenerStream::new(listener), async move {
            drained.cancelled().await;
            health
                .set_service_status(HEALTH_SERVICE_NAME, tonic_health::ServingStatus::NotServing)
                .await;
        });
    tokio::pin!(server);
    let result = tokio::select! {
        result = &mut server => result,
        () = async { stop.cancelled().await; tokio::time::sleep(DRAIN_TIMEOUT).await } => {
            tracing::warn!("calls still in flight after {DRAIN_TIMEOUT:?}; exiting anyway");
            Ok(())
        }
    };
    handshake::remove_socket(socket.path());
    tracing::info!("plugin stopped");
    result.map_err(ServeError::from)
}

/// Fires `stop` on SIGTERM or SIGINT.
pub fn watch_signals(stop: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot install signal handlers; relying on Shutdown only");
        return;
    };
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
            () = stop.cancelled() => return,
        }
        stop.cancel();
    });
}

/// Makes the kernel send SIGTERM when the parent dies, and exits the process at once when the
/// parent is gone: nobody is left to answer, so there is nothing to drain. Before exiting it
/// removes the socket (and its directory, if then empty; [`handshake::remove_live_socket`])
/// and fires `stop`. The exit status is 1.
///
/// The parent's death shows as a SIGTERM (the parent-death signal) after which `getppid`
/// has changed; a SIGTERM while the parent lives is left to [`watch_signals`] (a graceful
/// stop). A once-a-second `getppid` poll backs the signal up (e.g. for a parent *thread*, not
/// process, that exits, or a plugin that ignores SIGTERM).
pub fn watch_parent(stop: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let parent = nix::unistd::getppid();
    // Listen before re-arming the signal, so that a parent dying right now is heard.
    let mut term = signal(SignalKind::terminate()).ok();
    if let Err(err) = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM) {
        tracing::warn!(error = %err, "cannot set the parent-death signal");
    }
    // The parent may have died between reading its pid and the prctl call. (A parent that
    // died even earlier cannot be told apart from a host running as pid 1 in a container.)
    if nix::unistd::getppid() != parent {
        exit_orphaned(&stop);
    }
    tokio::spawn(async move {
        // Watches until the process ends, drains included: the parent may die during one.
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = next_signal(&mut term) => {}
            }
            if nix::unistd::getppid() != parent {
                exit_orphaned(&stop);
            }
        }
    });
}

/// The next delivery of `signal`; never, if there is no handler.
async fn next_signal(signal: &mut Option<tokio::signal::unix::Signal>) {
    let delivered = match signal {
        Some(signal) => signal.recv().await.is_some(),
        None => false,
    };
    if !delivered {
        std::future::pending::<()>().await;
    }
}

/// The parent died: remove the socket and exit without draining.
fn exit_orphaned(stop: &CancellationToken) -> ! {
    tracing::warn!("parent process died; removing the socket and exiting at once");
    stop.cancel();
    handshake::remove_live_socket();
    std::process::exit(1);
}
