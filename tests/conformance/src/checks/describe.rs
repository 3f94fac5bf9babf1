//! Describe checks: ids, schemas (meta-schema and x-key rules, by the coordinator's own
//! `switchyard::schema::check_schema`), stability across calls, protocol version, example
//! payloads and supported event ids.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;
use switchyard_proto::plugin::v1::{DescribeRequest, Provider, VersionedSchema};

use super::{CheckFuture, Ctx, fail, skip};
use crate::client::request;

/// Plugin and provider ids: lowercase letters, digits and `-`, starting with a letter.
static ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z][a-z0-9-]*$").expect("valid regex"));

/// Event ids: at least three lowercase dot-separated segments, e.g. `incident.incident.created`.
static EVENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*){2,}$").expect("valid regex")
});

/// Collects problems and turns them into a verdict.
fn verdict(problems: Vec<String>, ok: String) -> super::Verdict {
    if problems.is_empty() {
        Ok(ok)
    } else {
        Err(fail(problems.join("\n")))
    }
}

/// `describe/ids`.
pub(crate) fn ids(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let d = cx.describe().await?;
        let mut problems = Vec::new();
        if !ID.is_match(&d.plugin_id) {
            problems.push(format!(
                "plugin id {:?} is not lowercase letters, digits and `-` starting with a letter",
                d.plugin_id
            ));
        }
        if d.providers.is_empty() {
            problems.push("the plugin serves no provider".to_owned());
        }
        let mut seen = BTreeSet::new();
        for p in &d.providers {
            provider_problems(p, &mut problems);
            if !seen.insert(p.id.as_str()) {
                problems.push(format!("provider id {:?} appears twice", p.id));
            }
        }
        let ids: Vec<&str> = seen.into_iter().collect();
        verdict(
            problems,
            format!("plugin {:?}, providers {ids:?}", d.plugin_id),
        )
    })
}

fn provider_problems(p: &Provider, problems: &mut Vec<String>) {
    if !ID.is_match(&p.id) {
        problems.push(format!(
            "provider id {:?} is not lowercase letters, digits and `-` starting with a letter",
            p.id
        ));
    }
    if p.display_name.trim().is_empty() {
        problems.push(format!("provider {:?} has no display name", p.id));
    }
    if p.config_schema.is_none() {
        problems.push(format!(
            "provider {:?} has no config schema (it is required)",
            p.id
        ));
    }
}

/// `describe/schemas-valid`.
pub(crate) fn schemas_valid(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let mut problems = Vec::new();
        let mut count = 0;
        for p in &cx.targets {
            let schemas = [
                ("config", &p.config_schema),
                ("connection", &p.connection_schema),
            ];
            for (kind, schema) in schemas {
                if let Some(s) = schema {
                    count += 1;
                    schema_problems(&p.id, kind, s, &mut problems);
                }
            }
        }
        verdict(problems, format!("{count} schemas valid"))
    })
}

fn schema_problems(id: &str, kind: &str, s: &VersionedSchema, problems: &mut Vec<String>) {
    let at = format!("provider {id:?} {kind} schema");
    if s.version == 0 {
        problems.push(format!("{at}: version must start at 1"));
    }
    let value: serde_json::Value = match serde_json::from_str(&s.json_schema) {
        Ok(v) => v,
        Err(e) => return problems.push(format!("{at}: not JSON: {e}")),
    };
    if let Err(found) = switchyard::schema::check_schema(&value) {
        for pr in found {
            problems.push(format!("{at} at {:?}: {}", pr.json_path, pr.message));
        }
    }
}

/// `describe/stable`.
pub(crate) fn stable(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let first = cx.describe().await?;
        let conn = cx.conn().await?;
        let again = conn
            .plugin()
            .describe(request(DescribeRequest {}, cx.call_timeout()))
            .await
            .map_err(|s| {
                fail(format!(
                    "the second Describe failed: {} {}",
                    s.code(),
                    s.message()
                ))
            })?
            .into_inner();
        if again == first {
            Ok("identical".to_owned())
        } else {
            Err(fail(format!(
                "two Describe calls differ; the host expects the same answer every time\nfirst:  {first:?}\nsecond: {again:?}"
            )))
        }
    })
}

/// `describe/protocol-version`.
pub(crate) fn protocol_version(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let d = cx.describe().await?;
        let announced = cx.shared().await?.line.as_ref().map(|l| l.app_version);
        let speaks = switchyard_proto::PLUGIN_PROTOCOL_VERSIONS;
        match announced {
            Some(v) if v == d.protocol_version => Ok(format!("{v}")),
            Some(v) => Err(fail(format!(
                "Describe says protocol_version {}, the handshake line announced {v}; they must be equal",
                d.protocol_version
            ))),
            None if speaks.contains(&d.protocol_version) => Ok(format!("{}", d.protocol_version)),
            None => Err(fail(format!(
                "Describe says protocol_version {}, which this harness does not speak ({speaks:?})",
                d.protocol_version
            ))),
        }
    })
}

/// `describe/example-payload`.
pub(crate) fn example_payload(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let mut problems = Vec::new();
        let mut count = 0;
        for p in &cx.targets {
            let example = p
                .documentation
                .as_ref()
                .map_or("", |d| d.example_payload.as_str());
            if example.is_empty() {
                continue;
            }
            count += 1;
            if let Err(e) = serde_json::from_str::<serde_json::Value>(example) {
                problems.push(format!(
                    "provider {:?}: example payload is not valid JSON: {e}",
                    p.id
                ));
            }
        }
        if count == 0 {
            return Err(skip("no provider documents an example payload"));
        }
        verdict(problems, format!("{count} example payloads are JSON"))
    })
}

/// `describe/supported-events`.
pub(crate) fn supported_events(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let mut problems = Vec::new();
        let mut count = 0;
        for p in &cx.targets {
            for e in &p.supported_events {
                count += 1;
                if !EVENT.is_match(e) {
                    problems.push(format!(
                        "provider {:?}: event id {e:?} is not lowercase dot-separated segments like \
                         `incident.incident.created`",
                        p.id
                    ));
                }
            }
        }
        if count == 0 {
            return Err(skip(
                "no provider lists supported events (all are accepted)",
            ));
        }
        verdict(problems, format!("{count} event ids well-formed"))
    })
}
