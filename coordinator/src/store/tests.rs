//! Behaviour of the stores: every test that takes a `&dyn Store` runs on sled (a database in a
//! temporary directory) and on PostgreSQL (a schema of its own in the database
//! `SWITCHYARD_TEST_PG_URL` names; skipped without it), through [`on_both_stores`]. The
//! tests of one store's own mechanics (sled's scan cursor and reopening, PostgreSQL's leases
//! between coordinators) follow it.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::*;
use crate::model::{
    AttemptOutcome, AttemptTrigger, CORRELATION_HISTORY, Delivery, DeliveryFilter, DeliveryId,
    DeliveryState, DeliveryStatus, Event, EventId, PageRequest, Subscription, SubscriptionFilter,
    SubscriptionId, from_millis, to_millis,
};

fn open() -> (tempfile::TempDir, SledStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SledStore::open(dir.path()).expect("open");
    (dir, store)
}

fn sub(provider: &str, patterns: &[&str], enabled: bool) -> Subscription {
    let now = Utc::now();
    Subscription {
        id: SubscriptionId::new(),
        name: "s".into(),
        description: String::new(),
        provider_id: provider.into(),
        config: json!({}),
        schema_version: 1,
        event_types: patterns.iter().map(|p| (*p).to_owned()).collect(),
        system_ids: vec![],
        enabled,
        disabled_reason: None,
        retry_policy: None,
        created_at: now,
        updated_at: now,
        rate_limit: None,
    }
}

pub(super) fn event_at(at: DateTime<Utc>, key: Option<&str>) -> Event {
    Event {
        id: EventId::new_at(at),
        event_type: "incident.incident.created".into(),
        payload: json!({"incidentId": "i-1"}),
        idempotency_key: key.map(str::to_owned),
        timestamp: at,
        received_at: at,
        correlation_key: None,
        trace: None,
    }
}

pub(super) fn delivery(event: &Event, sub: SubscriptionId, due: DateTime<Utc>) -> Delivery {
    Delivery {
        id: DeliveryId::new_at(event.received_at),
        event_id: event.id,
        event_type: event.event_type.clone(),
        subscription_id: sub,
        provider_id: "webhook.webhook".into(),
        state: DeliveryState::Pending { due },
        attempts: 0,
        budget_used: 0,
        last_error: None,
        created_at: event.received_at,
        updated_at: event.received_at,
        test: false,
        correlation_key: None,
    }
}

fn the_same_idempotency_key_returns_the_first_event_and_writes_nothing(store: &dyn Store) {
    let now = Utc::now();
    let sub = SubscriptionId::new();
    let first = event_at(now, Some("k1"));
    let d1 = delivery(&first, sub, now);
    assert_eq!(
        store
            .insert_event(&first, std::slice::from_ref(&d1))
            .expect("insert"),
        InsertEvent::Inserted { waiting: vec![] }
    );
    let second = event_at(now, Some("k1"));
    let d2 = delivery(&second, sub, now);
    match store
        .insert_event(&second, std::slice::from_ref(&d2))
        .expect("insert again")
    {
        InsertEvent::Duplicate { event, deliveries } => {
            assert_eq!(event.id, first.id);
            assert_eq!(deliveries, vec![d1]);
        }
        InsertEvent::Inserted { .. } => panic!("duplicate was inserted"),
    }
    assert!(store.get_event(second.id).expect("get").is_none());
    assert!(store.get_delivery(d2.id).expect("get").is_none());
}

fn claiming_takes_only_due_work_and_marks_it_in_flight(store: &dyn Store) {
    let now = Utc::now();
    let ev = event_at(now, None);
    let sub = SubscriptionId::new();
    let due = delivery(&ev, sub, now);
    let later = delivery(&ev, sub, now + chrono::Duration::minutes(5));
    store
        .insert_event(&ev, &[due.clone(), later.clone()])
        .expect("insert");
    assert_eq!(
        store
            .next_due()
            .expect("next")
            .map(|t| t.timestamp_millis()),
        Some(now.timestamp_millis())
    );
    let claimed = store.claim_due(now, 10).expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, due.id);
    assert_eq!(claimed[0].status(), DeliveryStatus::InFlight);
    assert!(store.claim_due(now, 10).expect("claim again").is_empty());
    let next = store
        .next_due()
        .expect("next")
        .map(|t| t.timestamp_millis());
    assert_eq!(
        next,
        later.next_attempt_at().map(|t| t.timestamp_millis()),
        "claimed work is not due again"
    );
    assert!(matches!(
        store.claim(due.id, now),
        Err(StoreError::Conflict(_))
    ));
    let at_later = store
        .claim_due(now + chrono::Duration::minutes(5), 10)
        .expect("claim later");
    assert_eq!(at_later.len(), 1);
    assert_eq!(store.next_due().expect("next"), None);
}

