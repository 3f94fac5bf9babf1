//! Type erasure: a typed [`Provider`] wrapped with its schemas into an object-safe
//! [`ErasedProvider`], so one binary can serve several providers of different types. The
//! schemas are generated when the provider is registered (`Describe` needs their text) and
//! checked and compiled later, off the start-up path ([`ErasedProvider::check_schemas`]); every
//! call that uses a config waits for that. Each wrapper turns wire requests into typed calls and
//! typed results into wire responses; invalid input is answered in-band, protocol errors
//! become a [`tonic::Status`]. Every answer is scrubbed of the call's secrets (see
//! [`crate::redact`]) before it leaves.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;
use switchyard_proto::plugin::v1 as pb;
use tonic::Status;

use crate::config_cache::ConfigCache;
use crate::deferred::Deferred;
use crate::provider::{
    Capabilities, ConfigKind, ConnectionConfig, CorrelatedDelivery, Correlation, DeliveryContext,
    Event, OptionsRequest, Provider, Subscription, TestTarget,
};
use crate::redact;
use crate::result::{Diagnostic, TestConnectionResult};
use crate::schema::{CompiledSchema, SchemaError, generator, parse_json_text};

/// A boxed, sendable future: the erased form of the trait's async methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The object-safe face of a [`Provider`], as the gRPC service sees it.
pub trait ErasedProvider: Send + Sync + 'static {
    /// The provider's `Describe` entry, computed once.
    fn descriptor(&self) -> &pb::Provider;
    /// Handles a `Deliver` call for this provider.
    fn deliver(
        &self,
        request: pb::DeliverRequest,
    ) -> BoxFuture<'_, Result<pb::DeliverResponse, Status>>;
    /// Handles a `TestConnection` call (capability already checked).
    fn test_connection(
        &self,
        request: pb::TestConnectionRequest,
    ) -> BoxFuture<'_, Result<pb::TestConnectionResponse, Status>>;
    /// Handles a `GetConnectionOptions` call (capability already checked).
    fn connection_options(
        &self,
        request: pb::GetConnectionOptionsRequest,
    ) -> BoxFuture<'_, Result<pb::GetConnectionOptionsResponse, Status>>;
    /// Handles a `MigrateConfig` call (capability already checked).
    fn migrate_config(
        &self,
        request: pb::MigrateConfigRequest,
    ) -> Result<pb::MigrateConfigResponse, Status>;
    /// Handles a `ValidateConfig` call (capability already checked).
    fn validate_config(
        &self,
        request: pb::ValidateConfigRequest,
    ) -> BoxFuture<'_, Result<pb::ValidateConfigResponse, Status>>;
    /// Handles a `Preview` call (capability already checked).
    fn preview(
        &self,
        request: pb::PreviewRequest,
    ) -> BoxFuture<'_, Result<pb::PreviewResponse, Status>>;
    /// Checks the provider's schemas against the meta-schema and compiles them, unless done
    /// already (then it returns the earlier outcome at once). Blocking: call it off the async
    /// runtime (`Plugin::build` does, on a background thread).
    ///
    /// # Errors
    /// What is wrong with a schema.
    fn check_schemas(&self) -> Result<(), SchemaError>;
}

/// A typed provider with its schemas: generated (for `Describe`) when registered, compiled
/// later (see [`Registered::check_schemas`]).
pub(crate) struct Registered<P: Provider> {
    provider: P,
    descriptor: pb::Provider,
    config_json: Value,
    connection_json: Option<Value>,
    compiled: Deferred<Result<Schemas<P>, SchemaError>>,
    prepared: ConfigCache<Prepared<P>>,
}

/// A `Deliver`'s config and connection, typed, with the scrubber of their secrets: what
/// depends only on the two texts, built once per pair (see [`crate::config_cache`]).
struct Prepared<P: Provider> {
    config: P::Config,
    connection: P::Connection,
    secrets: switchyard_scrub::Scrubber,
}

impl<P: Provider> Clone for Prepared<P> {
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            connection: self.connection.clone(),
            secrets: self.secrets.clone(),
        }
    }
}

