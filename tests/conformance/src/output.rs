//! Capture of a child's stdout or stderr: a background task drains the pipe into a buffer (so
//! a chatty plugin never blocks on a full pipe) and wakes whoever waits for a line or for EOF.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::Notify;

/// How much output is kept per stream; more is read and dropped, so memory stays bounded.
const KEEP_BYTES: usize = 8 * 1024 * 1024;

/// A captured output stream, shared between the reader task and the checks.
#[derive(Debug, Clone, Default)]
pub(crate) struct Captured {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    buf: Mutex<Vec<u8>>,
    eof: AtomicBool,
    changed: Notify,
}

/// Why no first line could be read.
#[derive(Debug)]
pub(crate) enum LineWait {
    /// The stream ended first; carries whatever partial text was written.
    Eof(String),
    /// Nothing complete arrived in time; carries the partial text.
    Timeout(String),
}

impl Captured {
    /// Starts draining `reader` in a background task.
    pub(crate) fn drain<R: AsyncRead + Unpin + Send + 'static>(mut reader: R) -> Captured {
        let captured = Captured::default();
        let inner = Arc::clone(&captured.inner);
        tokio::spawn(async move {
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                match reader.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut buf = inner.buf.lock().unwrap_or_else(PoisonError::into_inner);
                        let room = KEEP_BYTES.saturating_sub(buf.len());
                        buf.extend_from_slice(&chunk[..n.min(room)]);
                    }
                }
                inner.changed.notify_waiters();
            }
            inner.eof.store(true, Ordering::SeqCst);
            inner.changed.notify_waiters();
        });
        captured
    }

    /// Everything captured so far.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        self.inner
            .buf
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Everything captured so far, as (lossy) UTF-8.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    /// The last `max` characters of the text, for error messages.
    pub(crate) fn tail(&self, max: usize) -> String {
        let text = self.text();
        let skip = text.chars().count().saturating_sub(max);
        let tail: String = text.chars().skip(skip).collect();
        tail.trim().to_owned()
    }

    fn is_eof(&self) -> bool {
        self.inner.eof.load(Ordering::SeqCst)
    }

    /// The first non-empty line, cut at `max` characters, for short summaries.
    pub(crate) fn summary(&self, max: usize) -> String {
        let text = self.text();
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        line.chars().take(max).collect()
    }

    /// Waits for the first complete line (without its `\n`).
    pub(crate) async fn first_line(&self, timeout: Duration) -> Result<String, LineWait> {
        let first = |c: &Captured| {
            let bytes = c.bytes();
            let end = bytes.iter().position(|b| *b == b'\n')?;
            Some(String::from_utf8_lossy(&bytes[..end]).into_owned())
        };
        match self
            .wait_until(timeout, |c| first(c).is_some() || c.is_eof())
            .await
        {
            true => first(self).ok_or_else(|| LineWait::Eof(self.text())),
            false => Err(LineWait::Timeout(self.text())),
        }
    }

    /// Waits until the writer closed the stream; false on timeout.
    pub(crate) async fn wait_eof(&self, timeout: Duration) -> bool {
        self.wait_until(timeout, Captured::is_eof).await
    }

    /// Waits until `ready` holds, re-testing after every change; false on timeout.
    async fn wait_until(&self, timeout: Duration, ready: impl Fn(&Captured) -> bool) -> bool {
        let wait = async {
            loop {
                // Register for the wake-up before testing, so a change in between is not lost.
                let changed = self.inner.changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if ready(self) {
                    return;
                }
                changed.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }
}