fn saving_checks_the_expected_status_and_moves_the_indexes(store: &dyn Store) {
    let now = Utc::now();
    let ev = event_at(now, None);
    let d = delivery(&ev, SubscriptionId::new(), now);
    store
        .insert_event(&ev, std::slice::from_ref(&d))
        .expect("insert");
    let mut claimed = store.claim_due(now, 1).expect("claim").remove(0);
    let err = store.save_delivery(&claimed, None, DeliveryStatus::Pending);
    assert!(matches!(err, Err(StoreError::Conflict(_))));
    claimed.state = DeliveryState::Retrying {
        due: now + chrono::Duration::seconds(60),
    };
    claimed.attempts = 1;
    let attempt = crate::model::Attempt {
        delivery_id: d.id,
        number: 1,
        trigger: AttemptTrigger::Scheduled,
        started_at: now,
        ended_at: now,
        duration_ms: 0,
        outcome: AttemptOutcome::Retryable,
        error: Some("HTTP 503".into()),
        status_code: Some(503),
        external_id: None,
        retry_after_ms: None,
        next_attempt_at: claimed.next_attempt_at(),
        response_excerpt: None,
        state: None,
    };
    store
        .save_delivery(&claimed, Some(&attempt), DeliveryStatus::InFlight)
        .expect("save");
    assert_eq!(
        store.get_delivery(d.id).expect("get").map(|d| d.status()),
        Some(DeliveryStatus::Retrying)
    );
    assert_eq!(store.attempts(d.id).expect("attempts"), vec![attempt]);
    assert!(store.claim_due(now, 10).expect("claim").is_empty());
    assert_eq!(
        store
            .claim_due(now + chrono::Duration::seconds(60), 10)
            .expect("claim")
            .len(),
        1
    );
}

fn subscription_list_total_counts_matches_after_filtering(store: &dyn Store) {
    for i in 0..7 {
        let provider = if i % 2 == 0 {
            "webhook.webhook"
        } else {
            "slack.slack"
        };
        store
            .insert_subscription(&sub(provider, &["incident.*"], i != 0))
            .expect("insert");
    }
    store
        .insert_subscription(&sub("webhook.webhook", &["maintenance.*"], true))
        .expect("insert");
    let filter = SubscriptionFilter {
        provider_id: Some("webhook.webhook".into()),
        event_type: Some("incident.incident.created".into()),
        enabled: Some(true),
    };
    let page = store
        .list_subscriptions(
            &filter,
            PageRequest {
                offset: 0,
                limit: 2,
            },
        )
        .expect("list");
    assert_eq!(page.total, 3);
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.next_offset, Some(2));
    assert!(
        page.items
            .iter()
            .all(|s| s.provider_id == "webhook.webhook" && s.enabled)
    );
    let s = sub("x.y", &["*"], true);
    assert!(matches!(
        store
            .insert_subscription(&s)
            .and_then(|()| store.insert_subscription(&s)),
        Err(StoreError::AlreadyExists { .. })
    ));
}

fn delivery_list_filters_by_subscription_status_and_time_newest_first(store: &dyn Store) {
    let (a, b) = (SubscriptionId::new(), SubscriptionId::new());
    let base = from_millis(1_700_000_000_000);
    for i in 0..10 {
        let at = base + chrono::Duration::seconds(i);
        let ev = event_at(at, None);
        store
            .insert_event(&ev, &[delivery(&ev, a, at), delivery(&ev, b, at)])
            .expect("insert");
    }
    let filter = DeliveryFilter {
        subscription_id: Some(a),
        from: Some(base + chrono::Duration::seconds(2)),
        to: Some(base + chrono::Duration::seconds(8)),
        ..DeliveryFilter::default()
    };
    let page = store
        .list_deliveries(
            &filter,
            PageRequest {
                offset: 0,
                limit: 4,
            },
        )
        .expect("list");
    assert_eq!(page.total, 6);
    assert_eq!(page.items.len(), 4);
    assert!(page.items[0].created_at > page.items[1].created_at);
    assert!(page.items.iter().all(|d| d.subscription_id == a));
    let failed = DeliveryFilter {
        status: Some(DeliveryStatus::Failed),
        ..DeliveryFilter::default()
    };
    assert_eq!(
        store
            .list_deliveries(&failed, PageRequest::default())
            .expect("list")
            .total,
        0
    );
    let stats = store
        .stats(base + chrono::Duration::seconds(5))
        .expect("stats");
    assert_eq!(stats.overall.get(DeliveryStatus::Pending), 10);
    assert_eq!(stats.by_provider["webhook.webhook"].total, 10);
}

