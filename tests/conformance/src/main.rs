//! `switchyard-conformance`: runs the conformance checks against a plugin executable (or an
//! already running plugin's socket) and prints the report; exits 1 when any check failed and 2
//! on a usage error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use switchyard_conformance::{ConfigFile, Options, Program, Regex, Target, Timeouts};

/// Checks that a program is a correct Switchyard plugin (handshake, Describe, Deliver,
/// capabilities, secrets, lifecycle) and reports each check as passed, failed or skipped.
#[derive(Debug, Parser)]
#[command(name = "switchyard-conformance", version)]
struct Cli {
    /// Test the plugin already serving on this Unix socket instead of starting one (checks that
    /// must start the plugin themselves are skipped).
    #[arg(long, value_name = "PATH", conflicts_with = "command")]
    socket: Option<PathBuf>,
    /// Also write the report as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Run only checks whose name matches REGEX (e.g. `^deliver/`).
    #[arg(long, value_name = "REGEX")]
    focus: Option<Regex>,
    /// Leave out checks whose name matches REGEX.
    #[arg(long, value_name = "REGEX")]
    skip: Option<Regex>,
    /// Provider and connection configs (JSON, or TOML when the name ends in .toml).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Pass KEY=VALUE to the plugin's environment (repeatable); besides PATH and the handshake
    /// variables nothing else is passed.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// Seconds to wait for the handshake line.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    start_timeout: f64,
    /// Deadline of each call, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    call_timeout: f64,
    /// List the checks and exit.
    #[arg(long)]
    list: bool,
    /// The plugin executable and its arguments.
    #[arg(
        value_name = "PLUGIN",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    command: Vec<String>,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))?;
    Ok((k.to_owned(), v.to_owned()))
}

fn seconds(s: f64, what: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(s)
        .map_err(|_| format!("--{what} must be a positive number of seconds"))
}

fn options(cli: &Cli) -> Result<Options, String> {
    let target = match (&cli.socket, cli.command.split_first()) {
        (Some(socket), _) => Target::Socket(socket.clone()),
        (None, Some((path, args))) => Target::Command(Program {
            path: PathBuf::from(path),
            args: args.to_vec(),
            env: cli.env.iter().cloned().collect(),
        }),
        (None, None) => return Err("name a plugin executable, or --socket PATH".to_owned()),
    };
    let config = match &cli.config {
        Some(path) => ConfigFile::load(path).map_err(|e| e.to_string())?,
        None => ConfigFile::default(),
    };
    let timeouts = Timeouts {
        start: seconds(cli.start_timeout, "start-timeout")?,
        call: seconds(cli.call_timeout, "call-timeout")?,
        ..Timeouts::default()
    };
    let mut opts = Options::new(target).with_config(config);
    opts.focus.clone_from(&cli.focus);
    opts.skip.clone_from(&cli.skip);
    opts.timeouts = timeouts;
    Ok(opts)
}

fn list() {
    for c in switchyard_conformance::checks() {
        println!("{:<45} {:<24} {}", c.name, c.gate, c.description);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.list {
        list();
        return ExitCode::SUCCESS;
    }
    let opts = match options(&cli) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("switchyard-conformance: {e}");
            return ExitCode::from(2);
        }
    };
    let report = switchyard_conformance::run(opts);
    if cli.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    if let Some(path) = &cli.junit
        && let Err(e) = std::fs::write(path, report.to_junit())
    {
        eprintln!(
            "switchyard-conformance: cannot write {}: {e}",
            path.display()
        );
        return ExitCode::from(2);
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
