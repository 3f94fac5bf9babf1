//! The one config pipeline: provider configs and connection configs on their way in and out —
//! picking the provider's schema, merging an update over the stored form (the redaction marker
//! keeps a secret), applying defaults and validating (every problem with its JSON path),
//! encrypting for storage, decrypting for a plugin call, and redacting for a response. The API's
//! saves and the engine's config migrations ([`finish_migrated`]) both end through it.

use serde_json::Value;

use super::App;
use super::error::{AppError, AppResult};
use crate::host::ProviderEntry;
use crate::model::{Connection, ConnectionId};
use crate::secrets::{REDACTED, redact, redact_envelopes, secret_pointers};

/// Which of a provider's schemas a config follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The per-subscription config.
    Provider,
    /// The site-wide connection config.
    Connection,
}

/// A provider schema, parsed, with its version.
#[derive(Debug, Clone)]
pub(crate) struct Schema {
    /// The JSON Schema document.
    pub(crate) doc: Value,
    /// The config shape version.
    pub(crate) version: u32,
}

/// The provider's schema of `kind`; FAILED_PRECONDITION when it uses no connections.
pub(crate) fn schema(entry: &ProviderEntry, kind: Kind) -> AppResult<Schema> {
    let p = &entry.provider;
    let versioned = match kind {
        Kind::Provider => p.config_schema.as_ref(),
        Kind::Connection => p.connection_schema.as_ref(),
    };
    let versioned = versioned.ok_or_else(|| {
        AppError::FailedPrecondition(format!(
            "provider {} uses no connections (it declares no connection schema)",
            entry.qualified_id
        ))
    })?;
    // The host checked every schema at start, so this only fails on a host bug.
    let doc = serde_json::from_str(&versioned.json_schema).map_err(|e| {
        AppError::Internal(format!("schema of {} is not JSON: {e}", entry.qualified_id))
    })?;
    Ok(Schema {
        doc,
        version: versioned.version,
    })
}

/// Applies the schema's defaults to a plaintext config and validates it; INVALID_ARGUMENT
/// lists every problem with its JSON path within `field`.
pub(crate) fn complete_and_validate(
    schema: &Schema,
    field: &str,
    config: &mut Value,
) -> AppResult<()> {
    complete(&schema.doc, config).map_err(|p| AppError::schema(field, &p))
}

/// The schema's defaults applied to a plaintext config, then the schema's check: the step every
/// config takes before it is encrypted and stored.
fn complete(doc: &Value, config: &mut Value) -> Result<(), Vec<crate::schema::SchemaProblem>> {
    crate::schema::apply_defaults(doc, config);
    crate::schema::validate(doc, config)
}

/// The end of a config migration: the plaintext config a plugin's `MigrateConfig` returned (or
/// the old one as it was) completed and validated against schema `doc` and encrypted, or why
/// not — a text naming each problem's path, without the message of a problem at a secret
/// value (it may quote the value).
pub(crate) fn finish_migrated(
    secrets: &crate::secrets::Secrets,
    doc: &Value,
    mut config: Value,
) -> Result<Value, String> {
    if let Err(problems) = complete(doc, &mut config) {
        return Err(describe_problems(doc, &config, &problems));
    }
    secrets
        .encrypt_secrets(doc, &mut config)
        .map_err(|e| e.to_string())?;
    Ok(config)
}

/// A JSON pointer, "(root)" for the empty one.
pub(crate) fn pointer_or_root(p: &str) -> &str {
    if p.is_empty() { "(root)" } else { p }
}

