//! The subscription lifecycle: create and update (the config through the one pipeline —
//! merged over the stored one on update, defaults, schema, the connection a connection-based
//! provider needs, the plugin's ValidateConfig, encryption), enable (refused while the
//! connection it uses failed to migrate; clears the coordinator's disabled reason), disable and
//! delete (each with the cancellation of the subscription's scheduled deliveries in one store
//! operation, then the engine's memory brought in step). The caller has checked the shape of
//! the input (names, ids, patterns, registered event types) and resolved its provider.

use chrono::Utc;
use serde_json::Value;

use super::config_pipeline::{self as pipeline, Kind};
use super::plugin_check::Pending;
use super::{App, AppError, AppResult};
use crate::host::ProviderEntry;
use crate::model::{RateLimit, RetryPolicy, Subscription, SubscriptionId};

/// The user-settable fields of a subscription, as given (the config plaintext, as sent).
#[derive(Debug)]
pub struct Draft {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// The provider it delivers through.
    pub provider: ProviderEntry,
    /// Event types and patterns it matches.
    pub event_types: Vec<String>,
    /// The systems it is limited to (none: all).
    pub system_ids: Vec<String>,
    /// The provider config, plaintext; on update the redaction marker keeps a stored secret.
    pub config: Value,
    /// Whether it is to be enabled.
    pub enabled: bool,
    /// Its own retry policy, if any.
    pub retry_policy: Option<RetryPolicy>,
    /// Its rate limit, if any.
    pub rate_limit: Option<RateLimit>,
}

/// The config field of the request, for the messages.
const FIELD: &str = "subscription.config_json";

/// Creates a subscription from `draft`.
pub async fn create(app: &App<'_>, draft: Draft) -> AppResult<Subscription> {
    // Held from the encryption until the write.
    let _keys = app.secrets.writing().await;
    let now = Utc::now();
    let mut sub = Subscription {
        id: SubscriptionId::new_at(now),
        name: String::new(),
        description: String::new(),
        provider_id: String::new(),
        config: Value::Null,
        schema_version: 0,
        event_types: Vec::new(),
        system_ids: Vec::new(),
        enabled: draft.enabled,
        disabled_reason: None,
        retry_policy: None,
        created_at: now,
        updated_at: now,
        rate_limit: None,
    };
    let pending = apply(app, &mut sub, draft, None)?;
    store_checked_config(app, &mut sub, pending).await?;
    if sub.enabled {
        ensure_connection_current(app, &sub)?;
    }
    app.store.save_subscription_checked(&sub, true)?;
    tracing::info!(subscription = %sub.id, provider = %sub.provider_id, "subscription created");
    Ok(sub)
}

/// Replaces the user-settable fields of subscription `id` with `draft`; disabling it this way
/// cancels its scheduled deliveries as [`disable`] does.
pub async fn update(app: &App<'_>, id: SubscriptionId, draft: Draft) -> AppResult<Subscription> {
    // Held from the read of the stored record until the write.
    let _keys = app.secrets.writing().await;
    let old = get(app, id)?;
    let mut sub = old.clone();
    let enable = draft.enabled;
    let pending = apply(app, &mut sub, draft, Some(&old))?;
    store_checked_config(app, &mut sub, pending).await?;
    sub.updated_at = Utc::now();
    let sub = if enable {
        enable_and_save(app, sub)?
    } else {
        // Saved as enabled as it was; the disable then switches it off together with the
        // cancellation of its deliveries.
        sub.enabled = old.enabled;
        app.store.save_subscription_checked(&sub, false)?;
        disable_and_cancel(app, sub.id)?.0
    };
    tracing::info!(subscription = %sub.id, "subscription updated");
    Ok(sub)
}

/// Enables subscription `id`, clearing the reason the coordinator disabled it for.
pub async fn enable(app: &App<'_>, id: SubscriptionId) -> AppResult<Subscription> {
    let _keys = app.secrets.writing().await;
    let sub = get(app, id)?;
    enable_and_save(app, sub)
}

/// Disables subscription `id` and cancels its scheduled deliveries; returns it with how many.
pub async fn disable(app: &App<'_>, id: SubscriptionId) -> AppResult<(Subscription, usize)> {
    let _keys = app.secrets.writing().await;
    get(app, id)?;
    disable_and_cancel(app, id)
}

/// Deletes subscription `id` and cancels its scheduled deliveries (they stay, for history);
/// returns how many were cancelled.
pub fn delete(app: &App<'_>, id: SubscriptionId) -> AppResult<usize> {
    get(app, id)?;
    let done = app
        .store
        .delete_subscription_cancelling(id, Utc::now())?
        .ok_or_else(|| not_found(id))?;
    app.engine.subscription_cancelled(&done, true);
    let cancelled = done.cancelled.len();
    tracing::info!(subscription = %id, cancelled, "subscription deleted");
    Ok(cancelled)
}

