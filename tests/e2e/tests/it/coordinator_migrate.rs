//! Config versions end to end: subscriptions are created while the fixture plugin's `linked`
//! provider reports config version 1 (`tag`), the coordinator is stopped and started again with
//! the plugin at version 2 (`labels`). A config the plugin can migrate is stored upgraded, with
//! version 2, and deliveries use it; one it refuses leaves its subscription disabled with the
//! reason visible through the API and the stored config untouched.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard::cli::client::Clients;
use switchyard_e2e::coordinator::{
    Coordinator, assert_not_in_data_dir, create_subscription, publish, register_incident,
    wait_final, with_fixture_args,
};
use switchyard_plugin_sdk::testkit::{HttpSink, RecordedRequest};
use switchyard_proto::coordinator::v1 as api;

const TOKEN: &str = "tok-MIGRATE-PLAINTEXT-51aa";
const SIGNING_KEY: &str = "sig-MIGRATE-PLAINTEXT-0b9e";
const WAIT: Duration = Duration::from_secs(30);

/// A coordinator whose fixture reports `linked` config version 1, with the incident event
/// type and one `linked` connection to `sink`; returns the connection id.
async fn start_at_v1(sink: &HttpSink) -> (Coordinator, Clients, String) {
    let coord = Coordinator::start(with_fixture_args(&["good", "--config-version", "1"])).await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    let req = api::CreateConnectionRequest {
        provider_id: "fixture.linked".into(),
        name: "linked".into(),
        config_json: json!({"baseUrl": sink.url(), "apiToken": TOKEN, "nested": {"region": "eu"}})
            .to_string(),
    };
    let conn = c
        .connections
        .create_connection(req)
        .await
        .expect("create the connection")
        .into_inner()
        .connection
        .expect("a connection");
    (coord, c, conn.id)
}

/// Stops the coordinator and starts it again on the same data dir with the fixture at `linked`
/// config version 2.
async fn restart_at_v2(coord: &mut Coordinator) -> Clients {
    let status = coord.terminate().await;
    assert!(status.success(), "{status}");
    coord.options_mut().extra_plugins =
        with_fixture_args(&["good", "--config-version", "2"]).extra_plugins;
    coord.restart().await;
    coord.clients().await
}

async fn linked_subscription(c: &mut Clients, name: &str, config: Value) -> api::Subscription {
    let sub = api::Subscription {
        name: name.into(),
        provider_id: "fixture.linked".into(),
        config_json: config.to_string(),
        event_types: vec!["incident.*".into()],
        enabled: true,
        ..api::Subscription::default()
    };
    create_subscription(c, sub).await
}

async fn get_subscription(c: &mut Clients, id: &str) -> api::Subscription {
    c.subscriptions
        .get_subscription(api::GetSubscriptionRequest { id: id.into() })
        .await
        .expect("get the subscription")
        .into_inner()
        .subscription
        .expect("a subscription")
}

/// Publishes one incident, waits for every delivery to finish and returns the requests the
/// sink got for it.
async fn deliver_one(c: &mut Clients, sink: &HttpSink, incident: &str) -> Vec<RecordedRequest> {
    let before = sink.request_count();
    let published = publish(c, json!({"incidentId": incident, "title": "t"}), "").await;
    for d in &published.deliveries {
        let d = wait_final(c, &d.id).await;
        assert_eq!(d.status(), api::DeliveryStatus::Succeeded, "{d:?}");
    }
    let all = sink
        .wait_for_requests(before + published.deliveries.len(), WAIT)
        .await;
    all[before..].to_vec()
}

fn config_of(sub: &api::Subscription) -> Value {
    serde_json::from_str(&sub.config_json).expect("config_json is JSON")
}

#[tokio::test]
async fn a_v1_config_is_migrated_on_restart_and_deliveries_use_it() {
    let sink = HttpSink::start().await;
    let (mut coord, mut c, conn) = start_at_v1(&sink).await;
    let config = json!({
        "connectionId": conn, "project": "alpha", "tag": "red,blue", "signingKey": SIGNING_KEY,
    });
    let sub = linked_subscription(&mut c, "tagged", config).await;
    assert_eq!(sub.config_version, 1);
    assert_eq!(config_of(&sub)["signingKey"], json!("[REDACTED]"));
    let v1 = deliver_one(&mut c, &sink, "before").await;
    assert_eq!(v1.len(), 1);
    assert_eq!(v1[0].header("x-linked-config-version"), Some("1"));
    assert_eq!(v1[0].header("x-linked-tag"), Some("red,blue"));
    drop(c);

    let mut c = restart_at_v2(&mut coord).await;
    let migrated = get_subscription(&mut c, &sub.id).await;
    assert_eq!(migrated.config_version, 2, "{migrated:?}");
    assert!(migrated.enabled, "{migrated:?}");
    assert!(migrated.disabled_reason.is_empty(), "{migrated:?}");
    let stored = config_of(&migrated);
    assert_eq!(stored["labels"], json!(["red", "blue"]), "{stored}");
    assert_eq!(stored["project"], json!("alpha"));
    assert_eq!(stored["connectionId"], json!(conn));
    assert!(stored.get("tag").is_none(), "{stored}");
    assert_eq!(stored["signingKey"], json!("[REDACTED]"), "{stored}");

    let v2 = deliver_one(&mut c, &sink, "after").await;
    assert_eq!(v2.len(), 1);
    assert_eq!(v2[0].header("x-linked-config-version"), Some("2"));
    assert_eq!(v2[0].header("x-linked-labels"), Some("red,blue"));
    assert_eq!(
        v2[0].header("x-api-token"),
        Some(TOKEN),
        "the connection survived"
    );
    assert_eq!(
        v2[0].header("x-signing-key"),
        Some(SIGNING_KEY),
        "the subscription's secret survived the migration"
    );
    assert_eq!(v2[0].json()["data"]["incidentId"], json!("after"));

    // The upgrade was stored: another restart at version 2 finds nothing left to migrate.
    drop(c);
    let mut c = restart_at_v2(&mut coord).await;
    let again = get_subscription(&mut c, &sub.id).await;
    assert_eq!(
        (again.config_version, again.config_json),
        (2, migrated.config_json)
    );

    // The migrated config was stored with its secret encrypted again.
    drop(c);
    let status = coord.terminate().await;
    assert!(status.success(), "{status}");
    for secret in [TOKEN, SIGNING_KEY] {
        assert!(!coord.stderr().contains(secret), "a secret is in the logs");
        assert_not_in_data_dir(&coord, secret);
    }
}

