//! The typed [`Provider`] trait a plugin author implements, close to the seed's
//! `IntegrationProvider`, and the values it receives ([`DeliveryContext`], [`TestTarget`],
//! [`OptionsRequest`]) and describes itself with ([`Documentation`], [`Capabilities`]).

use std::future::Future;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::rendered::RenderedRequest;
use crate::result::{ConnectionOption, DeliveryResult, Diagnostic, TestConnectionResult};

/// One integration provider (a webhook, Slack, Jira…), served by a plugin binary.
///
/// The typed `Config` is what a subscription stores; its JSON Schema is derived from the type
/// with `schemars`, and every incoming config is validated against it and deserialized before
/// [`deliver`](Provider::deliver) sees it. Invalid configs never reach the provider: the SDK
/// answers them in-band with the JSON path of each problem.
///
/// The optional calls ([`test_connection`](Provider::test_connection),
/// [`get_connection_options`](Provider::get_connection_options),
/// [`migrate_config`](Provider::migrate_config), [`validate_config`](Provider::validate_config),
/// [`preview`](Provider::preview)) are only routed to the provider when
/// [`capabilities`](Provider::capabilities) declares them; otherwise the host gets
/// `UNIMPLEMENTED`.
pub trait Provider: Send + Sync + 'static {
    /// The per-subscription configuration. `Clone`: the SDK validates and deserializes a
    /// config text once and hands later calls with the same text a clone.
    type Config: DeserializeOwned + JsonSchema + Clone + Send + Sync + 'static;
    /// The site-wide connection config (shared credentials), or [`NoConnection`].
    type Connection: ConnectionConfig;

    /// Local id, unique within the plugin: lowercase letters, digits and `-`.
    fn id(&self) -> &'static str;
    /// Name shown in the UI.
    fn display_name(&self) -> &'static str;
    /// One-sentence description.
    fn description(&self) -> &'static str;
    /// A Lucide icon name, e.g. `"webhook"`.
    fn icon(&self) -> &'static str {
        ""
    }
    /// Version of the config shape, raised by one for every incompatible change.
    fn config_version(&self) -> u32 {
        1
    }
    /// Version of the connection config shape.
    fn connection_version(&self) -> u32 {
        1
    }
    /// Event types this provider handles; empty means all.
    fn supported_events(&self) -> Vec<String> {
        Vec::new()
    }
    /// User-facing help.
    fn documentation(&self) -> Documentation {
        Documentation::default()
    }
    /// The optional calls this provider implements. Undeclared ones answer `UNIMPLEMENTED`.
    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE
    }

    /// Delivers one event (one attempt). Must not panic; every failure is a [`DeliveryResult`].
    fn deliver(
        &self,
        ctx: DeliveryContext<Self::Config, Self::Connection>,
    ) -> impl Future<Output = DeliveryResult> + Send;

    /// Checks a config (or a connection config) against the external system.
    /// Declare [`Capabilities::test_connection`] when overriding it.
    fn test_connection(
        &self,
        target: TestTarget<Self::Config, Self::Connection>,
    ) -> impl Future<Output = TestConnectionResult> + Send {
        let _ = target;
        async { TestConnectionResult::failed("test connection is not implemented") }
    }

    /// Resolves the choices of a field carrying `x-options-resolver`.
    /// Declare [`Capabilities::connection_options`] when overriding it.
    /// Unknown resolver names never reach this method (the SDK answers `NOT_FOUND`).
    fn get_connection_options(
        &self,
        request: OptionsRequest<Self::Connection>,
    ) -> impl Future<Output = Result<Vec<ConnectionOption>, Vec<Diagnostic>>> + Send {
        let _ = request;
        async { Ok(Vec::new()) }
    }

    /// Upgrades a stored config from `from_version` to the current version, one step or many.
    /// The SDK validates the result against the current schema.
    /// Declare [`Capabilities::migrate_config`] when overriding it.
    fn migrate_config(
        &self,
        kind: ConfigKind,
        from_version: u32,
        config: serde_json::Value,
    ) -> Result<serde_json::Value, Vec<Diagnostic>> {
        let _ = (kind, config);
        Err(vec![Diagnostic::new(
            "",
            format!("no migration from version {from_version} is known"),
        )])
    }

    /// Checks a config (or a connection config) for what its schema cannot express: a URL that
    /// does not parse, two settings that clash, a template that does not compile. The host
    /// calls it whenever such a config is saved, after the schema check, and refuses the save
    /// when it returns any [`Diagnostic`] (each with the JSON Pointer of the offending value
    /// within the config checked). It must contact nothing.
    /// Declare [`Capabilities::validate_config`] when overriding it.
    fn validate_config(
        &self,
        target: TestTarget<Self::Config, Self::Connection>,
    ) -> impl Future<Output = Vec<Diagnostic>> + Send {
        let _ = target;
        async { Vec::new() }
    }

    /// Renders exactly the request [`deliver`](Provider::deliver) would send for `ctx`, and
    /// sends nothing. Every secret in it must be replaced by
    /// [`REDACTED`](crate::REDACTED) (the host masks the secret values it knows once more, but
    /// cannot know derived forms such as a basic-auth header or a signature). Share the code
    /// that builds the request with `deliver`, so the two cannot drift. `Err`: the config cannot
    /// produce a request, with the path of each problem.
    /// Declare [`Capabilities::preview`] when overriding it.
    fn preview(
        &self,
        ctx: DeliveryContext<Self::Config, Self::Connection>,
    ) -> impl Future<Output = Result<RenderedRequest, Vec<Diagnostic>>> + Send {
        let _ = ctx;
        async { Err(vec![Diagnostic::new("", "preview is not implemented")]) }
    }
}

