//! [`Plugin`]: the builder that names a plugin binary and collects the providers it serves.
//! Building checks ids (well-formed, unique) at once. Checking every schema against the
//! meta-schema and compiling it (milliseconds of CPU and megabytes of heap) is left to a
//! background thread that starts after the handshake ([`BuiltPlugin::start_schema_check`]:
//! `serve` starts it right after announcing; a plugin composed from the building blocks that
//! does not call it starts it with its first provider lookup, i.e. its first call). Calls that
//! use a config wait for the check; when a schema is broken, `serve` logs why, refuses
//! `Describe` and exits with status 1, so a broken plugin still fails at start-up with a clear
//! message instead of at call time.

use std::sync::{Arc, Once};

use switchyard_proto::plugin::v1 as pb;
use tokio::sync::SetOnce;

use crate::erased::{ErasedProvider, Registered};
use crate::provider::Provider;
use crate::schema::SchemaError;

/// Why a plugin definition is unusable.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PluginError {
    /// A plugin or provider id is not lowercase letters, digits and `-`, starting with a letter.
    #[error(
        "{what} id {id:?} is not well-formed: use lowercase letters, digits and '-', starting with a letter"
    )]
    BadId {
        /// "plugin" or "provider".
        what: &'static str,
        /// The offending id.
        id: String,
    },
    /// Two providers share an id.
    #[error("provider id {0:?} is registered twice")]
    DuplicateProvider(String),
    /// A provider's schema is invalid.
    #[error("provider {provider:?}: {source}")]
    Schema {
        /// The provider id.
        provider: String,
        /// What is wrong with its schema.
        source: SchemaError,
    },
    /// The plugin serves no provider at all.
    #[error("the plugin registers no provider")]
    NoProviders,
}

/// A plugin binary: its id, its version and the providers it serves.
///
/// ```no_run
/// # use switchyard_plugin_sdk::Plugin;
/// # fn demo(provider: impl switchyard_plugin_sdk::Provider) -> std::process::ExitCode {
/// switchyard_plugin_sdk::serve(Plugin::new("webhook", env!("CARGO_PKG_VERSION")).provider(provider))
/// # }
/// ```
pub struct Plugin {
    id: String,
    version: String,
    providers: Vec<Arc<dyn ErasedProvider>>,
    errors: Vec<PluginError>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self
            .providers
            .iter()
            .map(|p| p.descriptor().id.as_str())
            .collect();
        f.debug_struct("Plugin")
            .field("id", &self.id)
            .field("version", &self.version)
            .field("providers", &ids)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    /// A plugin with id `id` (e.g. `"webhook"`) and release version `version`.
    #[must_use]
    pub fn new(id: impl Into<String>, version: impl Into<String>) -> Self {
        let id = id.into();
        let errors = if is_valid_id(&id) {
            Vec::new()
        } else {
            vec![PluginError::BadId {
                what: "plugin",
                id: id.clone(),
            }]
        };
        Self {
            id,
            version: version.into(),
            providers: Vec::new(),
            errors,
        }
    }

    /// Adds a provider. Its schemas are derived here; they are checked and compiled after
    /// [`Plugin::build`] (see [`BuiltPlugin::schemas_checked`]).
    #[must_use]
    pub fn provider<P: Provider>(mut self, provider: P) -> Self {
        let id = provider.id();
        if !is_valid_id(id) {
            self.errors.push(PluginError::BadId {
                what: "provider",
                id: id.to_owned(),
            });
        } else if self.providers.iter().any(|p| p.descriptor().id == id) {
            self.errors
                .push(PluginError::DuplicateProvider(id.to_owned()));
        }
        self.providers.push(Arc::new(Registered::new(provider)));
        self
    }

    /// Checks the definition and freezes it for serving. The schemas are checked later
    /// ([`BuiltPlugin::start_schema_check`], [`BuiltPlugin::schemas_checked`]).
    ///
    /// # Errors
    /// The first problem found (bad id, duplicate provider, no provider). Schema problems come
    /// later, from [`BuiltPlugin::schemas_checked`] or [`BuiltPlugin::check_schemas`].
    pub fn build(mut self) -> Result<BuiltPlugin, PluginError> {
        if let Some(error) = self.errors.drain(..).next() {
            return Err(error);
        }
        if self.providers.is_empty() {
            return Err(PluginError::NoProviders);
        }
        let built = BuiltPlugin {
            id: self.id,
            version: self.version,
            providers: self.providers.into(),
            started: Arc::new(Once::new()),
            checked: Arc::new(SetOnce::new()),
        };
        Ok(built)
    }
}

