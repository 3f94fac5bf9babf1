//! The API listeners: a Unix socket (mode 0600, in the data dir by default, always plaintext)
//! and optionally TCP (with TLS and client certificates when configured, and TCP_NODELAY on
//! every accepted connection: without it each unary call waits for the peer's delayed ACK).
//! Both serve the same routes: the seven platform services, `grpc.health.v1.Health` and server
//! reflection, all behind `auth::Authorized`, which checks bearer tokens and their roles (health
//! and reflection stay open so that probes and tools work without a token; they reveal no
//! data). Calls the transport refuses before any handler get honest codes
//! (`transport_errors`); the Unix socket accepts standard clients' `:authority`
//! (`uds_authority`). The TCP listener also speaks gRPC-Web over HTTP/1.1 and serves the web
//! console's files (`console`). Serving stops when the shutdown token is cancelled: no new connections,
//! in-flight calls finish, and the socket file is removed.

use std::path::{Path, PathBuf};

use switchyard_proto::coordinator::v1::{
    connection_service_server::ConnectionServiceServer,
    delivery_service_server::DeliveryServiceServer, event_service_server::EventServiceServer,
    event_type_service_server::EventTypeServiceServer,
    provider_service_server::ProviderServiceServer,
    secret_key_service_server::SecretKeyServiceServer,
    subscription_service_server::SubscriptionServiceServer,
};
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::UnixListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;

use super::request_metrics::RequestMetricsLayer;
use super::request_traces::RequestTracesLayer;
use tonic::transport::{Server, ServerTlsConfig};

use super::ApiContext;
use super::auth::{Authorized, Tokens};
use super::console::ConsoleLayer;
use super::transport_errors::TransportErrorsLayer;
use super::uds_authority::AuthorityFix;
use crate::cfg::ApiConfig;

/// Why the API could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address or socket path.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Another process serves the socket already.
    #[error("another coordinator is already listening on {0}; stop it or use another data dir")]
    InUse(PathBuf),
    /// Reflection could not be set up (a build problem).
    #[error("server reflection: {0}")]
    Reflection(String),
    /// A file of `[api.tls]` is unreadable or does not hold what it should.
    #[error("TLS file {path} (api.tls) {problem}")]
    TlsFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The certificate and key of `[api.tls]` do not form a usable identity.
    #[error(
        "TLS certificate {cert_file} and key {key_file} (api.tls) cannot be used together \
         (is the key that of the certificate?): {reason}"
    )]
    TlsIdentity {
        /// The certificate file.
        cert_file: PathBuf,
        /// The key file.
        key_file: PathBuf,
        /// rustls' reason.
        reason: String,
    },
    /// The transport failed while serving.
    #[error("API server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// The bound API listeners, ready to serve.
#[derive(Debug)]
pub struct ApiServer {
    unix: tokio::net::UnixListener,
    socket: PathBuf,
    tcp: Option<tokio::net::TcpListener>,
    tls: Option<ServerTlsConfig>,
    routes: Authorized<Routes>,
    codes: TransportErrorsLayer,
}

