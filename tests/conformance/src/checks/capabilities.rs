//! Capability checks: TestConnection, GetConnectionOptions and MigrateConfig answer exactly
//! when declared (UNIMPLEMENTED otherwise), and an unknown resolver gets a clean error.

use serde_json::{Value, json};
use switchyard_proto::plugin::v1::{
    ConfigKind, GetConnectionOptionsRequest, MigrateConfigRequest, Provider, TestConnectionRequest,
};
use tonic::{Code, Status};

use super::context::{Built, schemas_of};
use super::deliver::status_text;
use super::{CheckFuture, Ctx, Verdict, fail};
use crate::client::request;

/// The built configs of `p`, or empty ones when none could be built (the call then tests the
/// plugin's answer to an invalid config, which must still not be UNIMPLEMENTED).
fn built_or_empty(cx: &mut Ctx, p: &Provider) -> Built {
    cx.built(p).unwrap_or_else(|_| Built {
        config: json!({}),
        connection: p.connection_schema.as_ref().map(|_| json!({})),
    })
}

/// Folds per-call results into a verdict: `expect` says whether a result is right.
fn verdict(
    results: Vec<(String, Result<(), Status>)>,
    expect: fn(&Result<(), Status>) -> bool,
    want: &str,
) -> Verdict {
    let bad: Vec<String> = results
        .iter()
        .filter(|(_, r)| !expect(r))
        .map(|(what, r)| match r {
            Ok(()) => format!("{what}: answered OK, expected {want}"),
            Err(s) => format!("{what}: answered {}, expected {want}", status_text(s)),
        })
        .collect();
    if bad.is_empty() {
        Ok(format!("{} calls answered {want}", results.len()))
    } else {
        Err(fail(bad.join("\n")))
    }
}

fn is_ok(r: &Result<(), Status>) -> bool {
    r.is_ok()
}

fn is_unimplemented(r: &Result<(), Status>) -> bool {
    matches!(r, Err(s) if s.code() == Code::Unimplemented)
}

/// Calls TestConnection for each kind of config `p` has.
async fn test_connection_calls(
    cx: &mut Ctx,
) -> Result<Vec<(String, Result<(), Status>)>, super::Stop> {
    let client = cx.conn().await?.plugin();
    let mut out = Vec::new();
    for p in cx.targets.clone() {
        let b = built_or_empty(cx, &p);
        let mut reqs = vec![(ConfigKind::Provider, b.config_json(), b.connection_json())];
        if let Some(conn) = &b.connection {
            reqs.push((ConfigKind::Connection, conn.to_string(), String::new()));
        }
        for (kind, config_json, connection_json) in reqs {
            let msg = TestConnectionRequest {
                provider_id: p.id.clone(),
                kind: kind as i32,
                config_json,
                connection_json,
            };
            let r = client
                .clone()
                .test_connection(request(msg, cx.call_timeout()))
                .await;
            out.push((
                format!("provider {:?} TestConnection ({kind:?})", p.id),
                r.map(|_| ()),
            ));
        }
    }
    Ok(out)
}

/// `capabilities/test-connection-declared`.
pub(crate) fn test_connection_declared(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move { verdict(test_connection_calls(cx).await?, is_ok, "OK") })
}

/// `capabilities/test-connection-undeclared`.
pub(crate) fn test_connection_undeclared(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        verdict(
            test_connection_calls(cx).await?,
            is_unimplemented,
            "UNIMPLEMENTED",
        )
    })
}

/// Every `x-options-resolver` name in `schema`.
fn resolvers(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(name)) = map.get("x-options-resolver") {
                out.push(name.clone());
            }
            map.values().for_each(|v| resolvers(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| resolvers(v, out)),
        _ => {}
    }
}

