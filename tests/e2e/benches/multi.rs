//! Several coordinators on one PostgreSQL database against one on sled, side by side: end-to-end
//! deliveries per second (publish → store → webhook plugin → one local HTTP server → recorded)
//! with 1, 2 and 3 `switchyard serve` processes sharing a fresh database, the publishers spread
//! over their API sockets, and with one coordinator on sled; and the lease-takeover time after a
//! SIGKILL. Rounds interleave the scenarios; the medians over the rounds and the per-round ratios
//! to sled end the output.
//!
//! Run (fsync on in the throwaway cluster, like a real database; `with-postgres.sh` turns it off
//! unless `PG_EXTRA_OPTS` says otherwise):
//! `cargo build --release --workspace --bins && PG_EXTRA_OPTS= scripts/with-postgres.sh
//! cargo bench -p switchyard-e2e --bench multi`.
//! Knobs (environment): `MULTI_BENCH_SCENARIOS` ("sled,pg1,pg2,pg3,kill"; `pg<N>` runs N
//! coordinators on PostgreSQL, `pg<N>a` the same with the database's `synchronous_commit` off,
//! to show what waiting for the WAL flush costs; `kill` one takeover trial), `MULTI_BENCH_ROUNDS` (3),
//! `MULTI_BENCH_EVENTS` (10000 a round), `MULTI_BENCH_PUBLISHERS` (64), `MULTI_BENCH_SUBS`
//! (subscriptions, 1), `MULTI_BENCH_LEASE_MS` (`store.lease`, 2000; the heartbeat renews every
//! third of it). Without `SWITCHYARD_TEST_PG_URL` only the sled scenario runs.
//!
//! The takeover trial: two coordinators on a fresh database, events published through the
//! second; once deliveries flow, the first is SIGKILLed. Its claims are read from the database
//! right after the kill (rows still claimed by its claimer id, with their remaining lease).
//! Measured from the kill: the first and the last arrival at the HTTP server, after the kill, of
//! a delivery the dead coordinator had claimed — each necessarily attempted by the survivor,
//! once the lease expired. Arrivals within 50 ms of the kill are not counted: they are requests
//! the dead coordinator's plugin had already sent. Figures go to docs/benchmarks.md ("Several
//! coordinators on PostgreSQL"). Not a test: nothing here asserts a speed.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use switchyard_e2e::bench::{
    Cpu, EPOCH, Shape, delivered_latencies, env_usize, median, percentiles, publish_all,
    quantile_ms, wait_for_count,
};
use switchyard_e2e::coordinator::{
    Coordinator, CoordinatorOptions, create_subscription, register_incident, webhook_subscription,
};
use switchyard_e2e::pg::{Database, DbStats, PG_URL_VAR, server_pids};
use switchyard_plugin_sdk::testkit::HttpSink;
use switchyard_proto::coordinator::v1 as api;

// The load generator competes with the coordinators and the plugins for the same cores.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One secret key for every coordinator of a database (base64 of the bytes 0..32).
const SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// Events of a takeover trial (published through the survivor while the trial runs); the
/// smoke run under `cargo test` publishes a tenth of it.
const TAKEOVER_EVENTS: usize = 2000;

/// What a round runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// One coordinator on sled in its data dir.
    Sled,
    /// This many coordinators on one fresh PostgreSQL database; `true`: with the database's
    /// `synchronous_commit` off (a commit does not wait for its WAL flush: shows what the
    /// fsync per commit costs; not a setting to run with).
    Pg(usize, bool),
    /// One lease-takeover trial.
    Kill,
}

impl Scenario {
    fn parse(token: &str) -> Option<Scenario> {
        match token.trim() {
            "sled" => Some(Scenario::Sled),
            "kill" => Some(Scenario::Kill),
            t => {
                let t = t.strip_prefix("pg")?;
                let (n, async_commit) = t.strip_suffix('a').map_or((t, false), |n| (n, true));
                n.parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .map(|n| Scenario::Pg(n, async_commit))
            }
        }
    }

