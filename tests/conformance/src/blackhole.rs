//! A TCP listener that accepts connections and never answers: the "slow sink" the
//! cancellation check points a provider at, so a Deliver call is surely in flight when it is
//! cancelled. (Answering sinks come from `switchyard_plugin_sdk::testkit::HttpSink`.)

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinHandle;

/// The listener; connections are held open until it is dropped.
#[derive(Debug)]
pub(crate) struct BlackHole {
    url: String,
    accepted: Arc<Notify>,
    /// Keeps the accepted streams open (unanswered) until the hole is dropped.
    _held: Arc<Mutex<Vec<TcpStream>>>,
    task: JoinHandle<()>,
}

impl BlackHole {
    /// Binds `127.0.0.1:0` and starts accepting.
    pub(crate) async fn start() -> std::io::Result<BlackHole> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let accepted = Arc::new(Notify::new());
        let held = Arc::new(Mutex::new(Vec::new()));
        let (notify, keep) = (Arc::clone(&accepted), Arc::clone(&held));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                keep.lock().await.push(stream);
                // notify_one stores a permit, so an accept before the wait is not lost.
                notify.notify_one();
            }
        });
        Ok(BlackHole {
            url,
            accepted,
            _held: held,
            task,
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Waits up to `timeout` for a connection; false on timeout.
    pub(crate) async fn wait_connection(&self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, self.accepted.notified())
            .await
            .is_ok()
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        // Ends the accept loop; the held streams close with the task's state.
        self.task.abort();
    }
}
