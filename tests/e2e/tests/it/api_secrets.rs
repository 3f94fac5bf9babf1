//! Secrets end to end: an `x-secret` value of a subscription config (the webhook's bearer
//! token) is absent from every API response, from the coordinator's logs and from every raw
//! file in the data dir, while the receiver still gets it — also after an update that sent
//! the redaction marker back.

use std::time::Duration;

use serde_json::json;
use switchyard_e2e::coordinator::{
    Coordinator, create_subscription, publish, register_incident, wait_final,
};
use switchyard_plugin_sdk::testkit::HttpSink;
use switchyard_proto::coordinator::v1 as api;

const TOKEN: &str = "tok-PLAINTEXT-5f1c9e77a2";

fn assert_hidden(what: &str, text: &str) {
    assert!(!text.contains(TOKEN), "the secret leaked in {what}: {text}");
}

#[tokio::test]
async fn secrets_never_leave_the_coordinator_except_to_the_plugin() {
    let mut coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    let sink = HttpSink::start().await;
    register_incident(&mut c).await;
    let config = json!({"url": sink.url(), "auth": {"type": "bearer", "token": TOKEN}});
    let mut sub = switchyard_e2e::coordinator::webhook_subscription("secret", &sink.url());
    sub.config_json = config.to_string();

    let created = create_subscription(&mut c, sub).await;
    assert_hidden("CreateSubscription", &format!("{created:?}"));
    let stored: serde_json::Value = serde_json::from_str(&created.config_json).unwrap();
    assert_eq!(stored["auth"]["token"], json!("[REDACTED]"));
    let got = c
        .subscriptions
        .get_subscription(api::GetSubscriptionRequest {
            id: created.id.clone(),
        })
        .await
        .unwrap();
    assert_hidden("GetSubscription", &format!("{got:?}"));
    let listed = c
        .subscriptions
        .list_subscriptions(api::ListSubscriptionsRequest::default())
        .await
        .unwrap();
    assert_hidden("ListSubscriptions", &format!("{listed:?}"));

    // An update that sends the marker back keeps the stored token.
    let mut update = created.clone();
    update.name = "renamed".into();
    let updated = c
        .subscriptions
        .update_subscription(api::UpdateSubscriptionRequest {
            subscription: Some(update),
        })
        .await
        .expect("update with the marker");
    assert_hidden("UpdateSubscription", &format!("{updated:?}"));

    let published = publish(&mut c, json!({"incidentId": "i", "title": "t"}), "").await;
    assert_hidden("PublishEvent", &format!("{published:?}"));
    let requests = sink.wait_for_requests(1, Duration::from_secs(30)).await;
    assert_eq!(requests.len(), 1);
    let expected = format!("Bearer {TOKEN}");
    assert_eq!(requests[0].header("authorization"), Some(expected.as_str()));
    let d = wait_final(&mut c, &published.deliveries[0].id).await;
    assert_eq!(d.status(), api::DeliveryStatus::Succeeded);

    drop(c);
    let status = coord.terminate().await;
    assert!(status.success(), "{status}");
    assert_hidden("the coordinator's stderr", &coord.stderr());
    let files = coord.data_files();
    assert!(!files.is_empty());
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        let found = bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes());
        assert!(!found, "the plaintext secret is in {}", file.display());
    }
}