/// Calls GetConnectionOptions on every target for each resolver name `names` gives.
async fn options_calls(
    cx: &mut Ctx,
    names: fn(&Provider) -> Vec<String>,
) -> Result<Vec<(String, Result<(), Status>, usize)>, super::Stop> {
    let client = cx.conn().await?.plugin();
    let mut out = Vec::new();
    for p in cx.targets.clone() {
        let b = built_or_empty(cx, &p);
        for resolver_name in names(&p) {
            let msg = GetConnectionOptionsRequest {
                provider_id: p.id.clone(),
                resolver_name: resolver_name.clone(),
                connection_json: b.connection_json(),
                context_json: b.config_json(),
            };
            let r = client
                .clone()
                .get_connection_options(request(msg, cx.call_timeout()))
                .await;
            let diagnostics = r.as_ref().map_or(0, |r| r.get_ref().diagnostics.len());
            let what = format!(
                "provider {:?} GetConnectionOptions({resolver_name:?})",
                p.id
            );
            out.push((what, r.map(|_| ()), diagnostics));
        }
    }
    Ok(out)
}

fn declared_resolvers(p: &Provider) -> Vec<String> {
    let mut names = Vec::new();
    schemas_of(p).iter().for_each(|s| resolvers(s, &mut names));
    names.sort();
    names.dedup();
    names
}

fn unknown_resolver_name(_: &Provider) -> Vec<String> {
    vec!["conformance-no-such-resolver".to_owned()]
}

/// `capabilities/connection-options-declared`.
pub(crate) fn options_declared(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let calls = options_calls(cx, declared_resolvers).await?;
        if calls.is_empty() {
            return Ok("declared, but no schema names an x-options-resolver".to_owned());
        }
        verdict(
            calls.into_iter().map(|(w, r, _)| (w, r)).collect(),
            is_ok,
            "OK",
        )
    })
}

/// `capabilities/connection-options-undeclared`.
pub(crate) fn options_undeclared(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let calls = options_calls(cx, unknown_resolver_name).await?;
        verdict(
            calls.into_iter().map(|(w, r, _)| (w, r)).collect(),
            is_unimplemented,
            "UNIMPLEMENTED",
        )
    })
}

/// `capabilities/unknown-resolver`: NOT_FOUND, or OK with diagnostics.
pub(crate) fn unknown_resolver(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let calls = options_calls(cx, unknown_resolver_name).await?;
        let bad: Vec<String> = calls
            .iter()
            .filter_map(|(what, r, diagnostics)| match r {
                Err(s) if s.code() == Code::NotFound => None,
                Ok(()) if *diagnostics > 0 => None,
                Ok(()) => Some(format!(
                    "{what}: answered OK without diagnostics for an unknown resolver"
                )),
                Err(s) => Some(format!(
                    "{what}: answered {}, expected NOT_FOUND or diagnostics",
                    status_text(s)
                )),
            })
            .collect();
        if bad.is_empty() {
            Ok("clean errors".to_owned())
        } else {
            Err(fail(bad.join("\n")))
        }
    })
}

/// Calls MigrateConfig from the version before the current one, for each kind of config.
async fn migrate_calls(cx: &mut Ctx) -> Result<Vec<(String, Result<(), Status>)>, super::Stop> {
    let client = cx.conn().await?.plugin();
    let mut out = Vec::new();
    for p in cx.targets.clone() {
        let b = built_or_empty(cx, &p);
        let mut reqs = Vec::new();
        if let Some(s) = &p.config_schema {
            reqs.push((ConfigKind::Provider, s.version, b.config_json()));
        }
        if let (Some(s), Some(c)) = (&p.connection_schema, &b.connection) {
            reqs.push((ConfigKind::Connection, s.version, c.to_string()));
        }
        for (kind, current, config_json) in reqs {
            let from_version = current.saturating_sub(1).max(1);
            let msg = MigrateConfigRequest {
                provider_id: p.id.clone(),
                kind: kind as i32,
                from_version,
                config_json,
            };
            let r = client
                .clone()
                .migrate_config(request(msg, cx.call_timeout()))
                .await;
            out.push((
                format!(
                    "provider {:?} MigrateConfig ({kind:?} from {from_version})",
                    p.id
                ),
                r.map(|_| ()),
            ));
        }
    }
    Ok(out)
}

/// `capabilities/migrate-config-declared`.
pub(crate) fn migrate_declared(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move { verdict(migrate_calls(cx).await?, is_ok, "OK") })
}

/// `capabilities/migrate-config-undeclared`.
pub(crate) fn migrate_undeclared(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move { verdict(migrate_calls(cx).await?, is_unimplemented, "UNIMPLEMENTED") })
}