/// What [`Registered::delivery_context`] answers: the context and its secrets' scrubber, or
/// the config's problems.
type DeliveryContextResult<P> = Result<
    (
        DeliveryContext<<P as Provider>::Config, <P as Provider>::Connection>,
        switchyard_scrub::Scrubber,
    ),
    Vec<Diagnostic>,
>;

/// A provider's compiled schemas.
struct Schemas<P: Provider> {
    config: CompiledSchema<P::Config>,
    connection: Option<CompiledSchema<P::Connection>>,
}

impl<P: Provider> Registered<P> {
    /// Derives the provider's schemas and builds its `Describe` entry. Cheap: checking and
    /// compiling the schemas is left to [`ErasedProvider::check_schemas`].
    pub(crate) fn new(provider: P) -> Self {
        let config_json = generator().root_schema_for::<P::Config>().to_value();
        // A generator of its own: one shared with the config would give the connection
        // schema the config's `$defs` too (rules about config fields would then be checked
        // against the connection's).
        let connection_json =
            P::Connection::connection_schema(&mut generator()).map(|schema| schema.to_value());
        let descriptor = describe(&provider, &config_json, connection_json.as_ref());
        Self {
            provider,
            descriptor,
            config_json,
            connection_json,
            compiled: Deferred::new(),
            prepared: ConfigCache::default(),
        }
    }

    /// Checks the schemas against the meta-schema and compiles them.
    fn compile(&self) -> Result<Schemas<P>, SchemaError> {
        let compile = || {
            let config = CompiledSchema::from_value("config", self.config_json.clone())?;
            let connection = self
                .connection_json
                .clone()
                .map(|json| CompiledSchema::from_value("connection", json))
                .transpose()?;
            Ok(Schemas { config, connection })
        };
        // A panic on a background thread would leave every call waiting forever.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(compile)).unwrap_or_else(|_| {
            Err(SchemaError::Compile {
                what: "config",
                message: "the schema compiler panicked".to_owned(),
            })
        })
    }

    /// The compiled schemas, waiting for the background check if it is still running; a
    /// broken schema refuses the call with `FAILED_PRECONDITION`.
    async fn schemas(&self) -> Result<&Schemas<P>, Status> {
        let compiled = match self.compiled.get() {
            Some(compiled) => compiled,
            None => self.compiled.wait().await,
        };
        compiled.as_ref().map_err(|err| self.refusal(err))
    }

    /// [`Registered::schemas`] for sync callers (compiles on this thread if nobody has yet).
    fn schemas_now(&self) -> Result<&Schemas<P>, Status> {
        self.compiled
            .get_or_compute(|| self.compile())
            .as_ref()
            .map_err(|err| self.refusal(err))
    }

    /// The current version of the schema `kind` names; `None` when the provider has none.
    fn current_version(&self, kind: ConfigKind) -> Option<u32> {
        match kind {
            ConfigKind::Provider => Some(self.provider.config_version()),
            ConfigKind::Connection => self
                .connection_json
                .as_ref()
                .map(|_| self.provider.connection_version()),
        }
    }

    /// The typed context of a `Deliver` (or `Preview`) request and the scrubber of its
    /// secrets; `Ok(Err(_))`: the config or connection config is invalid, with the path of
    /// each problem.
    async fn delivery_context(
        &self,
        mut request: pb::DeliverRequest,
    ) -> Result<DeliveryContextResult<P>, Status> {
        let (event, subscription) = event_from(&mut request)?;
        let prepared = match self
            .prepared(&request.config_json, &request.connection_json)
            .await?
        {
            Ok(prepared) => prepared,
            Err(diagnostics) => return Ok(Err(diagnostics)),
        };
        let context = DeliveryContext {
            event,
            subscription,
            config: prepared.config,
            connection: prepared.connection,
            correlation: request.correlation.take().map(correlation_from),
        };
        Ok(Ok((context, prepared.secrets)))
    }

    /// The typed config and connection of a `Deliver`, from the cache when these texts were
    /// seen before.
    async fn prepared(
        &self,
        config_json: &str,
        connection_json: &str,
    ) -> Result<Result<Prepared<P>, Vec<Diagnostic>>, Status> {
        let schemas = self.schemas().await?;
        Ok(self
            .prepared
            .get_or_build(config_json, connection_json, || {
                let config = schemas.config(config_json)?;
                let connection = schemas
                    .connection(connection_json)
                    .map_err(|d| prefix(d, "connection"))?;
                Ok(Prepared {
                    config,
                    connection,
                    secrets: self.secrets(ConfigKind::Provider, config_json, connection_json),
                })
            }))
    }

    /// What a `TestConnection` or `ValidateConfig` request names, typed; `Ok(Err(_))`: it does
    /// not match its schema, with the path of each problem.
    async fn target(
        &self,
        kind: i32,
        config_json: &str,
        connection_json: &str,
    ) -> Result<Result<TestTarget<P::Config, P::Connection>, Vec<Diagnostic>>, Status> {
        let kind = kind_from(kind)?;
        let schemas = self.schemas().await?;
        Ok(match kind {
            ConfigKind::Provider => schemas.config(config_json).and_then(|config| {
                let connection = schemas
                    .connection(connection_json)
                    .map_err(|d| prefix(d, "connection"))?;
                Ok(TestTarget::Config { config, connection })
            }),
            ConfigKind::Connection => {
                if schemas.connection.is_none() {
                    return Err(Status::invalid_argument(
                        "this provider has no connection schema",
                    ));
                }
                schemas.connection(config_json).map(TestTarget::Connection)
            }
        })
    }

    /// The scrubber of a call: the secrets of `config_json` (of `kind`) and of the connection.
    fn secrets(
        &self,
        kind: ConfigKind,
        config_json: &str,
        connection_json: &str,
    ) -> switchyard_scrub::Scrubber {
        let config_schema = match kind {
            ConfigKind::Provider => Some(&self.config_json),
            ConfigKind::Connection => self.connection_json.as_ref(),
        };
        let connection = self.connection_json.as_ref().map(|s| (s, connection_json));
        redact::scrubber_of(
            config_schema
                .map(|s| (s, config_json))
                .into_iter()
                .chain(connection),
        )
    }

    fn refusal(&self, err: &SchemaError) -> Status {
        Status::failed_precondition(format!(
            "provider {:?} cannot validate configs: {err}",
            self.descriptor.id
        ))
    }
}