/// The stored subscription `id`, or NOT_FOUND.
pub fn get(app: &App<'_>, id: SubscriptionId) -> AppResult<Subscription> {
    app.store.get_subscription(id)?.ok_or_else(|| not_found(id))
}

fn not_found(id: SubscriptionId) -> AppError {
    AppError::NotFound(format!("subscription {id} does not exist"))
}

fn enable_and_save(app: &App<'_>, mut sub: Subscription) -> AppResult<Subscription> {
    ensure_connection_current(app, &sub)?;
    sub.disabled_reason = None;
    sub.enabled = true;
    sub.updated_at = Utc::now();
    app.store.save_subscription_checked(&sub, false)?;
    Ok(sub)
}

/// One store operation; then the engine's watchers and breaker follow. Idempotent.
fn disable_and_cancel(app: &App<'_>, id: SubscriptionId) -> AppResult<(Subscription, usize)> {
    let done = app
        .store
        .disable_subscription(id, None, Utc::now())?
        .ok_or_else(|| not_found(id))?;
    app.engine.subscription_cancelled(&done, false);
    let cancelled = done.cancelled.len();
    tracing::info!(subscription = %id, cancelled, "subscription disabled");
    Ok((done.subscription, cancelled))
}

/// Refuses to enable `sub` while the connection its config names failed to migrate: the
/// coordinator disabled it for that reason, and deliveries would only fail again. The error
/// names the connection, its problem and what to fix.
fn ensure_connection_current(app: &App<'_>, sub: &Subscription) -> AppResult<()> {
    let Some(conn) = sub.connection_id() else {
        return Ok(());
    };
    let Some(conn) = app.store.get_connection(conn)? else {
        return Ok(());
    };
    super::connections::ensure_current(&conn).map_err(|e| {
        AppError::FailedPrecondition(format!(
            "subscription {} cannot be enabled: {e}; then enable the subscription",
            sub.id
        ))
    })
}

/// Puts the config into `sub`, encrypted, once the plugin's ValidateConfig (if declared) has
/// passed it. Nothing is stored here.
async fn store_checked_config(
    app: &App<'_>,
    sub: &mut Subscription,
    pending: Pending,
) -> AppResult<()> {
    let schema = pipeline::schema(&pending.entry, Kind::Provider)?;
    let config = pending.check().await?;
    sub.config = pipeline::encrypt(app, &schema, config)?;
    Ok(())
}

/// Puts the fields of `draft` into `sub` (`old`: the stored subscription on update, whose
/// secrets the marker keeps), all but the config, which is returned for the plugin's check.
/// Nothing is stored here.
fn apply(
    app: &App<'_>,
    sub: &mut Subscription,
    draft: Draft,
    old: Option<&Subscription>,
) -> AppResult<Pending> {
    let entry = draft.provider;
    let schema = pipeline::schema(&entry, Kind::Provider)?;
    let new = draft.config;
    let mut config = match old {
        Some(old) if old.provider_id == entry.qualified_id => {
            pipeline::merge(app, &schema, &old.config, new)?
        }
        _ => {
            pipeline::refuse_markers(&schema, FIELD, &new)?;
            new
        }
    };
    pipeline::complete_and_validate(&schema, FIELD, &mut config)?;
    let (connection_json, connection_broken) = connection_of_config(app, &entry, &config)?;
    sub.retry_policy = draft.retry_policy;
    sub.rate_limit = draft.rate_limit;
    sub.schema_version = schema.version;
    sub.provider_id.clone_from(&entry.qualified_id);
    sub.name = draft.name;
    sub.description = draft.description;
    sub.event_types = draft.event_types;
    sub.system_ids = draft.system_ids;
    Ok(Pending {
        entry,
        kind: Kind::Provider,
        field: FIELD,
        config,
        connection_json,
        connection_broken,
    })
}

/// For a connection-based provider, the connection the config's `connectionId` names (which
/// must be one of the provider's): its decrypted config as JSON text when the plugin will be
/// asked about the config, and whether its migration failed.
fn connection_of_config(
    app: &App<'_>,
    entry: &ProviderEntry,
    config: &Value,
) -> AppResult<(String, bool)> {
    if entry.provider.connection_schema.is_none() {
        return Ok((String::new(), false));
    }
    let id = config
        .get("connectionId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if id.is_empty() {
        return Err(AppError::field(
            FIELD,
            format!(
                "/connectionId: provider {} needs a connection id",
                entry.qualified_id
            ),
        ));
    }
    let field = "subscription.config_json/connectionId";
    let conn = pipeline::connection_of(app, &entry.qualified_id, field, id)?;
    let broken = conn.migration_error.is_some();
    let mut connection_json = String::new();
    if Pending::wanted(entry) && !broken {
        connection_json = pipeline::connection_json(app, entry, &conn)?;
    }
    Ok((connection_json, broken))
}
