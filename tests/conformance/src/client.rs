//! gRPC clients over a plugin's Unix socket, dialled with `:authority` `localhost` as a
//! Switchyard host does (tonic/h2 servers reject odd authorities over UDS).

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use switchyard_proto::go_plugin::grpc_controller_client::GrpcControllerClient;
use switchyard_proto::handshake;
use switchyard_proto::plugin::v1::provider_plugin_client::ProviderPluginClient;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};
use tonic_health::pb::health_client::HealthClient;

/// Largest message the harness sends or accepts. Its biggest request carries a 1 MiB payload;
/// the limit leaves room for plugins that echo what they received.
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// A connection to one plugin.
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    channel: Channel,
    socket: PathBuf,
}

impl Conn {
    /// Connects to `socket` within `timeout`.
    pub(crate) async fn connect(socket: &Path, timeout: Duration) -> Result<Conn, String> {
        let origin = format!("http://{}", handshake::AUTHORITY);
        let endpoint = Endpoint::try_from(origin)
            .map_err(|e| e.to_string())?
            .connect_timeout(timeout);
        let path = socket.to_path_buf();
        let connector = tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move { UnixStream::connect(path).await.map(TokioIo::new) }
        });
        let connect = endpoint.connect_with_connector(connector);
        let channel = match tokio::time::timeout(timeout, connect).await {
            Ok(Ok(channel)) => channel,
            Ok(Err(e)) => return Err(format!("could not connect to {}: {e}", socket.display())),
            Err(_) => return Err(format!("connecting to {} timed out", socket.display())),
        };
        Ok(Conn {
            channel,
            socket: socket.to_path_buf(),
        })
    }

    /// The socket this connection uses.
    pub(crate) fn socket(&self) -> &Path {
        &self.socket
    }

    /// The `ProviderPlugin` client.
    pub(crate) fn plugin(&self) -> ProviderPluginClient<Channel> {
        ProviderPluginClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }

    /// The `grpc.health.v1.Health` client.
    pub(crate) fn health(&self) -> HealthClient<Channel> {
        HealthClient::new(self.channel.clone())
    }

    /// go-plugin's `plugin.GRPCController` client.
    pub(crate) fn controller(&self) -> GrpcControllerClient<Channel> {
        GrpcControllerClient::new(self.channel.clone())
    }
}

/// Wraps `msg` in a request carrying the `grpc-timeout` deadline `timeout`.
pub(crate) fn request<T>(msg: T, timeout: Duration) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.set_timeout(timeout);
    req
}