#[test]
fn work_in_flight_at_a_crash_is_due_again_after_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = Utc::now();
    let id = {
        let store = SledStore::open(dir.path()).expect("open");
        let ev = event_at(now, None);
        let d = delivery(&ev, SubscriptionId::new(), now);
        store
            .insert_event(&ev, std::slice::from_ref(&d))
            .expect("insert");
        store.claim_due(now, 1).expect("claim");
        store.flush().expect("flush");
        d.id
    };
    let store = SledStore::open(dir.path()).expect("reopen");
    let resumed = store.claim_due(Utc::now(), 10).expect("claim");
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0].id, id);
}

fn purge_removes_old_events_whose_deliveries_are_all_final(store: &dyn Store) {
    let old = from_millis(1_600_000_000_000);
    let sub = SubscriptionId::new();
    let done_ev = event_at(old, Some("done"));
    let mut done = delivery(&done_ev, sub, old);
    store
        .insert_event(&done_ev, std::slice::from_ref(&done))
        .expect("insert");
    let busy_ev = event_at(old, None);
    store
        .insert_event(
            &busy_ev,
            &[delivery(&busy_ev, sub, old + chrono::Duration::days(3650))],
        )
        .expect("insert");
    let claimed = store.claim_due(old, 10).expect("claim");
    assert_eq!(claimed.len(), 1);
    done.state = DeliveryState::Succeeded;
    store
        .save_delivery(&done, None, DeliveryStatus::InFlight)
        .expect("save");
    let purged = store.purge_finished(Utc::now()).expect("purge");
    assert_eq!(
        purged,
        Purged {
            events: 1,
            deliveries: 1
        }
    );
    assert!(store.get_event(done_ev.id).expect("get").is_none());
    assert!(store.get_delivery(done.id).expect("get").is_none());
    assert!(
        store
            .find_by_idempotency_key("done")
            .expect("find")
            .is_none()
    );
    assert!(store.get_event(busy_ev.id).expect("get").is_some());
}

fn the_subscription_snapshot_follows_changes(store: &dyn Store) {
    let mut s = sub("webhook.webhook", &["*"], true);
    store.insert_subscription(&s).expect("insert");
    assert_eq!(store.subscriptions().expect("snapshot").len(), 1);
    s.enabled = false;
    store.update_subscription(&s).expect("update");
    assert!(!store.subscriptions().expect("snapshot")[0].enabled);
    assert!(store.delete_subscription(s.id).expect("delete"));
    assert!(store.subscriptions().expect("snapshot").is_empty());
    assert!(matches!(
        store.update_subscription(&s),
        Err(StoreError::NotFound { .. })
    ));
}

fn an_entry_written_behind_the_scan_cursor_is_still_claimed(store: &dyn Store) {
    let sub = SubscriptionId::new();
    let t = |s: i64| from_millis(1_700_000_000_000) + chrono::Duration::seconds(s);
    let ev = event_at(t(0), None);
    store
        .insert_event(&ev, &[delivery(&ev, sub, t(50))])
        .expect("insert");
    assert_eq!(store.claim_due(t(50), 10).expect("claim").len(), 1);
    // A writer whose clock lagged: its entry is due before the cursor.
    let late_ev = event_at(t(1), None);
    let late = delivery(&late_ev, sub, t(10));
    store
        .insert_event(&late_ev, std::slice::from_ref(&late))
        .expect("insert late");
    assert!(store.next_due().expect("next").is_some_and(|d| d <= t(50)));
    let claimed = store.claim_due(t(51), 10).expect("claim");
    assert_eq!(
        claimed.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![late.id]
    );
    assert!(store.claim_due(t(52), 10).expect("claim").is_empty());
}

fn the_status_machine_is_enforced_on_save(store: &dyn Store) {
    let now = Utc::now();
    let ev = event_at(now, None);
    let mut d = delivery(&ev, SubscriptionId::new(), now + chrono::Duration::hours(1));
    store
        .insert_event(&ev, std::slice::from_ref(&d))
        .expect("insert");
    d.state = DeliveryState::Succeeded;
    let err = store.save_delivery(&d, None, DeliveryStatus::Pending);
    assert!(
        matches!(err, Err(StoreError::Conflict(m)) if m.contains("cannot go from pending to succeeded"))
    );
    d.state = DeliveryState::Cancelled;
    store
        .save_delivery(&d, None, DeliveryStatus::Pending)
        .expect("pending → cancelled");
    assert_eq!(store.next_due().expect("next"), None);
}

