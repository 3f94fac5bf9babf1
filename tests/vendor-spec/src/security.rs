//! Credentials: when an operation (or the whole spec) requires security, at least one of its
//! alternatives must be present on the request — an API key header or query parameter, or an
//! `Authorization` header of the scheme the spec declares (Basic, Bearer, OAuth 2).

use serde_json::Value;

use crate::Request;
use crate::document::{Dialect, Document};
use crate::route::Operation;

/// The violation, if the request carries none of the credentials the operation accepts.
pub(crate) fn check(doc: &Document, op: &Operation, request: &Request<'_>) -> Option<String> {
    let requirements = doc
        .root
        .pointer(&format!("{}/security", op.pointer))
        .or_else(|| doc.root.get("security"))
        .and_then(Value::as_array)?;
    if requirements.is_empty() {
        return None;
    }
    let satisfied = requirements.iter().any(|requirement| {
        requirement
            .as_object()
            .is_some_and(|schemes| schemes.keys().all(|name| present(doc, name, request)))
    });
    if satisfied {
        return None;
    }
    let names: Vec<String> = requirements
        .iter()
        .filter_map(Value::as_object)
        .map(|r| r.keys().cloned().collect::<Vec<_>>().join(" + "))
        .collect();
    Some(format!(
        "no credentials: the operation requires one of {names:?}"
    ))
}

fn present(doc: &Document, scheme_name: &str, request: &Request<'_>) -> bool {
    let pointer = match doc.dialect {
        Dialect::Swagger2 => format!("/securityDefinitions/{scheme_name}"),
        _ => format!("/components/securitySchemes/{scheme_name}"),
    };
    let Some(scheme) = doc.root.pointer(&pointer) else {
        return false;
    };
    let authorization = request.header("authorization").unwrap_or("");
    let field = |k: &str| scheme.get(k).and_then(Value::as_str).unwrap_or("");
    match field("type") {
        "apiKey" => match field("in") {
            "header" => request.header(field("name")).is_some_and(|v| !v.is_empty()),
            "query" => request.query.is_some_and(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .any(|(k, v)| k == field("name") && !v.is_empty())
            }),
            _ => false,
        },
        "basic" => has_scheme(authorization, "Basic"),
        "http" => has_scheme(authorization, &capitalised(field("scheme"))),
        "oauth2" | "openIdConnect" => has_scheme(authorization, "Bearer"),
        _ => false,
    }
}

fn has_scheme(authorization: &str, scheme: &str) -> bool {
    authorization
        .split_once(' ')
        .is_some_and(|(s, credentials)| s.eq_ignore_ascii_case(scheme) && !credentials.is_empty())
}

fn capitalised(scheme: &str) -> String {
    let mut chars = scheme.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}