impl<P: Provider> Schemas<P> {
    /// The connection config of a request: typed, or diagnostics with a `/connection` prefix.
    fn connection(&self, text: &str) -> Result<P::Connection, Vec<Diagnostic>> {
        let Some(schema) = &self.connection else {
            return serde_json::from_value(Value::Null).map_err(|_| Vec::new());
        };
        if text.trim().is_empty() {
            return Err(vec![Diagnostic::new(
                "",
                "this provider needs a connection, but no connection config was sent",
            )]);
        }
        parse_json_text(text)
            .map_err(|d| vec![d])
            .and_then(|value| schema.parse(&value))
    }

    fn config(&self, text: &str) -> Result<P::Config, Vec<Diagnostic>> {
        parse_json_text(text)
            .map_err(|d| vec![d])
            .and_then(|value| self.config.parse(&value))
    }

    fn has_resolver(&self, name: &str) -> bool {
        self.config.resolvers().contains(name)
            || self
                .connection
                .as_ref()
                .is_some_and(|c| c.resolvers().contains(name))
    }
}

fn describe(provider: &impl Provider, config: &Value, connection: Option<&Value>) -> pb::Provider {
    let docs = provider.documentation();
    let Capabilities {
        test_connection,
        connection_options,
        migrate_config,
        validate_config,
        preview,
    } = provider.capabilities();
    pb::Provider {
        id: provider.id().to_owned(),
        display_name: provider.display_name().to_owned(),
        description: provider.description().to_owned(),
        icon: provider.icon().to_owned(),
        config_schema: Some(pb::VersionedSchema {
            version: provider.config_version(),
            json_schema: config.to_string(),
        }),
        connection_schema: connection.map(|c| pb::VersionedSchema {
            version: provider.connection_version(),
            json_schema: c.to_string(),
        }),
        supported_events: provider.supported_events(),
        documentation: Some(pb::Documentation {
            setup_guide: docs.setup_guide,
            example_payload: docs
                .example_payload
                .map(|v| serde_json::to_string_pretty(&v).unwrap_or_default())
                .unwrap_or_default(),
            headers: docs
                .headers
                .into_iter()
                .map(|h| pb::HeaderDoc {
                    name: h.name,
                    description: h.description,
                })
                .collect(),
            external_docs_url: docs.external_docs_url.unwrap_or_default(),
        }),
        capabilities: Some(pb::Capabilities {
            test_connection,
            connection_options,
            migrate_config,
            validate_config,
            preview,
        }),
    }
}

