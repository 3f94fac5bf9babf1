//! The API listeners: a Unix socket (mode 0600, in the data dir by default) and optionally TCP.
//! Both serve the same routes: the seven platform services behind the bearer-token check, plus
//! `grpc.health.v1.Health` and server reflection (left open so that probes and tools work
//! without the token; they reveal no data). Serving stops when the shutdown token is cancelled:
//! no new connections, in-flight calls finish, and the socket file is removed.

use std::path::{Path, PathBuf};

use switchyard_proto::coordinator::v1::{
    connection_service_server::ConnectionServiceServer,
    delivery_service_server::DeliveryServiceServer, event_service_server::EventServiceServer,
    event_type_service_server::EventTypeServiceServer,
    provider_service_server::ProviderServiceServer,
    secret_key_service_server::SecretKeyServiceServer,
    subscription_service_server::SubscriptionServiceServer,
};
use tokio_stream::wrappers::{TcpListenerStream, UnixListenerStream};
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic::transport::Server;

use super::ApiContext;
use super::status::check_bearer;
use crate::cfg::{ApiConfig, AuthToken};

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
    routes: Routes,
}

impl ApiServer {
    /// Binds the listeners of `cfg` and builds the routes. Binding before serving lets the
    /// caller report "listening" only once clients can connect.
    ///
    /// # Errors
    /// [`ServeError`] when a listener cannot be bound.
    pub async fn bind(ctx: ApiContext, cfg: &ApiConfig) -> Result<Self, ServeError> {
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
        let max_message = (ctx.max_payload_bytes * 2).max(4 * 1024 * 1024);
        let routes = routes(ctx, cfg.auth_token.clone(), max_message).await?;
        Ok(Self {
            unix,
            socket: cfg.socket.clone(),
            tcp,
            routes,
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
            .add_routes(self.routes.clone())
            .serve_with_incoming_shutdown(
                UnixListenerStream::new(self.unix),
                shutdown.clone().cancelled_owned(),
            );
        let tcp = async {
            match self.tcp {
                Some(listener) => {
                    Server::builder()
                        .add_routes(self.routes)
                        .serve_with_incoming_shutdown(
                            TcpListenerStream::new(listener),
                            shutdown.clone().cancelled_owned(),
                        )
                        .await
                }
                None => Ok(()),
            }
        };
        let result = tokio::try_join!(unix, tcp);
        let _ = std::fs::remove_file(&self.socket);
        result.map(|_| ()).map_err(ServeError::from)
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

async fn routes(
    ctx: ApiContext,
    token: Option<AuthToken>,
    max_message: usize,
) -> Result<Routes, ServeError> {
    let auth = move |req: tonic::Request<()>| check_bearer(token.as_ref(), &req).map(|()| req);
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<EventServiceServer<super::events::Events>>()
        .await;
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(switchyard_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ServeError::Reflection(e.to_string()))?;
    let mut builder = Routes::builder();
    builder
        .add_service(health_service)
        .add_service(reflection)
        .add_service(tonic::service::interceptor::InterceptedService::new(
            ProviderServiceServer::new(super::providers::Providers(ctx.clone())),
            auth.clone(),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            EventTypeServiceServer::new(super::event_types::EventTypes(ctx.clone())),
            auth.clone(),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            ConnectionServiceServer::new(super::connections::Connections(ctx.clone())),
            auth.clone(),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            SubscriptionServiceServer::new(super::subscriptions::Subscriptions(ctx.clone())),
            auth.clone(),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            EventServiceServer::new(super::events::Events(ctx.clone()))
                .max_decoding_message_size(max_message),
            auth.clone(),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            SecretKeyServiceServer::new(super::secret_keys::SecretKeys(ctx.clone())),
            auth.clone(),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            DeliveryServiceServer::new(super::deliveries::Deliveries(ctx)),
            auth,
        ));
    Ok(builder.routes())
}
