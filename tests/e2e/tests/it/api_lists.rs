//! Listing, watching and bulk operations of the platform API against the real coordinator:
//! subscription filters with paging and a `total` that respects the filters, the
//! `WatchDeliveries` stream, bulk redelivery of a subscription's failed deliveries, delivery
//! list filters and stats.

use std::time::Duration;

use serde_json::json;
use switchyard_e2e::coordinator::{
    Coordinator, create_subscription, publish, register_incident, wait_final, webhook_subscription,
};
use switchyard_plugin_sdk::testkit::{HttpSink, ResponseSpec};
use switchyard_proto::coordinator::v1 as api;

#[tokio::test]
async fn subscription_lists_filter_before_paging() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    for n in 0..5 {
        let mut sub = webhook_subscription(&format!("s{n}"), "http://127.0.0.1:9");
        sub.enabled = n % 2 == 0;
        create_subscription(&mut c, sub).await;
    }
    let list = |page_token: String| api::ListSubscriptionsRequest {
        enabled: Some(true),
        page_size: 2,
        page_token,
        ..Default::default()
    };
    let first = c
        .subscriptions
        .list_subscriptions(list(String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.total, 3, "total counts the enabled ones only");
    assert_eq!(first.subscriptions.len(), 2);
    assert!(!first.next_page_token.is_empty());
    let second = c
        .subscriptions
        .list_subscriptions(list(first.next_page_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((second.subscriptions.len(), second.total), (1, 3));
    assert!(second.next_page_token.is_empty());
    assert!(
        first
            .subscriptions
            .iter()
            .chain(&second.subscriptions)
            .all(|s| s.enabled)
    );

    let by_type = api::ListSubscriptionsRequest {
        event_type: "maintenance.maintenance.created".into(),
        ..Default::default()
    };
    let none = c
        .subscriptions
        .list_subscriptions(by_type)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        none.total, 0,
        "incident.* does not match maintenance events"
    );
}

#[tokio::test]
async fn watch_streams_status_changes_and_bulk_redelivery_replays_failures() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    let sink = HttpSink::start().await;
    for _ in 0..2 {
        sink.push_response(ResponseSpec::status(410));
    }
    register_incident(&mut c).await;
    let sub = create_subscription(&mut c, webhook_subscription("watched", &sink.url())).await;
    let watch = api::WatchDeliveriesRequest {
        subscription_id: sub.id.clone(),
        event_id: String::new(),
    };
    let mut stream = c
        .deliveries
        .watch_deliveries(watch)
        .await
        .expect("watch")
        .into_inner();

    let a = publish(&mut c, json!({"incidentId": "a", "title": "t"}), "")
        .await
        .deliveries[0]
        .id
        .clone();
    let b = publish(&mut c, json!({"incidentId": "b", "title": "t"}), "")
        .await
        .deliveries[0]
        .id
        .clone();
    let failed = wait_failed(&mut stream, &sub.id, 2).await;
    assert!(failed.contains(&a) && failed.contains(&b));

    let failed_only = api::ListDeliveriesRequest {
        status: api::DeliveryStatus::Failed.into(),
        ..Default::default()
    };
    assert_eq!(
        c.deliveries
            .list_deliveries(failed_only)
            .await
            .unwrap()
            .into_inner()
            .total,
        2
    );

    let window_start = prost_types::Timestamp {
        seconds: 0,
        nanos: 0,
    };
    let bulk = api::BulkRedeliverDeliveriesRequest {
        subscription_id: sub.id.clone(),
        created_after: Some(window_start),
        created_before: None,
    };
    let r = c
        .deliveries
        .bulk_redeliver_deliveries(bulk)
        .await
        .expect("bulk redeliver")
        .into_inner();
    assert_eq!(r.redelivered, 2);
    for id in [&a, &b] {
        let d = switchyard_e2e::coordinator::wait_delivery(&mut c, id, |s| {
            s == api::DeliveryStatus::Succeeded
        })
        .await;
        assert_eq!(d.attempts, 2);
    }
    assert_eq!(
        wait_final(&mut c, &a).await.status(),
        api::DeliveryStatus::Succeeded
    );

    assert_stats(&mut c).await;
}

/// Reads the watch stream until `n` distinct deliveries of `sub` have failed.
async fn wait_failed(
    stream: &mut tonic::Streaming<api::WatchDeliveriesResponse>,
    sub: &str,
    n: usize,
) -> std::collections::HashSet<String> {
    let mut failed = std::collections::HashSet::new();
    while failed.len() < n {
        let msg = tokio::time::timeout(Duration::from_secs(30), stream.message())
            .await
            .expect("a status change within 30 s")
            .expect("the stream stays open")
            .expect("a message");
        let d = msg.delivery.expect("a delivery");
        assert_eq!(d.subscription_id, sub, "the stream is filtered");
        if d.status() == api::DeliveryStatus::Failed {
            failed.insert(d.id);
        }
    }
    failed
}

/// Two incident deliveries through the webhook provider in the last hour.
async fn assert_stats(c: &mut switchyard::cli::client::Clients) {
    let req = api::GetDeliveryStatsRequest { hours: 1 };
    let stats = c
        .deliveries
        .get_delivery_stats(req)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.total, 2);
    let by_type: Vec<(String, u64)> = stats
        .by_event_type
        .iter()
        .map(|k| (k.key.clone(), k.count))
        .collect();
    assert_eq!(by_type, [("incident.incident.created".to_owned(), 2)]);
    assert_eq!(stats.by_provider[0].key, "webhook.webhook");
}
