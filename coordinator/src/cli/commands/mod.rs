//! The client subcommands: their clap definitions and one function per command that calls the
//! API and hands the answer to [`Output`]. API errors are printed with their gRPC code and
//! message, which say what to fix.

mod catalog;
mod connections;
mod deliveries;
mod guard;
mod plugins;
mod preview;
mod publish_file;
mod secrets;
mod subscriptions;

use std::path::PathBuf;

use clap::Subcommand;

use super::Command;
use super::client::Clients;
use super::output::Output;

/// `switchyard providers ...`
#[derive(Debug, Subcommand)]
pub enum ProvidersCmd {
    /// List every provider.
    List,
    /// Show one provider with its schemas.
    Show {
        /// Qualified provider id, e.g. webhook.webhook.
        id: String,
    },
}

/// `switchyard plugins ...`
#[derive(Debug, Subcommand)]
pub enum PluginsCmd {
    /// Start a plugin's binary again beside the running process (a new version once it was
    /// replaced on disk), check it, migrate stored configs and switch to it without failing a
    /// delivery; a refused version leaves the running one serving and prints why.
    Reload {
        /// The plugin id, e.g. webhook (see `providers list`: the part before the dot).
        plugin_id: String,
    },
}

/// `switchyard event-types ...`
#[derive(Debug, Subcommand)]
pub enum EventTypesCmd {
    /// List the event types.
    List {
        /// Only this category.
        #[arg(long)]
        category: Option<String>,
    },
    /// Show one event type with its payload paths.
    Show {
        /// Event type id, e.g. incident.incident.created.
        id: String,
    },
    /// Register (or re-register) an event type.
    Register {
        /// Event type id, e.g. incident.incident.created.
        id: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
        /// Category.
        #[arg(long, default_value = "")]
        category: String,
        /// File holding the payload JSON Schema.
        #[arg(long)]
        schema: Option<PathBuf>,
        /// JSON Pointer of the correlation key in the payload, e.g. /incidentId: deliveries of
        /// one subscription and one key are attempted in publish order.
        #[arg(long, default_value = "")]
        correlation_path: String,
    },
}

/// `switchyard connections ...`
#[derive(Debug, Subcommand)]
pub enum ConnectionsCmd {
    /// List connections.
    List {
        /// Only this provider's.
        #[arg(long)]
        provider: Option<String>,
    },
    /// Show one connection (secrets redacted).
    Show {
        /// Connection id.
        id: String,
    },
    /// Create a connection.
    Create {
        /// Qualified provider id.
        #[arg(long)]
        provider: String,
        /// Name.
        #[arg(long)]
        name: String,
        /// Config as JSON text, or @FILE.
        #[arg(long)]
        config: String,
    },
    /// Update a connection's name and/or config.
    Update {
        /// Connection id.
        id: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// New config as JSON text, or @FILE.
        #[arg(long)]
        config: Option<String>,
    },
    /// Delete a connection.
    Delete {
        /// Connection id.
        id: String,
    },
    /// Test a saved connection against the external system.
    Test {
        /// Connection id.
        id: String,
    },
}

/// `switchyard subscriptions ...`
#[derive(Debug, Subcommand)]
pub enum SubscriptionsCmd {
    /// List subscriptions.
    List {
        /// Only this provider's.
        #[arg(long)]
        provider: Option<String>,
        /// Only those matching this event type.
        #[arg(long)]
        event_type: Option<String>,
        /// Only enabled (true) or disabled (false) ones.
        #[arg(long)]
        enabled: Option<bool>,
        /// Page size.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Page token from a previous page.
        #[arg(long, default_value = "")]
        page_token: String,
    },
    /// Show one subscription (secrets redacted).
    Show {
        /// Subscription id.
        id: String,
    },
    /// Create a subscription.
    Create(Box<subscriptions::CreateArgs>),
    /// Delete a subscription (cancels its pending deliveries).
    Delete {
        /// Subscription id.
        id: String,
    },
    /// Enable a subscription.
    Enable {
        /// Subscription id.
        id: String,
    },
    /// Disable a subscription (cancels its pending deliveries).
    Disable {
        /// Subscription id.
        id: String,
    },
    /// Set or remove a subscription's rate limit (attempts per second and burst).
    RateLimit(Box<guard::RateLimitArgs>),
    /// Show the request a delivery would send (method, URL, headers, body; secrets masked)
    /// without sending anything: for a saved subscription ID, or an unsaved --provider and
    /// --config.
    Preview(Box<preview::PreviewArgs>),
    /// Send one real test event to one subscription (enabled or not): recorded as a test
    /// delivery, one attempt, no retries, and no other subscription receives it.
    Test {
        /// Subscription id.
        id: String,
        /// Event type id; defaults to the subscription's only exact event type.
        #[arg(long)]
        event_type: Option<String>,
        /// Payload as JSON text, or @FILE; defaults to an example made from the event type's
        /// payload schema.
        #[arg(long)]
        payload: Option<String>,
    },
}

