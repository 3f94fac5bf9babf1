//! Zero-downtime reload of one plugin: start the (possibly replaced) binary again beside the
//! running process, Describe it and check the answer (the start checks, the same plugin id, no
//! schema version going down), let the [`UpgradeGate`] check that every stored config of its
//! providers can be migrated to its schema versions, then hand it to the supervisor ([`Swap`]):
//! it takes the new calls at once, while the old process finishes the calls it has and is then
//! stopped and reaped. The registry's entries for the plugin are replaced and the gate migrates
//! the stored configs for real.
//!
//! A candidate that fails any step is stopped and reaped; the old process never stopped
//! serving. Every outcome is logged and kept as the plugin's [`LastReload`] for the API.

use super::binary_watch::Fingerprint;
use super::error::StartError;
use super::launch::{Instance, launch};
use super::plugin::Plugin;
use super::registry::{ProviderEntry, Registry, provider_entries};
use super::state::Live;
use super::stop::graceful_stop;
use super::supervisor::{Swap, live_of};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError};
use std::time::SystemTime;
use switchyard_proto::plugin::v1::{DescribeResponse, Provider, VersionedSchema};
use tokio::sync::oneshot;

/// A boxed, sendable future (the gate must stay object-safe).
pub type GateFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the rest of the coordinator (the delivery engine, which owns the stored configs) says
/// about a new plugin version.
pub trait UpgradeGate: Send + Sync {
    /// Whether every stored config of these providers (entries of the new version, callable)
    /// can be migrated to their schema versions; nothing is written. Err: why not, without
    /// secret values.
    fn check<'a>(&'a self, candidate: &'a [ProviderEntry]) -> GateFuture<'a, Result<(), String>>;
    /// The new version of `plugin_id` took over: migrate the stored configs for real and drop
    /// what was cached of the old version's providers.
    fn switched<'a>(&'a self, plugin_id: &'a str) -> GateFuture<'a, ()>;
}

/// Why a new version was refused; the old one keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// No running plugin has this id.
    #[error("no plugin {id:?} is running; running plugins: {known}")]
    UnknownPlugin {
        /// The id asked for.
        id: String,
        /// The ids there are, comma-separated.
        known: String,
    },
    /// The plugin is being stopped.
    #[error("plugin {0:?} is stopping")]
    Stopping(String),
    /// The new version did not start or its Describe answer is invalid.
    #[error("the new version did not start: {0}")]
    Start(#[from] StartError),
    /// The new version describes another plugin.
    #[error(
        "the new version describes plugin {described:?} instead of {expected:?}; install it as \
         another plugin"
    )]
    OtherPlugin {
        /// The running plugin's id.
        expected: String,
        /// The id the new version described.
        described: String,
    },
    /// A schema version went down: stored configs cannot be migrated to an older version.
    #[error(
        "provider {provider:?}: the {schema} version would go down from {from} to {to}, and \
         stored configs are only ever migrated up; install a version at least as new"
    )]
    VersionDown {
        /// The provider's local id.
        provider: String,
        /// `config schema` or `connection schema`.
        schema: &'static str,
        /// The running version's.
        from: u32,
        /// The new version's.
        to: u32,
    },
    /// Stored configs cannot be migrated to the new version's schemas.
    #[error("stored configs cannot be migrated to the new version: {0}")]
    Migration(String),
}

/// A reload that took place.
#[derive(Debug, Clone)]
pub struct Reloaded {
    /// The plugin id.
    pub plugin_id: String,
    /// The replaced version's `plugin_version`.
    pub old_version: String,
    /// The new version's `plugin_version`.
    pub new_version: String,
    /// The replaced process, stopped and reaped by now (`None`: it had crashed).
    pub old_pid: Option<u32>,
    /// The process serving now.
    pub new_pid: u32,
}

/// The outcome of a plugin's last reload.
#[derive(Debug, Clone)]
pub struct LastReload {
    /// When it ended.
    pub at: SystemTime,
    /// Why it was refused; `None` when the new version took over.
    pub error: Option<String>,
}

impl Registry {
    /// Reloads the plugin with this id (see the module doc); returns once the old process is
    /// reaped, or at once with the reason the new version was refused.
    ///
    /// # Errors
    /// [`ReloadError`]: what to fix; the running version keeps serving.
    pub async fn reload(
        &self,
        plugin_id: &str,
        gate: &dyn UpgradeGate,
    ) -> Result<Reloaded, ReloadError> {
        let plugins = self.plugins();
        let Some(plugin) = plugins.iter().find(|p| p.id() == plugin_id) else {
            let known: Vec<&str> = plugins.iter().map(Plugin::id).collect();
            return Err(ReloadError::UnknownPlugin {
                id: plugin_id.to_owned(),
                known: if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                },
            });
        };
        plugin.reload(self, gate).await
    }

    /// Reloads every plugin, one after the other (SIGHUP); each outcome is logged and kept.
    pub async fn reload_all(&self, gate: &dyn UpgradeGate) {
        for plugin in self.plugins() {
            let _ = plugin.reload(self, gate).await;
        }
    }
}