    fn label(self) -> String {
        match self {
            Scenario::Sled => "sled, 1 coordinator".into(),
            Scenario::Pg(n, async_commit) => format!(
                "PostgreSQL, {n} coordinator{}{}",
                if n == 1 { "" } else { "s" },
                if async_commit {
                    ", synchronous_commit off"
                } else {
                    ""
                }
            ),
            Scenario::Kill => "lease takeover after SIGKILL".into(),
        }
    }
}

/// The bench's settings.
#[derive(Debug, Clone, Copy)]
struct Settings {
    events: usize,
    publishers: usize,
    subs: usize,
    lease: Duration,
    /// Events of a takeover trial.
    takeover_events: usize,
}

/// What one throughput round measured.
#[derive(Debug, Clone, Copy)]
struct Figures {
    deliveries_per_s: f64,
    /// CPU seconds per 1,000 deliveries: the coordinators, their plugins, PostgreSQL.
    cpu_per_k: [f64; 3],
    delivered_p50_ms: f64,
}

#[tokio::main]
async fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    std::sync::LazyLock::force(&EPOCH);
    let settings = Settings {
        events: env_usize("MULTI_BENCH_EVENTS", if measuring { 10_000 } else { 100 }),
        publishers: env_usize("MULTI_BENCH_PUBLISHERS", 64).max(1),
        subs: env_usize("MULTI_BENCH_SUBS", 1).max(1),
        lease: Duration::from_millis(env_usize("MULTI_BENCH_LEASE_MS", 2000) as u64),
        takeover_events: if measuring {
            TAKEOVER_EVENTS
        } else {
            TAKEOVER_EVENTS / 10
        },
    };
    let has_pg = std::env::var(PG_URL_VAR).is_ok();
    let wanted =
        std::env::var("MULTI_BENCH_SCENARIOS").unwrap_or_else(|_| "sled,pg1,pg2,pg3,kill".into());
    let scenarios: Vec<Scenario> = wanted
        .split(',')
        .filter_map(Scenario::parse)
        .filter(|s| has_pg || *s == Scenario::Sled)
        .collect();
    println!(
        "# switchyard multi-coordinator benchmark: {} events a round to {} subscription(s), {} \
         publishers; lease {:?}, heartbeat every {:?}{}{}",
        settings.events,
        settings.subs,
        settings.publishers,
        settings.lease,
        settings.lease / 3,
        if has_pg {
            ""
        } else {
            "; no PostgreSQL (run under scripts/with-postgres.sh): sled only"
        },
        if measuring {
            ""
        } else {
            " -- smoke run, use `cargo bench`"
        },
    );
    let rounds = env_usize("MULTI_BENCH_ROUNDS", if measuring { 3 } else { 1 }).max(1);
    let mut figures: Vec<(Scenario, Vec<Figures>)> = Vec::new();
    let mut takeovers: Vec<Takeover> = Vec::new();
    for round in 1..=rounds {
        println!("## round {round} of {rounds}");
        for &scenario in &scenarios {
            if scenario == Scenario::Kill {
                takeovers.extend(takeover(&settings).await);
                continue;
            }
            let f = throughput(scenario, &settings).await;
            match figures.iter_mut().find(|(s, _)| *s == scenario) {
                Some((_, all)) => all.push(f),
                None => figures.push((scenario, vec![f])),
            }
        }
    }
    print_summary(&figures, &takeovers);
}

/// Options of a coordinator on `url` (sled when `None`).
fn options(url: Option<&str>, settings: &Settings) -> CoordinatorOptions {
    let mut env: Vec<(String, String)> = vec![
        ("RUST_LOG".into(), "warn".into()),
        (
            "SWITCHYARD_DELIVERY__MAX_IN_FLIGHT_PER_SUBSCRIPTION".into(),
            "64".into(),
        ),
        ("SWITCHYARD_PLUGINS__MAX_IN_FLIGHT".into(), "256".into()),
        ("SWITCHYARD_SECRET_KEY".into(), SECRET_KEY.into()),
    ];
    if let Some(url) = url {
        env.push(("SWITCHYARD_STORE__URL".into(), url.into()));
        env.push((
            "SWITCHYARD_STORE__LEASE".into(),
            format!("{}ms", settings.lease.as_millis()),
        ));
    }
    CoordinatorOptions {
        env,
        ..CoordinatorOptions::default()
    }
}

