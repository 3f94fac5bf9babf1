//! The engine's side of a plugin reload ([`crate::host::UpgradeGate`]): before a new version
//! takes over, every stored config of its providers that is behind their schema versions is
//! migrated in a dry run — through the new version's `MigrateConfig`, defaults, validation,
//! encryption, exactly as [`migrate`](super::migrate) does — and nothing is written; one that
//! fails refuses the new version, with the reasons. After the switch, the cached descriptions of
//! the old version's providers are dropped and the stored configs are migrated for real.
//!
//! Disabled subscriptions do not hold an upgrade back: they are migrated after the switch like
//! the others, and one that fails keeps its reason (it was not sending anyway). Connections do,
//! since a connection that cannot be migrated disables every subscription using it.

use std::sync::Arc;

use switchyard_proto::plugin::v1 as pb;

use super::providers::Resolved;
use super::{Engine, Inner, host_adapter, migrate};
use crate::host::{GateFuture, ProviderEntry, UpgradeGate};

/// Most problems named in a refusal; the rest are counted.
const MAX_LISTED: usize = 5;

impl UpgradeGate for Engine {
    fn check<'a>(&'a self, candidate: &'a [ProviderEntry]) -> GateFuture<'a, Result<(), String>> {
        Box::pin(async move { dry_run(&self.inner, candidate).await })
    }

    fn switched<'a>(&'a self, plugin_id: &'a str) -> GateFuture<'a, ()> {
        Box::pin(async move {
            self.inner.providers.forget_plugin(plugin_id);
            // A new version may serve other providers: a shared store must hand this
            // coordinator their deliveries (and no longer those of providers it dropped).
            if let Some(served) = self.inner.providers.served() {
                self.inner.store.serve_providers(&served);
            }
            migrate::upgrade_all(&self.inner).await;
            self.inner.wake.notify_one();
        })
    }
}

/// Migrates, without storing, every config of `candidate`'s providers that is behind.
async fn dry_run(inner: &Inner, candidate: &[ProviderEntry]) -> Result<(), String> {
    // As in `migrate`: no key rotation re-encrypts a config between its read and its check.
    let _keys = inner.secrets.writing().await;
    let subs = inner.store.subscriptions().map_err(|e| e.to_string())?;
    let conns = inner
        .store
        .list_connections(None)
        .map_err(|e| e.to_string())?;
    let mut problems = Vec::new();
    for entry in candidate {
        let p = Resolved::new(host_adapter::handle_of(entry.clone()));
        let kind = pb::ConfigKind::Provider;
        let behind = subs.iter().filter(|s| {
            s.provider_id == entry.qualified_id && s.enabled && s.schema_version < p.config_version
        });
        for sub in behind {
            let (from, to) = (sub.schema_version, p.config_version);
            let tried = migrate::upgrade(inner, &p, kind, from, &sub.config, &p.config_schema, to);
            if let Err(problem) = tried.await {
                problems.push(format!(
                    "subscription {} ({:?}) from config version {from} to {to}: {problem}",
                    sub.id, sub.name
                ));
            }
        }
        let Some(schema) = &p.connection_schema else {
            continue;
        };
        let behind = conns.iter().filter(|c| {
            c.provider_id == entry.qualified_id && c.schema_version < p.connection_version
        });
        for conn in behind {
            let (from, to) = (conn.schema_version, p.connection_version);
            let kind = pb::ConfigKind::Connection;
            let tried = migrate::upgrade(inner, &p, kind, from, &conn.config, schema, to);
            if let Err(problem) = tried.await {
                problems.push(format!(
                    "connection {} ({:?}) from connection version {from} to {to}: {problem}",
                    conn.id, conn.name
                ));
            }
        }
    }
    refusal(problems)
}

/// The refusal naming the first problems, or Ok when there are none.
fn refusal(mut problems: Vec<String>) -> Result<(), String> {
    if problems.is_empty() {
        return Ok(());
    }
    let more = problems.len().saturating_sub(MAX_LISTED);
    problems.truncate(MAX_LISTED);
    let mut text = problems.join("; ");
    if more > 0 {
        text.push_str(&format!("; and {more} more"));
    }
    Err(text)
}

impl Engine {
    /// The engine as the gate of plugin reloads (see the module doc).
    #[must_use]
    pub fn upgrade_gate(&self) -> Arc<dyn UpgradeGate> {
        Arc::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn a_refusal_lists_the_first_problems_and_counts_the_rest() {
        assert_eq!(refusal(Vec::new()), Ok(()));
        let problems: Vec<String> = (1..=7).map(|i| format!("p{i}")).collect();
        assert_eq!(
            refusal(problems),
            Err("p1; p2; p3; p4; p5; and 2 more".to_owned())
        );
    }
}
