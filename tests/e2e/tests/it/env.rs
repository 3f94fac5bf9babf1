//! The plugin's environment is scrubbed: a variable set in the coordinator's environment never
//! reaches it; only the handshake variables and the spec's explicit `env` do.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use switchyard::host::Plugin;
use switchyard_e2e::{
    E2E_HOST, FIXTURE, binary, deliver_request, fixture, leftovers, options, socket_root,
};

/// What the host always sets: the handshake's variables and the network policy's allow-list.
const HANDSHAKE: [&str; 4] = [
    "PLUGIN_PROTOCOL_VERSIONS",
    "PLUGIN_UNIX_SOCKET_DIR",
    "SWITCHYARD_NETWORK_ALLOW",
    "SWITCHYARD_PLUGIN_MAGIC_COOKIE",
];

fn names(env_json: &str) -> BTreeSet<String> {
    let env: BTreeMap<String, String> =
        serde_json::from_str(env_json).unwrap_or_else(|e| panic!("{e}: {env_json}"));
    env.into_keys().collect()
}

#[test]
fn a_variable_of_the_coordinators_environment_does_not_reach_the_plugin() {
    let root = socket_root();
    let mut coordinator = Command::new(binary(E2E_HOST))
        .arg(root.path())
        .arg(binary(FIXTURE))
        .arg("env-dump")
        .env("SWITCHYARD_E2E_COORDINATOR_SECRET", "hunter2")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the stand-in coordinator");
    let mut lines = BufReader::new(coordinator.stdout.take().expect("stdout")).lines();
    let _pid = lines.next().expect("pid line").expect("read");
    let answer = lines.next().expect("answer line").expect("read");
    let env_json = answer
        .strip_prefix("external_id ")
        .unwrap_or_else(|| panic!("{answer}"));
    assert!(!env_json.contains("hunter2"));
    assert_eq!(
        names(env_json),
        HANDSHAKE.iter().map(|s| (*s).to_owned()).collect()
    );

    // Closing stdin makes it stop the plugin and exit cleanly.
    let mut stdin = coordinator.stdin.take().expect("stdin");
    let _ = stdin.flush();
    drop(stdin);
    assert!(coordinator.wait().expect("reap").success());
    assert!(
        leftovers(root.path()).is_empty(),
        "{:?}",
        leftovers(root.path())
    );
}

#[tokio::test]
async fn variables_named_in_the_spec_are_passed() {
    let root = socket_root();
    let mut spec = fixture("env-dump");
    spec.env.insert(
        "WEBHOOK_PROXY".to_owned(),
        "http://proxy.local:3128".to_owned(),
    );
    let plugin = Plugin::start(spec, options(root.path()))
        .await
        .expect("start");
    let response = plugin
        .deliver(deliver_request("echo", &serde_json::json!({})))
        .await
        .expect("deliver");
    let env: BTreeMap<String, String> = serde_json::from_str(&response.external_id).expect("json");
    assert_eq!(
        env.get("WEBHOOK_PROXY").map(String::as_str),
        Some("http://proxy.local:3128")
    );
    assert_eq!(env.len(), HANDSHAKE.len() + 1, "{env:?}");
    plugin.stop().await;
}