/// Schema problems as text; problems at secret values are named without their message, which
/// may quote the value.
fn describe_problems(
    schema: &Value,
    config: &Value,
    problems: &[crate::schema::SchemaProblem],
) -> String {
    let secret = secret_pointers(schema, config);
    problems
        .iter()
        .map(|pr| {
            let is_secret = secret.iter().any(|s| pr.json_path.starts_with(s.as_str()));
            let msg = if is_secret {
                "invalid secret value"
            } else {
                pr.message.as_str()
            };
            format!("at {}: {msg}", pointer_or_root(&pr.json_path))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Refuses the redaction marker as a secret of a new config. On update the marker means "keep
/// the stored value"; a new config has none to keep, and taking the marker literally would send
/// `[REDACTED]` to the receiver as the credential.
pub(crate) fn refuse_markers(schema: &Schema, field: &str, config: &Value) -> AppResult<()> {
    for pointer in secret_pointers(&schema.doc, config) {
        if config.pointer(&pointer).and_then(Value::as_str) == Some(REDACTED) {
            return Err(AppError::field(
                field,
                format!(
                    "{pointer}: is \"{REDACTED}\", the marker that keeps a stored secret on \
                     update, but nothing is stored yet; send the secret itself"
                ),
            ));
        }
    }
    Ok(())
}

/// A plaintext config in its stored form (secrets encrypted).
pub(crate) fn encrypt(app: &App<'_>, schema: &Schema, mut config: Value) -> AppResult<Value> {
    app.secrets.encrypt_secrets(&schema.doc, &mut config)?;
    Ok(config)
}

/// A stored config in plaintext, for a plugin call only.
pub(crate) fn decrypt(app: &App<'_>, schema: &Schema, stored: &Value) -> AppResult<Value> {
    let mut config = stored.clone();
    app.secrets.decrypt_secrets(&schema.doc, &mut config)?;
    Ok(config)
}

/// Merges an update over the stored config: the marker or an absent secret keeps the stored
/// value. Returns the plaintext result (not yet validated).
pub(crate) fn merge(
    app: &App<'_>,
    schema: &Schema,
    stored: &Value,
    mut new: Value,
) -> AppResult<Value> {
    app.secrets.merge_update(&schema.doc, stored, &mut new)?;
    Ok(new)
}

/// A config as JSON text for a response, every secret replaced by the marker. Besides the
/// current schema's secrets, every encrypted value is replaced too: a config whose migration
/// failed still follows an older schema, whose secrets may sit at paths the current one does
/// not mark secret.
pub(crate) fn redacted_text(schema: Option<&Schema>, stored: &Value) -> String {
    let mut config = stored.clone();
    match schema {
        Some(schema) => {
            redact(&schema.doc, &mut config);
            redact_envelopes(&mut config);
        }
        // The provider is gone, so we cannot tell secrets apart: show nothing rather than leak.
        None => config = Value::Object(serde_json::Map::new()),
    }
    config.to_string()
}

/// The stored connection `id`, which must belong to provider `provider_id`.
pub(crate) fn connection_of(
    app: &App<'_>,
    provider_id: &str,
    field: &str,
    id: &str,
) -> AppResult<Connection> {
    let id: ConnectionId = super::parse_id(field, id)?;
    let conn = app
        .store
        .get_connection(id)?
        .ok_or_else(|| AppError::NotFound(format!("{field}: connection {id} does not exist")))?;
    if conn.provider_id != provider_id {
        return Err(AppError::field(
            field,
            format!(
                "connection {id} belongs to provider {}, not {provider_id}",
                conn.provider_id
            ),
        ));
    }
    Ok(conn)
}

/// The decrypted connection config as JSON text, for a plugin call.
pub(crate) fn connection_json(
    app: &App<'_>,
    entry: &ProviderEntry,
    conn: &Connection,
) -> AppResult<String> {
    let schema = schema(entry, Kind::Connection)?;
    Ok(decrypt(app, &schema, &conn.config)?.to_string())
}

/// The decrypted connection a provider config uses, as JSON text: the saved connection
/// `connection_id` names, else the config's `connectionId`; `None` when the provider uses no
/// connections or none is named. A connection whose migration failed is refused.
pub(crate) fn connection_json_for(
    app: &App<'_>,
    entry: &ProviderEntry,
    config: &Value,
    connection_id: &str,
) -> AppResult<Option<String>> {
    let from_config = config
        .get("connectionId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let id = if connection_id.is_empty() {
        from_config
    } else {
        connection_id
    };
    if entry.provider.connection_schema.is_none() || id.is_empty() {
        return Ok(None);
    }
    let conn = connection_of(app, &entry.qualified_id, "connection_id", id)?;
    super::connections::ensure_current(&conn)?;
    connection_json(app, entry, &conn).map(Some)
}

/// The scrubber of the secrets a plugin call carries: those of `config` (of `kind`) and of the
/// connection config's JSON text (empty when none).
pub(crate) fn scrubber_of(
    entry: &ProviderEntry,
    kind: Kind,
    config: &Value,
    connection_json: &str,
) -> switchyard_scrub::Scrubber {
    let mut secrets = switchyard_scrub::Scrubber::builder();
    let mut add = |kind, config: &Value| {
        if let Ok(schema) = schema(entry, kind) {
            secrets.config(config, &secret_pointers(&schema.doc, config));
        }
    };
    add(kind, config);
    if let Ok(connection) = serde_json::from_str::<Value>(connection_json) {
        add(Kind::Connection, &connection);
    }
    secrets.build()
}
