//! Adapts the plugin host's `Registry` to the engine's [`Providers`] seam. The only file of the
//! engine that knows the host's types; it maps `CallError` to [`PluginCallError`] through
//! `CallError::is_retryable` (crash, not running, deadline: retryable).

use std::sync::Arc;

use switchyard_proto::plugin::v1::{
    DeliverRequest, DeliverResponse, MigrateConfigRequest, MigrateConfigResponse, Provider,
};

use super::providers::{BoxFuture, PluginCallError, ProviderHandle, Providers};
use crate::host::{CallError, ProviderEntry, Registry};

/// The registry as [`Providers`].
#[derive(Debug, Clone)]
pub(crate) struct RegistryProviders {
    registry: Registry,
}

impl RegistryProviders {
    pub(crate) fn new(registry: Registry) -> Self {
        Self { registry }
    }
}

impl Providers for RegistryProviders {
    fn resolve(&self, qualified_id: &str) -> Option<Arc<dyn ProviderHandle>> {
        Some(handle_of(self.registry.resolve(qualified_id)?))
    }

    fn served(&self) -> Option<Vec<String>> {
        let providers = self.registry.providers().into_iter();
        Some(providers.map(|p| p.qualified_id).collect())
    }
}

/// A registry entry as a [`ProviderHandle`] (also a reload candidate's, before it is in the
/// registry).
pub(crate) fn handle_of(entry: ProviderEntry) -> Arc<dyn ProviderHandle> {
    Arc::new(EntryHandle { entry })
}

#[derive(Debug)]
struct EntryHandle {
    entry: ProviderEntry,
}

fn map_err(e: CallError) -> PluginCallError {
    PluginCallError {
        retryable: e.is_retryable(),
        message: e.to_string(),
    }
}

impl ProviderHandle for EntryHandle {
    fn provider(&self) -> &Provider {
        &self.entry.provider
    }

    fn deliver(
        &self,
        req: DeliverRequest,
    ) -> BoxFuture<'_, Result<DeliverResponse, PluginCallError>> {
        Box::pin(async move { self.entry.plugin.deliver(req).await.map_err(map_err) })
    }

    fn deliver_hiding(
        &self,
        req: DeliverRequest,
        secrets: switchyard_scrub::Scrubber,
    ) -> BoxFuture<'_, Result<DeliverResponse, PluginCallError>> {
        Box::pin(async move {
            let _hidden = self.entry.plugin.hide_in_logs(secrets.clone());
            let answer = self.entry.plugin.deliver(req).await;
            answer.map_err(|e| map_err(e.scrubbed(&secrets)))
        })
    }

    fn migrate_config(
        &self,
        req: MigrateConfigRequest,
    ) -> BoxFuture<'_, Result<MigrateConfigResponse, PluginCallError>> {
        Box::pin(async move { self.entry.plugin.migrate_config(req).await.map_err(map_err) })
    }
}
