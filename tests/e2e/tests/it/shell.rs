//! The shell plugin end to end: a real `switchyard serve` whose own environment holds the
//! master key (`SWITCHYARD_SECRET_KEY`) and a fake secret variable, configured with
//! `[shell.commands]`, hosting the real `switchyard-plugin-shell`. A script on the list dumps
//! its environment and stdin: neither secret, nor anything else of the coordinator's
//! environment, reaches it — only the documented variables and the payload. A subscription
//! naming a command not on the list, or a path, is refused when it is saved. A script that
//! prints the subscription's secret and a variable the operator passes on (`pass_env`) fails
//! with both hidden in the attempt record, the API, the log and the data dir. A script that
//! outlives its timeout is killed, at every attempt, with the process it started in the
//! background.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use serde_json::json;
use switchyard::cli::client::Clients;
use switchyard_e2e::coordinator::{
    Coordinator, CoordinatorOptions, assert_not_in_data_dir, attempts, create_subscription,
    publish, register_incident, wait_final,
};
use switchyard_proto::coordinator::v1 as api;

/// 32 bytes, base64: the coordinator's master key, given through its environment.
const MASTER_KEY: &str = "c2hlbGwtZTJlLW1hc3Rlci1rZXktMzItYnl0ZXMhISE=";
const FAKE_SECRET: &str = "fake-db-password-31337";
const SUB_SECRET: &str = "sub-secret-e2e-8842";
const OPERATOR_TOKEN: &str = "operator-token-e2e-5521";

/// Scripts in a directory every user may read and write (commands run as nobody under root).
fn scripts() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let write = |name: &str, body: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    let out = dir.path().display().to_string();
    write(
        "dump.sh",
        &format!("/usr/bin/env -0 > {out}/env\ncat > {out}/stdin\necho \"ok-$PAYLOAD_INCIDENTID\""),
    );
    write(
        "slow.sh",
        &format!("sleep 600 &\necho $! > {out}/child-$ATTEMPT\nsleep 600"),
    );
    write(
        "leak.sh",
        "echo \"secret $SUBSCRIPTION_SECRET token $LEAK_TOKEN\" >&2\nexit 3",
    );
    dir
}

fn options(dir: &Path) -> CoordinatorOptions {
    let path = |name: &str| format!("{:?}", dir.join(name).display().to_string());
    CoordinatorOptions {
        extra_plugins: vec![("switchyard-plugin-shell".into(), Vec::new())],
        env: vec![
            ("SWITCHYARD_SECRET_KEY".into(), MASTER_KEY.into()),
            ("SY_FAKE_SECRET".into(), FAKE_SECRET.into()),
            // Passed to the `leak` command only (its `pass_env`).
            ("LEAK_TOKEN".into(), OPERATOR_TOKEN.into()),
        ],
        extra_config: format!(
            "[shell.commands.dump]\npath = {}\ntimeout = \"10s\"\n\
             [shell.commands.leak]\npath = {}\npass_env = [\"LEAK_TOKEN\"]\n\
             [shell.commands.slow]\npath = {}\ntimeout = \"1s\"\n",
            path("dump.sh"),
            path("leak.sh"),
            path("slow.sh"),
        ),
        ..CoordinatorOptions::default()
    }
}

fn shell_subscription(name: &str, config: serde_json::Value) -> api::Subscription {
    api::Subscription {
        name: name.into(),
        provider_id: "shell.shell".into(),
        config_json: config.to_string(),
        event_types: vec!["incident.*".into()],
        enabled: true,
        ..api::Subscription::default()
    }
}

fn read_env(path: PathBuf) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .expect("the script ran and dumped its environment")
        .split('\0')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

async fn refused(c: &mut Clients, config: serde_json::Value) -> String {
    let status = c
        .subscriptions
        .create_subscription(api::CreateSubscriptionRequest {
            subscription: Some(shell_subscription("bad", config)),
        })
        .await
        .expect_err("the save is refused");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    status.message().to_owned()
}

