//! Config versions: a stored subscription or connection config whose schema version is older
//! than its provider's is upgraded — decrypt (every stored envelope: the old schema that said
//! what was secret is gone) → the plugin's `MigrateConfig` (or, for a provider without that
//! capability, the config as it is) → the one config pipeline's end
//! (`app::config_pipeline::finish_migrated`: defaults, validation, encryption under the current
//! schema) → one atomic write of the record. A subscription disabled for a failed upgrade has
//! its scheduled deliveries cancelled in the same store operation. Runs at engine start for everything, and before a
//! delivery whose subscription is still behind.
//!
//! A failed upgrade never touches the stored config: the subscription is disabled with the
//! reason stored on it; a connection gets `migration_error`, and every subscription using it
//! (its provider config's `connectionId`) is disabled with a reason naming the connection,
//! since the old config's secrets may not be where the current schema expects them. Reasons
//! never quote secret values.

use serde_json::Value;
use switchyard_proto::plugin::v1 as pb;

use super::Inner;
use super::providers::Resolved;
use crate::app::config_pipeline::{self, pointer_or_root};
use crate::model::{Connection, Subscription};

/// Upgrades every subscription and connection that is behind its provider's schema version.
pub(super) async fn upgrade_all(inner: &Inner) {
    // Held from the reads below until the last write (see `Secrets::writing`).
    let _keys = inner.secrets.writing().await;
    let subs = match inner.store.subscriptions() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot list subscriptions for config migration");
            return;
        }
    };
    for sub in subs.iter() {
        if let Some(p) = inner.providers.get(&sub.provider_id)
            && sub.schema_version < p.config_version
        {
            let _ = upgrade_subscription(inner, sub.clone(), &p).await;
        }
    }
    let conns = inner.store.list_connections(None).unwrap_or_default();
    for conn in conns {
        if let Some(p) = inner.providers.get(&conn.provider_id)
            && p.connection_schema.is_some()
            && conn.schema_version < p.connection_version
        {
            connection(inner, conn, &p).await;
        }
    }
}

/// Upgrades one subscription's config and stores it; on failure disables the subscription
/// with the reason and returns that reason.
pub(super) async fn subscription(
    inner: &Inner,
    sub: Subscription,
    p: &Resolved,
) -> Result<Subscription, String> {
    let _keys = inner.secrets.writing().await;
    upgrade_subscription(inner, sub, p).await
}

async fn upgrade_subscription(
    inner: &Inner,
    mut sub: Subscription,
    p: &Resolved,
) -> Result<Subscription, String> {
    let (from, to) = (sub.schema_version, p.config_version);
    let kind = pb::ConfigKind::Provider;
    match upgrade(inner, p, kind, from, &sub.config, &p.config_schema, to).await {
        Ok(config) => {
            sub.config = config;
            sub.schema_version = to;
            sub.updated_at = inner.clock.now();
            inner
                .store
                .update_subscription(&sub)
                .map_err(|e| e.to_string())?;
            tracing::info!(subscription = %sub.id, from, to, "subscription config migrated");
            Ok(sub)
        }
        Err(problem) => {
            let reason = format!("config migration from version {from} to {to} failed: {problem}");
            tracing::warn!(subscription = %sub.id, %reason, "disabling subscription");
            disable(inner, sub, reason.clone());
            Err(reason)
        }
    }
}

/// Upgrades one connection's config and stores it. On failure the stored config stays as it
/// was (old version, old data) with `migration_error` set, and every subscription using the
/// connection is disabled: its secrets may not be where the current schema puts them.
async fn connection(inner: &Inner, mut conn: Connection, p: &Resolved) {
    let Some(schema) = &p.connection_schema else {
        return;
    };
    let (from, to) = (conn.schema_version, p.connection_version);
    let kind = pb::ConfigKind::Connection;
    let failed = match upgrade(inner, p, kind, from, &conn.config, schema, to).await {
        Ok(config) => {
            conn.config = config;
            conn.schema_version = to;
            conn.migration_error = None;
            tracing::info!(connection = %conn.id, from, to, "connection config migrated");
            false
        }
        Err(problem) => {
            let reason = format!("config migration from version {from} to {to} failed: {problem}");
            tracing::warn!(connection = %conn.id, %reason, "connection config not migrated");
            conn.migration_error = Some(reason);
            true
        }
    };
    conn.updated_at = inner.clock.now();
    if let Err(e) = inner.store.update_connection(&conn) {
        tracing::error!(connection = %conn.id, error = %e, "cannot store connection migration");
    }
    if failed {
        disable_users(inner, &conn);
    }
}