fn an_entry_due_later_within_the_same_millisecond_is_not_left_behind(store: &dyn Store) {
    let base = from_millis(1_700_000_000_000);
    let ev = event_at(base, None);
    let sub = SubscriptionId::new();
    let us = chrono::Duration::microseconds;
    // Same millisecond; `later` sorts first (smaller id) but is due after `now`.
    let mut later = delivery(&ev, sub, base + us(700));
    let mut sooner = delivery(&ev, sub, base + us(100));
    if later.id > sooner.id {
        std::mem::swap(&mut later.id, &mut sooner.id);
    }
    store
        .insert_event(&ev, &[later.clone(), sooner.clone()])
        .expect("insert");
    let first = store.claim_due(base + us(300), 10).expect("claim");
    let second = store.claim_due(base + us(1500), 10).expect("claim");
    let mut ids: Vec<DeliveryId> = first.iter().chain(&second).map(|d| d.id).collect();
    ids.sort();
    let mut want = vec![later.id, sooner.id];
    want.sort();
    assert_eq!(ids, want, "each claimed exactly once, none left behind");
}

fn batched_saves_check_each_write_on_its_own(store: &dyn Store) {
    let now = Utc::now();
    let ev = event_at(now, None);
    let sub_id = SubscriptionId::new();
    let (a, b) = (delivery(&ev, sub_id, now), delivery(&ev, sub_id, now));
    store
        .insert_event(&ev, &[a.clone(), b.clone()])
        .expect("insert");
    let claimed = store.claim_due(now, 10).expect("claim");
    assert_eq!(claimed.len(), 2);
    let done = |d: &Delivery, expected| SaveDelivery {
        delivery: Delivery {
            state: DeliveryState::Succeeded,
            attempts: 1,
            ..d.clone()
        },
        attempt: None,
        expected,
    };
    // The first write is right; the second expects the wrong status; the third names a
    // delivery that does not exist.
    let ghost = delivery(&ev, sub_id, now);
    let results = store
        .write_batch(
            &[],
            &[
                done(&a, DeliveryStatus::InFlight),
                done(&b, DeliveryStatus::Pending),
                done(&ghost, DeliveryStatus::InFlight),
            ],
        )
        .saves;
    assert!(results[0].is_ok());
    assert!(matches!(results[1], Err(StoreError::Conflict(_))));
    assert!(matches!(results[2], Err(StoreError::NotFound { .. })));
    let status = |id| store.get_delivery(id).expect("get").map(|d| d.status());
    assert_eq!(status(a.id), Some(DeliveryStatus::Succeeded));
    // Still claimed, so still shown in flight, and not claimable again.
    assert_eq!(status(b.id), Some(DeliveryStatus::InFlight));
    assert!(store.claim_due(now, 10).expect("claim").is_empty());
    assert!(status(ghost.id).is_none());
}

fn event_types_are_read_through_a_cache_that_follows_changes(store: &dyn Store) {
    let now = Utc::now();
    let mut t = crate::model::EventType {
        id: "incident.incident.created".into(),
        display_name: "Incident created".into(),
        description: String::new(),
        category: "incident".into(),
        payload_schema: None,
        created_at: now,
        updated_at: now,
        correlation_path: None,
    };
    store.put_event_type(&t).expect("put");
    let read = |s: &dyn Store| {
        s.get_event_type(&t.id)
            .expect("get")
            .map(|t| t.display_name)
    };
    assert_eq!(read(store).as_deref(), Some("Incident created"));
    t.display_name = "Incident opened".into();
    store.put_event_type(&t).expect("put again");
    assert_eq!(read(store).as_deref(), Some("Incident opened"));
    assert!(store.get_event_type("nope").expect("get").is_none());
}

fn a_batch_checks_each_event_on_its_own_even_against_an_earlier_one_in_the_batch(
    store: &dyn Store,
) {
    let now = Utc::now();
    let sub = SubscriptionId::new();
    let record = |key: Option<&str>| {
        let event = event_at(now, key);
        let deliveries = vec![delivery(&event, sub, now)];
        NewEventRecord { event, deliveries }
    };
    let (first, twin, plain) = (record(Some("k")), record(Some("k")), record(None));
    let results = store
        .write_batch(&[first.clone(), twin.clone(), plain.clone()], &[])
        .events;
    assert!(matches!(results[0], Ok(InsertEvent::Inserted { .. })));
    match &results[1] {
        Ok(InsertEvent::Duplicate { event, deliveries }) => {
            assert_eq!(event.id, first.event.id);
            assert_eq!(deliveries, &first.deliveries);
        }
        other => panic!("the twin should be a duplicate of the first, got {other:?}"),
    }
    assert!(matches!(results[2], Ok(InsertEvent::Inserted { .. })));
    assert!(store.get_event(twin.event.id).expect("get").is_none());
    assert!(
        store
            .get_delivery(twin.deliveries[0].id)
            .expect("get")
            .is_none()
    );
    // Both inserted events' deliveries are due now.
    let due: Vec<DeliveryId> = store
        .claim_due(now, 10)
        .expect("claim")
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(due.len(), 2);
    assert!(due.contains(&first.deliveries[0].id) && due.contains(&plain.deliveries[0].id));
}

