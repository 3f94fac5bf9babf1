//! Secret-key rotation end to end, against the real `switchyard serve`, the real webhook
//! plugin and a local HTTP receiver: several subscriptions with bearer tokens, events
//! published while the key rotates (and a subscription updated meanwhile), a SIGKILL in the
//! middle of a rotation (held there by the `SWITCHYARD_TEST_ROTATION_PAUSE_AFTER` hook) and a
//! restart that finishes it; keys from `SWITCHYARD_SECRET_KEY` rotated by restarting with
//! the new key first. Every delivery must reach the receiver with its subscription's
//! token, and afterwards the coordinator must start and deliver with the new key alone.

use std::time::Duration;

use serde_json::json;
use switchyard::cli::client::Clients;
use switchyard_e2e::coordinator::{
    Coordinator, CoordinatorOptions, assert_not_in_data_dir, create_subscription, publish,
    register_incident, wait_final, webhook_subscription,
};
use switchyard_plugin_sdk::testkit::HttpSink;
use switchyard_proto::coordinator::v1 as api;

const SUBS: usize = 6;
const PAUSE_ENV: &str = "SWITCHYARD_TEST_ROTATION_PAUSE_AFTER";

/// The receiver and, per subscription (path `/s{n}` on the receiver), its id and token.
struct Receivers {
    sink: HttpSink,
    subs: Vec<(String, String)>,
}

fn token(n: usize) -> String {
    format!("tok-{n}-PLAINTEXT-9c4e1b")
}

async fn subscribe_all(coord: &Coordinator) -> Receivers {
    let mut c = coord.clients().await;
    let sink = HttpSink::start().await;
    register_incident(&mut c).await;
    let mut subs = Vec::new();
    for n in 0..SUBS {
        let url = format!("{}/s{n}", sink.url());
        let mut sub = webhook_subscription(&format!("rot-{n}"), &url);
        sub.config_json =
            json!({"url": url, "auth": {"type": "bearer", "token": token(n)}}).to_string();
        subs.push((create_subscription(&mut c, sub).await.id, token(n)));
    }
    Receivers { sink, subs }
}

/// The lines of the key file (one base64 key each).
fn key_lines(coord: &Coordinator) -> Vec<String> {
    let text = std::fs::read_to_string(coord.data_dir().join("secret.key")).expect("key file");
    text.lines().map(str::to_owned).collect()
}

/// Publishes `events` incidents and waits until every delivery succeeded.
async fn publish_and_settle(coord: &Coordinator, tag: &str, events: usize) {
    let mut c = coord.clients().await;
    for i in 0..events {
        let payload = json!({"incidentId": format!("{tag}-{i}"), "title": "t"});
        let published = publish(&mut c, payload, "").await;
        assert_eq!(published.deliveries.len(), SUBS);
        for d in published.deliveries {
            let d = wait_final(&mut c, &d.id).await;
            assert_eq!(d.status(), api::DeliveryStatus::Succeeded, "{d:?}");
        }
    }
}

/// Asserts that every request so far carried the token of the subscription its path names
/// (`allowed` lists the tokens each subscription may have had), and that each subscription got
/// `at_least` requests; then forgets them.
fn assert_tokens(r: &Receivers, allowed: &dyn Fn(usize) -> Vec<String>, at_least: usize) {
    let requests = r.sink.take_requests();
    for n in 0..SUBS {
        let path = format!("/s{n}");
        let mine: Vec<_> = requests.iter().filter(|q| q.path == path).collect();
        assert!(mine.len() >= at_least, "{path}: {} requests", mine.len());
        let ok: Vec<String> = allowed(n).iter().map(|t| format!("Bearer {t}")).collect();
        for q in mine {
            let got = q.header("authorization").unwrap_or_default().to_owned();
            assert!(
                ok.contains(&got),
                "{path} got {got:?}, expected one of {ok:?}"
            );
        }
    }
}

/// Publishes `events` incidents and returns their delivery ids.
async fn publish_load(addr: String, events: usize) -> Vec<String> {
    let mut c = switchyard::cli::client::connect(&addr, None)
        .await
        .expect("connect");
    let mut ids = Vec::new();
    for i in 0..events {
        let payload = json!({"incidentId": format!("load-{i}"), "title": "t"});
        let published = publish(&mut c, payload, "").await;
        ids.extend(published.deliveries.into_iter().map(|d| d.id));
    }
    ids
}

