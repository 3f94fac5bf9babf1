//! Measuring helpers shared by the end-to-end benches (`benches/e2e.rs`, `benches/multi.rs`):
//! the publishers (concurrent `PublishEvent`/`PublishEvents` clients spread over one or more
//! coordinators' API addresses, payloads stamped with their publish time), waiting for an
//! [`HttpSink`] to count what it received, publish → delivered latencies, percentiles and
//! medians, and the CPU time of a process and of its children from `/proc/<pid>/stat`.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use serde_json::json;
use switchyard::cli::client::Clients;
use switchyard_plugin_sdk::testkit::HttpSink;
use switchyard_proto::coordinator::v1 as api;

use crate::coordinator::INCIDENT;

/// The publishers' clock: payloads carry their publish time as microseconds since it (force it
/// at the start of a bench, before the first publish).
pub static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// `name` from the environment as a number, or `default`.
#[must_use]
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The median of `values` (NaN when empty).
#[must_use]
pub fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The `p` quantile (0..=1) of `sorted`, in milliseconds (NaN when empty).
#[must_use]
pub fn quantile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Truncation is the point: the index of the quantile's sample.
    let i = ((sorted.len() as f64 - 1.0) * p) as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// "p50 1.23 ms, p99 4.56 ms" of `latencies` (sorted here); "n/a" when empty.
pub fn percentiles(latencies: &mut [Duration]) -> String {
    if latencies.is_empty() {
        return "n/a".into();
    }
    latencies.sort_unstable();
    format!(
        "p50 {:.2} ms, p99 {:.2} ms",
        quantile_ms(latencies, 0.50),
        quantile_ms(latencies, 0.99)
    )
}

/// For each request the sink received: from the publish its payload names (`data.sentUs`, the
/// webhook's default body) to its arrival.
#[must_use]
pub fn delivered_latencies(sink: &HttpSink) -> Vec<Duration> {
    let epoch = *EPOCH;
    sink.requests()
        .iter()
        .zip(sink.arrivals())
        .filter_map(|(r, arrived)| {
            let sent = Duration::from_micros(r.json()["data"]["sentUs"].as_u64()?);
            Some(arrived.duration_since(epoch).saturating_sub(sent))
        })
        .collect()
}

/// Waits until the sink has recorded `n` requests (or `timeout`), returns the count. Polls every
/// 2 ms instead of waking on each request: at thousands of requests a second the per-request
/// wake-up would cost the machine more CPU than the check (and this is a bench, not a test).
pub async fn wait_for_count(sink: &HttpSink, n: usize, timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let count = sink.request_count();
        if count >= n || Instant::now() >= deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// CPU seconds used so far (user + system) by a coordinator and by its child processes, the
/// plugins (alive now: read before and after a round, while they run).
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    /// The coordinator process.
    pub coordinator: f64,
    /// Its children (the plugins).
    pub plugins: f64,
}

impl Cpu {
    /// The CPU time of `pid` and of its children so far (zero for `None`).
    #[must_use]
    pub fn of(pid: Option<u32>) -> Cpu {
        let Some(pid) = pid else {
            return Cpu::default();
        };
        Cpu {
            coordinator: cpu_seconds(pid),
            plugins: crate::children(pid).into_iter().map(cpu_seconds).sum(),
        }
    }

    /// The CPU time used since `before`.
    #[must_use]
    pub fn since(&self, before: &Cpu) -> Cpu {
        Cpu {
            coordinator: self.coordinator - before.coordinator,
            plugins: self.plugins - before.plugins,
        }
    }
}

/// utime + stime of `pid` from `/proc/<pid>/stat`, in seconds (0 when unreadable).
#[must_use]
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name (field 2) may hold spaces; the fields after its `)` are fixed.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After `)`: state is index 0, so utime (field 14) is 11 and stime (15) is 12.
    // USER_HZ, the unit of these fields, is 100 on every Linux architecture's ABI.
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// What the publishers send: `events` events of `incidents` incidents (event n is of incident
/// n mod `incidents`) from `publishers` concurrent clients, one per call or `batch` per call.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Events in all.
    pub events: usize,
    /// Distinct `incidentId`s among them.
    pub incidents: usize,
    /// Concurrent clients.
    pub publishers: usize,
    /// `Some(n)`: `PublishEvents` with n events per call; `None`: `PublishEvent`.
    pub batch: Option<usize>,
}

/// One event's request; its payload carries the publish time (`sentUs`).
#[must_use]
pub fn event(n: usize, incidents: usize) -> api::PublishEventRequest {
    api::PublishEventRequest {
        event_type: INCIDENT.into(),
        payload_json: json!({
            "incidentId": format!("inc-{}", n % incidents.max(1)),
            "title": "bench",
            "severity": "major",
            "sentUs": u64::try_from(EPOCH.elapsed().as_micros()).unwrap_or(0),
        })
        .to_string(),
        idempotency_key: String::new(),
        timestamp: None,
    }
}

/// Publishes as `shape` says, publisher `w` through `addrs[w % addrs.len()]`; returns each
/// call's latency.
///
/// # Panics
/// When a coordinator cannot be reached or refuses an event (a bench has nothing to measure then).
pub async fn publish_all(addrs: &[String], shape: &Shape) -> Vec<Duration> {
    let per_call = shape.batch.unwrap_or(1);
    let calls = shape.events.div_ceil(per_call);
    let mut tasks = Vec::new();
    for worker in 0..shape.publishers {
        let addr = &addrs[worker % addrs.len()];
        let c: Clients = switchyard::cli::client::connect(addr, None)
            .await
            .expect("connect to the coordinator");
        let shape = *shape;
        tasks.push(tokio::spawn(publish_calls(c, worker, calls, shape)));
    }
    let mut all = Vec::with_capacity(calls);
    for t in tasks {
        all.extend(t.await.expect("publisher task"));
    }
    all
}

/// One publisher's share: calls `worker`, `worker + publishers`, … of `calls`.
async fn publish_calls(mut c: Clients, worker: usize, calls: usize, shape: Shape) -> Vec<Duration> {
    let per_call = shape.batch.unwrap_or(1);
    let mut latencies = Vec::new();
    for call in (worker..calls).step_by(shape.publishers) {
        let first = call * per_call;
        let last = (first + per_call).min(shape.events);
        let t = Instant::now();
        if shape.batch.is_some() {
            let events = (first..last).map(|n| event(n, shape.incidents)).collect();
            let answer = c
                .events
                .publish_events(api::PublishEventsRequest { events })
                .await
                .expect("publish a batch")
                .into_inner();
            assert!(
                answer.results.iter().all(|r| matches!(
                    r.outcome,
                    Some(api::publish_event_result::Outcome::Published(_))
                )),
                "an event of the batch was refused"
            );
        } else {
            let req = event(first, shape.incidents);
            c.events.publish_event(req).await.expect("publish");
        }
        latencies.push(t.elapsed());
    }
    latencies
}