fn a_batch_writes_new_events_and_results_together(store: &dyn Store) {
    let now = Utc::now();
    let sub = SubscriptionId::new();
    let old = event_at(now, None);
    let d = delivery(&old, sub, now);
    store
        .insert_event(&old, std::slice::from_ref(&d))
        .expect("insert");
    let claimed = store.claim_due(now, 1).expect("claim").remove(0);
    let mut done = claimed.clone();
    done.state = DeliveryState::Succeeded;
    let new = event_at(now, None);
    let fresh = delivery(&new, sub, now);
    let results = store.write_batch(
        &[NewEventRecord {
            event: new.clone(),
            deliveries: vec![fresh.clone()],
        }],
        &[SaveDelivery {
            delivery: done,
            attempt: None,
            expected: DeliveryStatus::InFlight,
        }],
    );
    assert!(matches!(
        results.events[..],
        [Ok(InsertEvent::Inserted { .. })]
    ));
    assert!(matches!(results.saves[..], [Ok(())]));
    let status = |id| store.get_delivery(id).expect("get").map(|d| d.status());
    assert_eq!(status(d.id), Some(DeliveryStatus::Succeeded));
    assert_eq!(status(fresh.id), Some(DeliveryStatus::Pending));
}

/// A delivery of `sub` with correlation `key`, published at `at`.
fn correlated(store: &dyn Store, sub: SubscriptionId, key: &str, at: DateTime<Utc>) -> Delivery {
    let mut event = event_at(at, None);
    event.correlation_key = Some(key.into());
    let mut d = delivery(&event, sub, at);
    d.correlation_key = Some(key.into());
    let InsertEvent::Inserted { waiting } = store
        .insert_event(&event, std::slice::from_ref(&d))
        .expect("insert")
    else {
        panic!("not inserted");
    };
    if waiting.contains(&d.id) {
        d.state = DeliveryState::Waiting;
    }
    d
}

fn ended(store: &dyn Store, d: &Delivery, state: DeliveryState, at: DateTime<Utc>) {
    let mut done = d.clone();
    done.state = state;
    done.updated_at = at;
    done.attempts = 1;
    store
        .save_delivery(&done, None, d.status())
        .expect("save the end of the delivery");
}

fn correlated_deliveries_wait_for_the_one_ahead_and_go_when_it_ends(store: &dyn Store) {
    let now = Utc::now();
    let sub = SubscriptionId::new();
    let first = correlated(store, sub, "inc-1", now);
    let second = correlated(store, sub, "inc-1", now);
    let third = correlated(store, sub, "inc-1", now);
    let other_key = correlated(store, sub, "inc-2", now);
    let other_sub = correlated(store, SubscriptionId::new(), "inc-1", now);
    assert_eq!(first.status(), DeliveryStatus::Pending);
    assert_eq!(second.status(), DeliveryStatus::Waiting);
    assert_eq!(third.status(), DeliveryStatus::Waiting);
    assert_eq!(
        other_key.status(),
        DeliveryStatus::Pending,
        "keys are independent"
    );
    assert_eq!(
        other_sub.status(),
        DeliveryStatus::Pending,
        "subscriptions too"
    );
    let due: Vec<DeliveryId> = store
        .claim_due(now, 10)
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert!(due.contains(&first.id) && !due.contains(&second.id) && !due.contains(&third.id));

    // The head fails: the next one becomes due; the history says what happened.
    let mut head = first.clone();
    head.state = DeliveryState::InFlight { due: now };
    ended(store, &head, DeliveryState::Failed, now);
    let stored = |id| store.get_delivery(id).unwrap().unwrap();
    assert_eq!(stored(second.id).status(), DeliveryStatus::Pending);
    assert_eq!(stored(third.id).status(), DeliveryStatus::Waiting);
    let history = store.correlation_history(sub, "inc-1").unwrap();
    assert_eq!(history.len(), 1);
    assert!(!history[0].delivered && history[0].delivery_id == first.id);
    assert!(
        store
            .claim_due(now, 10)
            .unwrap()
            .iter()
            .any(|d| d.id == second.id)
    );
}