impl ApiServer {
    /// Binds the listeners of `cfg` and builds the routes. Binding before serving lets the
    /// caller report "listening" only once clients can connect.
    ///
    /// # Errors
    /// [`ServeError`] when a listener cannot be bound.
    pub async fn bind(ctx: ApiContext, cfg: &ApiConfig) -> Result<Self, ServeError> {
        let tls = cfg
            .tls
            .as_ref()
            .map(super::tls::server_config)
            .transpose()?;
        let unix = bind_unix(&cfg.socket).await?;
        let tcp =
            match cfg.tcp_listen {
                Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.map_err(
                    |source| ServeError::Bind {
                        addr: addr.to_string(),
                        source,
                    },
                )?),
                None => None,
            };
        let codes = TransportErrorsLayer {
            max_payload_bytes: ctx.max_payload_bytes,
        };
        let max_message = (ctx.max_payload_bytes * 2).max(4 * 1024 * 1024);
        log_transport(cfg);
        let routes = routes(ctx, max_message).await?;
        Ok(Self {
            unix,
            socket: cfg.socket.clone(),
            tcp,
            tls,
            routes: Authorized::new(routes, Tokens::new(&cfg.tokens)),
            codes,
        })
    }

    /// The TCP address actually bound (useful with port 0).
    #[must_use]
    pub fn tcp_addr(&self) -> Option<std::net::SocketAddr> {
        self.tcp.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` is cancelled, then lets in-flight calls finish and removes the
    /// socket file.
    ///
    /// # Errors
    /// [`ServeError::Transport`] when serving fails.
    pub async fn serve(self, shutdown: CancellationToken) -> Result<(), ServeError> {
        let unix = Server::builder()
            .layer(RequestMetricsLayer)
            .layer(RequestTracesLayer)
            .layer(self.codes)
            .serve_with_incoming_shutdown(
                self.routes.clone(),
                // grpcio and grpc-java send the socket path as `:authority`; see uds_authority.
                UnixListenerStream::new(self.unix).map(|s| s.map(AuthorityFix::new)),
                shutdown.clone().cancelled_owned(),
            );
        let tcp = async {
            let Some(listener) = self.tcp else {
                return Ok(());
            };
            let mut server = Server::builder();
            if let Some(tls) = self.tls {
                server = server.tls_config(tls)?;
            }
            // HTTP/1.1 for browsers: the console's files and gRPC-Web (turned into gRPC before
            // the metrics, the transport codes and the token check see the call).
            server
                .accept_http1(true)
                .layer(ConsoleLayer)
                .layer(tonic_web::GrpcWebLayer::new())
                .layer(RequestMetricsLayer)
                .layer(RequestTracesLayer)
                .layer(self.codes)
                .serve_with_incoming_shutdown(
                    self.routes,
                    tcp_incoming(listener),
                    shutdown.clone().cancelled_owned(),
                )
                .await
        };
        let result = tokio::try_join!(unix, tcp);
        let _ = std::fs::remove_file(&self.socket);
        result.map(|_| ()).map_err(ServeError::from)
    }
}

/// The accepted TCP connections, each with TCP_NODELAY: gRPC writes small frames and waits for
/// the answer, the case Nagle's algorithm turns into a delayed-ACK stall per call.
fn tcp_incoming(listener: tokio::net::TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// Says how the TCP listener is protected, and warns when tokens would cross a network in
/// plaintext.
fn log_transport(cfg: &ApiConfig) {
    if let Some(files) = &cfg.tls {
        tracing::info!(
            cert = %files.cert_file.display(),
            client_certificates = files.client_ca_file.is_some(),
            "TLS on the API's TCP listener"
        );
    } else if let Some(addr) = cfg.tcp_listen
        && !addr.ip().is_loopback()
    {
        tracing::warn!(%addr, "the API's TCP listener is not loopback and has no TLS: bearer tokens cross the network in plaintext; configure [api.tls]");
    }
}

/// Binds the Unix socket, replacing a stale socket file but never a live one.
async fn bind_unix(path: &Path) -> Result<tokio::net::UnixListener, ServeError> {
    if path.exists() {
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            return Err(ServeError::InUse(path.to_owned()));
        }
        let _ = std::fs::remove_file(path);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| ServeError::Bind {
            addr: dir.display().to_string(),
            source,
        })?;
    }
    let bind_err = |source| ServeError::Bind {
        addr: path.display().to_string(),
        source,
    };
    let listener = tokio::net::UnixListener::bind(path).map_err(bind_err)?;
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(bind_err)?;
    Ok(listener)
}

async fn routes(ctx: ApiContext, max_message: usize) -> Result<Routes, ServeError> {
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<EventServiceServer<super::events::Events>>()
        .await;
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let mut builder = Routes::builder();
    builder
        .add_service(health_service)
        .add_service(super::reflection::service()?)
        .add_service(ProviderServiceServer::new(super::providers::Providers(
            ctx.clone(),
        )))
        .add_service(EventTypeServiceServer::new(super::event_types::EventTypes(
            ctx.clone(),
        )))
        .add_service(ConnectionServiceServer::new(
            super::connections::Connections(ctx.clone()),
        ))
        .add_service(SubscriptionServiceServer::new(
            super::subscriptions::Subscriptions(ctx.clone()),
        ))
        .add_service(
            EventServiceServer::new(super::events::Events(ctx.clone()))
                .max_decoding_message_size(max_message),
        )
        .add_service(SecretKeyServiceServer::new(super::secret_keys::SecretKeys(
            ctx.clone(),
        )))
        .add_service(DeliveryServiceServer::new(super::deliveries::Deliveries(
            ctx,
        )));
    Ok(builder.routes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_tcp_connections_have_nodelay() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut incoming = tcp_incoming(listener);
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let accepted = incoming.next().await.expect("a connection").unwrap();
        assert!(accepted.nodelay().unwrap());
    }
}
