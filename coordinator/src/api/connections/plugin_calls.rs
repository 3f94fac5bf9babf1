//! The two ConnectionService calls that reach into a plugin. Both check locally first what the
//! coordinator can know (the provider exists, declares the capability, declares the resolver,
//! the config is valid), so a plugin is never asked a question whose answer is "bad input", and
//! a provider without the capability is never reported as a success. What the plugin answers
//! (messages, details, problems, options, its status text and its log lines meanwhile) is
//! scrubbed of the secrets the call carried, as the engine does for deliveries.

use serde_json::Value;
use switchyard_proto::coordinator::v1 as api;
use switchyard_proto::plugin::v1 as plugin;
use switchyard_scrub::Scrubber;

use super::{context_or_empty, ensure_current};
use crate::api::ApiContext;
use crate::api::convert::parse_json_object;
use crate::api::providers::{require, resolve};
use crate::api::status::{ApiError, ApiResult};
use crate::app::config_pipeline::{self as configs, Kind};
use crate::host::ProviderEntry;

/// TestConnection: an unsaved config, a saved connection, or an unsaved config over a saved one.
pub(super) async fn test(
    ctx: &ApiContext,
    req: api::TestConnectionRequest,
) -> ApiResult<api::TestConnectionResponse> {
    let entry = resolve(ctx, &req.provider_id)?;
    require(&entry, |c| c.test_connection, "connection tests")?;
    let (kind, config, connection_json) = match api::ConfigKind::try_from(req.kind) {
        Ok(api::ConfigKind::Connection) => (
            plugin::ConfigKind::Connection,
            connection_config(ctx, &entry, &req)?,
            String::new(),
        ),
        Ok(api::ConfigKind::Provider) => provider_config(ctx, &entry, &req)?,
        _ => {
            return Err(ApiError::field(
                "kind",
                "must be CONFIG_KIND_PROVIDER or CONFIG_KIND_CONNECTION",
            ));
        }
    };
    let of_kind = match kind {
        plugin::ConfigKind::Connection => Kind::Connection,
        _ => Kind::Provider,
    };
    let secrets = configs::scrubber_of(&entry, of_kind, &config, &connection_json);
    let call = plugin::TestConnectionRequest {
        provider_id: entry.local_id().to_owned(),
        kind: kind.into(),
        config_json: config.to_string(),
        connection_json,
    };
    let _hidden = entry.plugin.hide_in_logs(secrets.clone());
    let r = entry
        .plugin
        .test_connection(call)
        .await
        .map_err(|e| e.scrubbed(&secrets))?;
    Ok(api::TestConnectionResponse {
        success: r.success && r.diagnostics.is_empty(),
        message: secrets.scrub(&r.message).into_owned(),
        details_json: secrets.scrub(&r.details_json).into_owned(),
        problems: problems(r.diagnostics, &secrets),
    })
}

/// The connection config to test, plaintext, defaults applied and validated.
fn connection_config(
    ctx: &ApiContext,
    entry: &ProviderEntry,
    req: &api::TestConnectionRequest,
) -> ApiResult<Value> {
    let schema = configs::schema(entry, Kind::Connection)?;
    let mut config = match (
        req.connection_id.is_empty(),
        req.config_json.trim().is_empty(),
    ) {
        (true, true) => {
            return Err(ApiError::field(
                "config_json",
                "is required when no connection_id is given",
            ));
        }
        (true, false) => parse_json_object("config_json", &req.config_json)?,
        (false, true) => {
            let conn = configs::connection_of(
                &ctx.app(),
                &entry.qualified_id,
                "connection_id",
                &req.connection_id,
            )?;
            ensure_current(&conn)?;
            configs::decrypt(&ctx.app(), &schema, &conn.config)?
        }
        (false, false) => {
            let conn = configs::connection_of(
                &ctx.app(),
                &entry.qualified_id,
                "connection_id",
                &req.connection_id,
            )?;
            let new = parse_json_object("config_json", &req.config_json)?;
            configs::merge(&ctx.app(), &schema, &conn.config, new)?
        }
    };
    configs::complete_and_validate(&schema, "config_json", &mut config)?;
    Ok(config)
}