fn a_waiting_delivery_put_back_after_the_one_ahead_ended_is_scheduled(store: &dyn Store) {
    let now = Utc::now();
    let sub = SubscriptionId::new();
    let first = correlated(store, sub, "inc-1", now);
    let second = correlated(store, sub, "inc-1", now);
    // A manual attempt starts the waiting one; meanwhile the head succeeds.
    store.claim(second.id, now).expect("manual claim");
    assert!(
        store
            .claim_due(now, 10)
            .unwrap()
            .iter()
            .any(|c| c.id == first.id)
    );
    let mut head = first.clone();
    head.state = DeliveryState::InFlight { due: now };
    ended(store, &head, DeliveryState::Succeeded, now);
    // The manual attempt fails and puts it back to waiting: nothing is ahead any more.
    let mut back = second.clone();
    back.state = DeliveryState::Waiting;
    store
        .save_delivery(&back, None, DeliveryStatus::InFlight)
        .expect("put back");
    let d = store.get_delivery(second.id).unwrap().unwrap();
    assert_eq!(d.status(), DeliveryStatus::Pending, "{d:?}");
    assert!(
        store
            .claim_due(now, 10)
            .unwrap()
            .iter()
            .any(|c| c.id == second.id)
    );
}

fn modify_reruns_on_a_concurrent_update_and_never_overwrites_it(store: &dyn Store) {
    let s = sub("webhook.webhook", &["*"], true);
    store.insert_subscription(&s).expect("insert");
    let mut calls = 0;
    let wrote = store
        .modify_subscription(s.id, &mut |stored| {
            calls += 1;
            if calls == 1 {
                // Another writer gets in between this read and the write below.
                let mut other = stored.clone();
                other.name = "renamed meanwhile".into();
                store
                    .update_subscription(&other)
                    .expect("concurrent update");
            }
            let mut next = stored.clone();
            next.config = json!({"token": "resealed"});
            Some(next)
        })
        .expect("modify");
    assert!(wrote);
    assert_eq!(calls, 2, "re-run on the newer record");
    let stored = store.get_subscription(s.id).expect("get").expect("present");
    assert_eq!(stored.name, "renamed meanwhile");
    assert_eq!(stored.config, json!({"token": "resealed"}));
    assert_eq!(
        store.subscriptions().expect("snapshot")[0].config,
        stored.config
    );
    let none = store.modify_subscription(SubscriptionId::new(), &mut |s| Some(s.clone()));
    assert!(!none.expect("absent is no error"));
    assert!(
        !store
            .modify_subscription(s.id, &mut |_| None)
            .expect("no change")
    );
}

fn history_outlives_a_chain_by_the_retention_and_stays_bounded(store: &dyn Store) {
    let long_ago = Utc::now() - chrono::Duration::days(30);
    let sub = SubscriptionId::new();
    // inc-1 ended long ago with nothing pending: forgotten. inc-2 has one pending
    // delivery: its history stays, cut to the newest ones. inc-3 ended recently: kept.
    for _ in 0..3 {
        let d = correlated(store, sub, "inc-1", long_ago);
        ended(store, &d, DeliveryState::Failed, long_ago);
    }
    let extra = 5;
    for _ in 0..CORRELATION_HISTORY + extra {
        let d = correlated(store, sub, "inc-2", long_ago);
        ended(store, &d, DeliveryState::Failed, long_ago);
    }
    let open_one = correlated(store, sub, "inc-2", long_ago);
    let recent = correlated(store, sub, "inc-3", Utc::now());
    ended(store, &recent, DeliveryState::Failed, Utc::now());
    assert_eq!(store.correlation_history(sub, "inc-1").unwrap().len(), 3);
    store
        .purge_finished(Utc::now() - chrono::Duration::days(1))
        .expect("purge");
    assert!(store.correlation_history(sub, "inc-1").unwrap().is_empty());
    let kept = store.correlation_history(sub, "inc-2").unwrap();
    assert_eq!(kept.len(), CORRELATION_HISTORY);
    assert_eq!(store.correlation_history(sub, "inc-3").unwrap().len(), 1);
    // The open delivery still heads its chain: the next one waits behind it.
    let behind = correlated(store, sub, "inc-2", Utc::now());
    assert_eq!(open_one.status(), DeliveryStatus::Pending);
    assert_eq!(behind.status(), DeliveryStatus::Waiting);
}