/// The event of a `Deliver` request; protocol-level problems are `INVALID_ARGUMENT`.
fn event_from(request: &mut pb::DeliverRequest) -> Result<(Event, Subscription), Status> {
    let event = request
        .event
        .take()
        .ok_or_else(|| Status::invalid_argument("DeliverRequest.event is required"))?;
    let payload = if event.payload_json.trim().is_empty() {
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_str(&event.payload_json).map_err(|err| {
            Status::invalid_argument(format!("Event.payload_json is not JSON: {err}"))
        })?
    };
    let timestamp = event
        .timestamp
        .and_then(|ts| {
            chrono::DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).unwrap_or(0))
        })
        .unwrap_or_else(chrono::Utc::now);
    let subscription = request.subscription.take().unwrap_or_default();
    Ok((
        Event {
            event_type: event.event_type,
            payload,
            timestamp,
            delivery_id: event.delivery_id,
            attempt: event.attempt.max(1),
            event_id: event.event_id,
        },
        Subscription {
            id: subscription.id,
            name: subscription.name,
        },
    ))
}

fn correlation_from(c: pb::Correlation) -> Correlation {
    let earlier = c
        .earlier
        .into_iter()
        .map(|e| CorrelatedDelivery {
            event_type: e.event_type,
            external_id: Some(e.external_id).filter(|s| !s.is_empty()),
            state: Some(e.state).filter(|s| !s.is_empty()),
            delivered: e.delivered,
            ended_at: e
                .ended_at
                .and_then(|ts| {
                    chrono::DateTime::from_timestamp(
                        ts.seconds,
                        u32::try_from(ts.nanos).unwrap_or(0),
                    )
                })
                .unwrap_or_default(),
            delivery_id: e.delivery_id,
        })
        .collect();
    Correlation {
        key: c.key,
        earlier,
    }
}

fn diagnostics_proto(diagnostics: Vec<Diagnostic>) -> Vec<pb::Diagnostic> {
    diagnostics
        .into_iter()
        .map(Diagnostic::into_proto)
        .collect()
}

/// A `Deliver` answer for an invalid config: permanent, with the diagnostics, nothing sent.
fn invalid_config(diagnostics: Vec<Diagnostic>) -> pb::DeliverResponse {
    let summary = diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    pb::DeliverResponse {
        error: format!("invalid config: {summary}"),
        outcome: pb::Outcome::Permanent.into(),
        diagnostics: diagnostics_proto(diagnostics),
        ..Default::default()
    }
}

fn prefix(diagnostics: Vec<Diagnostic>, what: &str) -> Vec<Diagnostic> {
    diagnostics
        .into_iter()
        .map(|d| Diagnostic::new(d.json_path, format!("{what}: {}", d.message)))
        .collect()
}

fn test_response(result: TestConnectionResult) -> pb::TestConnectionResponse {
    pb::TestConnectionResponse {
        success: result.success,
        message: result.message,
        details_json: result.details.map(|d| d.to_string()).unwrap_or_default(),
        diagnostics: Vec::new(),
    }
}

