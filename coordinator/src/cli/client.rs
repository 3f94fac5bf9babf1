//! Connecting to a coordinator's platform API, for the CLI and for tests: an address
//! (`unix:PATH` or `http://host:port`) and an optional bearer token become one set of typed
//! gRPC clients sharing one channel. Nothing here knows the commands.

use std::path::PathBuf;

use hyper_util::rt::TokioIo;
use switchyard_proto::coordinator::v1::{
    connection_service_client::ConnectionServiceClient,
    delivery_service_client::DeliveryServiceClient, event_service_client::EventServiceClient,
    event_type_service_client::EventTypeServiceClient,
    provider_service_client::ProviderServiceClient,
    secret_key_service_client::SecretKeyServiceClient,
    subscription_service_client::SubscriptionServiceClient,
};
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// Why the API could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The address is neither `unix:PATH` nor `http://host:port`.
    #[error("invalid address {0:?}: expected unix:PATH or http://host:port")]
    BadAddress(String),
    /// The token cannot be sent as a header value.
    #[error("the token contains characters that cannot be sent in a header")]
    BadToken,
    /// Dialling failed.
    #[error("cannot connect to {addr}: {source} (is `switchyard serve` running?)")]
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
    /// SecretKeyService.
    pub secret_keys: SecretKeyServiceClient<Transport>,
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
    let token = token
        .filter(|t| !t.is_empty())
        .map(|t| format!("Bearer {t}").parse())
        .transpose()
        .map_err(|_| ConnectError::BadToken)?;
    let channel = dial(addr).await?;
    let svc = InterceptedService::new(channel.clone(), BearerToken(token));
    Ok(Clients {
        providers: ProviderServiceClient::new(svc.clone()),
        event_types: EventTypeServiceClient::new(svc.clone()),
        connections: ConnectionServiceClient::new(svc.clone()),
        subscriptions: SubscriptionServiceClient::new(svc.clone()),
        events: EventServiceClient::new(svc.clone()),
        secret_keys: SecretKeyServiceClient::new(svc.clone()),
        deliveries: DeliveryServiceClient::new(svc).max_decoding_message_size(64 * 1024 * 1024),
        channel,
    })
}

async fn dial(addr: &str) -> Result<Channel, ConnectError> {
    let connect_err = |source| ConnectError::Connect {
        addr: addr.to_owned(),
        source,
    };
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
        let endpoint = Endpoint::from_shared(addr.to_owned())
            .map_err(|_| ConnectError::BadAddress(addr.into()))?;
        return endpoint.connect().await.map_err(connect_err);
    }
    Err(ConnectError::BadAddress(addr.to_owned()))
}
