//! The lifecycle operations, on both stores: a subscription's disable or deletion cancels its
//! scheduled deliveries in the same operation (a claimed one is left to its attempt, a
//! correlated chain is cancelled whole without promoting anyone), a subscription is saved only
//! while the connection it names exists, and a connection is deleted only while no
//! subscription names it — also when the two race.

use std::sync::Barrier;

use chrono::Utc;
use serde_json::json;

use super::{correlated, delivery, event_at, open, sub};
use crate::model::SUBSCRIPTION_GONE;
use crate::model::{Connection, ConnectionId, DeliveryStatus, Subscription, SubscriptionId};
use crate::store::{InsertEvent, Store, StoreError};

fn connection(store: &dyn Store) -> Connection {
    let now = Utc::now();
    let c = Connection {
        id: ConnectionId::new(),
        provider_id: "jira.jira".into(),
        name: "site".into(),
        config: json!({}),
        schema_version: 1,
        migration_error: None,
        created_at: now,
        updated_at: now,
    };
    store.insert_connection(&c).expect("insert connection");
    c
}

fn using(c: &Connection) -> Subscription {
    let mut s = sub("jira.jira", &["*"], true);
    s.config = json!({"connectionId": c.id.to_string()});
    s
}

/// A subscription with two scheduled deliveries, one of them claimed, and a chain of two
/// correlated ones (the second waiting); returns it with the ids of the claimed one, the other
/// one, the chain's head and the one waiting behind it.
fn busy_subscription(store: &dyn Store) -> (Subscription, Vec<crate::model::DeliveryId>) {
    let s = sub("webhook.webhook", &["*"], true);
    store.insert_subscription(&s).expect("insert subscription");
    let now = Utc::now();
    let ev = event_at(now, None);
    let (due, later) = (
        delivery(&ev, s.id, now),
        delivery(&ev, s.id, now + chrono::Duration::minutes(5)),
    );
    let inserted = store.insert_event(&ev, &[due.clone(), later.clone()]);
    assert_eq!(
        inserted.expect("insert"),
        InsertEvent::Inserted { waiting: vec![] }
    );
    let claimed = store.claim_due(now, 10).expect("claim");
    assert_eq!(claimed.len(), 1, "the due one is claimed");
    let head = correlated(store, s.id, "inc-1", now + chrono::Duration::minutes(9));
    // Behind the head in its chain, but with the smaller id (an earlier event time): a
    // cancellation in id order alone would end the head first and promote it.
    let next = correlated(store, s.id, "inc-1", now + chrono::Duration::minutes(8));
    assert_eq!(next.status(), DeliveryStatus::Waiting);
    (s, vec![due.id, later.id, head.id, next.id])
}

fn disabling_cancels_the_scheduled_deliveries_in_the_same_operation(store: &dyn Store) {
    let (s, ids) = busy_subscription(store);
    let done = store
        .disable_subscription(s.id, Some("failing"), Utc::now())
        .expect("disable")
        .expect("it exists");
    assert!(!done.subscription.enabled);
    assert_eq!(
        done.subscription.disabled_reason.as_deref(),
        Some("failing")
    );
    let stored = store.get_subscription(s.id).expect("get").expect("kept");
    assert_eq!(stored, done.subscription);
    let mut cancelled: Vec<_> = done.cancelled.iter().map(|d| d.id).collect();
    cancelled.sort();
    let mut expected = ids[1..].to_vec();
    expected.sort();
    assert_eq!(cancelled, expected, "all but the claimed one");
    for id in &ids[1..] {
        let d = store.get_delivery(*id).expect("get").expect("kept");
        assert_eq!(d.status(), DeliveryStatus::Cancelled);
        assert_eq!(d.last_error.as_deref(), Some(SUBSCRIPTION_GONE));
    }
    let claimed = store.get_delivery(ids[0]).expect("get").expect("kept");
    assert_eq!(
        claimed.status(),
        DeliveryStatus::InFlight,
        "left to its attempt"
    );
    assert!(
        store
            .scheduled_of_subscription(s.id)
            .expect("read")
            .is_empty()
    );
    assert_eq!(
        store
            .claim_due(Utc::now() + chrono::Duration::hours(1), 10)
            .expect("claim"),
        vec![]
    );
    // Disabling again keeps the reason when none is given, and cancels nothing more.
    let again = store
        .disable_subscription(s.id, None, Utc::now())
        .expect("disable again")
        .expect("it exists");
    assert_eq!(
        again.subscription.disabled_reason.as_deref(),
        Some("failing")
    );
    assert!(again.cancelled.is_empty());
    let absent = store.disable_subscription(SubscriptionId::new(), None, Utc::now());
    assert!(absent.expect("no error").is_none());
}

