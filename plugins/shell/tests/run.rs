//! The shell provider called in-process with real child processes: scripts written to a
//! temporary directory and run through `deliver`. The environment is exactly the documented
//! one; the payload arrives on stdin; exit codes map to outcomes; a command that outlives its
//! timeout is killed with every process it started, and so is whatever a finished command left
//! running; a fork bomb, a memory hog and a CPU spinner are stopped by their limits; secrets
//! never come back; the subscription can only name the operator's commands.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use switchyard_plugin_sdk::{
    DeliveryContext, DeliveryResult, Event, NoConnection, OptionsRequest, Outcome, Provider,
    Secret, Subscription, TestTarget,
};
use switchyard_plugin_shell::{Allowed, Command, Limits, ShellConfig, ShellProvider};

/// A directory of scripts, readable and writable by any user (commands run as nobody when
/// the tests run as root).
struct Scripts(tempfile::TempDir);

impl Scripts {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        Self(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    /// Writes an executable `/bin/sh` script; `$DIR` in it is this directory.
    fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.path(name);
        let text = format!(
            "#!/bin/sh\nDIR={:?}\n{body}\n",
            self.0.path().display().to_string()
        );
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }
}

fn limits() -> Limits {
    Limits {
        cpu_seconds: 30,
        memory_mb: 1024,
        open_files: 256,
        processes: 64,
    }
}

fn command(path: &Path) -> Command {
    Command {
        path: path.to_owned(),
        args: Vec::new(),
        allow_args: false,
        timeout_ms: 20_000,
        env: BTreeMap::new(),
        uid: None,
        gid: None,
        limits: limits(),
    }
}