/// The provider config to test and its decrypted connection (if the provider uses one).
fn provider_config(
    ctx: &ApiContext,
    entry: &ProviderEntry,
    req: &api::TestConnectionRequest,
) -> ApiResult<(plugin::ConfigKind, Value, String)> {
    let schema = configs::schema(entry, Kind::Provider)?;
    let mut config = parse_json_object("config_json", &req.config_json)?;
    configs::complete_and_validate(&schema, "config_json", &mut config)?;
    let connection_json =
        configs::connection_json_for(&ctx.app(), entry, &config, &req.connection_id)?
            .unwrap_or_default();
    Ok((plugin::ConfigKind::Provider, config, connection_json))
}

/// GetConnectionOptions: the resolver must be declared in the provider's schemas.
pub(super) async fn options(
    ctx: &ApiContext,
    req: api::GetConnectionOptionsRequest,
) -> ApiResult<api::GetConnectionOptionsResponse> {
    let entry = resolve(ctx, &req.provider_id)?;
    if req.resolver_name.is_empty() {
        return Err(ApiError::field(
            "resolver_name",
            "is required (the schema's x-options-resolver value)",
        ));
    }
    let declared = declared_resolvers(&entry);
    if !declared.contains(&req.resolver_name) {
        return Err(ApiError::NotFound(format!(
            "provider {} declares no options resolver {:?}; declared: {}",
            entry.qualified_id,
            req.resolver_name,
            if declared.is_empty() {
                "none".to_owned()
            } else {
                declared.join(", ")
            }
        )));
    }
    require(&entry, |c| c.connection_options, "connection options")?;
    let connection_json = if entry.provider.connection_schema.is_some() {
        if req.connection_id.is_empty() {
            return Err(ApiError::field(
                "connection_id",
                format!(
                    "is required: provider {} uses connections",
                    entry.qualified_id
                ),
            ));
        }
        let conn = configs::connection_of(
            &ctx.app(),
            &entry.qualified_id,
            "connection_id",
            &req.connection_id,
        )?;
        ensure_current(&conn)?;
        configs::connection_json(&ctx.app(), &entry, &conn)?
    } else {
        String::new()
    };
    let secrets = configs::scrubber_of(&entry, Kind::Connection, &Value::Null, &connection_json);
    let call = plugin::GetConnectionOptionsRequest {
        provider_id: entry.local_id().to_owned(),
        resolver_name: req.resolver_name,
        connection_json,
        context_json: context_or_empty(&req.context_json)?.to_string(),
    };
    let _hidden = entry.plugin.hide_in_logs(secrets.clone());
    let r = entry
        .plugin
        .get_connection_options(call)
        .await
        .map_err(|e| e.scrubbed(&secrets))?;
    let clean = |text: String| secrets.scrub(&text).into_owned();
    Ok(api::GetConnectionOptionsResponse {
        options: r
            .options
            .into_iter()
            .map(|o| api::ConnectionOption {
                value: clean(o.value),
                label: clean(o.label),
                description: clean(o.description),
            })
            .collect(),
        problems: problems(r.diagnostics, &secrets),
    })
}

/// Every `x-options-resolver` name in the provider's config and connection schemas.
fn declared_resolvers(entry: &ProviderEntry) -> Vec<String> {
    let mut names = Vec::new();
    for kind in [Kind::Provider, Kind::Connection] {
        if let Ok(schema) = configs::schema(entry, kind) {
            collect_resolvers(&schema.doc, &mut names);
        }
    }
    names.sort();
    names.dedup();
    names
}

fn collect_resolvers(node: &Value, out: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            if let Some(name) = map.get("x-options-resolver").and_then(Value::as_str) {
                out.push(name.to_owned());
            }
            map.values().for_each(|v| collect_resolvers(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_resolvers(v, out)),
        _ => {}
    }
}

fn problems(diagnostics: Vec<plugin::Diagnostic>, secrets: &Scrubber) -> Vec<api::ConfigProblem> {
    diagnostics
        .into_iter()
        .map(|d| api::ConfigProblem {
            json_path: d.json_path,
            message: secrets.scrub(&d.message).into_owned(),
        })
        .collect()
}