fn kind_from(kind: i32) -> Result<ConfigKind, Status> {
    match pb::ConfigKind::try_from(kind) {
        Ok(pb::ConfigKind::Provider) => Ok(ConfigKind::Provider),
        Ok(pb::ConfigKind::Connection) => Ok(ConfigKind::Connection),
        _ => Err(Status::invalid_argument(
            "kind must be CONFIG_KIND_PROVIDER or CONFIG_KIND_CONNECTION",
        )),
    }
}

impl<P: Provider> ErasedProvider for Registered<P> {
    fn descriptor(&self) -> &pb::Provider {
        &self.descriptor
    }

    fn check_schemas(&self) -> Result<(), SchemaError> {
        match self.compiled.get_or_compute(|| self.compile()) {
            Ok(_) => Ok(()),
            Err(err) => Err(err.clone()),
        }
    }

    fn deliver(
        &self,
        request: pb::DeliverRequest,
    ) -> BoxFuture<'_, Result<pb::DeliverResponse, Status>> {
        Box::pin(async move {
            let (ctx, secrets) = match self.delivery_context(request).await? {
                Ok(prepared) => prepared,
                Err(diagnostics) => return Ok(invalid_config(diagnostics)),
            };
            let _active = redact::activate(&secrets);
            let mut response = self.provider.deliver(ctx).await.into_proto();
            redact::deliver_response(&secrets, &mut response);
            Ok(response)
        })
    }

    fn test_connection(
        &self,
        request: pb::TestConnectionRequest,
    ) -> BoxFuture<'_, Result<pb::TestConnectionResponse, Status>> {
        Box::pin(async move {
            let kind = kind_from(request.kind)?;
            let target = self
                .target(request.kind, &request.config_json, &request.connection_json)
                .await?;
            match target {
                Ok(target) => {
                    let secrets =
                        self.secrets(kind, &request.config_json, &request.connection_json);
                    let _active = redact::activate(&secrets);
                    let mut response = test_response(self.provider.test_connection(target).await);
                    redact::test_response(&secrets, &mut response);
                    Ok(response)
                }
                Err(diagnostics) => Ok(pb::TestConnectionResponse {
                    success: false,
                    message: "the config is invalid".to_owned(),
                    details_json: String::new(),
                    diagnostics: diagnostics_proto(diagnostics),
                }),
            }
        })
    }

    fn connection_options(
        &self,
        request: pb::GetConnectionOptionsRequest,
    ) -> BoxFuture<'_, Result<pb::GetConnectionOptionsResponse, Status>> {
        Box::pin(async move {
            let schemas = self.schemas().await?;
            if !schemas.has_resolver(&request.resolver_name) {
                return Err(Status::not_found(format!(
                    "provider {:?} has no resolver {:?}",
                    self.descriptor.id, request.resolver_name
                )));
            }
            let answer = |diagnostics| pb::GetConnectionOptionsResponse {
                options: Vec::new(),
                diagnostics: diagnostics_proto(diagnostics),
            };
            let connection = match schemas.connection(&request.connection_json) {
                Ok(connection) => connection,
                Err(diagnostics) => return Ok(answer(diagnostics)),
            };
            let context = match parse_json_text(&request.context_json) {
                Ok(context) => context,
                Err(diagnostic) => return Ok(answer(vec![diagnostic])),
            };
            let secrets = self
                .connection_json
                .as_ref()
                .map(|schema| redact::scrubber_of([(schema, request.connection_json.as_str())]))
                .unwrap_or_default();
            let options = OptionsRequest {
                resolver: request.resolver_name,
                connection,
                context,
            };
            let _active = redact::activate(&secrets);
            let mut response = match self.provider.get_connection_options(options).await {
                Ok(options) => pb::GetConnectionOptionsResponse {
                    options: options.into_iter().map(|o| o.into_proto()).collect(),
                    diagnostics: Vec::new(),
                },
                Err(diagnostics) => answer(diagnostics),
            };
            redact::options_response(&secrets, &mut response);
            Ok(response)
        })
    }

    fn migrate_config(
        &self,
        request: pb::MigrateConfigRequest,
    ) -> Result<pb::MigrateConfigResponse, Status> {
        let kind = kind_from(request.kind)?;
        let current = self
            .current_version(kind)
            .ok_or_else(|| Status::invalid_argument("this provider has no connection schema"))?;
        // Sync (the trait method is): blocks only if the background check is mid-compile.
        let schemas = self.schemas_now()?;
        let failed = |version, diagnostics| pb::MigrateConfigResponse {
            version,
            config_json: String::new(),
            diagnostics: diagnostics_proto(diagnostics),
        };
        if request.from_version > current {
            let message = format!(
                "version {} is newer than this plugin's version {current}",
                request.from_version
            );
            return Ok(failed(
                request.from_version,
                vec![Diagnostic::new("", message)],
            ));
        }
        let value = match parse_json_text(&request.config_json) {
            Ok(value) => value,
            Err(diagnostic) => return Ok(failed(request.from_version, vec![diagnostic])),
        };
        let migrated = if request.from_version == current {
            Ok(value)
        } else {
            self.provider
                .migrate_config(kind, request.from_version, value)
        };
        let migrated = migrated.and_then(|value| {
            let problems = validate_against(kind, schemas, &value);
            if problems.is_empty() {
                Ok(value)
            } else {
                Err(problems)
            }
        });
        match migrated {
            Ok(value) => Ok(pb::MigrateConfigResponse {
                version: current,
                config_json: value.to_string(),
                diagnostics: Vec::new(),
            }),
            Err(diagnostics) => Ok(failed(request.from_version, diagnostics)),
        }
    }

    fn validate_config(
        &self,
        request: pb::ValidateConfigRequest,
    ) -> BoxFuture<'_, Result<pb::ValidateConfigResponse, Status>> {
        Box::pin(async move {
            let target = self
                .target(request.kind, &request.config_json, &request.connection_json)
                .await?;
            let diagnostics = match target {
                Ok(target) => self.provider.validate_config(target).await,
                Err(diagnostics) => diagnostics,
            };
            Ok(pb::ValidateConfigResponse {
                diagnostics: diagnostics_proto(diagnostics),
            })
        })
    }

    fn preview(
        &self,
        request: pb::PreviewRequest,
    ) -> BoxFuture<'_, Result<pb::PreviewResponse, Status>> {
        Box::pin(async move {
            let delivery = request
                .delivery
                .ok_or_else(|| Status::invalid_argument("PreviewRequest.delivery is required"))?;
            let rendered = match self.delivery_context(delivery).await? {
                Ok((ctx, secrets)) => {
                    let _active = redact::activate(&secrets);
                    self.provider.preview(ctx).await.map(|r| (r, secrets))
                }
                Err(diagnostics) => Err(diagnostics),
            };
            Ok(match rendered {
                Ok((request, secrets)) => pb::PreviewResponse {
                    request: Some(scrubbed(&secrets, request.into_proto())),
                    diagnostics: Vec::new(),
                },
                Err(diagnostics) => pb::PreviewResponse {
                    request: None,
                    diagnostics: diagnostics_proto(diagnostics),
                },
            })
        })
    }
}

/// A rendered request with every form of a secret the provider forgot to mask replaced.
fn scrubbed(
    secrets: &switchyard_scrub::Scrubber,
    mut r: pb::RenderedRequest,
) -> pb::RenderedRequest {
    for text in [&mut r.method, &mut r.url, &mut r.body] {
        secrets.scrub_string(text);
    }
    for header in &mut r.headers {
        secrets.scrub_string(&mut header.value);
    }
    r
}

fn validate_against<P: Provider>(
    kind: ConfigKind,
    schemas: &Schemas<P>,
    value: &Value,
) -> Vec<Diagnostic> {
    match (kind, &schemas.connection) {
        (ConfigKind::Provider, _) => schemas.config.diagnostics(value),
        (ConfigKind::Connection, Some(connection)) => connection.diagnostics(value),
        (ConfigKind::Connection, None) => Vec::new(),
    }
}