/// `n` coordinators on `db` (one on sled when `None`), the incident event type and `subs`
/// webhook subscriptions to `sink`, seen by every coordinator before this returns.
async fn start(
    db: Option<&Database>,
    n: usize,
    settings: &Settings,
    sink: &HttpSink,
) -> Vec<Coordinator> {
    let url = db.map(Database::url);
    let mut coords = Vec::with_capacity(n);
    for _ in 0..n {
        coords.push(Coordinator::start(options(url.as_deref(), settings)).await);
    }
    let mut c = coords[0].clients().await;
    register_incident(&mut c).await;
    for s in 0..settings.subs {
        create_subscription(&mut c, webhook_subscription(&format!("b{s}"), &sink.url())).await;
    }
    // The others read subscriptions through a short-lived cache: wait until each sees them all.
    for coord in &coords[1..] {
        let mut c = coord.clients().await;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let seen = c
                .subscriptions
                .list_subscriptions(api::ListSubscriptionsRequest::default())
                .await
                .expect("list subscriptions")
                .into_inner()
                .subscriptions
                .len();
            if seen >= settings.subs || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    coords
}

/// CPU seconds so far of every coordinator, of their plugins, and of the PostgreSQL server.
fn cpu_now(coords: &[Coordinator]) -> [f64; 3] {
    let mut out = [0.0; 3];
    for c in coords {
        let cpu = Cpu::of(c.pid());
        out[0] += cpu.coordinator;
        out[1] += cpu.plugins;
    }
    out[2] = server_pids()
        .into_iter()
        .map(switchyard_e2e::bench::cpu_seconds)
        .sum();
    out
}

/// One throughput round of `scenario`.
async fn throughput(scenario: Scenario, settings: &Settings) -> Figures {
    let (db, n) = match scenario {
        Scenario::Pg(n, async_commit) => {
            let db = Database::create().await;
            if let (Some(db), true) = (&db, async_commit) {
                db.admin_client()
                    .await
                    .batch_execute(&format!(
                        "ALTER DATABASE {} SET synchronous_commit = off",
                        db.name()
                    ))
                    .await
                    .expect("turn synchronous_commit off");
            }
            (db, n)
        }
        _ => (None, 1),
    };
    let sink = HttpSink::start().await;
    let coords = start(db.as_ref(), n, settings, &sink).await;
    let addrs: Vec<String> = coords.iter().map(Coordinator::addr).collect();
    let expected = settings.events * settings.subs;
    let shape = Shape {
        events: settings.events,
        incidents: settings.events,
        publishers: settings.publishers,
        batch: None,
    };
    let cpu_before = cpu_now(&coords);
    let t0 = Instant::now();
    let mut latencies = publish_all(&addrs, &shape).await;
    let published_in = t0.elapsed();
    let received = wait_for_count(&sink, expected, Duration::from_secs(600)).await;
    let delivered_in = t0.elapsed();
    let cpu_after = cpu_now(&coords);
    assert_eq!(received, expected, "not every delivery arrived");
    let per_k = |i: usize| (cpu_after[i] - cpu_before[i]) * 1000.0 / expected as f64;
    let mut delivered = delivered_latencies(&sink);
    let figures = Figures {
        deliveries_per_s: expected as f64 / delivered_in.as_secs_f64(),
        cpu_per_k: [per_k(0), per_k(1), per_k(2)],
        delivered_p50_ms: {
            delivered.sort_unstable();
            quantile_ms(&delivered, 0.5)
        },
    };
    println!(
        "{}: {expected} deliveries in {:.2} s = {:.0} deliveries/s; publishing {:.0} events/s, \
         PublishEvent {}; publish → delivered {}; CPU s per 1,000 deliveries: coordinators \
         {:.3}, plugins {:.3}, PostgreSQL {:.3}",
        scenario.label(),
        delivered_in.as_secs_f64(),
        figures.deliveries_per_s,
        settings.events as f64 / published_in.as_secs_f64(),
        percentiles(&mut latencies),
        percentiles(&mut delivered),
        figures.cpu_per_k[0],
        figures.cpu_per_k[1],
        figures.cpu_per_k[2],
    );
    drop(coords);
    if let Some(db) = db {
        print_db_stats(&db, expected).await;
        db.remove().await;
    }
    figures
}

/// The database's transactions and row writes per delivery, once its coordinators are gone
/// (a backend publishes its statistics when it exits, so they are complete then).
async fn print_db_stats(db: &Database, deliveries: usize) {
    let admin = db.admin_client().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let open: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
                &[&db.name()],
            )
            .await
            .expect("read pg_stat_activity")
            .get(0);
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let DbStats {
        commits,
        inserted,
        updated,
        wal_syncs,
        wal_bytes,
    } = db.stats().await;
    let per = |v: i64| v as f64 / deliveries as f64;
    println!(
        "  database (set-up and heartbeats included): {:.2} commits, {:.2} rows inserted, {:.2} \
         rows updated, {:.3} WAL syncs and {:.0} WAL bytes per delivery",
        per(commits),
        per(inserted),
        per(updated),
        per(wal_syncs),
        per(wal_bytes),
    );
}

