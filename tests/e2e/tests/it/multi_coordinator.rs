//! Several coordinators on one PostgreSQL database (`[store] url`): three real
//! `switchyard serve` processes share 10,000 events to two subscriptions, each a local HTTP
//! receiver counting what it gets. One coordinator is SIGKILLed mid-run, another SIGSTOPped
//! past its lease and then continued. Every accepted event must reach both receivers, nothing
//! may stay pending or in flight, the paused coordinator's late results must be refused by the
//! lease fence (its log says so), and the duplicates (only deliveries in flight at the kill or
//! the pause may repeat) are counted and reported. Needs `SWITCHYARD_TEST_PG_URL`
//! (`scripts/with-postgres.sh`); skipped without it.

use std::collections::HashSet;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;
use switchyard_e2e::coordinator::{
    Coordinator, CoordinatorOptions, count_deliveries, create_subscription, publish,
    register_incident, webhook_subscription,
};
use switchyard_e2e::pg::Database;
use switchyard_plugin_sdk::testkit::{HttpSink, ResponseSpec};
use switchyard_proto::coordinator::v1 as api;

const EVENTS: usize = 10_000;
/// The coordinators' lease; the pause lasts three of them.
const LEASE: Duration = Duration::from_secs(2);
/// One secret key for all three (base64 of the bytes 0..32): they share the configs.
const SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// Attempts in flight per subscription and coordinator (`delivery.max_in_flight_per_subscription`).
const PER_SUBSCRIPTION: usize = 16;
/// What the paused coordinator logs for each late result the fence refuses.
const FENCED: &str = "late result rejected by the lease fence";

fn options(url: &str) -> CoordinatorOptions {
    CoordinatorOptions {
        env: vec![
            ("SWITCHYARD_STORE__URL".into(), url.into()),
            (
                "SWITCHYARD_STORE__LEASE".into(),
                format!("{}s", LEASE.as_secs()),
            ),
            ("SWITCHYARD_SECRET_KEY".into(), SECRET_KEY.into()),
        ],
        ..CoordinatorOptions::default()
    }
}

fn signal(c: &Coordinator, sig: Signal) {
    let pid = c.pid().expect("running");
    kill(Pid::from_raw(i32::try_from(pid).expect("pid")), sig).expect("signal");
}

fn delivered(sinks: &[HttpSink; 2]) -> usize {
    sinks.iter().map(HttpSink::request_count).sum()
}

/// Waits until the receivers got `n` requests in all (bounded: 10 minutes).
async fn wait_delivered(sinks: &[HttpSink; 2], n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    while delivered(sinks) < n {
        assert!(tokio::time::Instant::now() < deadline, "stalled below {n}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Publishes every event through coordinators 1 and 2 (eight workers); returns how many were
/// accepted.
fn publish_all(coords: &[Coordinator]) -> tokio::task::JoinSet<usize> {
    let mut publishers = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let addr = coords[1 + worker % 2].addr();
        publishers.spawn(async move {
            let mut c = switchyard::cli::client::connect(&addr, None)
                .await
                .expect("connect");
            let mut accepted = 0;
            for n in (worker..EVENTS).step_by(8) {
                let payload = json!({"incidentId": format!("inc-{n}"), "title": "t"});
                publish(&mut c, payload, &format!("key-{n}")).await;
                accepted += 1;
            }
            accepted
        });
    }
    publishers
}

/// Waits until no delivery is open any more (bounded: 10 minutes).
async fn wait_settled(c: &mut switchyard::cli::client::Clients) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    loop {
        let mut open = 0;
        for status in [
            api::DeliveryStatus::Pending,
            api::DeliveryStatus::InFlight,
            api::DeliveryStatus::Retrying,
            api::DeliveryStatus::Waiting,
        ] {
            open += count_deliveries(c, status).await;
        }
        if open == 0 {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{open} still open");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How many requests a receiver got beyond one per event; panics if an event is missing.
fn duplicates(sink: &HttpSink) -> usize {
    let requests = sink.requests();
    let seen: HashSet<String> = requests
        .iter()
        .filter_map(|r| r.json()["data"]["incidentId"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        seen.len(),
        EVENTS,
        "every accepted event reached the receiver"
    );
    requests.len() - seen.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_coordinators_on_one_database_survive_a_kill_and_a_pause() {
    let Some(db) = Database::create().await else {
        return;
    };
    let url = db.url();
    // Started together: they migrate the new schema one at a time (advisory lock).
    let (a, b, c) = tokio::join!(
        Coordinator::start(options(&url)),
        Coordinator::start(options(&url)),
        Coordinator::start(options(&url)),
    );
    let mut coords = vec![a, b, c];
    let sinks = [HttpSink::start().await, HttpSink::start().await];
    for sink in &sinks {
        for _ in 0..EVENTS + 1000 {
            sink.push_response(ResponseSpec::status(200).delay(Duration::from_millis(5)));
        }
    }
    let mut api = coords[2].clients().await;
    register_incident(&mut api).await;
    for (name, sink) in ["a", "b"].iter().zip(&sinks) {
        create_subscription(&mut api, webhook_subscription(name, &sink.url())).await;
    }
    let mut publishers = publish_all(&coords);

    wait_delivered(&sinks, 2_000).await;
    coords[0].kill();
    wait_delivered(&sinks, 6_000).await;
    signal(&coords[1], Signal::SIGSTOP);
    // Past its lease: the others take its deliveries over.
    tokio::time::sleep(LEASE * 3).await;
    signal(&coords[1], Signal::SIGCONT);

    let mut accepted = 0;
    while let Some(n) = publishers.join_next().await {
        accepted += n.expect("publisher");
    }
    assert_eq!(accepted, EVENTS);
    wait_settled(&mut api).await;
    assert_eq!(
        count_deliveries(&mut api, api::DeliveryStatus::Succeeded).await,
        2 * EVENTS as u64
    );
    let repeated = [duplicates(&sinks[0]), duplicates(&sinks[1])];
    let fenced = coords[1].stderr().matches(FENCED).count();
    for (i, c) in coords.iter().enumerate() {
        let log = c.stderr();
        eprintln!(
            "coordinator {i}: {} fenced, {} lost-claim warnings, {} lease ran out, {} renew failures",
            log.matches(FENCED).count(),
            log.matches("claims taken over").count(),
            log.matches("lease on the delivery ran out").count(),
            log.matches("cannot renew").count(),
        );
    }
    eprintln!(
        "multi-coordinator: {accepted} events accepted, each delivered to both receivers; \
         duplicates {repeated:?}; {fenced} late results of the paused coordinator fenced"
    );
    assert!(
        fenced > 0,
        "the paused coordinator's late results were fenced"
    );
    // Only attempts in flight at the kill and at the pause may repeat: at most one per
    // subscription slot of each of the two coordinators.
    assert!(
        repeated.iter().sum::<usize>() <= 2 * 2 * PER_SUBSCRIPTION,
        "duplicates {repeated:?}"
    );
    drop(coords);
    db.remove().await;
}