/// A connection config type: either a schema-bearing type (any `DeserializeOwned + JsonSchema`
/// type) or [`NoConnection`] for providers without shared connections.
///
/// `Clone` for the same reason as [`Provider::Config`].
pub trait ConnectionConfig: DeserializeOwned + Clone + Send + Sync + 'static {
    /// The JSON Schema of the connection config, or `None` when the provider has none.
    fn connection_schema(generator: &mut schemars::SchemaGenerator) -> Option<schemars::Schema>;
}

impl<T: DeserializeOwned + JsonSchema + Clone + Send + Sync + 'static> ConnectionConfig for T {
    fn connection_schema(generator: &mut schemars::SchemaGenerator) -> Option<schemars::Schema> {
        Some(generator.root_schema_for::<T>())
    }
}

/// The `Connection` type of a provider that does not use shared connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoConnection;

impl<'de> serde::Deserialize<'de> for NoConnection {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer).map(|_| NoConnection)
    }
}

// `NoConnection` deliberately implements no `JsonSchema`, so the blanket impl above does not
// cover it and this one is coherent.
impl ConnectionConfig for NoConnection {
    fn connection_schema(_: &mut schemars::SchemaGenerator) -> Option<schemars::Schema> {
        None
    }
}

/// The optional calls a provider implements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)] // mirrors the wire message one to one
pub struct Capabilities {
    /// `test_connection` is implemented.
    pub test_connection: bool,
    /// `get_connection_options` is implemented.
    pub connection_options: bool,
    /// `migrate_config` is implemented.
    pub migrate_config: bool,
    /// `validate_config` is implemented (the host calls it at every save).
    pub validate_config: bool,
    /// `preview` is implemented.
    pub preview: bool,
}

impl Capabilities {
    /// No optional call.
    pub const NONE: Self = Self {
        test_connection: false,
        connection_options: false,
        migrate_config: false,
        validate_config: false,
        preview: false,
    };
}

/// User-facing help for a provider.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Documentation {
    /// Setup guide in Markdown.
    pub setup_guide: String,
    /// An example of what the provider sends (must be valid JSON).
    pub example_payload: Option<serde_json::Value>,
    /// HTTP headers the provider sends.
    pub headers: Vec<HeaderDoc>,
    /// Link to the external system's documentation.
    pub external_docs_url: Option<String>,
}