/// Disables every subscription whose provider config names `conn` (which failed to migrate),
/// with a reason naming the connection and the problem. A subscription already disabled with
/// a reason keeps the first one (e.g. its own failed migration).
fn disable_users(inner: &Inner, conn: &Connection) {
    let subs = match inner.store.subscriptions() {
        Ok(s) => s,
        Err(e) => {
            let id = conn.id;
            tracing::error!(connection = %id, error = %e, "cannot list subscriptions to disable");
            return;
        }
    };
    let problem = conn
        .migration_error
        .as_deref()
        .unwrap_or("config migration failed");
    let reason = format!(
        "connection {} ({:?}) cannot be used: its {problem}; fix the connection (update its \
         config), then enable this subscription again",
        conn.id, conn.name
    );
    let users = subs.iter().filter(|s| s.connection_id() == Some(conn.id));
    for sub in users.filter(|s| s.enabled || s.disabled_reason.is_none()) {
        let (id, connection) = (sub.id, conn.id);
        tracing::warn!(subscription = %id, %connection, "disabling: connection not current");
        disable(inner, sub.clone(), reason.clone());
    }
}

/// Disables a subscription with `reason` and cancels its scheduled deliveries in one store
/// operation (as disabling it through the API does), so none waits in `retrying` for a
/// subscription that cannot send. Only those fields of the stored record change: `sub` may be
/// an older read of it, whose config a secret-key rotation has re-encrypted since.
fn disable(inner: &Inner, sub: Subscription, reason: String) {
    let id = sub.id;
    match inner
        .store
        .disable_subscription(id, Some(&reason), inner.clock.now())
    {
        Ok(Some(done)) => {
            inner.announce_cancelled(&done);
            if !done.cancelled.is_empty() {
                let n = done.cancelled.len();
                tracing::info!(subscription = %id, cancelled = n, "scheduled deliveries cancelled");
            }
        }
        Ok(None) => {}
        Err(e) => tracing::error!(subscription = %id, error = %e, "cannot disable subscription"),
    }
}

/// The upgraded config in stored (encrypted) form, or why it could not be upgraded (nothing is
/// written: a reload's dry run calls it too).
pub(super) async fn upgrade(
    inner: &Inner,
    p: &Resolved,
    kind: pb::ConfigKind,
    from: u32,
    stored: &Value,
    schema: &Value,
    to: u32,
) -> Result<Value, String> {
    let mut plain = stored.clone();
    inner
        .secrets
        .decrypt_envelopes(&mut plain)
        .map_err(|e| e.to_string())?;
    let migrated = if p.can_migrate() {
        call_migrate(p, kind, from, &plain, to).await?
    } else {
        plain
    };
    config_pipeline::finish_migrated(&inner.secrets, schema, migrated)
}

async fn call_migrate(
    p: &Resolved,
    kind: pb::ConfigKind,
    from: u32,
    plain: &Value,
    to: u32,
) -> Result<Value, String> {
    let req = pb::MigrateConfigRequest {
        provider_id: p.provider().id.clone(),
        kind: kind as i32,
        from_version: from,
        config_json: plain.to_string(),
    };
    let resp = p
        .handle
        .migrate_config(req)
        .await
        .map_err(|e| format!("the plugin's MigrateConfig failed: {e}"))?;
    if !resp.diagnostics.is_empty() {
        let list: Vec<String> = resp
            .diagnostics
            .iter()
            .map(|d| format!("at {}: {}", pointer_or_root(&d.json_path), d.message))
            .collect();
        return Err(list.join("; "));
    }
    if resp.version != to {
        return Err(format!(
            "the plugin returned version {} instead of {to}",
            resp.version
        ));
    }
    serde_json::from_str(&resp.config_json)
        .map_err(|e| format!("the plugin returned a config that is not JSON: {e}"))
}