fn deleting_cancels_the_scheduled_deliveries_in_the_same_operation(store: &dyn Store) {
    let (s, ids) = busy_subscription(store);
    let done = store
        .delete_subscription_cancelling(s.id, Utc::now())
        .expect("delete")
        .expect("it existed");
    assert_eq!(done.subscription.id, s.id);
    assert_eq!(done.cancelled.len(), 3);
    assert!(store.get_subscription(s.id).expect("get").is_none());
    assert!(
        store
            .subscriptions()
            .expect("snapshot")
            .iter()
            .all(|x| x.id != s.id)
    );
    for id in &ids[1..] {
        let d = store
            .get_delivery(*id)
            .expect("get")
            .expect("kept, for history");
        assert_eq!(d.status(), DeliveryStatus::Cancelled);
    }
    let gone = store.delete_subscription_cancelling(s.id, Utc::now());
    assert!(gone.expect("no error").is_none());
}

fn a_connection_in_use_is_not_deleted(store: &dyn Store) {
    let c = connection(store);
    let s = using(&c);
    store.save_subscription_checked(&s, true).expect("save");
    match store.delete_unused_connection(c.id) {
        Err(StoreError::ConnectionInUse {
            connection,
            subscriptions,
        }) => {
            assert_eq!(connection, c.id);
            assert_eq!(subscriptions, vec![s.id]);
        }
        other => panic!("deleted a connection in use: {other:?}"),
    }
    assert!(store.get_connection(c.id).expect("get").is_some());
    store.delete_subscription(s.id).expect("delete the user");
    assert!(store.delete_unused_connection(c.id).expect("delete"));
    assert!(!store.delete_unused_connection(c.id).expect("delete again"));
}

fn a_subscription_is_saved_only_while_its_connection_exists(store: &dyn Store) {
    let c = connection(store);
    let orphan = using(&Connection {
        id: ConnectionId::new(),
        ..c.clone()
    });
    let err = store.save_subscription_checked(&orphan, true);
    assert!(
        matches!(
            err,
            Err(StoreError::NotFound {
                kind: "connection",
                ..
            })
        ),
        "{err:?}"
    );
    assert!(store.get_subscription(orphan.id).expect("get").is_none());
    let mut s = using(&c);
    store.save_subscription_checked(&s, true).expect("save");
    let twice = store.save_subscription_checked(&s, true);
    assert!(
        matches!(twice, Err(StoreError::AlreadyExists { .. })),
        "{twice:?}"
    );
    s.name = "renamed".into();
    store.save_subscription_checked(&s, false).expect("update");
    assert_eq!(
        store
            .get_subscription(s.id)
            .expect("get")
            .expect("kept")
            .name,
        "renamed"
    );
    let unknown = store.save_subscription_checked(&sub("webhook.webhook", &["*"], true), false);
    assert!(
        matches!(
            unknown,
            Err(StoreError::NotFound {
                kind: "subscription",
                ..
            })
        ),
        "{unknown:?}"
    );
}

/// Rounds of the race: without the serialization, 40 caught it in about two runs of three.
const ROUNDS: usize = 200;

/// Creating a subscription on a connection while the connection is deleted, many times: either
/// the subscription is saved and the deletion refused, or the connection is deleted and the
/// save refused — never a subscription naming a deleted connection.
fn a_connection_used_by_a_concurrent_new_subscription_is_never_deleted(store: &dyn Store) {
    let (mut saved, mut deleted) = (0, 0);
    for _ in 0..ROUNDS {
        let c = connection(store);
        let s = using(&c);
        let start = Barrier::new(2);
        let (save, delete) = std::thread::scope(|scope| {
            let save = scope.spawn(|| {
                start.wait();
                store.save_subscription_checked(&s, true)
            });
            let delete = scope.spawn(|| {
                start.wait();
                store.delete_unused_connection(c.id)
            });
            (
                save.join().expect("save thread"),
                delete.join().expect("delete thread"),
            )
        });
        let exists = store.get_connection(c.id).expect("get").is_some();
        match (save, delete) {
            (Ok(()), Err(StoreError::ConnectionInUse { .. })) if exists => saved += 1,
            (
                Err(StoreError::NotFound {
                    kind: "connection", ..
                }),
                Ok(true),
            ) if !exists => {
                assert!(store.get_subscription(s.id).expect("get").is_none());
                deleted += 1;
            }
            other => panic!("the race left {other:?} (connection exists: {exists})"),
        }
    }
    assert_eq!(saved + deleted, ROUNDS);
}

on_both_stores!(
    disabling_cancels_the_scheduled_deliveries_in_the_same_operation,
    deleting_cancels_the_scheduled_deliveries_in_the_same_operation,
    a_connection_in_use_is_not_deleted,
    a_subscription_is_saved_only_while_its_connection_exists,
    a_connection_used_by_a_concurrent_new_subscription_is_never_deleted,
);