#[tokio::test]
async fn a_script_gets_nothing_of_the_coordinators_environment() {
    let dir = scripts();
    let coord = Coordinator::start(options(dir.path())).await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    for bad in [json!({"command": "/bin/sh"}), json!({"command": "rm"})] {
        let message = refused(&mut c, bad).await;
        assert!(
            message.contains("/command") && message.contains("allowed: dump, leak, slow"),
            "{message}"
        );
    }
    let message = refused(&mut c, json!({"command": "dump", "args": ["-c", "id"]})).await;
    assert!(message.contains("/args"), "{message}");

    let sub = create_subscription(
        &mut c,
        shell_subscription("dump", json!({"command": "dump"})),
    )
    .await;
    let payload = json!({"incidentId": "inc-5", "title": "Disk full"});
    let delivery = publish(&mut c, payload.clone(), "")
        .await
        .deliveries
        .remove(0);
    let done = wait_final(&mut c, &delivery.id).await;
    assert_eq!(done.status(), api::DeliveryStatus::Succeeded, "{done:?}");
    assert_eq!(
        attempts(&mut c, &delivery.id).await[0].external_id,
        "ok-inc-5"
    );

    let env = read_env(dir.path().join("env"));
    let names: Vec<&str> = env.keys().map(String::as_str).collect();
    for name in &names {
        let documented = name.starts_with("PAYLOAD_")
            || [
                "EVENT_ID",
                "EVENT_TYPE",
                "DELIVERY_ID",
                "ATTEMPT",
                "TIMESTAMP",
                "SUBSCRIPTION_ID",
                "SUBSCRIPTION_NAME",
                "PATH",
                "HOME",
                "TMPDIR",
                "PWD",
            ]
            .contains(name);
        assert!(documented, "{name} is not a documented variable: {env:?}");
    }
    let all = format!("{env:?}");
    for leaked in [
        MASTER_KEY,
        FAKE_SECRET,
        "SY_FAKE_SECRET",
        "SWITCHYARD_",
        "CARGO",
    ] {
        assert!(!all.contains(leaked), "{leaked} reached the script: {all}");
    }
    assert_eq!(env["DELIVERY_ID"], delivery.id);
    assert_eq!(env["EVENT_ID"], delivery.event_id);
    assert_eq!(env["EVENT_TYPE"], "incident.incident.created");
    assert_eq!(env["SUBSCRIPTION_ID"], sub.id);
    assert_eq!(env["SUBSCRIPTION_NAME"], "dump");
    assert_eq!(env["PAYLOAD_INCIDENTID"], "inc-5");
    let stdin: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("stdin")).unwrap()).unwrap();
    assert_eq!(stdin, payload);
}

#[tokio::test]
async fn secrets_a_script_prints_are_hidden_everywhere() {
    let dir = scripts();
    let coord = Coordinator::start(options(dir.path())).await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    let sub = create_subscription(
        &mut c,
        shell_subscription("leak", json!({"command": "leak", "secret": SUB_SECRET})),
    )
    .await;
    assert!(!format!("{sub:?}").contains(SUB_SECRET), "{sub:?}");
    let delivery = publish(&mut c, json!({"incidentId": "inc-6", "title": "t"}), "")
        .await
        .deliveries
        .remove(0);
    let done = wait_final(&mut c, &delivery.id).await;
    assert_eq!(done.status(), api::DeliveryStatus::Failed, "{done:?}");
    let tried = attempts(&mut c, &delivery.id).await;
    assert_eq!(tried.len(), 1, "exit 3 is permanent: {tried:?}");
    assert!(
        tried[0].error.contains("exit 3")
            && tried[0]
                .error
                .contains("secret [REDACTED] token [REDACTED]"),
        "{tried:?}"
    );
    let (ok, shown, err) = coord.cli(&["--json", "deliveries", "show", &delivery.id]);
    assert!(ok, "{shown}{err}");
    for secret in [SUB_SECRET, OPERATOR_TOKEN] {
        assert!(
            !format!("{tried:?}{done:?}{shown}").contains(secret),
            "{secret} leaked"
        );
        assert!(!coord.stderr().contains(secret), "{secret} in the log");
    }
    assert_not_in_data_dir(&coord, SUB_SECRET);
}

#[tokio::test]
async fn a_script_past_its_timeout_dies_with_its_children_at_every_attempt() {
    let dir = scripts();
    let coord = Coordinator::start(options(dir.path())).await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    create_subscription(
        &mut c,
        shell_subscription("slow", json!({"command": "slow"})),
    )
    .await;
    let delivery = publish(&mut c, json!({"incidentId": "inc-7", "title": "t"}), "")
        .await
        .deliveries
        .remove(0);
    let done = wait_final(&mut c, &delivery.id).await;
    assert_eq!(done.status(), api::DeliveryStatus::Failed, "{done:?}");
    let tried = attempts(&mut c, &delivery.id).await;
    assert_eq!(tried.len(), 3, "a timeout is retried: {tried:?}");
    for (n, attempt) in (1..).zip(&tried) {
        assert!(attempt.error.contains("timed out after 1s"), "{attempt:?}");
        let child = std::fs::read_to_string(dir.path().join(format!("child-{n}")))
            .expect("the script started its background child");
        let proc = PathBuf::from(format!("/proc/{}", child.trim()));
        assert!(
            !proc.exists(),
            "attempt {n}: background sleep {child} lives on"
        );
    }
}
