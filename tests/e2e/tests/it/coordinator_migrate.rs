//! Config versions end to end: subscriptions are created while the fixture plugin's `linked`
//! provider reports config version 1 (`tag`), the coordinator is stopped and started again with
//! the plugin at version 2 (`labels`). A config the plugin can migrate is stored upgraded, with
//! version 2, and deliveries use it; one it refuses leaves its subscription disabled with the
//! reason visible through the API and the stored config untouched.
//!
//! Connections likewise: created while `linked` reports connection version 1 (`apiToken`),
//! upgraded on a restart at version 2 (`accessToken`) with every secret still encrypted at rest,
//! redacted in responses and handed to the plugin decrypted at its new path; a connection the
//! plugin refuses keeps its old version and data, shows `migration_error` through the API, and
//! every subscription using it is disabled with the reason until the connection is fixed (enabling
//! one is refused, naming the connection; a manual redelivery through it fails at once, without
//! a plugin call). A refused config's secrets at paths only its old
//! version marked secret stay out of every response, encrypted or not.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard::cli::client::Clients;
use switchyard_e2e::coordinator::{
    Coordinator, assert_not_in_data_dir, attempts, create_subscription, get_subscription, publish,
    register_incident, wait_final, with_fixture_args,
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

// === Connection config versions ===

const EXTRA: &str = "tok-MIGRATE-NESTED-PLAINTEXT-7c21";
const LISTED: &str = "tok-MIGRATE-ARRAY-PLAINTEXT-e5d0";
const OTHER_TOKEN: &str = "tok-MIGRATE-OTHER-PLAINTEXT-42f8";
const CONN_SECRETS: [&str; 4] = [TOKEN, EXTRA, LISTED, OTHER_TOKEN];

/// A version 1 `linked` connection config (`apiToken`) to `sink` in `region`, with a nested
/// and an array-item secret.
fn v1_connection(sink: &HttpSink, token: &str, region: &str) -> Value {
    json!({
        "baseUrl": sink.url(),
        "apiToken": token,
        "nested": {"region": region, "extraSecret": EXTRA},
        "tokens": [{"name": "backup", "value": LISTED}],
    })
}

async fn create_connection(c: &mut Clients, name: &str, config: &Value) -> api::Connection {
    let req = api::CreateConnectionRequest {
        provider_id: "fixture.linked".into(),
        name: name.into(),
        config_json: config.to_string(),
    };
    c.connections
        .create_connection(req)
        .await
        .expect("create the connection")
        .into_inner()
        .connection
        .expect("a connection")
}

async fn get_connection(c: &mut Clients, id: &str) -> api::Connection {
    let conn = c
        .connections
        .get_connection(api::GetConnectionRequest { id: id.into() })
        .await
        .expect("get the connection")
        .into_inner()
        .connection
        .expect("a connection");
    assert_no_secret("GetConnection", &format!("{conn:?}"));
    conn
}

/// No plaintext secret and no encrypted value in `text`.
fn assert_no_secret(what: &str, text: &str) {
    for secret in CONN_SECRETS {
        assert!(!text.contains(secret), "a secret leaked in {what}: {text}");
    }
    assert!(
        !text.contains("$enc:"),
        "an encrypted value in {what}: {text}"
    );
}

/// Starts with `linked` at connection version 1 (config version 2).
async fn start_connection_v1() -> (Coordinator, Clients) {
    let coord = Coordinator::start(with_fixture_args(&["good"])).await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    (coord, c)
}

/// Stops the coordinator and starts it again on the same data dir with `linked` at connection
/// version 2.
async fn restart_connection_v2(coord: &mut Coordinator) -> Clients {
    let status = coord.terminate().await;
    assert!(status.success(), "{status}");
    coord.options_mut().extra_plugins =
        with_fixture_args(&["good", "--connection-version", "2"]).extra_plugins;
    coord.restart().await;
    coord.clients().await
}

/// Tests the saved connection `id` and returns the verdict and the `/check` request.
async fn test_saved(
    c: &mut Clients,
    sink: &HttpSink,
    id: &str,
) -> (api::TestConnectionResponse, RecordedRequest) {
    let before = sink.request_count();
    let verdict = c
        .connections
        .test_connection(saved_test(id))
        .await
        .expect("test the connection")
        .into_inner();
    let requests = sink.wait_for_requests(before + 1, WAIT).await;
    (verdict, requests[before].clone())
}

fn saved_test(id: &str) -> api::TestConnectionRequest {
    api::TestConnectionRequest {
        provider_id: "fixture.linked".into(),
        kind: api::ConfigKind::Connection.into(),
        config_json: String::new(),
        connection_id: id.into(),
    }
}

/// Stops the coordinator and checks that no secret reached its logs or its raw files.
async fn assert_secrets_kept(coord: &mut Coordinator) {
    let status = coord.terminate().await;
    assert!(status.success(), "{status}");
    for secret in CONN_SECRETS {
        assert!(!coord.stderr().contains(secret), "a secret is in the logs");
        assert_not_in_data_dir(coord, secret);
    }
}

#[tokio::test]
async fn a_v1_connection_is_migrated_on_restart_with_its_secrets_at_their_new_paths() {
    let sink = HttpSink::start().await;
    let (mut coord, mut c) = start_connection_v1().await;
    let conn = create_connection(&mut c, "linked", &v1_connection(&sink, TOKEN, "eu")).await;
    assert_eq!(conn.config_version, 1);
    let config = json!({"connectionId": conn.id, "project": "alpha", "labels": ["x"]});
    let sub = linked_subscription(&mut c, "uses the connection", config).await;
    drop(c);

    let mut c = restart_connection_v2(&mut coord).await;
    let migrated = get_connection(&mut c, &conn.id).await;
    assert_eq!(migrated.config_version, 2, "{migrated:?}");
    assert!(migrated.migration_error.is_empty(), "{migrated:?}");
    let stored: Value = serde_json::from_str(&migrated.config_json).expect("JSON");
    assert_eq!(stored["accessToken"], json!("[REDACTED]"), "{stored}");
    assert!(stored.get("apiToken").is_none(), "{stored}");
    assert_eq!(stored["nested"]["extraSecret"], json!("[REDACTED]"));
    assert_eq!(stored["nested"]["region"], json!("eu"));
    assert_eq!(stored["tokens"][0]["value"], json!("[REDACTED]"));

    // The plugin gets the migrated config decrypted: in a connection test and in a delivery.
    let (verdict, check) = test_saved(&mut c, &sink, &conn.id).await;
    assert!(verdict.success, "{verdict:?}");
    assert_eq!(check.path, "/check");
    assert_eq!(check.header("x-api-token"), Some(TOKEN));
    assert_eq!(check.header("x-extra-secret"), Some(EXTRA));
    assert_eq!(check.header("x-token-backup"), Some(LISTED));
    assert!(get_subscription(&mut c, &sub.id).await.enabled);
    let delivered = deliver_one(&mut c, &sink, "after").await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].header("x-api-token"), Some(TOKEN));

    // Stored once: another restart finds nothing left to migrate.
    drop(c);
    let mut c = restart_connection_v2(&mut coord).await;
    let again = get_connection(&mut c, &conn.id).await;
    assert_eq!(
        (again.config_version, again.config_json),
        (2, migrated.config_json)
    );
    drop(c);
    assert_secrets_kept(&mut coord).await;
}

