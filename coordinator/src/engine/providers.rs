//! The engine's view of the plugins: a small trait seam ([`Providers`], [`ProviderHandle`])
//! implemented for the host's `Registry` (in `host_adapter`) and by in-process fakes in tests,
//! plus [`ProviderCache`], which parses each provider's schemas once instead of per delivery.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use switchyard_proto::plugin::v1::{
    DeliverRequest, DeliverResponse, MigrateConfigRequest, MigrateConfigResponse, Provider,
};

/// A boxed, sendable future (the trait must stay object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A failed plugin call, as the engine needs to see it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PluginCallError {
    /// Whether trying again later may help (plugin crashed, not running, deadline missed...).
    pub retryable: bool,
    /// What went wrong (no secrets).
    pub message: String,
}

/// One provider of a running plugin.
pub trait ProviderHandle: Send + Sync + std::fmt::Debug {
    /// The provider's description (schemas, supported events, capabilities).
    fn provider(&self) -> &Provider;
    /// Delivers one attempt.
    fn deliver(
        &self,
        req: DeliverRequest,
    ) -> BoxFuture<'_, Result<DeliverResponse, PluginCallError>>;
    /// Delivers one attempt whose request carries `secrets`, hiding them in the plugin's log
    /// lines meanwhile (and a while after). Fakes without log lines keep the default.
    fn deliver_hiding(
        &self,
        req: DeliverRequest,
        secrets: switchyard_scrub::Scrubber,
    ) -> BoxFuture<'_, Result<DeliverResponse, PluginCallError>> {
        let _ = secrets;
        self.deliver(req)
    }
    /// Upgrades a stored config.
    fn migrate_config(
        &self,
        req: MigrateConfigRequest,
    ) -> BoxFuture<'_, Result<MigrateConfigResponse, PluginCallError>>;
}

/// Every provider the engine can deliver through, by qualified id `{plugin}.{provider}`.
pub trait Providers: Send + Sync + std::fmt::Debug {
    /// The provider, or `None` if no loaded plugin serves it.
    fn resolve(&self, qualified_id: &str) -> Option<Arc<dyn ProviderHandle>>;
    /// The qualified ids of every provider served now; `None` when the set is fixed (test
    /// providers), so there is nothing to tell a shared store after a reload.
    fn served(&self) -> Option<Vec<String>> {
        None
    }
}

/// A provider with its schemas parsed once.
#[derive(Debug)]
pub(crate) struct Resolved {
    pub(crate) handle: Arc<dyn ProviderHandle>,
    pub(crate) config_schema: Value,
    pub(crate) config_version: u32,
    pub(crate) connection_schema: Option<Value>,
    pub(crate) connection_version: u32,
}

impl Resolved {
    pub(crate) fn new(handle: Arc<dyn ProviderHandle>) -> Self {
        let p = handle.provider();
        let parse = |s: &str| serde_json::from_str(s).unwrap_or(Value::Bool(true));
        let (config_schema, config_version) = p
            .config_schema
            .as_ref()
            .map_or((Value::Bool(true), 1), |s| {
                (parse(&s.json_schema), s.version)
            });
        let (connection_schema, connection_version) = match &p.connection_schema {
            Some(s) => (Some(parse(&s.json_schema)), s.version),
            None => (None, 1),
        };
        Self {
            handle,
            config_schema,
            config_version,
            connection_schema,
            connection_version,
        }
    }

    pub(crate) fn provider(&self) -> &Provider {
        self.handle.provider()
    }

    /// Whether the provider handles `event_type` (no list means all; entries may be patterns).
    pub(crate) fn supports(&self, event_type: &str) -> bool {
        let list = &self.provider().supported_events;
        list.is_empty()
            || list
                .iter()
                .any(|p| crate::model::event_type_matches(p, event_type))
    }

    pub(crate) fn can_migrate(&self) -> bool {
        self.provider()
            .capabilities
            .as_ref()
            .is_some_and(|c| c.migrate_config)
    }
}

/// Resolves providers through [`Providers`], caching the parsed result per qualified id.
#[derive(Debug)]
pub(crate) struct ProviderCache {
    providers: Arc<dyn Providers>,
    cache: Mutex<HashMap<String, Arc<Resolved>>>,
}

impl ProviderCache {
    pub(crate) fn new(providers: Arc<dyn Providers>) -> Self {
        Self {
            providers,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The provider, or `None` if no loaded plugin serves it (not cached, so a provider that
    /// appears later is found).
    pub(crate) fn get(&self, qualified_id: &str) -> Option<Arc<Resolved>> {
        if let Ok(cache) = self.cache.lock()
            && let Some(r) = cache.get(qualified_id)
        {
            return Some(Arc::clone(r));
        }
        let resolved = Arc::new(Resolved::new(self.providers.resolve(qualified_id)?));
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(qualified_id.to_owned(), Arc::clone(&resolved));
        }
        Some(resolved)
    }

    /// [`Providers::served`].
    pub(crate) fn served(&self) -> Option<Vec<String>> {
        self.providers.served()
    }

    /// Forgets the providers of `plugin_id`: a new version of it took over, with other
    /// descriptions (attempts holding the old ones finish on the old process).
    pub(crate) fn forget_plugin(&self, plugin_id: &str) {
        let prefix = format!("{plugin_id}.");
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|id, _| !id.starts_with(&prefix));
        }
    }
}
