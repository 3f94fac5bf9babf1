//! Connecting to a coordinator's platform API, for the CLI and for tests: an address
//! (`unix:PATH`, `http://host:port` or `https://host:port`), an optional bearer token and, for
//! `https://`, the CA to trust and an optional client certificate become one set of typed gRPC
//! clients sharing one channel. Nothing here knows the commands.

use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use switchyard_proto::coordinator::v1::{
    connection_service_client::ConnectionServiceClient,
    delivery_service_client::DeliveryServiceClient, event_service_client::EventServiceClient,
    event_type_service_client::EventTypeServiceClient,
    provider_service_client::ProviderServiceClient,
    subscription_service_client::SubscriptionServiceClient,
};
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// Why the API could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The address is neither `unix:PATH` nor `http(s)://host:port`.
    #[error("invalid address {0:?}: expected unix:PATH, http://host:port or https://host:port")]
    BadAddress(String),
    /// TLS options were given for an address that does not use TLS.
    #[error("--tls-ca, --tls-cert and --tls-key apply to https:// addresses only, not {0:?}")]
    TlsWithoutHttps(String),
    /// An `https://` address without a CA to check the server's certificate against.
    #[error(
        "{0:?} uses TLS: pass --tls-ca FILE (or SWITCHYARD_TLS_CA), the PEM CA certificate that \
         signed the coordinator's certificate"
    )]
    HttpsWithoutCa(String),
    /// Only one half of a client certificate was given.
    #[error("--tls-cert and --tls-key go together: give both or neither")]
    HalfIdentity,
    /// A TLS file could not be read.
    #[error("cannot read {path}: {source}")]
    TlsFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TLS files do not make a usable configuration.
    #[error("invalid TLS settings: {}", crate::error_chain(.0))]
    Tls(tonic::transport::Error),
    /// The token cannot be sent as a header value.
    #[error("the token contains characters that cannot be sent in a header")]
    BadToken,
    /// Dialling failed.
    #[error(
        "cannot connect to {addr}: {} (is `switchyard serve` running?)",
        crate::error_chain(.source)
    )]
    Connect {
        /// The address dialled.
        addr: String,
        /// The transport error.
        source: tonic::transport::Error,
    },
}

/// Adds `authorization: Bearer <token>` to every call when a token is set.
#[derive(Clone)]
pub struct BearerToken(Option<MetadataValue<tonic::metadata::Ascii>>);

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(********)")
    }
}

impl Interceptor for BearerToken {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            req.metadata_mut().insert("authorization", value.clone());
        }
        Ok(req)
    }
}

/// TLS settings of a client (for `https://` addresses).
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    /// PEM CA certificate that signed the coordinator's certificate.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate, for a coordinator that requires one (`api.tls.client_ca_file`).
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub key_file: Option<PathBuf>,
}

impl ClientTls {
    fn is_empty(&self) -> bool {
        self.ca_file.is_none() && self.cert_file.is_none() && self.key_file.is_none()
    }
}

/// The transport every client uses.
pub type Transport = InterceptedService<Channel, BearerToken>;

/// One typed client per platform API service, over one channel.
#[derive(Debug, Clone)]
pub struct Clients {
    /// ProviderService.
    pub providers: ProviderServiceClient<Transport>,
    /// EventTypeService.
    pub event_types: EventTypeServiceClient<Transport>,
    /// ConnectionService.
    pub connections: ConnectionServiceClient<Transport>,
    /// SubscriptionService.
    pub subscriptions: SubscriptionServiceClient<Transport>,
    /// EventService.
    pub events: EventServiceClient<Transport>,
    /// DeliveryService.
    pub deliveries: DeliveryServiceClient<Transport>,
    /// The raw channel, for health checks and reflection.
    pub channel: Channel,
}

/// Connects to `addr` (`unix:PATH` or `http://host:port`), sending `token` with every call.
///
/// # Errors
/// [`ConnectError`] when the address or token is malformed or nothing answers.
pub async fn connect(addr: &str, token: Option<&str>) -> Result<Clients, ConnectError> {
    connect_tls(addr, token, &ClientTls::default()).await
}

/// Connects to `addr`, sending `token` with every call, with `tls` for `https://` addresses.
///
/// # Errors
/// [`ConnectError`] when the address, token or TLS files are unusable or nothing answers.
pub async fn connect_tls(
    addr: &str,
    token: Option<&str>,
    tls: &ClientTls,
) -> Result<Clients, ConnectError> {
    let token = token
        .filter(|t| !t.is_empty())
        .map(|t| format!("Bearer {t}").parse())
        .transpose()
        .map_err(|_| ConnectError::BadToken)?;
    let channel = dial(addr, tls).await?;
    let svc = InterceptedService::new(channel.clone(), BearerToken(token));
    Ok(Clients {
        providers: ProviderServiceClient::new(svc.clone()),
        event_types: EventTypeServiceClient::new(svc.clone()),
        connections: ConnectionServiceClient::new(svc.clone()),
        subscriptions: SubscriptionServiceClient::new(svc.clone()),
        events: EventServiceClient::new(svc.clone()),
        deliveries: DeliveryServiceClient::new(svc).max_decoding_message_size(64 * 1024 * 1024),
        channel,
    })
}

async fn dial(addr: &str, tls: &ClientTls) -> Result<Channel, ConnectError> {
    let connect_err = |source| ConnectError::Connect {
        addr: addr.to_owned(),
        source,
    };
    if !addr.starts_with("https://") && !tls.is_empty() {
        return Err(ConnectError::TlsWithoutHttps(addr.to_owned()));
    }
    if let Some(path) = addr.strip_prefix("unix:") {
        let path = PathBuf::from(path.strip_prefix("//").unwrap_or(path));
        // The URI is a placeholder: the connector ignores it. `localhost` keeps h2 happy.
        let endpoint = Endpoint::from_static("http://localhost");
        return endpoint
            .connect_with_connector(tower::service_fn(move |_| {
                let path = path.clone();
                async move {
                    let stream = tokio::net::UnixStream::connect(path).await?;
                    Ok::<_, std::io::Error>(TokioIo::new(stream))
                }
            }))
            .await
            .map_err(connect_err);
    }
    if addr.starts_with("http://") || addr.starts_with("https://") {
        let mut endpoint = Endpoint::from_shared(addr.to_owned())
            .map_err(|_| ConnectError::BadAddress(addr.into()))?
            // Small request/response frames: never wait for a delayed ACK (the default, kept
            // explicit because the server side had to be fixed for the same stall).
            .tcp_nodelay(true);
        if addr.starts_with("https://") {
            endpoint = endpoint
                .tls_config(client_tls(addr, tls)?)
                .map_err(ConnectError::Tls)?;
        }
        return endpoint.connect().await.map_err(connect_err);
    }
    Err(ConnectError::BadAddress(addr.to_owned()))
}

/// The TLS configuration of an `https://` address: the CA to trust, the client certificate.
fn client_tls(addr: &str, tls: &ClientTls) -> Result<ClientTlsConfig, ConnectError> {
    let ca = tls
        .ca_file
        .as_deref()
        .ok_or_else(|| ConnectError::HttpsWithoutCa(addr.to_owned()))?;
    let config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca)?));
    match (&tls.cert_file, &tls.key_file) {
        (None, None) => Ok(config),
        (Some(cert), Some(key)) => Ok(config.identity(Identity::from_pem(read(cert)?, read(key)?))),
        _ => Err(ConnectError::HalfIdentity),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, ConnectError> {
    std::fs::read(path).map_err(|source| ConnectError::TlsFile {
        path: path.to_owned(),
        source,
    })
}