#[tokio::test]
async fn a_refused_connection_disables_its_subscriptions_until_it_is_fixed() {
    let (bad_sink, good_sink) = (HttpSink::start().await, HttpSink::start().await);
    let (mut coord, mut c) = start_connection_v1().await;
    let bad_config = v1_connection(&bad_sink, TOKEN, "eu west");
    let bad = create_connection(&mut c, "spaced region", &bad_config).await;
    let good = create_connection(&mut c, "ok", &v1_connection(&good_sink, OTHER_TOKEN, "eu")).await;
    let config = |id: &str| json!({"connectionId": id, "project": "alpha"});
    let blocked = linked_subscription(&mut c, "blocked", config(&bad.id)).await;
    let fine = linked_subscription(&mut c, "fine", config(&good.id)).await;
    let earlier = delivered_to(&mut c, &blocked.id).await;
    assert_eq!(bad_sink.request_count(), 1);
    drop(c);

    let mut c = restart_connection_v2(&mut coord).await;
    assert_refused(&mut c, &bad, &bad_config).await;
    let disabled = get_subscription(&mut c, &blocked.id).await;
    assert!(!disabled.enabled, "{disabled:?}");
    let reason = &disabled.disabled_reason;
    for part in [bad.id.as_str(), "/nested/region", "from version 1 to 2"] {
        assert!(reason.contains(part), "{part:?} not in {reason}");
    }
    assert!(get_subscription(&mut c, &fine.id).await.enabled);

    // Nothing reaches the refused connection's server: no delivery, no connection test.
    let sent = deliver_one(&mut c, &good_sink, "after").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header("x-api-token"), Some(OTHER_TOKEN));
    let refused = c.connections.test_connection(saved_test(&bad.id)).await;
    let status = refused.expect_err("a connection that was not migrated is not tested");
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("/nested/region"), "{status:?}");
    // A manual redelivery of an earlier delivery fails at once without calling the plugin.
    let refused = manual_attempt(&mut c, &earlier).await;
    assert_eq!(
        refused.outcome(),
        api::AttemptOutcome::Permanent,
        "{refused:?}"
    );
    for part in [bad.id.as_str(), "cannot be used", "/nested/region"] {
        assert!(refused.error.contains(part), "{part:?} not in {refused:?}");
    }
    assert_eq!(bad_sink.request_count(), 1, "nothing more reached it");

    assert_enable_refused(&mut c, &bad.id, &blocked).await;
    fix_and_enable(&mut c, &bad.id, &blocked.id, &bad_sink).await;
    drop(c);
    assert_secrets_kept(&mut coord).await;
}

