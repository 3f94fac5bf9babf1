//! The connection lifecycle: create and update (the config through the one pipeline: the
//! provider's connection schema with defaults applied, the plugin's ValidateConfig when it
//! declares it, secrets encrypted), delete only while no subscription uses it (one atomic store
//! operation, so a subscription created meanwhile is never left naming a deleted connection),
//! and the rule that a connection whose config migration failed is not handed to a plugin.

use serde_json::Value;

use super::config_pipeline::{self as pipeline, Kind};
use super::plugin_check::Pending;
use super::{App, AppError, AppResult};
use crate::host::ProviderEntry;
use crate::model::{Connection, ConnectionId};

/// Creates a connection of provider `entry` named `name` from a plaintext `config`.
pub async fn create(
    app: &App<'_>,
    entry: ProviderEntry,
    name: String,
    mut config: Value,
) -> AppResult<Connection> {
    // Held from the encryption until the write.
    let _keys = app.secrets.writing().await;
    let schema = pipeline::schema(&entry, Kind::Connection)?;
    pipeline::refuse_markers(&schema, "config_json", &config)?;
    pipeline::complete_and_validate(&schema, "config_json", &mut config)?;
    let config = plugin_checked(entry.clone(), config).await?;
    let now = chrono::Utc::now();
    let conn = Connection {
        id: ConnectionId::new_at(now),
        provider_id: entry.qualified_id.clone(),
        name,
        config: pipeline::encrypt(app, &schema, config)?,
        schema_version: schema.version,
        migration_error: None,
        created_at: now,
        updated_at: now,
    };
    app.store.insert_connection(&conn)?;
    tracing::info!(connection = %conn.id, provider = %conn.provider_id, "connection created");
    Ok(conn)
}

/// Renames connection `id` and/or merges a plaintext config update over its stored config (the
/// redaction marker keeps a stored secret); a new config clears a failed migration.
pub async fn update(
    app: &App<'_>,
    id: ConnectionId,
    name: Option<String>,
    config: Option<Value>,
) -> AppResult<Connection> {
    // Held from the read of the stored record until the write.
    let _keys = app.secrets.writing().await;
    let mut conn = get(app, id)?;
    if let Some(new) = config {
        let entry = super::provider(app, &conn.provider_id)?;
        let schema = pipeline::schema(&entry, Kind::Connection)?;
        let mut config = pipeline::merge(app, &schema, &conn.config, new)?;
        pipeline::complete_and_validate(&schema, "config_json", &mut config)?;
        let config = plugin_checked(entry, config).await?;
        conn.config = pipeline::encrypt(app, &schema, config)?;
        conn.schema_version = schema.version;
        conn.migration_error = None;
    }
    if let Some(name) = name {
        conn.name = name;
    }
    conn.updated_at = chrono::Utc::now();
    app.store.update_connection(&conn)?;
    tracing::info!(connection = %conn.id, "connection updated");
    Ok(conn)
}

/// Deletes connection `id` unless subscriptions still use it (they would fail at delivery):
/// FAILED_PRECONDITION naming them, decided and applied in one store operation.
pub fn delete(app: &App<'_>, id: ConnectionId) -> AppResult<()> {
    let conn = get(app, id)?;
    // False: deleted concurrently since the read, which is what was asked.
    app.store.delete_unused_connection(conn.id)?;
    tracing::info!(connection = %conn.id, "connection deleted");
    Ok(())
}

/// The stored connection `id`, or NOT_FOUND.
pub fn get(app: &App<'_>, id: ConnectionId) -> AppResult<Connection> {
    app.store
        .get_connection(id)?
        .ok_or_else(|| AppError::NotFound(format!("connection {id} does not exist")))
}

/// Refuses to hand a plugin a connection whose config could not be migrated: it follows an
/// older schema, so its secrets may not be where the plugin looks for them.
pub fn ensure_current(conn: &Connection) -> AppResult<()> {
    match &conn.migration_error {
        None => Ok(()),
        Some(problem) => Err(AppError::FailedPrecondition(format!(
            "connection {} cannot be used until it is fixed: its {problem}; update it with a \
             config valid for the provider's current connection schema",
            conn.id
        ))),
    }
}

/// The connection config once the plugin's ValidateConfig (if declared) has passed it.
async fn plugin_checked(entry: ProviderEntry, config: Value) -> AppResult<Value> {
    Pending {
        entry,
        kind: Kind::Connection,
        field: "config_json",
        config,
        connection_json: String::new(),
        connection_broken: false,
    }
    .check()
    .await
}