/// Updates subscription `n` with `token` as its bearer token (the marker keeps the stored one).
async fn update_token(
    c: &mut Clients,
    r: &Receivers,
    n: usize,
    token: &str,
) -> Result<tonic::Response<api::UpdateSubscriptionResponse>, tonic::Status> {
    let url = format!("{}/s{n}", r.sink.url());
    let mut sub = webhook_subscription(&format!("rot-{n}-updated"), &url);
    sub.id.clone_from(&r.subs[n].0);
    sub.config_json = json!({"url": url, "auth": {"type": "bearer", "token": token}}).to_string();
    let req = api::UpdateSubscriptionRequest {
        subscription: Some(sub),
    };
    c.subscriptions.update_subscription(req).await
}

async fn key_status(coord: &Coordinator) -> api::GetSecretKeyStatusResponse {
    let mut c = coord.clients().await;
    let status = c
        .secret_keys
        .get_secret_key_status(api::GetSecretKeyStatusRequest {});
    status.await.expect("key status").into_inner()
}

/// Polls the coordinator's stderr for `needle` (bounded: 30 s).
async fn wait_for_log(coord: &Coordinator, needle: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !coord.stderr().contains(needle) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {needle:?} in 30 s; stderr:\n{}",
            coord.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn assert_no_secret_leaked(coord: &Coordinator, keys: &[String]) {
    let stderr = coord.stderr();
    for n in 0..=SUBS {
        assert!(!stderr.contains(&token(n)), "a token is in the log");
    }
    for key in keys {
        assert!(!stderr.contains(key.as_str()), "a key is in the log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_keep_flowing_with_the_right_tokens_while_the_key_rotates() {
    let mut coord = Coordinator::start_default().await;
    let r = subscribe_all(&coord).await;
    let old = key_lines(&coord);
    assert_eq!(old.len(), 1);
    let old_kid = key_status(&coord).await.key_id;

    let publisher = tokio::spawn(publish_load(coord.addr(), 40));
    r.sink
        .wait_for_requests(SUBS * 3, Duration::from_secs(30))
        .await;
    // Mid-rotation: sub 0 renamed with its token redacted (kept), sub 1 given a new token.
    let mut c = coord.clients().await;
    let (mut keep, mut change, new_token) = (c.clone(), c.clone(), token(SUBS));
    let (rotated, kept, changed) = tokio::join!(
        c.secret_keys
            .rotate_secret_key(api::RotateSecretKeyRequest {}),
        update_token(&mut keep, &r, 0, "[REDACTED]"),
        update_token(&mut change, &r, 1, &new_token),
    );
    let rotated = rotated.expect("rotate").into_inner();
    kept.expect("update with the marker");
    changed.expect("update with a new token");
    for id in publisher.await.expect("publisher") {
        let d = wait_final(&mut c, &id).await;
        assert_eq!(d.status(), api::DeliveryStatus::Succeeded, "{d:?}");
    }
    let allowed = |n: usize| match n {
        1 => vec![token(1), token(SUBS)],
        n => vec![token(n)],
    };
    assert_tokens(&r, &allowed, 40);

    assert_eq!(rotated.retired_key_ids, vec![old_kid.clone()]);
    assert!(!rotated.resumed);
    assert_ne!(rotated.key_id, old_kid);
    let new = key_lines(&coord);
    assert_eq!(new.len(), 1, "only the new key is kept");
    assert_ne!(new, old);
    assert_not_in_data_dir(&coord, &old[0]);
    let status = key_status(&coord).await;
    assert_eq!(
        (status.key_id, status.previous_key_ids),
        (rotated.key_id, vec![])
    );

    // The new key alone decrypts everything: restart on it and deliver again.
    drop(c);
    assert!(coord.terminate().await.success());
    coord.restart().await;
    publish_and_settle(&coord, "after", 1).await;
    let final_token = |n: usize| vec![if n == 1 { token(SUBS) } else { token(n) }];
    assert_tokens(&r, &final_token, 1);
    assert_no_secret_leaked(&coord, &[old[0].clone(), new[0].clone()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_mid_rotation_then_a_restart_finishes_it_and_every_secret_still_arrives() {
    let mut coord = Coordinator::start(CoordinatorOptions {
        env: vec![(PAUSE_ENV.into(), "3".into())],
        ..CoordinatorOptions::default()
    })
    .await;
    let r = subscribe_all(&coord).await;
    let own = |n: usize| vec![token(n)];
    let old = key_lines(&coord);
    let old_kid = key_status(&coord).await.key_id;

    let mut c = coord.clients().await;
    let rotate = tokio::spawn(async move {
        c.secret_keys
            .rotate_secret_key(api::RotateSecretKeyRequest {})
            .await
    });
    wait_for_log(&coord, &format!("paused by {PAUSE_ENV}")).await;
    let status = key_status(&coord).await;
    assert!(status.rotating);
    assert_eq!(status.previous_key_ids, vec![old_kid.clone()]);
    let both = key_lines(&coord);
    assert_eq!(
        both.len(),
        2,
        "new and old key saved before any re-encryption"
    );
    assert_eq!(both[1], old[0]);
    // Half re-encrypted: both keys decrypt, deliveries go on.
    publish_and_settle(&coord, "mid", 1).await;
    assert_tokens(&r, &own, 1);

    coord.kill();
    assert!(
        rotate.await.expect("task").is_err(),
        "the call died with the process"
    );
    coord.options_mut().env.clear();
    coord.restart().await;
    let status = wait_rotation_done(&coord).await;
    assert_ne!(status.key_id, old_kid);
    assert_eq!(key_lines(&coord), both[..1], "the new key alone is kept");
    assert_not_in_data_dir(&coord, &old[0]);
    publish_and_settle(&coord, "resumed", 1).await;
    assert_tokens(&r, &own, 1);

    assert!(coord.terminate().await.success());
    coord.restart().await;
    publish_and_settle(&coord, "new-key-only", 1).await;
    assert_tokens(&r, &own, 1);
    assert_no_secret_leaked(&coord, &both);
}

/// Polls the key status until no previous key is left and no rotation runs (bounded: 30 s).
async fn wait_rotation_done(coord: &Coordinator) -> api::GetSecretKeyStatusResponse {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let s = key_status(coord).await;
        if s.previous_key_ids.is_empty() && !s.rotating {
            return s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not finished: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_from_the_environment_rotate_by_putting_the_new_key_first_and_restarting() {
    const OLD: &str = "ERERERERERERERERERERERERERERERERERERERERERE=";
    const NEW: &str = "IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI=";
    let env = |v: &str| vec![("SWITCHYARD_SECRET_KEY".to_owned(), v.to_owned())];
    let mut coord = Coordinator::start(CoordinatorOptions {
        env: env(OLD),
        ..CoordinatorOptions::default()
    })
    .await;
    let r = subscribe_all(&coord).await;
    let own = |n: usize| vec![token(n)];
    let old_kid = key_status(&coord).await.key_id;
    let mut c = coord.clients().await;
    let refused = c
        .secret_keys
        .rotate_secret_key(api::RotateSecretKeyRequest {})
        .await
        .expect_err("the coordinator cannot write the variable");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(
        refused.message().contains("SWITCHYARD_SECRET_KEY"),
        "{refused:?}"
    );
    assert_eq!(key_status(&coord).await.key_id, old_kid, "nothing changed");
    drop(c);

    assert!(coord.terminate().await.success());
    coord.options_mut().env = env(&format!("{NEW},{OLD}"));
    coord.restart().await;
    let status = wait_rotation_done(&coord).await;
    assert_ne!(status.key_id, old_kid);
    publish_and_settle(&coord, "both", 1).await;
    assert_tokens(&r, &own, 1);

    assert!(coord.terminate().await.success());
    coord.options_mut().env = env(NEW);
    coord.restart().await;
    publish_and_settle(&coord, "new-only", 1).await;
    assert_tokens(&r, &own, 1);
    assert!(
        !coord.data_dir().join("secret.key").exists(),
        "no key in the data dir"
    );
    assert_no_secret_leaked(&coord, &[OLD.to_owned(), NEW.to_owned()]);
}
