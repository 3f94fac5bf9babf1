//! The complete webhook end to end: a real `switchyard serve` with the webhook plugin, a
//! subscription with a Checkstack-style body template and two Standard Webhooks secrets, one
//! published incident. The receiver gets the rendered body with one `v1,` signature per
//! secret, and the PyPI `standardwebhooks` verifier (the Python SDK's virtualenv, made by
//! `plugin-sdk/python/scripts/setup.sh`, which `scripts/test.sh` runs first) accepts it with
//! each secret; the secrets are in no API response and no file of the data dir. A config
//! whose secret or template is unusable is refused at save time with the field's path.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::coordinator::{
    Coordinator, assert_not_in_data_dir, create_subscription, publish, register_incident,
    wait_final, webhook_subscription,
};
use switchyard_plugin_sdk::testkit::{HttpSink, RecordedRequest};
use switchyard_proto::coordinator::v1 as api;
use tonic::Code;

/// Two signing secrets (32 bytes each): the one being retired and its successor.
const OLD: &str = "whsec_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const NEW: &str = "whsec_AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";
/// A secret the subscription does not have: the verifier must reject it.
const OTHER: &str = "whsec_AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=";

const TEMPLATE: &str = r#"{"title": "{{ payload.title | json_escape }}", "type": "{{ event.type }}", "sub": "{{ subscriptionName }}"}"#;

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

/// Runs the webhook's `standardwebhooks` check on `request`: `accept` must verify, `reject`
/// must not.
fn verify(request: &RecordedRequest, accept: &[&str], reject: &[&str]) {
    let python = repo_path("plugin-sdk/python/.venv-py/bin/python");
    assert!(
        python.is_file(),
        "the Python SDK's virtualenv is missing: run plugin-sdk/python/scripts/setup.sh"
    );
    let headers: serde_json::Map<String, Value> = request
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let sent = json!({
        "headers": headers,
        "body": String::from_utf8_lossy(&request.body),
        "accept": accept,
        "reject": reject,
    });
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("sent.json");
    std::fs::write(&file, sent.to_string()).expect("write the request");
    let output = std::process::Command::new(python)
        .arg(repo_path(
            "plugins/webhook/tests/verify_standard_webhooks.py",
        ))
        .arg(&file)
        .output()
        .expect("run the verifier");
    assert!(
        output.status.success(),
        "standardwebhooks: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn signed_subscription(url: &str, secrets: &[&str], template: &str) -> api::Subscription {
    api::Subscription {
        config_json: json!({
            "url": url,
            "bodyTemplate": template,
            "signing": {"secrets": secrets},
        })
        .to_string(),
        ..webhook_subscription("signed", url)
    }
}

#[tokio::test]
async fn a_signed_templated_delivery_verifies_with_each_secret_and_stores_none() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    let sink = HttpSink::start().await;
    let created = create_subscription(
        &mut c,
        signed_subscription(&sink.url(), &[OLD, NEW], TEMPLATE),
    )
    .await;
    for secret in [OLD, NEW] {
        assert!(
            !format!("{created:?}").contains(&secret[6..]),
            "{created:?}"
        );
    }

    let published = publish(
        &mut c,
        json!({"incidentId": "inc_1", "title": "Disk \"full\""}),
        "k1",
    )
    .await;
    assert_eq!(published.deliveries.len(), 1, "{published:?}");
    let id = published.deliveries[0].id.clone();
    let done = wait_final(&mut c, &id).await;
    assert_eq!(done.status(), api::DeliveryStatus::Succeeded, "{done:?}");
    let request = &sink.wait_for_requests(1, Duration::from_secs(30)).await[0];
    assert_eq!(
        request.json(),
        json!({"title": "Disk \"full\"", "type": "incident.incident.created", "sub": "signed"})
    );
    assert_eq!(request.header("webhook-id"), Some(id.as_str()));
    verify(request, &[OLD, NEW], &[OTHER]);
    for secret in [OLD, NEW] {
        assert_not_in_data_dir(&coord, &secret[6..]);
        assert!(!coord.stderr().contains(&secret[6..]), "secret in stderr");
    }
}

#[tokio::test]
async fn an_unusable_secret_or_template_is_refused_at_save_time_with_its_path() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    let url = "http://127.0.0.1:9/hook";
    for (sub, path) in [
        (
            signed_subscription(url, &[OLD, "whsec_c2hvcnQ="], TEMPLATE),
            "/signing/secrets/1",
        ),
        (
            signed_subscription(url, &[OLD], "{{ payload.title "),
            "/bodyTemplate",
        ),
    ] {
        let err = c
            .subscriptions
            .create_subscription(api::CreateSubscriptionRequest {
                subscription: Some(sub),
            })
            .await
            .expect_err("refused");
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert!(err.message().contains(path), "{path}: {}", err.message());
        assert!(!err.message().contains(&OLD[6..]), "{}", err.message());
    }
}
