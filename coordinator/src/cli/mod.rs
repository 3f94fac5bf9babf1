//! The `switchyard` command line: `serve` (the coordinator itself) and the client commands
//! (`providers`, `event-types`, `connections`, `subscriptions`, `events publish`,
//! `deliveries list|show|watch|redeliver`, `stats`, `secrets status|rotate`). Client commands print readable tables, or
//! the API's messages as JSON with `--json` for scripts. Arguments are parsed by clap here;
//! each command lives in its own module and talks to the API only through [`client`].

pub mod client;
mod commands;
mod output;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use commands::{
    ConnectionsCmd, DeliveriesCmd, EventTypesCmd, EventsCmd, PluginsCmd, ProvidersCmd, SecretsCmd,
    SubscriptionsCmd,
};

/// Switchyard: delivers monitoring-platform events to Slack, Jira, webhooks... through
/// out-of-process plugins.
#[derive(Debug, Parser)]
#[command(name = "switchyard", version, about)]
pub struct Cli {
    /// The coordinator's API: `unix:PATH`, `http://host:port`, or `https://host:port` for a
    /// TLS listener (with --tls-ca).
    #[arg(
        long,
        global = true,
        env = "SWITCHYARD_ADDR",
        default_value = "unix:./switchyard-data/switchyard.sock"
    )]
    pub addr: String,
    /// Bearer token for a coordinator that requires one (its role decides what it may call).
    #[arg(long, global = true, env = "SWITCHYARD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// For https:// addresses: the PEM CA certificate that signed the coordinator's
    /// certificate.
    #[arg(long, global = true, env = "SWITCHYARD_TLS_CA", value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// For https:// addresses: a PEM client certificate, for a coordinator that requires one
    /// (api.tls.client_ca_file). Needs --tls-key.
    #[arg(long, global = true, env = "SWITCHYARD_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, global = true, env = "SWITCHYARD_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the coordinator.
    Serve(ServeArgs),
    /// Providers served by the running plugins.
    #[command(subcommand)]
    Providers(ProvidersCmd),
    /// The event type catalogue.
    #[command(subcommand, name = "event-types")]
    EventTypes(EventTypesCmd),
    /// Connections (shared credentials of a provider).
    #[command(subcommand)]
    Connections(ConnectionsCmd),
    /// Subscriptions.
    #[command(subcommand)]
    Subscriptions(SubscriptionsCmd),
    /// Publish events.
    #[command(subcommand)]
    Events(EventsCmd),
    /// Inspect, watch and replay deliveries.
    #[command(subcommand)]
    Deliveries(DeliveriesCmd),
    /// The secret-encryption keys: status and rotation.
    #[command(subcommand)]
    Secrets(SecretsCmd),
    /// Reload a plugin: a new version takes over without downtime.
    #[command(subcommand)]
    Plugins(PluginsCmd),
    /// Delivery counts of the last hours by status, event type and provider.
    Stats {
        /// The window in hours.
        #[arg(long, default_value_t = 24)]
        hours: u32,
    },
}

/// Arguments of `switchyard serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// A TOML file overriding the embedded defaults (see --print-default-config).
    #[arg(long, short, env = "SWITCHYARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print the embedded default configuration, with a comment on every key, and exit.
    #[arg(long)]
    pub print_default_config: bool,
}

/// Runs the command line; the binary's whole `main`.
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("switchyard: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("switchyard: {}", crate::text::escape_controls(&message));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    if let Command::Serve(args) = cli.command {
        return serve::run(args).await.map_err(|e| e.to_string());
    }
    let tls = client::ClientTls {
        ca_file: cli.tls_ca,
        cert_file: cli.tls_cert,
        key_file: cli.tls_key,
    };
    let clients = client::connect_tls(&cli.addr, cli.token.as_deref(), &tls)
        .await
        .map_err(|e| e.to_string())?;
    let out = output::Output::new(cli.json);
    commands::run(cli.command, clients, out).await
}