/// Ends a claimed correlated delivery with a successful attempt that returned `external_id`.
fn delivered(store: &dyn Store, d: &Delivery, external_id: &str, at: DateTime<Utc>) {
    let mut claimed = store
        .claim_due(at, 100)
        .unwrap()
        .into_iter()
        .find(|c| c.id == d.id)
        .expect("due");
    claimed.state = DeliveryState::Succeeded;
    claimed.attempts = 1;
    claimed.updated_at = at;
    let attempt = crate::model::Attempt {
        delivery_id: d.id,
        number: 1,
        trigger: AttemptTrigger::Scheduled,
        started_at: at,
        ended_at: at,
        duration_ms: 0,
        outcome: AttemptOutcome::Delivered,
        error: None,
        status_code: Some(200),
        external_id: Some(external_id.into()),
        retry_after_ms: None,
        next_attempt_at: None,
        response_excerpt: None,
        state: Some(format!("{{\"ts\":\"{external_id}\"}}")),
    };
    store
        .save_delivery(&claimed, Some(&attempt), DeliveryStatus::InFlight)
        .expect("save the success");
}

#[test]
fn the_history_read_from_memory_follows_every_end_and_matches_the_store() {
    let (dir, owned) = open();
    let store = &owned;
    let now = Utc::now();
    let sub = SubscriptionId::new();
    let first = correlated(store, sub, "inc-1", now);
    let second = correlated(store, sub, "inc-1", now);
    // An end without an attempt drops the chain from memory; the next read scans the store.
    ended(store, &first, DeliveryState::Failed, now);
    assert_eq!(store.correlation_history(sub, "inc-1").unwrap().len(), 1);
    // From here on the reads come from memory, which each end must keep in step. (Ends in
    // distinct milliseconds: within one, the store orders them by id.)
    delivered(
        store,
        &second,
        "m-1",
        now + chrono::Duration::milliseconds(2),
    );
    let later = now + chrono::Duration::milliseconds(5);
    let third = correlated(store, sub, "inc-1", later);
    delivered(store, &third, "m-2", later);
    let cached = store.correlation_history(sub, "inc-1").unwrap();
    let ids: Vec<_> = cached.iter().map(|e| e.external_id.as_deref()).collect();
    assert_eq!(ids, [Some("m-2"), Some("m-1"), None]);
    assert_eq!(cached[0].state.as_deref(), Some("{\"ts\":\"m-2\"}"));
    // What a fresh process reads from disk is the same.
    drop(owned);
    let reopened = SledStore::open(dir.path()).expect("reopen");
    assert_eq!(reopened.correlation_history(sub, "inc-1").unwrap(), cached);
}

/// Chains are kept in memory and only a chain of two or more has a record on disk; a chain of
/// one is found again through its delivery's schedule entry. Either way, after reopening, a new
/// delivery of the key still waits behind the ones that have not ended.
#[test]
fn chains_survive_reopening_with_and_without_their_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = Utc::now();
    let sub = SubscriptionId::new();
    let reopen = |store: SledStore| {
        store.flush().expect("flush");
        drop(store);
        SledStore::open(dir.path()).expect("reopen")
    };
    let store = SledStore::open(dir.path()).expect("open");
    // A chain of one (no record), a chain of two (a record), and one that went from two to one
    // when its head ended (the promoted one is scheduled with its chain key).
    let alone = correlated(&store, sub, "alone", now);
    let pair = [
        correlated(&store, sub, "pair", now),
        correlated(&store, sub, "pair", now),
    ];
    let shrunk = [
        correlated(&store, sub, "shrunk", now),
        correlated(&store, sub, "shrunk", now),
    ];
    ended(&store, &shrunk[0], DeliveryState::Failed, now);
    // One claimed at the crash: its schedule entry moved, and still names the chain.
    let claimed = store.claim(alone.id, now).expect("claim");
    assert_eq!(claimed.delivery.id, alone.id);
    // One redelivered by hand after it had ended: not in its chain, at the crash or after.
    let redelivered = correlated(&store, sub, "redelivered", now);
    ended(&store, &redelivered, DeliveryState::Failed, now);
    store.claim(redelivered.id, now).expect("manual claim");
    let store = reopen(store);
    let after = correlated(&store, sub, "redelivered", now);
    assert_eq!(
        after.status(),
        DeliveryStatus::Pending,
        "nothing is ahead of it"
    );
    let mut after_reopen = Vec::new();
    for key in ["alone", "pair", "shrunk"] {
        let later = correlated(&store, sub, key, now);
        assert_eq!(
            later.status(),
            DeliveryStatus::Waiting,
            "a new {key} delivery waits"
        );
        after_reopen.push(later);
    }
    // The pair's head ends: its second goes ahead, the one published after reopening waits.
    let stored = |store: &SledStore, id| store.get_delivery(id).unwrap().unwrap();
    ended(&store, &pair[0], DeliveryState::Failed, now);
    assert_eq!(stored(&store, pair[1].id).status(), DeliveryStatus::Pending);
    assert_eq!(
        stored(&store, after_reopen[1].id).status(),
        DeliveryStatus::Waiting
    );
    let store = reopen(store);
    let last = correlated(&store, sub, "pair", now);
    assert_eq!(last.status(), DeliveryStatus::Waiting);
    // Each end lets the next one go, in publish order.
    ended(
        &store,
        &stored(&store, pair[1].id),
        DeliveryState::Failed,
        now,
    );
    assert_eq!(
        stored(&store, after_reopen[1].id).status(),
        DeliveryStatus::Pending
    );
    assert_eq!(stored(&store, last.id).status(), DeliveryStatus::Waiting);
    ended(
        &store,
        &stored(&store, after_reopen[1].id),
        DeliveryState::Failed,
        now,
    );
    assert_eq!(stored(&store, last.id).status(), DeliveryStatus::Pending);
}

