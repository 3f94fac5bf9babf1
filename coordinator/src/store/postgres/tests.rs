//! What only a shared store has: several coordinators (store handles) on one PostgreSQL
//! schema — leases, their takeover and the fence, served providers, wake-ups across
//! coordinators, ordering and idempotency across them. Skipped without
//! `SWITCHYARD_TEST_PG_URL`.

use std::time::Duration;

use chrono::Utc;

use super::testing::TestDb;
use crate::model::{DeliveryState, DeliveryStatus, SubscriptionId};
use crate::store::tests::{delivery, event_at};
use crate::store::{InsertEvent, Store, StoreError};

/// Short enough for a test to wait out, long enough for a loaded machine's heartbeat.
const LEASE: Duration = Duration::from_millis(600);

/// Claims due work on `store` until some is returned (a lease that expires makes it due).
fn claim_when_due(store: &dyn Store) -> Vec<crate::model::Delivery> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let claimed = store.claim_due(Utc::now(), 10).expect("claim");
        if !claimed.is_empty() || std::time::Instant::now() > deadline {
            return claimed;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_expired_lease_is_taken_over_and_the_late_result_is_refused_by_the_fence() {
    let Some(db) = TestDb::new() else { return };
    let (paused_store, other) = (db.open_with_lease(LEASE), db.open_with_lease(LEASE));
    let (paused, other): (&dyn Store, &dyn Store) = (&paused_store, &other);
    let now = Utc::now();
    let ev = event_at(now, None);
    let d = delivery(&ev, SubscriptionId::new(), now);
    paused
        .insert_event(&ev, std::slice::from_ref(&d))
        .expect("insert");
    let mut late = paused.claim_due(now, 10).expect("claim").remove(0);
    assert!(
        other.claim_due(now, 10).expect("claim").is_empty(),
        "leased"
    );
    assert_eq!(
        other.get_delivery(d.id).expect("get").map(|d| d.status()),
        Some(DeliveryStatus::InFlight),
        "another coordinator's claim reads as in flight"
    );
    // The first coordinator hangs: its lease runs out and the other takes the delivery over.
    paused_store.stop_heartbeat();
    let mut taken = claim_when_due(other);
    assert_eq!(taken.iter().map(|d| d.id).collect::<Vec<_>>(), [d.id]);
    late.state = DeliveryState::Succeeded;
    let refused = paused.save_delivery(&late, None, DeliveryStatus::InFlight);
    assert!(
        matches!(&refused, Err(StoreError::Conflict(m)) if m.contains("taken over")),
        "{refused:?}"
    );
    let mut owner = taken.remove(0);
    owner.state = DeliveryState::Failed;
    other
        .save_delivery(&owner, None, DeliveryStatus::InFlight)
        .expect("the owner's result");
    assert_eq!(
        paused.get_delivery(d.id).expect("get").map(|d| d.status()),
        Some(DeliveryStatus::Failed),
        "the late result did not overwrite the owner's"
    );
}

#[test]
fn a_claim_whose_lease_ran_out_is_not_attempted_and_is_released_at_once() {
    let Some(db) = TestDb::new() else { return };
    let (hung_store, other) = (db.open_with_lease(LEASE), db.open_with_lease(LEASE));
    let (hung, other): (&dyn Store, &dyn Store) = (&hung_store, &other);
    let now = Utc::now();
    let ev = event_at(now, None);
    let d = delivery(&ev, SubscriptionId::new(), now);
    hung.insert_event(&ev, std::slice::from_ref(&d))
        .expect("insert");
    assert_eq!(hung.claim_due(now, 10).expect("claim").len(), 1);
    assert!(hung.holds_claim(d.id), "a fresh claim is held");
    hung_store.stop_heartbeat();
    std::thread::sleep(LEASE);
    assert!(!hung.holds_claim(d.id), "not renewed for a whole lease");
    let taken = other.claim_due(Utc::now(), 10).expect("claim");
    assert_eq!(taken.iter().map(|d| d.id).collect::<Vec<_>>(), [d.id]);
}

#[test]
fn a_live_coordinator_renews_its_leases_and_keeps_its_work() {
    let Some(db) = TestDb::new() else { return };
    let (live, other) = (db.open_with_lease(LEASE), db.open_with_lease(LEASE));
    let (live, other): (&dyn Store, &dyn Store) = (&live, &other);
    let now = Utc::now();
    let ev = event_at(now, None);
    let d = delivery(&ev, SubscriptionId::new(), now);
    live.insert_event(&ev, std::slice::from_ref(&d))
        .expect("insert");
    let mut claimed = live.claim_due(now, 10).expect("claim").remove(0);
    // Three leases long: without renewal it would have expired twice.
    std::thread::sleep(LEASE * 3);
    assert!(other.claim_due(Utc::now(), 10).expect("claim").is_empty());
    assert!(live.holds_claim(d.id), "renewed, so still held");
    claimed.state = DeliveryState::Succeeded;
    live.save_delivery(&claimed, None, DeliveryStatus::InFlight)
        .expect("save");
    assert_eq!(
        other.get_delivery(d.id).expect("get").map(|d| d.status()),
        Some(DeliveryStatus::Succeeded)
    );
}

#[test]
fn a_coordinator_claims_only_deliveries_of_the_providers_it_serves() {
    let Some(db) = TestDb::new() else { return };
    let (slack_only, any) = (db.open(), db.open());
    let (slack_only, any): (&dyn Store, &dyn Store) = (&slack_only, &any);
    slack_only.serve_providers(&["slack.slack".to_owned()]);
    let now = Utc::now();
    let ev = event_at(now, None);
    let d = delivery(&ev, SubscriptionId::new(), now);
    any.insert_event(&ev, std::slice::from_ref(&d))
        .expect("insert");
    assert!(slack_only.claim_due(now, 10).expect("claim").is_empty());
    assert_eq!(slack_only.next_due().expect("next"), None);
    assert_eq!(any.claim_due(now, 10).expect("claim").len(), 1);
}

#[test]
fn idempotency_keys_and_correlation_chains_hold_across_coordinators() {
    let Some(db) = TestDb::new() else { return };
    let (a, b) = (db.open(), db.open());
    let (a, b): (&dyn Store, &dyn Store) = (&a, &b);
    let now = Utc::now();
    let sub = SubscriptionId::new();
    let first = event_at(now, Some("k-1"));
    let mut d1 = delivery(&first, sub, now);
    d1.correlation_key = Some("inc-1".into());
    a.insert_event(&first, std::slice::from_ref(&d1))
        .expect("insert");
    let again = event_at(now, Some("k-1"));
    let dup = b
        .insert_event(&again, &[delivery(&again, sub, now)])
        .expect("insert again");
    assert!(matches!(dup, InsertEvent::Duplicate { event, .. } if event.id == first.id));
    let second = event_at(now, None);
    let mut d2 = delivery(&second, sub, now);
    d2.correlation_key = Some("inc-1".into());
    let written = b
        .insert_event(&second, std::slice::from_ref(&d2))
        .expect("insert");
    assert_eq!(
        written,
        InsertEvent::Inserted {
            waiting: vec![d2.id]
        }
    );
    let mut head = a.claim_due(now, 10).expect("claim").remove(0);
    assert_eq!(head.id, d1.id, "only the head is due");
    head.state = DeliveryState::Succeeded;
    a.save_delivery(&head, None, DeliveryStatus::InFlight)
        .expect("save");
    let next = b.claim_due(Utc::now(), 10).expect("claim");
    assert_eq!(next.iter().map(|d| d.id).collect::<Vec<_>>(), [d2.id]);
}

#[tokio::test]
async fn a_publish_on_one_coordinator_wakes_the_others() {
    let Some(db) = TestDb::new() else { return };
    let (publisher, idle) = (db.open(), db.open());
    let (publisher, idle): (&dyn Store, &dyn Store) = (&publisher, &idle);
    let signal = idle.wake_signal().expect("a shared store signals");
    // The LISTEN connection signals once when it is up (it may have missed something).
    tokio::time::timeout(Duration::from_secs(30), signal.notified())
        .await
        .expect("listening");
    let now = Utc::now();
    let ev = event_at(now, None);
    publisher
        .insert_event(&ev, &[delivery(&ev, SubscriptionId::new(), now)])
        .expect("insert");
    tokio::time::timeout(Duration::from_secs(30), signal.notified())
        .await
        .expect("woken by the other coordinator's publish");
}