impl Plugin {
    /// The outcome of the last reload, if there was one.
    #[must_use]
    pub fn last_reload(&self) -> Option<LastReload> {
        self.shared
            .last_reload
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Reloads this plugin (one reload at a time) and records the outcome.
    async fn reload(
        &self,
        registry: &Registry,
        gate: &dyn UpgradeGate,
    ) -> Result<Reloaded, ReloadError> {
        let _one = self.shared.reloading.lock().await;
        let result = self.reload_now(registry, gate).await;
        let error = match &result {
            Ok(r) => {
                tracing::info!(plugin = %self.name(), id = r.plugin_id, old_version = r.old_version,
                    new_version = r.new_version, old_pid = ?r.old_pid, pid = r.new_pid, "plugin reloaded");
                None
            }
            Err(err) => {
                tracing::error!(plugin = %self.name(), id = self.id(), %err, "new plugin version refused; the running one keeps serving");
                Some(err.to_string())
            }
        };
        let record = LastReload {
            at: SystemTime::now(),
            error,
        };
        *self
            .shared
            .last_reload
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(record);
        result
    }

    async fn reload_now(
        &self,
        registry: &Registry,
        gate: &dyn UpgradeGate,
    ) -> Result<Reloaded, ReloadError> {
        let shared = &self.shared;
        if shared.stop.is_cancelled() {
            return Err(ReloadError::Stopping(shared.id.clone()));
        }
        let old = self.describe();
        // Taken before the start: a change made after it is noticed again by the watch.
        let files = Fingerprint::of(&shared.watched);
        *shared
            .loaded_from
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = files;
        let instance = launch(&shared.spec, &shared.opts, &shared.secrets).await?;
        let live = live_of(&instance);
        let candidate = Plugin {
            shared: Arc::clone(shared),
            pin: Some(Arc::clone(&live)),
        };
        let entries = provider_entries(&candidate);
        let accepted = match accepts(&old, &live.describe) {
            Ok(()) => gate.check(&entries).await.map_err(ReloadError::Migration),
            Err(err) => Err(err),
        };
        if let Err(err) = accepted {
            drop((candidate, entries));
            discard(instance, &live, shared.opts.stop_grace).await;
            return Err(err);
        }
        let (done, replaced) = oneshot::channel();
        let swap = Swap {
            instance,
            live: Arc::clone(&live),
            done,
        };
        if let Err(refused) = shared.swaps.send(swap).await {
            drop((candidate, entries));
            discard(refused.0.instance, &live, shared.opts.stop_grace).await;
            return Err(ReloadError::Stopping(shared.id.clone()));
        }
        *shared
            .describe
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::clone(&live.describe);
        registry.replace_providers(&shared.id, entries);
        drop(candidate);
        gate.switched(&shared.id).await;
        Ok(Reloaded {
            plugin_id: shared.id.clone(),
            old_version: old.plugin_version.clone(),
            new_version: live.describe.plugin_version.clone(),
            old_pid: replaced.await.ok().flatten(),
            new_pid: live.pid,
        })
    }
}

/// Stops a refused candidate and reaps it.
async fn discard(instance: Instance, live: &Live, grace: std::time::Duration) {
    live.retired.cancel();
    graceful_stop(instance, grace).await;
    live.died.cancel();
}

/// Whether `new` may replace `old`: the same plugin id, and no provider's schema version
/// going down (providers may be added or dropped).
fn accepts(old: &DescribeResponse, new: &DescribeResponse) -> Result<(), ReloadError> {
    if new.plugin_id != old.plugin_id {
        return Err(ReloadError::OtherPlugin {
            expected: old.plugin_id.clone(),
            described: new.plugin_id.clone(),
        });
    }
    for provider in &new.providers {
        if let Some(before) = old.providers.iter().find(|p| p.id == provider.id) {
            not_lower(before, provider)?;
        }
    }
    Ok(())
}

fn not_lower(old: &Provider, new: &Provider) -> Result<(), ReloadError> {
    let version = |s: &Option<VersionedSchema>| s.as_ref().map(|s| s.version);
    let pairs = [
        (
            "config schema",
            version(&old.config_schema),
            version(&new.config_schema),
        ),
        (
            "connection schema",
            version(&old.connection_schema),
            version(&new.connection_schema),
        ),
    ];
    for (schema, from, to) in pairs {
        if let (Some(from), Some(to)) = (from, to)
            && to < from
        {
            return Err(ReloadError::VersionDown {
                provider: new.id.clone(),
                schema,
                from,
                to,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe(config: u32, connection: Option<u32>) -> DescribeResponse {
        let schema = |version| VersionedSchema {
            version,
            json_schema: "{}".into(),
        };
        DescribeResponse {
            plugin_id: "fixture".into(),
            providers: vec![Provider {
                id: "linked".into(),
                config_schema: Some(schema(config)),
                connection_schema: connection.map(schema),
                ..Provider::default()
            }],
            ..DescribeResponse::default()
        }
    }

    #[test]
    fn equal_or_higher_versions_are_accepted() {
        assert!(accepts(&describe(1, Some(1)), &describe(1, Some(1))).is_ok());
        assert!(accepts(&describe(1, Some(1)), &describe(2, Some(3))).is_ok());
        assert!(accepts(&describe(1, None), &describe(2, Some(1))).is_ok());
    }

    #[test]
    fn a_version_going_down_is_refused_naming_it() {
        let err = accepts(&describe(2, Some(1)), &describe(1, Some(1))).unwrap_err();
        assert!(matches!(
            err,
            ReloadError::VersionDown { ref provider, schema: "config schema", from: 2, to: 1 }
                if provider == "linked"
        ));
        let err = accepts(&describe(2, Some(2)), &describe(2, Some(1))).unwrap_err();
        assert!(
            err.to_string()
                .contains("connection schema version would go down from 2 to 1")
        );
    }

    #[test]
    fn another_plugin_id_is_refused() {
        let mut other = describe(1, None);
        other.plugin_id = "other".into();
        let err = accepts(&describe(1, None), &other).unwrap_err();
        assert!(matches!(err, ReloadError::OtherPlugin { .. }), "{err}");
    }

    #[test]
    fn dropped_and_added_providers_are_accepted() {
        let mut new = describe(1, None);
        new.providers[0].id = "fresh".into();
        assert!(accepts(&describe(5, None), &new).is_ok());
    }
}
