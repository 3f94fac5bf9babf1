//! [`Plugin`]: the builder that names a plugin binary and collects the providers it serves.
//! Building checks every provider once (schemas valid and compiled, ids well-formed and
//! unique), so a broken plugin fails at start-up with a clear message instead of at call time.

use std::sync::Arc;

use switchyard_proto::plugin::v1 as pb;

use crate::provider::Provider;
use crate::registry::{ErasedProvider, Registered};
use crate::schema::SchemaError;

/// Why a plugin definition is unusable.
#[derive(Debug, thiserror::Error)]
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

    /// Adds a provider. Its schemas are derived and compiled here; problems are reported by
    /// [`Plugin::build`] (and so by `serve`).
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
        match Registered::new(provider) {
            Ok(registered) => self.providers.push(Arc::new(registered)),
            Err(source) => self.errors.push(PluginError::Schema {
                provider: id.to_owned(),
                source,
            }),
        }
        self
    }

    /// Checks the definition and freezes it for serving.
    ///
    /// # Errors
    /// The first problem found (bad id, duplicate provider, invalid schema, no provider).
    pub fn build(mut self) -> Result<BuiltPlugin, PluginError> {
        if let Some(error) = self.errors.drain(..).next() {
            return Err(error);
        }
        if self.providers.is_empty() {
            return Err(PluginError::NoProviders);
        }
        Ok(BuiltPlugin {
            id: self.id,
            version: self.version,
            providers: self.providers,
        })
    }
}

/// A checked plugin, ready to serve; cheap to share.
#[derive(Clone)]
pub struct BuiltPlugin {
    id: String,
    version: String,
    providers: Vec<Arc<dyn ErasedProvider>>,
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

    /// The provider with local id `id`.
    #[must_use]
    pub fn find(&self, id: &str) -> Option<&Arc<dyn ErasedProvider>> {
        // A linear scan: plugins serve a handful of providers, and this allocates nothing.
        self.providers.iter().find(|p| p.descriptor().id == id)
    }

    /// The `Describe` answer for protocol version `protocol_version`.
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

/// Lowercase letters, digits and `-`, starting with a letter.
fn is_valid_id(id: &str) -> bool {
    id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}