/// A checked plugin, ready to serve; cheap to share.
#[derive(Clone)]
pub struct BuiltPlugin {
    id: String,
    version: String,
    providers: Arc<[Arc<dyn ErasedProvider>]>,
    /// Whether the background schema check has been started.
    started: Arc<Once>,
    /// The outcome of checking every provider's schemas, once known.
    checked: Arc<SetOnce<Result<(), PluginError>>>,
}

impl std::fmt::Debug for BuiltPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltPlugin")
            .field("id", &self.id)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl BuiltPlugin {
    /// The plugin id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The plugin's release version.
    #[must_use]
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Waits until every provider's schemas have been checked against the meta-schema and
    /// compiled (starting that if nobody has; it takes milliseconds).
    ///
    /// # Errors
    /// [`PluginError::Schema`] for the first provider whose schema is broken.
    pub async fn schemas_checked(&self) -> Result<(), PluginError> {
        self.start_schema_check();
        self.checked.wait().await.clone()
    }

    /// The outcome of the schema check if it has finished.
    pub(crate) fn schema_check_outcome(&self) -> Option<&Result<(), PluginError>> {
        self.checked.get()
    }

    /// [`BuiltPlugin::schemas_checked`] without an async runtime: blocks until the check is done
    /// (doing it on this thread if the background one has not started).
    ///
    /// # Errors
    /// As [`BuiltPlugin::schemas_checked`].
    pub fn check_schemas(&self) -> Result<(), PluginError> {
        let outcome = check_all(&self.providers);
        // The background thread may still be on its way to setting it; the outcome is the same.
        let _ = self.checked.set(outcome.clone());
        outcome
    }

    /// Starts checking and compiling every provider's schemas on a background thread (here, if
    /// no thread can be started), unless already started. Call it once the handshake is
    /// announced: the work costs milliseconds that the host would otherwise wait for.
    pub fn start_schema_check(&self) {
        self.started.call_once(|| {
            let (providers, checked) = (Arc::clone(&self.providers), Arc::clone(&self.checked));
            let spawned = std::thread::Builder::new()
                .name("sy-schema-check".to_owned())
                .spawn(move || {
                    let _ = checked.set(check_all(&providers));
                });
            if spawned.is_err() {
                let _ = self.check_schemas();
            }
        });
    }

    /// The provider with local id `id`.
    #[must_use]
    pub fn find(&self, id: &str) -> Option<&Arc<dyn ErasedProvider>> {
        // The provider's calls wait for the schema check: make sure it runs (one atomic load
        // once started).
        self.start_schema_check();
        // A linear scan: plugins serve a handful of providers, and this allocates nothing.
        self.providers.iter().find(|p| p.descriptor().id == id)
    }

    /// The `Describe` answer for protocol version `protocol_version` (does not wait for, nor
    /// start, the schema check: the host checks the schemas against the meta-schema itself).
    #[must_use]
    pub fn describe(&self, protocol_version: u32) -> pb::DescribeResponse {
        pb::DescribeResponse {
            plugin_id: self.id.clone(),
            plugin_version: self.version.clone(),
            protocol_version,
            providers: self
                .providers
                .iter()
                .map(|p| p.descriptor().clone())
                .collect(),
        }
    }
}

/// Checks and compiles every provider's schemas; the first failure wins.
fn check_all(providers: &[Arc<dyn ErasedProvider>]) -> Result<(), PluginError> {
    providers.iter().try_for_each(|provider| {
        provider
            .check_schemas()
            .map_err(|source| PluginError::Schema {
                provider: provider.descriptor().id.clone(),
                source,
            })
    })
}

/// Lowercase letters, digits and `-`, starting with a letter.
fn is_valid_id(id: &str) -> bool {
    id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}