/// One takeover trial's figures (`None` when the killed coordinator held no claim).
#[derive(Debug, Clone, Copy)]
struct Takeover {
    claims: usize,
    remaining_lease_ms: (f64, f64),
    first_ms: f64,
    last_ms: Option<f64>,
}

/// The dead coordinator's claims, read right after the kill at `kill`: delivery ids, and the
/// remaining lease (min, max) in ms at the kill (the database's clock when it answers, plus the
/// time since the kill then: an error of at most the query's own latency).
async fn claims_of(
    client: &tokio_postgres::Client,
    pid: u32,
    kill: Instant,
) -> (HashSet<String>, (f64, f64)) {
    let rows = client
        .query(
            "SELECT id::text, lease_ms - (extract(epoch from clock_timestamp()) * 1000)::bigint \
             FROM deliveries WHERE claim_token IS NOT NULL AND claimed_by LIKE $1",
            &[&format!("%-{pid}-%")],
        )
        .await
        .expect("read the dead coordinator's claims");
    let extra = kill.elapsed().as_secs_f64() * 1000.0;
    let remaining: Vec<f64> = rows
        .iter()
        .map(|r| r.get::<_, i64>(1) as f64 + extra)
        .collect();
    let min = remaining.iter().copied().fold(f64::INFINITY, f64::min);
    let max = remaining.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (
        rows.iter().map(|r| r.get::<_, String>(0)).collect(),
        (min, max),
    )
}