/// One documented HTTP header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderDoc {
    /// Header name, e.g. `X-Delivery-Id`.
    pub name: String,
    /// What it carries.
    pub description: String,
}

impl HeaderDoc {
    /// A header with its description.
    #[must_use]
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
        }
    }
}

/// One platform event as a provider sees it in one delivery attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Fully qualified event type, e.g. `incident.incident.created`.
    pub event_type: String,
    /// The event payload (a JSON object; `{}` when the host sent none).
    pub payload: serde_json::Value,
    /// When the event happened.
    pub timestamp: chrono::DateTime<chrono::Utc>,
    /// Stable across the attempts of one delivery, so receivers can dedupe.
    pub delivery_id: String,
    /// Attempt number, starting at 1.
    pub attempt: u32,
    /// The event's id: the same in the deliveries of this event to every subscription (empty
    /// from coordinators that predate it).
    pub event_id: String,
}

/// The events of one thing on the platform (an incident: created, updated, resolved) tied
/// together for one subscription by the event type's correlation path. The coordinator
/// attempts them in publish order, so a "resolved" finds what its "created" left behind.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Correlation {
    /// The correlation key (e.g. the incident id).
    pub key: String,
    /// What the earlier deliveries of this key to this subscription left behind, most recent
    /// first (at most 20; only ones that succeeded or failed).
    pub earlier: Vec<CorrelatedDelivery>,
}

impl Correlation {
    /// The oldest earlier delivery that was delivered: typically the "created" event whose
    /// message, issue or alert the later ones follow up on.
    #[must_use]
    pub fn origin(&self) -> Option<&CorrelatedDelivery> {
        self.earlier.iter().rev().find(|e| e.delivered)
    }

    /// The most recent earlier delivery that was delivered.
    #[must_use]
    pub fn latest(&self) -> Option<&CorrelatedDelivery> {
        self.earlier.iter().find(|e| e.delivered)
    }
}

/// One earlier delivery of the same subscription and correlation key.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelatedDelivery {
    /// Its event type.
    pub event_type: String,
    /// The external id its successful attempt returned.
    pub external_id: Option<String>,
    /// The state its successful attempt returned ([`DeliveryResult::with_state`]).
    pub state: Option<String>,
    /// Whether it was delivered (false: it failed).
    pub delivered: bool,
    /// When it ended.
    pub ended_at: chrono::DateTime<chrono::Utc>,
    /// Its delivery id.
    pub delivery_id: String,
}

/// The subscription a delivery belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscription {
    /// Subscription id.
    pub id: String,
    /// User-defined name.
    pub name: String,
}

/// Everything [`Provider::deliver`] needs: the event, the subscription, the validated config.
#[derive(Debug, Clone)]
pub struct DeliveryContext<C, K> {
    /// The event to deliver.
    pub event: Event,
    /// The subscription it belongs to.
    pub subscription: Subscription,
    /// The subscription's config, validated and typed. Holds decrypted secrets: never log it.
    pub config: C,
    /// The resolved connection config ([`NoConnection`] for providers without one).
    pub connection: K,
    /// The event's correlation, when its event type declares one and the payload has a key.
    pub correlation: Option<Correlation>,
}

/// Which of a provider's two schemas a config belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    /// The per-subscription provider config.
    Provider,
    /// The site-wide connection config.
    Connection,
}

/// What [`Provider::test_connection`] and [`Provider::validate_config`] are asked to check.
#[derive(Debug, Clone)]
pub enum TestTarget<C, K> {
    /// A provider config, with the resolved connection when the provider uses connections.
    Config {
        /// The config to test.
        config: C,
        /// Its connection ([`NoConnection`] when none).
        connection: K,
    },
    /// A connection config on its own.
    Connection(K),
}

/// A request for the choices of one resolver field.
#[derive(Debug, Clone)]
pub struct OptionsRequest<K> {
    /// The resolver name (as in the schema's `x-options-resolver`), known to exist.
    pub resolver: String,
    /// The connection config ([`NoConnection`] when the provider has none).
    pub connection: K,
    /// The form's current values (a JSON object; `{}` when empty).
    pub context: serde_json::Value,
}
