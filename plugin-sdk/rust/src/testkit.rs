//! Test helpers (cargo feature `testkit`): [`HttpSink`], a real HTTP/1.1 server on
//! `127.0.0.1:0` standing in for a vendor. It records every request, answers from a queue of
//! scripted [`ResponseSpec`]s (then `200 {"id":"<n>"}`), lets tests await the n-th request
//! without polling, and stops when dropped. Light enough for thousands of requests a second.
//! [`HttpSink::start_echo`] makes a receiver that answers what it was sent (request line,
//! headers, body), as some real ones do in their error bodies — to check that secrets never
//! come back out of a plugin.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// One request the sink received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The method, e.g. `POST`.
    pub method: String,
    /// The path, e.g. `/hooks/a`.
    pub path: String,
    /// The query string without `?`, if any.
    pub query: Option<String>,
    /// The headers in arrival order, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The body parsed as JSON (`Null` if it is not JSON).
    #[must_use]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The first value of header `name` (case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A scripted response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseSpec {
    /// The HTTP status.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// How long to wait before answering (to provoke client timeouts).
    pub delay: Option<Duration>,
}

impl ResponseSpec {
    /// An empty response with `status`.
    #[must_use]
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: None,
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and its content type.
    #[must_use]
    pub fn json(self, value: &serde_json::Value) -> Self {
        self.header("content-type", "application/json")
            .body(value.to_string())
    }

    /// Waits `delay` before answering.
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }
}

/// What the server task and the test share.
#[derive(Debug, Default)]
struct State {
    requests: Mutex<Vec<RecordedRequest>>,
    /// When each request in `requests` arrived (same order; pushed under its lock).
    arrivals: Mutex<Vec<std::time::Instant>>,
    responses: Mutex<VecDeque<ResponseSpec>>,
    arrived: Notify,
    // Tasks inside `wait_for_requests`; arrivals skip the wake-up when it is zero (benches
    // record thousands of requests a second with nobody waiting).
    waiters: AtomicUsize,
    counter: AtomicU64,
    /// When not 0: the status of the echo answer given instead of the default one.
    echo_status: AtomicU16,
}

/// Counts one waiter in [`State::waiters`] for as long as it lives (also on cancellation).
struct WaiterGuard<'a>(&'a AtomicUsize);

impl<'a> WaiterGuard<'a> {
    fn new(waiters: &'a AtomicUsize) -> Self {
        waiters.fetch_add(1, Ordering::SeqCst);
        Self(waiters)
    }
}

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding the lock must not hide the requests from the others.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A local HTTP/1.1 server that records requests and answers from a script.
#[derive(Debug)]
pub struct HttpSink {
    addr: SocketAddr,
    state: Arc<State>,
    stop: CancellationToken,
}

impl HttpSink {
    /// Starts a sink on `127.0.0.1:0`.
    ///
    /// # Panics
    /// When no loopback port can be bound (a broken test machine).
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for HttpSink");
        let addr = listener.local_addr().expect("HttpSink local address");
        let state = Arc::new(State::default());
        let stop = CancellationToken::new();
        tokio::spawn(accept_loop(listener, state.clone(), stop.clone()));
        Self { addr, state, stop }
    }

    /// Starts a sink that answers every unscripted request with `status` and a plain-text
    /// body repeating the request: `you sent: <METHOD> <path?query> <version>`, then each
    /// header as `name: value` in arrival order, then the body.
    pub async fn start_echo(status: u16) -> Self {
        let sink = Self::start().await;
        sink.state.echo_status.store(status, Ordering::SeqCst);
        sink
    }

    /// Changes how unscripted requests are answered from now on: the echo answer of
    /// [`HttpSink::start_echo`] with `status`, or (0) the default `200` answer — a receiver
    /// that goes down and comes back at the same address.
    pub fn set_echo_status(&self, status: u16) {
        self.state.echo_status.store(status, Ordering::SeqCst);
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in arrival order.
    #[must_use]
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.requests).clone()
    }

    /// How many requests arrived so far.
    #[must_use]
    pub fn request_count(&self) -> usize {
        lock(&self.state.requests).len()
    }

    /// When each request arrived (its body read), in the order of [`HttpSink::requests`]:
    /// benches measure publish → delivered latency with it.
    #[must_use]
    pub fn arrivals(&self) -> Vec<std::time::Instant> {
        let _requests = lock(&self.state.requests);
        lock(&self.state.arrivals).clone()
    }

    /// Removes and returns the recorded requests (keeps memory flat in long benchmarks), and
    /// forgets their arrival times.
    pub fn take_requests(&self) -> Vec<RecordedRequest> {
        let mut requests = lock(&self.state.requests);
        lock(&self.state.arrivals).clear();
        std::mem::take(&mut *requests)
    }

    /// Queues a scripted response; queued responses are used in order, one per request.
    pub fn push_response(&self, response: ResponseSpec) {
        lock(&self.state.responses).push_back(response);
    }

    /// Waits until at least `n` requests were recorded or `timeout` passes, and returns the
    /// recorded requests either way (check the length).
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<RecordedRequest> {
        let deadline = tokio::time::Instant::now() + timeout;
        // Registered before the first check below, so an arrival after it always notifies.
        let _waiter = WaiterGuard::new(&self.state.waiters);
        loop {
            let notified = self.state.arrived.notified();
            tokio::pin!(notified);
            // Register before checking, so an arrival between the check and the wait counts.
            notified.as_mut().enable();
            if self.request_count() >= n {
                break;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break;
            }
        }
        self.requests()
    }
}