/// `switchyard events ...`
#[derive(Debug, Subcommand)]
pub enum EventsCmd {
    /// Publish one event (--type and --payload), or every line of a JSON Lines file (--file).
    Publish {
        /// Event type id.
        #[arg(
            long = "type",
            required_unless_present = "file",
            conflicts_with = "file"
        )]
        event_type: Option<String>,
        /// Payload as JSON text, or @FILE.
        #[arg(long, required_unless_present = "file", conflicts_with = "file")]
        payload: Option<String>,
        /// Idempotency key.
        #[arg(long, conflicts_with = "file")]
        idempotency_key: Option<String>,
        /// A JSON Lines file ("-" for stdin), one event per line: {"type": "...", "payload":
        /// {...}, "idempotencyKey": "...", "timestamp": "RFC 3339"} (the last two optional).
        /// Sent through PublishEvents; every line is reported, and the command fails if any
        /// was refused.
        #[arg(long)]
        file: Option<String>,
        /// Lines per PublishEvents call with --file (1 to 1000).
        #[arg(long, default_value_t = 100, requires = "file")]
        batch_size: usize,
    },
}

/// `switchyard deliveries ...`
#[derive(Debug, Subcommand)]
pub enum DeliveriesCmd {
    /// List deliveries, newest first.
    List {
        /// Only this subscription's.
        #[arg(long)]
        subscription: Option<String>,
        /// Only this event type.
        #[arg(long)]
        event_type: Option<String>,
        /// Only this status (pending, in_flight, succeeded, retrying, failed, cancelled).
        #[arg(long)]
        status: Option<String>,
        /// Page size.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Page token from a previous page.
        #[arg(long, default_value = "")]
        page_token: String,
    },
    /// Show one delivery and its attempts.
    Show {
        /// Delivery id.
        id: String,
    },
    /// Stream status changes until interrupted.
    Watch {
        /// Only this subscription's.
        #[arg(long)]
        subscription: Option<String>,
    },
    /// Make a new manual attempt of a finished delivery.
    Redeliver {
        /// Delivery id.
        id: String,
    },
}

/// `switchyard secrets ...`
#[derive(Debug, Subcommand)]
pub enum SecretsCmd {
    /// Show the ids of the keys in use (never the keys) and where they live.
    Status,
    /// Rotate the key in the running coordinator: a new key encrypts, every stored secret is
    /// re-encrypted under it while deliveries go on, then the old key leaves the key file.
    /// Finishes an interrupted rotation instead when there is one.
    Rotate,
}

/// Runs one client command.
pub(super) async fn run(command: Command, clients: Clients, out: Output) -> Result<(), String> {
    match command {
        Command::Serve(_) => Ok(()),
        Command::Providers(cmd) => catalog::providers(cmd, clients, out).await,
        Command::EventTypes(cmd) => catalog::event_types(cmd, clients, out).await,
        Command::Connections(cmd) => connections::run(cmd, clients, out).await,
        Command::Subscriptions(cmd) => subscriptions::run(cmd, clients, out).await,
        Command::Events(cmd) => deliveries::events(cmd, clients, out).await,
        Command::Deliveries(cmd) => deliveries::run(cmd, clients, out).await,
        Command::Stats { hours } => deliveries::stats(hours, clients, out).await,
        Command::Secrets(cmd) => secrets::run(cmd, clients, out).await,
        Command::Plugins(cmd) => plugins::run(cmd, clients, out).await,
    }
}

/// Prints an API error with its gRPC code and its message (which says what to fix).
#[allow(clippy::needless_pass_by_value)] // used as `map_err(api_err)`
fn api_err(status: tonic::Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}

/// The body of an API answer, or its status as the CLI's error text ([`api_err`]).
trait Body<T> {
    fn body(self) -> Result<T, String>;
}

impl<T> Body<T> for Result<tonic::Response<T>, tonic::Status> {
    fn body(self) -> Result<T, String> {
        self.map(tonic::Response::into_inner).map_err(api_err)
    }
}

/// JSON text given inline, or read from `@FILE`.
fn json_arg(text: &str) -> Result<String, String> {
    match text.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}")),
        None => Ok(text.to_owned()),
    }
}