fn a_claim_keeps_the_due_time_and_reports_the_state_it_took(store: &dyn Store) {
    let due = from_millis(to_millis(Utc::now()) - 60_000);
    let ev = event_at(due, None);
    let d = delivery(&ev, SubscriptionId::new(), due);
    store
        .insert_event(&ev, std::slice::from_ref(&d))
        .expect("insert");
    let state = |id| store.get_delivery(id).expect("get").expect("present").state;
    let mut claimed = store.claim_due(Utc::now(), 10).expect("claim").remove(0);
    assert_eq!(claimed.state, DeliveryState::InFlight { due });
    assert_eq!(
        state(d.id),
        DeliveryState::InFlight { due },
        "reads show the claim"
    );
    let retry_at = due + chrono::Duration::hours(1);
    claimed.state = DeliveryState::Retrying { due: retry_at };
    store
        .save_delivery(&claimed, None, DeliveryStatus::InFlight)
        .expect("save the retry");
    assert_eq!(state(d.id), DeliveryState::Retrying { due: retry_at });
    // A manual claim of a scheduled delivery keeps its due time and hands back what it took.
    let now = from_millis(to_millis(Utc::now()));
    let manual = store.claim(d.id, now).expect("manual claim");
    assert_eq!(manual.previous, DeliveryState::Retrying { due: retry_at });
    assert_eq!(
        manual.delivery.state,
        DeliveryState::InFlight { due: retry_at }
    );
    let mut failed = manual.delivery;
    failed.state = DeliveryState::Failed;
    store
        .save_delivery(&failed, None, DeliveryStatus::InFlight)
        .expect("save the failure");
    // One that had no due time runs from the claim's time.
    let later = now + chrono::Duration::seconds(1);
    let manual = store
        .claim(d.id, later)
        .expect("manual claim of a failed one");
    assert_eq!(manual.previous, DeliveryState::Failed);
    assert_eq!(
        manual.delivery.state,
        DeliveryState::InFlight { due: later }
    );
    assert_eq!(state(d.id), DeliveryState::InFlight { due: later });
}

/// Runs each named test (a `fn(&dyn Store)`) on both stores.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod on_sled {
            $(
                #[test]
                fn $name() {
                    let (_dir, store) = super::open();
                    super::$name(&store);
                }
            )*
        }
        mod on_postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(db) = crate::store::postgres::testing::TestDb::new() {
                        super::$name(&db.open());
                    }
                }
            )*
        }
    };
}

on_both_stores!(
    the_same_idempotency_key_returns_the_first_event_and_writes_nothing,
    claiming_takes_only_due_work_and_marks_it_in_flight,
    saving_checks_the_expected_status_and_moves_the_indexes,
    subscription_list_total_counts_matches_after_filtering,
    delivery_list_filters_by_subscription_status_and_time_newest_first,
    purge_removes_old_events_whose_deliveries_are_all_final,
    the_subscription_snapshot_follows_changes,
    an_entry_written_behind_the_scan_cursor_is_still_claimed,
    the_status_machine_is_enforced_on_save,
    an_entry_due_later_within_the_same_millisecond_is_not_left_behind,
    batched_saves_check_each_write_on_its_own,
    event_types_are_read_through_a_cache_that_follows_changes,
    a_batch_checks_each_event_on_its_own_even_against_an_earlier_one_in_the_batch,
    a_batch_writes_new_events_and_results_together,
    correlated_deliveries_wait_for_the_one_ahead_and_go_when_it_ends,
    a_waiting_delivery_put_back_after_the_one_ahead_ended_is_scheduled,
    modify_reruns_on_a_concurrent_update_and_never_overwrites_it,
    history_outlives_a_chain_by_the_retention_and_stays_bounded,
    a_claim_keeps_the_due_time_and_reports_the_state_it_took,
);

// After the macro, which it uses.
mod lifecycle;
