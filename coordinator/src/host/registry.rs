//! [`Registry`]: every plugin of a coordinator, with their providers addressed by qualified id
//! `{plugin_id}.{provider_id}`. Plugins start concurrently; one that fails to start is reported,
//! not fatal. Built once at start-up; afterwards only a reload changes it, replacing the
//! providers of one plugin at once (`reload`).

use super::error::StartError;
use super::options::{HostOptions, PluginSpec};
use super::plugin::Plugin;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use switchyard_proto::plugin::v1::Provider;
use tokio::task::JoinSet;

/// One provider of one plugin.
#[derive(Debug, Clone)]
pub struct ProviderEntry {
    /// `{plugin_id}.{provider_id}`.
    pub qualified_id: String,
    /// The plugin serving it.
    pub plugin: Plugin,
    /// Its description (schemas validated).
    pub provider: Provider,
}

impl ProviderEntry {
    /// The provider's id within its plugin (what requests to the plugin carry).
    #[must_use]
    pub fn local_id(&self) -> &str {
        &self.provider.id
    }
}

/// All plugins of a coordinator.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    inner: Arc<RwLock<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    plugins: Vec<Plugin>,
    providers: BTreeMap<String, ProviderEntry>,
}

impl Registry {
    /// Starts every spec; a plugin that fails to start is logged and returned in the error list,
    /// not fatal. A second binary describing an already-taken plugin id is stopped and
    /// reported.
    pub async fn start(
        specs: Vec<PluginSpec>,
        opts: HostOptions,
    ) -> (Registry, Vec<(PathBuf, StartError)>) {
        let mut set = JoinSet::new();
        for (index, spec) in specs.into_iter().enumerate() {
            let opts = opts.clone();
            set.spawn(
                async move { (index, spec.command.clone(), Plugin::start(spec, opts).await) },
            );
        }
        let mut results = set.join_all().await;
        results.sort_by_key(|(index, ..)| *index);
        let mut inner = Inner::default();
        let mut errors = Vec::new();
        for (_, command, result) in results {
            let result = match result {
                Ok(plugin) if inner.plugins.iter().any(|p| p.id() == plugin.id()) => {
                    plugin.stop().await;
                    Err(StartError::DuplicatePluginId(plugin.id().to_owned()))
                }
                other => other,
            };
            match result {
                Ok(plugin) => inner.add(plugin),
                Err(err) => {
                    tracing::error!(plugin = %command.display(), %err, "plugin not started");
                    errors.push((command, err));
                }
            }
        }
        (
            Registry {
                inner: Arc::new(RwLock::new(inner)),
            },
            errors,
        )
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces every provider of `plugin_id` with `entries` (a new version took over).
    pub(super) fn replace_providers(&self, plugin_id: &str, entries: Vec<ProviderEntry>) {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        inner.providers.retain(|_, e| e.plugin.id() != plugin_id);
        for entry in entries {
            inner.providers.insert(entry.qualified_id.clone(), entry);
        }
    }

    /// Every provider of every plugin, ordered by qualified id.
    #[must_use]
    pub fn providers(&self) -> Vec<ProviderEntry> {
        self.read().providers.values().cloned().collect()
    }

    /// The provider with this qualified id.
    #[must_use]
    pub fn resolve(&self, qualified_id: &str) -> Option<ProviderEntry> {
        self.read().providers.get(qualified_id).cloned()
    }

    /// Every started plugin.
    #[must_use]
    pub fn plugins(&self) -> Vec<Plugin> {
        self.read().plugins.clone()
    }

    /// Stops every plugin (concurrently) and waits until all are reaped.
    pub async fn stop_all(&self) {
        let mut set = JoinSet::new();
        for plugin in self.plugins() {
            let plugin = plugin.clone();
            set.spawn(async move { plugin.stop().await });
        }
        set.join_all().await;
    }
}

impl Inner {
    /// Adds a started plugin and its providers.
    fn add(&mut self, plugin: Plugin) {
        for entry in provider_entries(&plugin.pinned()) {
            self.providers.insert(entry.qualified_id.clone(), entry);
        }
        self.plugins.push(plugin);
    }
}

/// The entries of every provider `plugin` describes, each calling through `plugin`.
pub(super) fn provider_entries(plugin: &Plugin) -> Vec<ProviderEntry> {
    plugin
        .describe()
        .providers
        .iter()
        .map(|provider| ProviderEntry {
            qualified_id: format!("{}.{}", plugin.id(), provider.id),
            plugin: plugin.clone(),
            provider: provider.clone(),
        })
        .collect()
}
