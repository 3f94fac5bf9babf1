//! Path, query and header parameters: required ones present, unknown query parameters
//! refused (a typo in a parameter name is the bug this catches), values of the declared type.

use serde_json::Value;

use crate::document::Dialect;
use crate::route::Operation;
use crate::schema::coerce;
use crate::{Request, Spec};

/// One declared parameter, resolved.
#[derive(Debug)]
pub(crate) struct Param<'d> {
    pub(crate) name: &'d str,
    pub(crate) location: &'d str,
    pub(crate) required: bool,
    /// Where the parameter object is (its schema is at `…/schema` in OpenAPI 3).
    pub(crate) pointer: String,
    pub(crate) value: &'d Value,
}

/// The parameters of `op`: the path item's, overridden by the operation's of the same name
/// and location.
pub(crate) fn declared<'d>(spec: &'d Spec, op: &Operation) -> Vec<Param<'d>> {
    let mut params: Vec<Param<'d>> = Vec::new();
    for owner in [&op.item_pointer, &op.pointer] {
        let count = spec
            .doc
            .root
            .pointer(&format!("{owner}/parameters"))
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        for i in 0..count {
            let Some((pointer, value)) = spec.doc.resolve_at(&format!("{owner}/parameters/{i}"))
            else {
                continue;
            };
            let name = value.get("name").and_then(Value::as_str).unwrap_or("");
            let location = value.get("in").and_then(Value::as_str).unwrap_or("");
            let required = value.get("required") == Some(&Value::Bool(true));
            params.retain(|p| !(p.name == name && p.location == location));
            params.push(Param {
                name,
                location,
                required,
                pointer,
                value,
            });
        }
    }
    params
}

/// The violations among path, query and header parameters.
pub(crate) fn check(
    spec: &Spec,
    op: &Operation,
    path_values: &[(String, String)],
    request: &Request<'_>,
) -> Vec<String> {
    let params = declared(spec, op);
    let mut violations = Vec::new();
    for (name, raw) in path_values {
        let text = percent_decode(raw);
        if let Some(param) = params
            .iter()
            .find(|p| p.location == "path" && p.name == name)
        {
            violations.extend(check_value(
                spec,
                param,
                &format!("path parameter `{name}`"),
                &text,
            ));
        }
    }
    violations.extend(check_query(spec, &params, request.query.unwrap_or("")));
    violations.extend(check_headers(spec, &params, request));
    violations
}

fn check_query(spec: &Spec, params: &[Param<'_>], query: &str) -> Vec<String> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut violations = Vec::new();
    for (name, _) in &pairs {
        if !params
            .iter()
            .any(|p| p.location == "query" && p.name == name)
        {
            violations.push(format!("query parameter `{name}` is not in the spec"));
        }
    }
    for param in params.iter().filter(|p| p.location == "query") {
        let values: Vec<&str> = pairs
            .iter()
            .filter(|(k, _)| k == param.name)
            .map(|(_, v)| v.as_str())
            .collect();
        if values.is_empty() && param.required {
            violations.push(format!(
                "required query parameter `{}` is missing",
                param.name
            ));
        }
        let label = format!("query parameter `{}`", param.name);
        let joined = values.join(",");
        let texts = match values.len() {
            0 => Vec::new(),
            _ if is_array(spec, param) => vec![joined.as_str()],
            _ => values,
        };
        for text in texts {
            violations.extend(check_value(spec, param, &label, text));
        }
    }
    violations
}

fn check_headers(spec: &Spec, params: &[Param<'_>], request: &Request<'_>) -> Vec<String> {
    let mut violations = Vec::new();
    for param in params.iter().filter(|p| p.location == "header") {
        match request.header(param.name) {
            Some(text) => {
                let label = format!("header `{}`", param.name);
                violations.extend(check_value(spec, param, &label, text));
            }
            None if param.required && !satisfied_by_authorization(param, request) => {
                violations.push(format!("required header `{}` is missing", param.name));
            }
            None => {}
        }
    }
    violations
}

/// Slack's spec models the token as a required header named `token`; the real API takes it
/// as `Authorization: Bearer`, which is what clients send.
fn satisfied_by_authorization(param: &Param<'_>, request: &Request<'_>) -> bool {
    param.name == "token"
        && request
            .header("authorization")
            .is_some_and(|v| v.starts_with("Bearer ") && v.len() > 7)
}

fn is_array(spec: &Spec, param: &Param<'_>) -> bool {
    let schema = schema_of(spec, param);
    crate::schema::primary_type(&spec.doc, &schema) == Some("array")
}

/// The schema of a non-body parameter: `schema` in OpenAPI 3; in Swagger 2.0 the parameter
/// object itself carries `type`, `format`, `enum`, `items`…
pub(crate) fn schema_of(spec: &Spec, param: &Param<'_>) -> Value {
    if spec.doc.dialect != Dialect::Swagger2 {
        return param
            .value
            .get("schema")
            .cloned()
            .unwrap_or(Value::Bool(true));
    }
    const KEYS: &[&str] = &[
        "type",
        "format",
        "enum",
        "items",
        "minimum",
        "maximum",
        "pattern",
        "maxLength",
        "minLength",
        "maxItems",
        "minItems",
        "exclusiveMinimum",
        "exclusiveMaximum",
    ];
    let schema: serde_json::Map<String, Value> = KEYS
        .iter()
        .filter_map(|k| param.value.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect();
    Value::Object(schema)
}

/// The violations of one text value of `param`.
pub(crate) fn check_value(spec: &Spec, param: &Param<'_>, label: &str, text: &str) -> Vec<String> {
    let schema = schema_of(spec, param);
    let instance = coerce(&spec.doc, &schema, text);
    if spec.doc.dialect == Dialect::Swagger2 {
        spec.validators
            .validate_standalone(&spec.doc, &param.pointer, schema, label, &instance)
    } else if param.value.get("schema").is_some() {
        let pointer = format!("{}/schema", param.pointer);
        spec.validators
            .validate_at(&spec.doc, &pointer, label, &instance)
    } else {
        Vec::new()
    }
}

fn percent_decode(raw: &str) -> String {
    // form_urlencoded decodes `+` as a space; path segments keep it.
    let protected = raw.replace('+', "%2B");
    form_urlencoded::parse(format!("v={protected}").as_bytes())
        .next()
        .map_or_else(|| raw.to_owned(), |(_, v)| v.into_owned())
}
