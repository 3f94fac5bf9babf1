//! `[shell.commands.NAME]`: the commands the shell provider (`switchyard-plugin-shell`) may
//! run — the operator's list, not a subscription's choice. Each is validated here once (an
//! absolute path to an executable file, a timeout shorter than the plugin call deadline,
//! environment names that do not shadow the documented variables, positive resource limits;
//! `pass_env` values are read here from the coordinator's environment, never one of its own
//! `SWITCHYARD_*` variables)
//! and handed to the shell plugin alone, as JSON in [`SHELL_COMMANDS_ENV`] (see
//! [`ShellConfig::to_env_json`]); no other plugin gets it. The JSON shape is the contract with
//! `plugins/shell/src/allowed.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, duration, invalid};

/// The variable that carries the allowed commands to the shell plugin (JSON).
pub const SHELL_COMMANDS_ENV: &str = "SWITCHYARD_SHELL_COMMANDS";

/// The file name of the shell plugin, the only one handed [`SHELL_COMMANDS_ENV`].
pub const SHELL_PLUGIN: &str = "switchyard-plugin-shell";

/// Variables the plugin sets itself; an operator's `env` may not shadow them.
const RESERVED_ENV: &[&str] = &[
    "EVENT_ID",
    "EVENT_TYPE",
    "DELIVERY_ID",
    "ATTEMPT",
    "SUBSCRIPTION_ID",
    "SUBSCRIPTION_NAME",
    "SUBSCRIPTION_SECRET",
    "TIMESTAMP",
    "HOME",
    "TMPDIR",
];

/// The allowed commands, by name. Empty: the shell plugin is not started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShellConfig {
    /// The commands a subscription may pick.
    pub commands: BTreeMap<String, ShellCommand>,
}

/// One allowed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellCommand {
    /// The executable (absolute).
    pub path: PathBuf,
    /// Arguments always passed first.
    pub args: Vec<String>,
    /// Whether a subscription may append arguments of its own.
    pub allow_args: bool,
    /// The command is killed, with its process group, after this long.
    pub timeout: Duration,
    /// Extra variables set for it (besides the documented ones): `env`, then `pass_env`'s.
    pub env: BTreeMap<String, String>,
    /// The user and group it runs as; `None`: the plugin's own (nobody when that is root).
    pub uid: Option<u32>,
    /// See `uid`.
    pub gid: Option<u32>,
    /// RLIMIT_CPU, in seconds.
    pub cpu_seconds: u64,
    /// RLIMIT_AS, in MiB.
    pub memory_mb: u64,
    /// RLIMIT_NOFILE.
    pub open_files: u64,
    /// Processes it may have running at once (RLIMIT_NPROC above its user's count).
    pub processes: u64,
}

/// `[shell]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawShell {
    #[serde(default)]
    commands: BTreeMap<String, RawCommand>,
}

/// `[shell.commands.NAME]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommand {
    path: PathBuf,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    allow_args: bool,
    #[serde(default = "default_timeout")]
    timeout: String,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    pass_env: Vec<String>,
    uid: Option<u32>,
    gid: Option<u32>,
    #[serde(default = "default_cpu")]
    cpu_seconds: u64,
    #[serde(default = "default_memory")]
    memory_mb: u64,
    #[serde(default = "default_files")]
    open_files: u64,
    #[serde(default = "default_processes")]
    processes: u64,
}

fn default_timeout() -> String {
    "20s".into()
}
fn default_cpu() -> u64 {
    20
}
fn default_memory() -> u64 {
    1024
}
fn default_files() -> u64 {
    256
}
fn default_processes() -> u64 {
    64
}

/// Validates `[shell]`; a command's timeout must end before the plugin call's deadline
/// (`plugins.call_timeout`), or the coordinator would give up on the call first.
pub(super) fn validate(
    raw: RawShell,
    call_timeout: Duration,
    vars: &[(String, String)],
) -> Result<ShellConfig, ConfigError> {
    let mut commands = BTreeMap::new();
    for (name, mut command) in raw.commands {
        let key = format!("shell.commands.{name}");
        check_name(&key, &name)?;
        let passed = passed_env(&format!("{key}.pass_env"), &command.pass_env, vars)?;
        command.env.extend(passed);
        commands.insert(name, command_of(&key, command, call_timeout)?);
    }
    Ok(ShellConfig { commands })
}

