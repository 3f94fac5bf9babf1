//! Records the version before the typed delivery state wrote — a delivery's `status` and
//! `next_attempt_at` as two fields — load in both stores and go on through the schedule: read,
//! filtered, claimed at their due time and saved. Each test writes such a record the way that
//! version did (raw bytes into sled's tree, a raw row into PostgreSQL) over one this version
//! inserted, so that every index the old version kept beside it is the same.

use chrono::{DateTime, SecondsFormat, Utc};

use super::postgres::testing::TestDb;
use super::tests::{delivery, event_at};
use super::{SledStore, Store};
use crate::model::{
    Delivery, DeliveryFilter, DeliveryState, DeliveryStatus, PageRequest, SubscriptionId,
    from_millis, to_millis,
};

/// A delivery of `d`'s ids as the previous version encoded it: retrying, two attempts made,
/// due at `due`.
fn old_body(d: &Delivery, due: DateTime<Utc>) -> String {
    let t = |at: DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    format!(
        r#"{{"id":"{}","event_id":"{}","event_type":"{}","subscription_id":"{}","provider_id":"{}","status":"retrying","attempts":2,"budget_used":2,"next_attempt_at":"{}","last_error":"HTTP 503","created_at":"{}","updated_at":"{}"}}"#,
        d.id,
        d.event_id,
        d.event_type,
        d.subscription_id,
        d.provider_id,
        t(due),
        t(d.created_at),
        t(d.updated_at),
    )
}

/// Inserts a delivery due at `due` (in whole milliseconds, as the schedule keys it).
fn inserted(store: &dyn Store, due: DateTime<Utc>) -> Delivery {
    let ev = event_at(due, None);
    let d = delivery(&ev, SubscriptionId::new(), due);
    store
        .insert_event(&ev, std::slice::from_ref(&d))
        .expect("insert");
    d
}

/// The record of `id`, overwritten with [`old_body`], reads, filters, claims and saves.
fn an_old_record_goes_through(store: &dyn Store, d: &Delivery, due: DateTime<Utc>) {
    let read = store.get_delivery(d.id).expect("get").expect("present");
    assert_eq!(read.state, DeliveryState::Retrying { due });
    assert_eq!(
        (read.attempts, read.last_error.as_deref()),
        (2, Some("HTTP 503"))
    );
    let retrying = DeliveryFilter {
        status: Some(DeliveryStatus::Retrying),
        ..DeliveryFilter::default()
    };
    let page = PageRequest {
        offset: 0,
        limit: 10,
    };
    let listed = store.list_deliveries(&retrying, page).expect("list");
    assert_eq!(
        listed.items.iter().map(|x| x.id).collect::<Vec<_>>(),
        [d.id]
    );
    assert_eq!(store.next_due().expect("next"), Some(due));
    let mut claimed = store.claim_due(Utc::now(), 10).expect("claim");
    assert_eq!(claimed.len(), 1, "due at its old next_attempt_at");
    let mut done = claimed.remove(0);
    assert_eq!(done.state, DeliveryState::InFlight { due });
    done.state = DeliveryState::Succeeded;
    done.attempts = 3;
    store
        .save_delivery(&done, None, DeliveryStatus::InFlight)
        .expect("save");
    let saved = store.get_delivery(d.id).expect("get").expect("present");
    assert_eq!((saved.state, saved.attempts), (DeliveryState::Succeeded, 3));
    assert_eq!(store.next_due().expect("next"), None, "left the schedule");
}

fn a_due_time_in_the_past() -> DateTime<Utc> {
    from_millis(to_millis(Utc::now()) - 60_000)
}

#[test]
fn a_sled_record_of_the_previous_version_loads_and_is_delivered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let due = a_due_time_in_the_past();
    let d = {
        let store = SledStore::open(dir.path()).expect("open");
        let d = inserted(&store, due);
        store.flush().expect("flush");
        d
    };
    {
        let db = sled::open(dir.path()).expect("sled");
        let record = format!(r#"{{"delivery":{},"attempts":[]}}"#, old_body(&d, due));
        db.open_tree("deliveries")
            .expect("tree")
            .insert(d.id.to_bytes(), record.as_bytes())
            .expect("write the old record");
        db.flush().expect("flush");
    }
    let store = SledStore::open(dir.path()).expect("reopen");
    an_old_record_goes_through(&store, &d, due);
}

#[test]
fn a_postgres_row_of_the_previous_version_loads_and_is_delivered() {
    let Some(db) = TestDb::new() else { return };
    let store = db.open();
    let due = a_due_time_in_the_past();
    let d = inserted(&store, due);
    db.execute(&format!(
        "UPDATE deliveries SET status = 'retrying', due_ms = {}, \
         body = convert_to('{}', 'UTF8') WHERE id = '{}'",
        to_millis(due),
        old_body(&d, due),
        d.id
    ));
    an_old_record_goes_through(&store, &d, due);
}
