//! Dialing a plugin's Unix socket with tonic. The endpoint URI is `http://localhost` so the
//! `:authority` is `localhost`: tonic/h2 servers reject odd authorities over UDS, and go-plugin's
//! own Go client uses the same.

use hyper_util::rt::TokioIo;
use std::path::{Path, PathBuf};
use tonic::transport::{Channel, Endpoint, Uri};
use tower::service_fn;

/// Opens a gRPC channel to the socket at `path` (connects eagerly, so a dead socket fails here).
pub(crate) async fn connect(path: &Path) -> Result<Channel, tonic::transport::Error> {
    let path: PathBuf = path.to_path_buf();
    Endpoint::from_static("http://localhost")
        .connect_with_connector(service_fn(move |_: Uri| {
            let path = path.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(path).await?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        }))
        .await
}