/// The values of the variables a command is to get from the coordinator's environment. The
/// coordinator's own (`SWITCHYARD_*`, the secret key among them) are refused.
fn passed_env(
    key: &str,
    names: &[String],
    vars: &[(String, String)],
) -> Result<Vec<(String, String)>, ConfigError> {
    names
        .iter()
        .map(|name| {
            if name.starts_with("SWITCHYARD_") {
                return Err(invalid(
                    key,
                    format!("{name} is the coordinator's own variable and is never passed on"),
                ));
            }
            let value = vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
            let value = value.ok_or_else(|| {
                invalid(key, format!("the environment variable {name} is not set"))
            })?;
            Ok((name.clone(), value))
        })
        .collect()
}

fn check_name(key: &str, name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            key,
            "a command name is 1 to 64 letters, digits, '-', '_' or '.'".into(),
        ))
    }
}

fn command_of(
    key: &str,
    raw: RawCommand,
    call_timeout: Duration,
) -> Result<ShellCommand, ConfigError> {
    check_executable(&format!("{key}.path"), &raw.path)?;
    let timeout = duration(&format!("{key}.timeout"), &raw.timeout)?;
    if timeout.is_zero() || timeout >= call_timeout {
        return Err(invalid(
            &format!("{key}.timeout"),
            format!(
                "{:?} must be more than 0 and less than plugins.call_timeout ({call_timeout:?}), \
                 which bounds every call into a plugin",
                raw.timeout
            ),
        ));
    }
    for name in raw.env.keys() {
        check_env_name(&format!("{key}.env"), name)?;
    }
    for (field, value) in [
        ("cpu_seconds", raw.cpu_seconds),
        ("memory_mb", raw.memory_mb),
        ("open_files", raw.open_files),
        ("processes", raw.processes),
    ] {
        if value == 0 {
            return Err(invalid(
                &format!("{key}.{field}"),
                "must be at least 1".into(),
            ));
        }
    }
    Ok(ShellCommand {
        path: raw.path,
        args: raw.args,
        allow_args: raw.allow_args,
        timeout,
        env: raw.env,
        uid: raw.uid,
        gid: raw.gid,
        cpu_seconds: raw.cpu_seconds,
        memory_mb: raw.memory_mb,
        open_files: raw.open_files,
        processes: raw.processes,
    })
}

/// An absolute path to an executable regular file: never looked up in a `PATH`.
fn check_executable(key: &str, path: &std::path::Path) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt as _;
    if !path.is_absolute() {
        return Err(invalid(
            key,
            format!(
                "{} is not an absolute path; name the executable in full, e.g. /usr/local/bin/notify",
                path.display()
            ),
        ));
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(()),
        Ok(_) => Err(invalid(
            key,
            format!("{} is not an executable file", path.display()),
        )),
        Err(e) => Err(invalid(key, format!("cannot use {}: {e}", path.display()))),
    }
}