impl Drop for HttpSink {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, stop: CancellationToken) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
            () = stop.cancelled() => return,
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(request, state.clone()));
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                () = stop.cancelled() => {}
            }
        });
    }
}

async fn handle(
    request: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let echo = match state.echo_status.load(Ordering::SeqCst) {
        0 => None,
        status => Some(ResponseSpec::status(status).body(echo_text(&parts, &body))),
    };
    let recorded = RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
    };
    let n = state.counter.fetch_add(1, Ordering::Relaxed) + 1;
    let spec = lock(&state.responses).pop_front();
    {
        let mut requests = lock(&state.requests);
        requests.push(recorded);
        lock(&state.arrivals).push(std::time::Instant::now());
    }
    // SeqCst pairs with the waiter's increment-then-check: either it sees this request in
    // the count, or this load sees its registration.
    if state.waiters.load(Ordering::SeqCst) > 0 {
        state.arrived.notify_waiters();
    }
    let spec = spec.or(echo).unwrap_or_else(|| {
        ResponseSpec::status(200).json(&serde_json::json!({ "id": n.to_string() }))
    });
    if let Some(delay) = spec.delay {
        tokio::time::sleep(delay).await;
    }
    Ok(build_response(spec))
}

/// What an echoing receiver answers: the request line, the headers, the body.
fn echo_text(parts: &hyper::http::request::Parts, body: &[u8]) -> Vec<u8> {
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let mut text = format!("you sent: {} {target} {:?}\n", parts.method, parts.version);
    for (name, value) in &parts.headers {
        text.push_str(&format!(
            "{name}: {}\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    let mut out = text.into_bytes();
    out.extend_from_slice(body);
    out
}

fn build_response(spec: ResponseSpec) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(spec.status);
    for (name, value) in &spec.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
        .body(Full::new(Bytes::from(spec.body)))
        .unwrap_or_else(|_| {
            let mut fallback = Response::new(Full::new(Bytes::from_static(b"bad ResponseSpec")));
            *fallback.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            fallback
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_requests_and_plays_the_script() {
        let sink = HttpSink::start().await;
        sink.push_response(ResponseSpec::status(429).header("retry-after", "3"));
        let client = reqwest::Client::new();
        let first = client
            .post(format!("{}/a?x=1", sink.url()))
            .header("X-Test", "yes")
            .body(r#"{"k":1}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(first.status(), 429);
        assert_eq!(first.headers()["retry-after"], "3");
        let second = client
            .get(format!("{}/b", sink.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(second.status(), 200);
        assert_eq!(second.text().await.unwrap(), r#"{"id":"2"}"#);

        let requests = sink.wait_for_requests(2, Duration::from_secs(10)).await;
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].method, "POST");
        assert_eq!(requests[0].path, "/a");
        assert_eq!(requests[0].query.as_deref(), Some("x=1"));
        assert_eq!(requests[0].header("x-test"), Some("yes"));
        assert_eq!(requests[0].json()["k"], 1);
        assert_eq!(requests[1].method, "GET");
    }

    #[tokio::test]
    async fn an_echo_sink_answers_what_it_was_sent() {
        let sink = HttpSink::start_echo(400).await;
        let response = reqwest::Client::new()
            .post(format!("{}/e?k=v", sink.url()))
            .header("X-Key", "abc")
            .body("hello")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let text = response.text().await.unwrap();
        assert!(
            text.starts_with("you sent: POST /e?k=v HTTP/1.1\n"),
            "{text}"
        );
        assert!(text.contains("x-key: abc\n"), "{text}");
        assert!(text.ends_with("hello"), "{text}");
    }

    #[tokio::test]
    async fn wait_for_requests_wakes_on_arrival() {
        let sink = HttpSink::start().await;
        let url = sink.url();
        let sender = tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .send()
                .await
                .map(|r| r.status())
        });
        let requests = sink.wait_for_requests(1, Duration::from_secs(30)).await;
        assert_eq!(requests.len(), 1);
        assert_eq!(sender.await.unwrap().unwrap(), 200);
    }
}