/// Waits (bounded: 30 s) until the coordinator `pid` holds a claim, so that the kill has
/// something to take over.
async fn wait_for_claims(client: &tokio_postgres::Client, pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let held: i64 = client
            .query_one(
                "SELECT count(*) FROM deliveries WHERE claim_token IS NOT NULL \
                 AND claimed_by LIKE $1",
                &[&format!("%-{pid}-%")],
            )
            .await
            .expect("count the coordinator's claims")
            .get(0);
        if held > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until every one of `ids` arrived after `after` (bounded by `timeout`); returns each
/// one's first arrival after it, relative to `kill`, in ms.
async fn redeliveries(
    sink: &HttpSink,
    ids: &HashSet<String>,
    kill: Instant,
    after: Instant,
    timeout: Duration,
) -> Vec<f64> {
    let deadline = Instant::now() + timeout;
    loop {
        let mut seen: Vec<(String, f64)> = sink
            .requests()
            .into_iter()
            .zip(sink.arrivals())
            .filter(|(_, at)| *at >= after)
            .filter_map(|(r, at)| {
                let id = r.header("x-delivery-id")?.to_ascii_lowercase();
                ids.contains(&id)
                    .then(|| (id, at.duration_since(kill).as_secs_f64() * 1000.0))
            })
            .collect();
        seen.sort_by(|a, b| a.1.total_cmp(&b.1));
        let mut firsts = HashSet::new();
        seen.retain(|(id, _)| firsts.insert(id.clone()));
        if seen.len() == ids.len() || Instant::now() > deadline {
            return seen.into_iter().map(|(_, ms)| ms).collect();
        }
        // Every poll copies the sink's requests: not too often.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One takeover trial (see the module's doc).
async fn takeover(settings: &Settings) -> Option<Takeover> {
    let db = Database::create().await?;
    let sink = HttpSink::start().await;
    let mut coords = start(Some(&db), 2, settings, &sink).await;
    let addrs = vec![coords[1].addr()];
    let shape = Shape {
        events: settings.takeover_events,
        incidents: settings.takeover_events,
        publishers: 16,
        batch: None,
    };
    let publishers = tokio::spawn(async move { publish_all(&addrs, &shape).await });
    wait_for_count(
        &sink,
        settings.takeover_events / 10,
        Duration::from_secs(120),
    )
    .await;
    let pid = coords[0].pid().expect("running");
    let client = db.client().await;
    wait_for_claims(&client, pid).await;
    let kill = Instant::now();
    coords[0].kill();
    let (ids, remaining) = claims_of(&client, pid, kill).await;
    let timeout = settings.lease * 3 + Duration::from_secs(30);
    let after = kill + Duration::from_millis(50);
    let times = redeliveries(&sink, &ids, kill, after, timeout).await;
    // The publishers go on through the survivor; let them end before it stops.
    let _ = publishers.await;
    drop(coords);
    db.remove().await;
    let Some(&first_ms) = times.first() else {
        println!("lease takeover: the killed coordinator held no claim; trial skipped");
        return None;
    };
    let t = Takeover {
        claims: ids.len(),
        remaining_lease_ms: remaining,
        first_ms,
        last_ms: (times.len() == ids.len()).then(|| times[times.len() - 1]),
    };
    println!(
        "lease takeover (lease {:?}, heartbeat {:?}): {} claims held at the kill, lease left \
         {:.0}–{:.0} ms; first taken-over delivery arrived {:.0} ms after the kill, {}",
        settings.lease,
        settings.lease / 3,
        t.claims,
        t.remaining_lease_ms.0,
        t.remaining_lease_ms.1,
        t.first_ms,
        t.last_ms.map_or_else(
            || format!("only {} of them within {timeout:?}", times.len()),
            |ms| format!("the last {ms:.0} ms after it"),
        ),
    );
    Some(t)
}

/// The medians over the rounds, each round's ratio to sled, and the takeover medians.
fn print_summary(figures: &[(Scenario, Vec<Figures>)], takeovers: &[Takeover]) {
    println!("## medians over the rounds (per-round ratios to sled)");
    let sled = figures
        .iter()
        .find(|(s, _)| *s == Scenario::Sled)
        .map(|(_, f)| f.clone());
    for (scenario, all) in figures {
        let ratios: Vec<f64> = sled.as_ref().map_or_else(Vec::new, |base| {
            all.iter()
                .zip(base)
                .map(|(f, b)| f.deliveries_per_s / b.deliveries_per_s)
                .collect()
        });
        let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "{}: {:.0} deliveries/s (rounds: {}; ratio to sled {} → {:.2}); CPU s per 1,000: \
             coordinators {:.3}, plugins {:.3}, PostgreSQL {:.3}; publish → delivered p50 {:.0} ms",
            scenario.label(),
            median(all.iter().map(|f| f.deliveries_per_s)),
            all.iter()
                .map(|f| format!("{:.0}", f.deliveries_per_s))
                .collect::<Vec<_>>()
                .join(", "),
            shown.join(", "),
            median(ratios.iter().copied()),
            median(all.iter().map(|f| f.cpu_per_k[0])),
            median(all.iter().map(|f| f.cpu_per_k[1])),
            median(all.iter().map(|f| f.cpu_per_k[2])),
            median(all.iter().map(|f| f.delivered_p50_ms)),
        );
    }
    if !takeovers.is_empty() {
        println!(
            "lease takeover: first taken-over delivery {:.0} ms after the kill (median of {}; \
             trials {}), the last {:.0} ms",
            median(takeovers.iter().map(|t| t.first_ms)),
            takeovers.len(),
            takeovers
                .iter()
                .map(|t| format!("{:.0}", t.first_ms))
                .collect::<Vec<_>>()
                .join(", "),
            median(takeovers.iter().filter_map(|t| t.last_ms)),
        );
    }
}