fn check_env_name(key: &str, name: &str) -> Result<(), ConfigError> {
    let well_formed = name.bytes().next().is_some_and(|b| !b.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !well_formed {
        return Err(invalid(
            key,
            format!("{name:?} is not a variable name (letters, digits and '_')"),
        ));
    }
    if RESERVED_ENV.contains(&name) || name.starts_with("PAYLOAD_") {
        return Err(invalid(
            key,
            format!("{name} is set by the shell plugin itself (see the shell provider's guide)"),
        ));
    }
    Ok(())
}

impl ShellConfig {
    /// The JSON handed to the shell plugin in [`SHELL_COMMANDS_ENV`].
    #[must_use]
    pub fn to_env_json(&self) -> String {
        let commands: serde_json::Map<String, serde_json::Value> = self
            .commands
            .iter()
            .map(|(name, c)| {
                let value = serde_json::json!({
                    "path": c.path,
                    "args": c.args,
                    "allowArgs": c.allow_args,
                    "timeoutMs": u64::try_from(c.timeout.as_millis()).unwrap_or(u64::MAX),
                    "env": c.env,
                    "uid": c.uid,
                    "gid": c.gid,
                    "limits": {
                        "cpuSeconds": c.cpu_seconds,
                        "memoryMb": c.memory_mb,
                        "openFiles": c.open_files,
                        "processes": c.processes,
                    },
                });
                (name.clone(), value)
            })
            .collect();
        serde_json::json!({ "commands": commands }).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml: &str) -> Result<super::super::Config, ConfigError> {
        load_with(toml, &[])
    }

    fn load_with(toml: &str, vars: &[(&str, &str)]) -> Result<super::super::Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, toml).unwrap();
        let vars = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        super::super::load(Some(&file), vars)
    }

    #[test]
    fn pass_env_copies_the_named_variables_but_never_the_coordinators_own() {
        let toml = "[shell.commands.a]\npath = \"/bin/sh\"\npass_env = [\"ONCALL_TOKEN\"]\n";
        let cfg = load_with(toml, &[("ONCALL_TOKEN", "t0k"), ("OTHER", "x")]).unwrap();
        let env = &cfg.shell.commands["a"].env;
        assert_eq!(env.len(), 1);
        assert_eq!(env["ONCALL_TOKEN"], "t0k");
        let unset = load(toml).unwrap_err().to_string();
        assert!(
            unset.contains("shell.commands.a.pass_env") && unset.contains("not set"),
            "{unset}"
        );
        let own =
            "[shell.commands.a]\npath = \"/bin/sh\"\npass_env = [\"SWITCHYARD_SECRET_KEY\"]\n";
        let err = load_with(own, &[("SWITCHYARD_SECRET_KEY", "k")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("never passed on"), "{err}");
    }

    #[test]
    fn commands_load_with_defaults_and_become_the_plugins_json() {
        let cfg = load(
            "[shell.commands.notify]\npath = \"/bin/sh\"\nargs = [\"-c\", \"echo hi\"]\n\
             env = { LANG = \"C.UTF-8\" }\nuid = 65534\n",
        )
        .expect("loads");
        let notify = &cfg.shell.commands["notify"];
        assert_eq!(notify.timeout, Duration::from_secs(20));
        assert_eq!((notify.processes, notify.uid), (64, Some(65534)));
        let json: serde_json::Value = serde_json::from_str(&cfg.shell.to_env_json()).unwrap();
        assert_eq!(json["commands"]["notify"]["path"], "/bin/sh");
        assert_eq!(json["commands"]["notify"]["timeoutMs"], 20_000);
        assert_eq!(json["commands"]["notify"]["limits"]["memoryMb"], 1024);
        assert_eq!(json["commands"]["notify"]["env"]["LANG"], "C.UTF-8");
    }

    #[test]
    fn no_commands_by_default() {
        let cfg = super::super::load(None, Vec::new()).unwrap();
        assert!(cfg.shell.commands.is_empty());
    }

    #[test]
    fn bad_commands_name_the_key_to_fix() {
        let cases = [
            (
                "[shell.commands.a]\npath = \"sh\"\n",
                "shell.commands.a.path",
                "absolute",
            ),
            (
                "[shell.commands.a]\npath = \"/nonexistent/x\"\n",
                "shell.commands.a.path",
                "cannot use",
            ),
            (
                "[shell.commands.a]\npath = \"/etc\"\n",
                "shell.commands.a.path",
                "executable",
            ),
            (
                "[shell.commands.a]\npath = \"/bin/sh\"\ntimeout = \"1h\"\n",
                "shell.commands.a.timeout",
                "plugins.call_timeout",
            ),
            (
                "[shell.commands.a]\npath = \"/bin/sh\"\nenv = { EVENT_ID = \"x\" }\n",
                "shell.commands.a.env",
                "set by the shell plugin",
            ),
            (
                "[shell.commands.a]\npath = \"/bin/sh\"\nprocesses = 0\n",
                "shell.commands.a.processes",
                "at least 1",
            ),
            (
                "[shell.commands.\"a b\"]\npath = \"/bin/sh\"\n",
                "shell.commands.a b",
                "name",
            ),
        ];
        for (toml, key, words) in cases {
            let err = load(toml).expect_err(toml).to_string();
            assert!(err.contains(key) && err.contains(words), "{toml}: {err}");
        }
    }
}