/// Publishes one incident and waits for every delivery to succeed; returns the id of the one
/// for `subscription`.
async fn delivered_to(c: &mut Clients, subscription: &str) -> String {
    let published = publish(c, json!({"incidentId": "earlier", "title": "t"}), "").await;
    for d in &published.deliveries {
        let d = wait_final(c, &d.id).await;
        assert_eq!(d.status(), api::DeliveryStatus::Succeeded, "{d:?}");
    }
    let mine = published
        .deliveries
        .iter()
        .find(|d| d.subscription_id == subscription);
    mine.expect("a delivery for the subscription").id.clone()
}

/// Redelivers `id` by hand and returns that manual attempt once it is recorded.
async fn manual_attempt(c: &mut Clients, id: &str) -> api::DeliveryAttempt {
    let before = attempts(c, id).await.len();
    c.deliveries
        .redeliver_delivery(api::RedeliverDeliveryRequest { id: id.into() })
        .await
        .expect("redeliver");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut all = attempts(c, id).await;
        if all.len() > before {
            return all.remove(before);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no manual attempt recorded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The refused connection: its reason through Get and List, its old version and data kept.
async fn assert_refused(c: &mut Clients, bad: &api::Connection, old: &Value) {
    let kept = get_connection(c, &bad.id).await;
    let error = &kept.migration_error;
    for part in ["from version 1 to 2", "/nested/region", "whitespace"] {
        assert!(error.contains(part), "{part:?} not in {error}");
    }
    assert_eq!(kept.config_version, 1, "the stored config stays as it was");
    let config: Value = serde_json::from_str(&kept.config_json).expect("JSON");
    assert_eq!(config["nested"]["region"], old["nested"]["region"]);
    assert_eq!(config["baseUrl"], old["baseUrl"]);
    assert_eq!(config["apiToken"], json!("[REDACTED]"), "{config}");
    let list = c
        .connections
        .list_connections(api::ListConnectionsRequest::default())
        .await
        .expect("list connections")
        .into_inner();
    assert_no_secret("ListConnections", &format!("{list:?}"));
    let listed = list.connections.iter().find(|l| l.id == bad.id);
    assert_eq!(
        listed.map(|l| l.migration_error.as_str()),
        Some(error.as_str())
    );
}

/// Updates the refused connection with a version 2 config (clears `migration_error`), enables
/// its subscription again and sees a delivery reach its server.
async fn fix_and_enable(c: &mut Clients, conn: &str, sub: &str, sink: &HttpSink) {
    let fixed = json!({
        "baseUrl": sink.url(),
        "accessToken": TOKEN,
        "nested": {"region": "eu-west", "extraSecret": EXTRA},
    });
    let req = api::UpdateConnectionRequest {
        id: conn.into(),
        name: String::new(),
        config_json: fixed.to_string(),
    };
    let updated = c
        .connections
        .update_connection(req)
        .await
        .expect("update with a version 2 config")
        .into_inner()
        .connection
        .expect("a connection");
    assert_eq!(updated.config_version, 2, "{updated:?}");
    assert!(updated.migration_error.is_empty(), "{updated:?}");
    assert_no_secret("UpdateConnection", &format!("{updated:?}"));
    c.subscriptions
        .enable_subscription(api::EnableSubscriptionRequest { id: sub.into() })
        .await
        .expect("enable");
    let before = sink.request_count();
    let published = publish(c, json!({"incidentId": "fixed", "title": "t"}), "").await;
    for d in &published.deliveries {
        let d = wait_final(c, &d.id).await;
        assert_eq!(d.status(), api::DeliveryStatus::Succeeded, "{d:?}");
    }
    let got = sink.wait_for_requests(before + 1, WAIT).await;
    assert_eq!(got[before].header("x-api-token"), Some(TOKEN));
}

// === Responses and enabling after failed migrations ===

const TAG_KEY: &str = "tok-MIGRATE-TAGKEY-PLAINTEXT-93d1";

/// No encrypted value and none of `secrets` in `text`.
fn assert_no_envelope(what: &str, text: &str, secrets: &[&str]) {
    assert!(
        !text.contains("$enc:"),
        "an encrypted value in {what}: {text}"
    );
    for secret in secrets {
        assert!(!text.contains(secret), "a secret leaked in {what}: {text}");
    }
}

#[tokio::test]
async fn a_refused_config_keeps_its_old_secrets_out_of_every_response() {
    let sink = HttpSink::start().await;
    let (mut coord, mut c, conn) = start_at_v1(&sink).await;
    let config = json!({
        "connectionId": conn, "project": "beta", "tag": "needs review",
        "signingKey": SIGNING_KEY, "tagKey": TAG_KEY,
    });
    let sub = linked_subscription(&mut c, "old secrets", config).await;
    assert_eq!(config_of(&sub)["tagKey"], json!("[REDACTED]"));
    drop(c);

    // Version 2 no longer marks `tagKey` secret (it drops it), but the refused config keeps it.
    let mut c = restart_at_v2(&mut coord).await;
    let secrets = [TOKEN, SIGNING_KEY, TAG_KEY];
    let refused = get_subscription(&mut c, &sub.id).await;
    assert!(
        !refused.enabled && refused.config_version == 1,
        "{refused:?}"
    );
    assert_no_envelope("GetSubscription", &format!("{refused:?}"), &secrets);
    let kept = config_of(&refused);
    assert_eq!(kept["tagKey"], json!("[REDACTED]"), "{kept}");
    assert_eq!(kept["signingKey"], json!("[REDACTED]"), "{kept}");
    assert_eq!(kept["tag"], json!("needs review"), "{kept}");
    let list = c
        .subscriptions
        .list_subscriptions(api::ListSubscriptionsRequest::default())
        .await
        .expect("list subscriptions")
        .into_inner();
    assert_no_envelope("ListSubscriptions", &format!("{list:?}"), &secrets);
    let disabled = c
        .subscriptions
        .disable_subscription(api::DisableSubscriptionRequest { id: sub.id.clone() })
        .await
        .expect("disable")
        .into_inner();
    assert_no_envelope("DisableSubscription", &format!("{disabled:?}"), &secrets);
    drop(c);
    let status = coord.terminate().await;
    assert!(status.success(), "{status}");
    for secret in secrets {
        assert!(!coord.stderr().contains(secret), "a secret is in the logs");
        assert_not_in_data_dir(&coord, secret);
    }
}

/// While the connection `conn` is not migrated, its subscription `sub` cannot be enabled (by
/// Enable or by an update), nor an enabled one created on it; each refusal names the
/// connection and what to fix, and stores nothing.
async fn assert_enable_refused(c: &mut Clients, conn: &str, sub: &api::Subscription) {
    let check = |what: &str, status: tonic::Status| {
        assert_eq!(
            status.code(),
            tonic::Code::FailedPrecondition,
            "{what}: {status:?}"
        );
        let message = status.message();
        for part in [
            conn,
            "/nested/region",
            "update it",
            "enable the subscription",
        ] {
            assert!(message.contains(part), "{what}: {part:?} not in {message}");
        }
    };
    let id = sub.id.clone();
    let enable = c
        .subscriptions
        .enable_subscription(api::EnableSubscriptionRequest { id: id.clone() })
        .await;
    check("EnableSubscription", enable.expect_err("enable is refused"));
    let stored = get_subscription(c, &id).await;
    let mut update = stored.clone();
    update.enabled = true;
    update.description = "changed".into();
    let req = api::UpdateSubscriptionRequest {
        subscription: Some(update),
    };
    let updated = c.subscriptions.update_subscription(req).await;
    check(
        "UpdateSubscription",
        updated.expect_err("update is refused"),
    );
    let after = get_subscription(c, &id).await;
    assert_eq!(after, stored, "a refused call stores nothing");
    assert!(
        !after.enabled && after.disabled_reason.contains(conn),
        "{after:?}"
    );
    let config = json!({"connectionId": conn, "project": "alpha"});
    let new = api::Subscription {
        name: "new on a broken connection".into(),
        provider_id: "fixture.linked".into(),
        config_json: config.to_string(),
        event_types: vec!["incident.*".into()],
        enabled: true,
        ..api::Subscription::default()
    };
    let req = api::CreateSubscriptionRequest {
        subscription: Some(new),
    };
    let created = c.subscriptions.create_subscription(req).await;
    check(
        "CreateSubscription",
        created.expect_err("create is refused"),
    );
}