#[tokio::test]
async fn a_failed_migration_disables_the_subscription_with_the_reason_and_loses_nothing() {
    let sink = HttpSink::start().await;
    let (mut coord, mut c, conn) = start_at_v1(&sink).await;
    let good = json!({"connectionId": conn, "project": "alpha", "tag": "ok"});
    let good = linked_subscription(&mut c, "good", good).await;
    let bad_config = json!({"connectionId": conn, "project": "beta", "tag": "needs review"});
    let bad = linked_subscription(&mut c, "bad", bad_config.clone()).await;
    assert_eq!(deliver_one(&mut c, &sink, "before").await.len(), 2);
    drop(c);

    let mut c = restart_at_v2(&mut coord).await;
    let refused = get_subscription(&mut c, &bad.id).await;
    assert!(!refused.enabled, "{refused:?}");
    let reason = &refused.disabled_reason;
    assert!(reason.contains("from version 1 to 2"), "{reason}");
    assert!(reason.contains("/tag"), "{reason}");
    assert!(reason.contains("whitespace"), "{reason}");
    assert_eq!(
        refused.config_version, 1,
        "the stored config stays as it was"
    );
    let kept = config_of(&refused);
    for key in ["connectionId", "project", "tag"] {
        assert_eq!(kept[key], bad_config[key], "{kept}");
    }

    let disabled = c
        .subscriptions
        .list_subscriptions(api::ListSubscriptionsRequest {
            enabled: Some(false),
            ..api::ListSubscriptionsRequest::default()
        })
        .await
        .expect("list disabled subscriptions")
        .into_inner();
    let ids: Vec<&str> = disabled
        .subscriptions
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(ids, [bad.id.as_str()]);

    // Only the migrated subscription gets the next event.
    assert_eq!(get_subscription(&mut c, &good.id).await.config_version, 2);
    let after = deliver_one(&mut c, &sink, "after").await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].header("x-linked-labels"), Some("ok"));
    assert_eq!(after[0].json()["project"], json!("alpha"));
}

#[tokio::test]
async fn a_refused_config_is_migrated_again_when_enabled_and_fixed_by_an_update() {
    let sink = HttpSink::start().await;
    let (mut coord, mut c, conn) = start_at_v1(&sink).await;
    let bad_config = json!({"connectionId": conn, "project": "beta", "tag": "needs review"});
    let bad = linked_subscription(&mut c, "bad", bad_config).await;
    drop(c);
    let mut c = restart_at_v2(&mut coord).await;

    // Enabled by hand, the next delivery tries the migration again: it fails permanently with
    // the reason, nothing reaches the server, and the subscription is disabled again.
    let enabled = c
        .subscriptions
        .enable_subscription(api::EnableSubscriptionRequest { id: bad.id.clone() })
        .await
        .expect("enable")
        .into_inner()
        .subscription
        .expect("a subscription");
    assert!(
        enabled.enabled && enabled.disabled_reason.is_empty(),
        "{enabled:?}"
    );
    let published = publish(&mut c, json!({"incidentId": "x", "title": "t"}), "").await;
    assert_eq!(published.deliveries.len(), 1);
    let d = wait_final(&mut c, &published.deliveries[0].id).await;
    assert_eq!(d.status(), api::DeliveryStatus::Failed, "{d:?}");
    assert!(d.last_error.contains("/tag"), "{d:?}");
    let again = get_subscription(&mut c, &bad.id).await;
    assert!(
        !again.enabled && again.disabled_reason.contains("/tag"),
        "{again:?}"
    );
    let none = publish(&mut c, json!({"incidentId": "y", "title": "t"}), "").await;
    assert!(none.deliveries.is_empty(), "{none:?}");
    assert_eq!(sink.request_count(), 0);

    // A user fixes it with a version 2 config: stored at version 2, enabled, delivered.
    let mut fixed = again;
    fixed.config_json =
        json!({"connectionId": conn, "project": "beta", "labels": ["needs-review"]}).to_string();
    fixed.enabled = true;
    let updated = c
        .subscriptions
        .update_subscription(api::UpdateSubscriptionRequest {
            subscription: Some(fixed),
        })
        .await
        .expect("update with a version 2 config")
        .into_inner()
        .subscription
        .expect("a subscription");
    assert_eq!(updated.config_version, 2, "{updated:?}");
    assert!(
        updated.enabled && updated.disabled_reason.is_empty(),
        "{updated:?}"
    );
    let after = deliver_one(&mut c, &sink, "z").await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].header("x-linked-labels"), Some("needs-review"));
}