fn provider(commands: impl IntoIterator<Item = (&'static str, Command)>) -> ShellProvider {
    let commands = commands
        .into_iter()
        .map(|(n, c)| (n.to_owned(), c))
        .collect();
    ShellProvider::new(Allowed { commands })
}

fn config(name: &str) -> ShellConfig {
    ShellConfig {
        command: name.into(),
        args: Vec::new(),
        secret: None,
    }
}

fn context(config: ShellConfig, payload: Value) -> DeliveryContext<ShellConfig, NoConnection> {
    DeliveryContext {
        event: Event {
            event_type: "incident.incident.created".into(),
            payload,
            timestamp: chrono::DateTime::from_timestamp(1_767_000_000, 0).unwrap(),
            delivery_id: "dlv_1".into(),
            attempt: 2,
            event_id: "evt_1".into(),
        },
        subscription: Subscription {
            id: "sub_1".into(),
            name: "Ops".into(),
        },
        config,
        connection: NoConnection,
        correlation: None,
    }
}

async fn deliver(p: &ShellProvider, name: &str) -> DeliveryResult {
    p.deliver(context(
        config(name),
        json!({"incidentId": "inc-1", "title": "Down"}),
    ))
    .await
}

fn error_of(result: &DeliveryResult) -> String {
    result.error().unwrap_or_default().to_owned()
}

/// The live (not zombie) processes whose process group is `pgid`.
fn live_members(pgid: &str) -> Vec<String> {
    let pgid = pgid.trim();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter_map(|stat| {
            let (head, rest) = stat.rsplit_once(')')?;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            (fields.get(2) == Some(&pgid) && fields.first() != Some(&"Z")).then(|| {
                head.split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
        })
        .collect()
}

#[tokio::test]
async fn the_command_sees_only_the_documented_environment_and_the_payload_on_stdin() {
    let s = Scripts::new();
    let path = s.script(
        "env.sh",
        "/usr/bin/env -0 > \"$DIR/env\"\ncat > \"$DIR/stdin\"\necho \"id-$PAYLOAD_INCIDENTID\"\necho ignored",
    );
    let mut cmd = command(&path);
    cmd.env.insert("LANG".into(), "C.UTF-8".into());
    let p = provider([("env", cmd)]);
    let payload = json!({"incidentId": "inc-1", "meta": {"count": 2}, "systemIds": ["a"]});
    let result = p.deliver(context(config("env"), payload.clone())).await;
    assert_eq!(
        result.outcome,
        Outcome::Delivered {
            external_id: Some("id-inc-1".into())
        }
    );
    let env: BTreeMap<String, String> = s
        .read("env")
        .split('\0')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    // `sh` itself exports PWD to the programs it runs; the plugin does not set it.
    let names: BTreeSet<&str> = env
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "PWD")
        .collect();
    let expected: BTreeSet<&str> = [
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
        "PAYLOAD_INCIDENTID",
        "PAYLOAD_META_COUNT",
        "PAYLOAD_SYSTEMIDS",
        "PAYLOAD_JSON",
        "LANG",
    ]
    .into();
    assert_eq!(names, expected, "{env:?}");
    assert_eq!(env["EVENT_ID"], "evt_1");
    assert_eq!(env["ATTEMPT"], "2");
    assert_eq!(env["PAYLOAD_SYSTEMIDS"], r#"["a"]"#);
    assert_eq!(
        serde_json::from_str::<Value>(&env["PAYLOAD_JSON"]).unwrap(),
        payload
    );
    assert_eq!(
        serde_json::from_str::<Value>(&s.read("stdin")).unwrap(),
        payload
    );
    // Its working directory was fresh and is gone.
    assert!(env["HOME"].contains("switchyard-shell-"), "{env:?}");
    assert!(!Path::new(&env["HOME"]).exists());
}

#[tokio::test]
async fn exit_codes_map_to_outcomes_with_the_end_of_stderr() {
    let s = Scripts::new();
    let p = provider([
        (
            "tempfail",
            command(&s.script("t.sh", "echo 'queue full' >&2\nexit 75")),
        ),
        (
            "broken",
            command(&s.script(
                "b.sh",
                "echo 'first line' >&2\necho 'no such ticket' >&2\nexit 3",
            )),
        ),
        ("silent", command(&s.script("n.sh", "exit 0"))),
    ]);
    let retry = deliver(&p, "tempfail").await;
    assert!(
        matches!(retry.outcome, Outcome::Retryable { .. }),
        "{retry:?}"
    );
    assert!(error_of(&retry).ends_with("queue full"), "{retry:?}");
    let failed = deliver(&p, "broken").await;
    assert!(
        matches!(failed.outcome, Outcome::Permanent { .. }),
        "{failed:?}"
    );
    assert!(error_of(&failed).contains("exit 3") && error_of(&failed).ends_with("no such ticket"));
    let ok = deliver(&p, "silent").await;
    assert_eq!(ok.outcome, Outcome::Delivered { external_id: None });
}

#[tokio::test]
async fn a_command_past_its_timeout_is_killed_with_every_process_it_started() {
    let s = Scripts::new();
    let path = s.script(
        "slow.sh",
        "echo $$ > \"$DIR/pgid\"\nsleep 600 &\necho $! > \"$DIR/child\"\n(sleep 600; echo never) &\nsleep 600",
    );
    let mut cmd = command(&path);
    cmd.timeout_ms = 1500;
    let result = deliver(&provider([("slow", cmd)]), "slow").await;
    assert!(
        matches!(result.outcome, Outcome::Retryable { .. }),
        "{result:?}"
    );
    assert!(
        error_of(&result).contains("timed out after 1.5s"),
        "{result:?}"
    );
    let pgid = s.read("pgid");
    assert!(!pgid.trim().is_empty(), "the script did not start");
    assert_eq!(
        live_members(&pgid),
        Vec::<String>::new(),
        "processes left in group {pgid}"
    );
    let child = s.read("child");
    assert!(
        !Path::new(&format!("/proc/{}", child.trim())).exists(),
        "sleep {child} lives on"
    );
}

#[tokio::test]
async fn what_a_finished_command_left_running_is_killed() {
    let s = Scripts::new();
    let path = s.script(
        "daemon.sh",
        "echo $$ > \"$DIR/pgid\"\nsleep 600 > /dev/null 2>&1 &\necho $! > \"$DIR/child\"\necho started",
    );
    let result = deliver(&provider([("daemon", command(&path))]), "daemon").await;
    assert_eq!(
        result.outcome,
        Outcome::Delivered {
            external_id: Some("started".into())
        }
    );
    assert_eq!(live_members(&s.read("pgid")), Vec::<String>::new());
    let child = s.read("child");
    assert!(
        !Path::new(&format!("/proc/{}", child.trim())).exists(),
        "sleep {child} lives on"
    );
}

#[tokio::test]
async fn a_fork_bomb_is_stopped_by_the_process_limit() {
    let s = Scripts::new();
    let path = s.script(
        "bomb.sh",
        "echo $$ > \"$DIR/pgid\"\ni=0\nwhile [ $i -lt 5000 ]; do sleep 600 & i=$((i+1)); done\necho \"forked $i\"",
    );
    let mut cmd = command(&path);
    cmd.limits.processes = 16;
    let result = deliver(&provider([("bomb", cmd)]), "bomb").await;
    assert!(
        matches!(result.outcome, Outcome::Permanent { .. }),
        "{result:?}"
    );
    assert!(
        error_of(&result).to_lowercase().contains("fork"),
        "{result:?}"
    );
    assert_eq!(live_members(&s.read("pgid")), Vec::<String>::new());
}

#[tokio::test]
async fn a_memory_hog_is_stopped_by_the_address_space_limit() {
    let s = Scripts::new();
    let path = s.script(
        "hog.sh",
        "x=$(head -c 400000000 /dev/zero | tr '\\0' x)\necho \"allocated ${#x}\"",
    );
    let mut cmd = command(&path);
    cmd.limits.memory_mb = 64;
    let result = deliver(&provider([("hog", cmd)]), "hog").await;
    assert!(
        matches!(result.outcome, Outcome::Permanent { .. }),
        "{result:?}"
    );
    assert!(!error_of(&result).contains("timed out"), "{result:?}");
}

#[tokio::test]
async fn a_cpu_spinner_is_stopped_by_the_cpu_limit() {
    let s = Scripts::new();
    let mut cmd = command(&s.script("spin.sh", "while :; do :; done"));
    cmd.limits.cpu_seconds = 1;
    // One CPU second may take many more on a loaded machine: the limit, not the timeout, ends it.
    cmd.timeout_ms = 300_000;
    let result = deliver(&provider([("spin", cmd)]), "spin").await;
    assert!(
        matches!(result.outcome, Outcome::Permanent { .. }),
        "{result:?}"
    );
    assert!(error_of(&result).contains("SIGXCPU"), "{result:?}");
}

#[tokio::test]
async fn secrets_the_command_prints_never_come_back() {
    let s = Scripts::new();
    let path = s.script(
        "leak.sh",
        "echo \"id-$TOKEN\"\necho \"token $TOKEN secret $SUBSCRIPTION_SECRET\" >&2\nexit ${CODE:-1}",
    );
    let mut cmd = command(&path);
    cmd.env.insert("TOKEN".into(), "op-token-5f3a9".into());
    let mut ok = cmd.clone();
    ok.env.insert("CODE".into(), "0".into());
    let p = provider([("leak", cmd), ("leak-ok", ok)]);
    for name in ["leak", "leak-ok"] {
        let mut c = config(name);
        c.secret = Some(Secret::new("sub-secret-77c1"));
        let result = p.deliver(context(c, json!({}))).await;
        let text = format!("{result:?}");
        assert!(text.contains("[REDACTED]"), "{text}");
        assert!(
            !text.contains("op-token-5f3a9") && !text.contains("sub-secret-77c1"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn only_the_operators_commands_can_be_chosen() {
    let s = Scripts::new();
    let path = s.script("ok.sh", "echo \"$@\"");
    let mut with_args = command(&path);
    with_args.allow_args = true;
    let p = provider([("fixed", command(&path)), ("open", with_args)]);
    let check = |c: ShellConfig| {
        p.validate_config(TestTarget::Config {
            config: c,
            connection: NoConnection,
        })
    };
    let unknown = check(config("/bin/sh")).await;
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert_eq!(unknown[0].json_path, "/command");
    assert!(
        unknown[0].message.contains("allowed: fixed, open"),
        "{unknown:?}"
    );
    let mut args = config("fixed");
    args.args = vec!["-c".into(), "rm -rf /".into()];
    let refused = check(args.clone()).await;
    assert_eq!(refused[0].json_path, "/args", "{refused:?}");
    args.command = "open".into();
    assert!(check(args.clone()).await.is_empty());
    // The arguments are argv items, not shell text.
    let echoed = p.deliver(context(args, json!({}))).await;
    assert_eq!(
        echoed.outcome,
        Outcome::Delivered {
            external_id: Some("-c rm -rf /".into())
        }
    );
    // Refused at delivery too, and nothing runs.
    assert!(matches!(
        deliver(&p, "nope").await.outcome,
        Outcome::Permanent { .. }
    ));
    let options = p
        .get_connection_options(OptionsRequest {
            resolver: "commands".into(),
            connection: NoConnection,
            context: json!({}),
        })
        .await
        .unwrap();
    let values: Vec<&str> = options.iter().map(|o| o.value.as_str()).collect();
    assert_eq!(values, ["fixed", "open"]);
}

#[tokio::test]
async fn a_flood_of_output_is_bounded_and_does_not_block() {
    let s = Scripts::new();
    let path = s.script("flood.sh", "echo first\nhead -c 3000000 /dev/zero | tr '\\0' y\nhead -c 3000000 /dev/zero | tr '\\0' z >&2\nexit 1");
    let result = deliver(&provider([("flood", command(&path))]), "flood").await;
    let error = error_of(&result);
    assert!(
        error.contains("exit 1") && error.ends_with("zzzz"),
        "{}",
        &error[..80.min(error.len())]
    );
    assert!(error.chars().count() < 2000);
}

#[tokio::test]
async fn the_limits_are_those_the_operator_set() {
    let s = Scripts::new();
    let path = s.script(
        "limits.sh",
        "echo \"$(ulimit -t) $(ulimit -v) $(ulimit -n) $(ulimit -p)\"",
    );
    let mut cmd = command(&path);
    cmd.limits = Limits {
        cpu_seconds: 7,
        memory_mb: 300,
        open_files: 33,
        processes: 20,
    };
    let result = deliver(&provider([("limits", cmd)]), "limits").await;
    let Outcome::Delivered {
        external_id: Some(reported),
    } = result.outcome
    else {
        panic!("{result:?}");
    };
    let fields: Vec<&str> = reported.split(' ').collect();
    // CPU seconds, address space in KiB, open files; the process limit is the user's count
    // of processes at the start plus 20.
    assert_eq!(fields[..3], ["7", "307200", "33"], "{reported}");
    let processes: u64 = fields[3].parse().expect("a number");
    assert!((20..20 + 10_000).contains(&processes), "{reported}");
}
