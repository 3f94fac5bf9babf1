//! The request body: present when the operation requires one, of a media type it accepts, and
//! valid against its schema — JSON parsed as JSON, forms field by field with each value taken
//! as the type its schema declares. Multipart bodies are accepted unchecked.

use serde_json::{Map, Value};

use crate::document::Dialect;
use crate::params::{Param, check_value, declared};
use crate::route::{Operation, escape};
use crate::schema::coerce;
use crate::{Request, Spec};

/// The violations of the body of `request`.
pub(crate) fn check(spec: &Spec, op: &Operation, request: &Request<'_>) -> Vec<String> {
    if spec.doc.dialect == Dialect::Swagger2 {
        swagger2(spec, op, request)
    } else {
        openapi3(spec, op, request)
    }
}

/// The request's media type, lowercase, without parameters.
fn media_type(request: &Request<'_>) -> String {
    request
        .header("content-type")
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn is_json(media: &str) -> bool {
    media == "application/json" || media.ends_with("+json")
}

fn openapi3(spec: &Spec, op: &Operation, request: &Request<'_>) -> Vec<String> {
    let Some((body_ptr, body)) = spec.doc.resolve_at(&format!("{}/requestBody", op.pointer)) else {
        return no_body_expected(request);
    };
    if request.body.is_empty() {
        return if body.get("required") == Some(&Value::Bool(true)) {
            vec!["the operation requires a body and none was sent".into()]
        } else {
            Vec::new()
        };
    }
    let media = media_type(request);
    let offered: Vec<&String> = body
        .get("content")
        .and_then(Value::as_object)
        .map(|c| c.keys().collect())
        .unwrap_or_default();
    let Some(key) = offered.iter().find(|k| media_matches(k, &media)) else {
        return vec![format!(
            "content type {media:?} is not one the operation accepts ({offered:?})"
        )];
    };
    let schema_ptr = format!("{body_ptr}/content/{}/schema", escape(key));
    if spec.doc.root.pointer(&schema_ptr).is_none() {
        return Vec::new();
    }
    if is_json(&media) {
        return match serde_json::from_slice::<Value>(request.body) {
            Ok(json) => spec
                .validators
                .validate_at(&spec.doc, &schema_ptr, "body", &json),
            Err(err) => vec![format!("the body is not JSON: {err}")],
        };
    }
    if media == "application/x-www-form-urlencoded" {
        let schema = spec.doc.root.pointer(&schema_ptr).unwrap_or(&Value::Null);
        let form = typed_form(spec, schema, request.body);
        return spec
            .validators
            .validate_at(&spec.doc, &schema_ptr, "form", &form);
    }
    Vec::new()
}

/// `application/json` matches `application/json`, `application/*` and `*/*`.
fn media_matches(offered: &str, media: &str) -> bool {
    let offered = offered.to_ascii_lowercase();
    offered == media
        || offered == "*/*"
        || offered
            .strip_suffix("/*")
            .is_some_and(|family| media.split('/').next() == Some(family))
}

/// A form body as a JSON object, each field converted to its property's declared type.
fn typed_form(spec: &Spec, schema: &Value, body: &[u8]) -> Value {
    let props = spec.doc.resolve(schema).get("properties");
    let fields: Map<String, Value> = form_urlencoded::parse(body)
        .map(|(k, v)| {
            let prop = props
                .and_then(|p| p.get(k.as_ref()))
                .unwrap_or(&Value::Null);
            (k.into_owned(), coerce(&spec.doc, prop, &v))
        })
        .collect();
    Value::Object(fields)
}

fn no_body_expected(request: &Request<'_>) -> Vec<String> {
    if request.body.is_empty() {
        Vec::new()
    } else {
        vec!["the operation takes no body, but one was sent".into()]
    }
}

fn swagger2(spec: &Spec, op: &Operation, request: &Request<'_>) -> Vec<String> {
    let params = declared(spec, op);
    let consumes = consumes(spec, op);
    let media = media_type(request);
    if !request.body.is_empty() && !consumes.iter().any(|c| media_matches(c, &media)) {
        return vec![format!(
            "content type {media:?} is not one the operation accepts ({consumes:?})"
        )];
    }
    if let Some(body) = params.iter().find(|p| p.location == "body") {
        return swagger2_body(spec, body, request);
    }
    let form: Vec<&Param<'_>> = params.iter().filter(|p| p.location == "formData").collect();
    if form.is_empty() {
        return no_body_expected(request);
    }
    if is_json(&media) {
        match serde_json::from_slice::<Value>(request.body) {
            Ok(Value::Object(fields)) => form_fields(spec, &form, FieldSource::Json(&fields)),
            Ok(_) => vec!["the body is JSON but not an object".into()],
            Err(err) => vec![format!("the body is not JSON: {err}")],
        }
    } else {
        let fields: Vec<(String, String)> = form_urlencoded::parse(request.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        form_fields(spec, &form, FieldSource::Form(&fields))
    }
}

fn consumes(spec: &Spec, op: &Operation) -> Vec<String> {
    let list = spec
        .doc
        .root
        .pointer(&format!("{}/consumes", op.pointer))
        .or_else(|| spec.doc.root.get("consumes"))
        .and_then(Value::as_array);
    match list {
        Some(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        None => vec!["application/json".into()],
    }
}

fn swagger2_body(spec: &Spec, param: &Param<'_>, request: &Request<'_>) -> Vec<String> {
    if request.body.is_empty() {
        return if param.required {
            vec!["the operation requires a body and none was sent".into()]
        } else {
            Vec::new()
        };
    }
    match serde_json::from_slice::<Value>(request.body) {
        Ok(json) => {
            let pointer = format!("{}/schema", param.pointer);
            spec.validators
                .validate_at(&spec.doc, &pointer, "body", &json)
        }
        Err(err) => vec![format!("the body is not JSON: {err}")],
    }
}

/// Where form fields came from: a form-encoded body, or a JSON object standing for one.
enum FieldSource<'a> {
    Form(&'a [(String, String)]),
    Json(&'a Map<String, Value>),
}

impl FieldSource<'_> {
    fn names(&self) -> Vec<&str> {
        match self {
            FieldSource::Form(fields) => fields.iter().map(|(k, _)| k.as_str()).collect(),
            FieldSource::Json(fields) => fields.keys().map(String::as_str).collect(),
        }
    }
}

fn form_fields(spec: &Spec, params: &[&Param<'_>], source: FieldSource<'_>) -> Vec<String> {
    let mut violations: Vec<String> = source
        .names()
        .into_iter()
        .filter(|name| !params.iter().any(|p| p.name == *name))
        .map(|name| format!("body field `{name}` is not a parameter of the operation"))
        .collect();
    for param in params {
        let label = format!("body field `{}`", param.name);
        match &source {
            FieldSource::Form(fields) => {
                let values: Vec<&String> = fields
                    .iter()
                    .filter(|(k, _)| k == param.name)
                    .map(|(_, v)| v)
                    .collect();
                if values.is_empty() && param.required {
                    violations.push(format!("required {label} is missing"));
                }
                for value in values {
                    violations.extend(check_value(spec, param, &label, value));
                }
            }
            FieldSource::Json(fields) => match fields.get(param.name) {
                None if param.required => violations.push(format!("required {label} is missing")),
                None => {}
                Some(value) => violations.extend(json_field(spec, param, &label, value)),
            },
        }
    }
    violations
}

/// A JSON value standing for a form field. A `string` field documented as JSON-encoded (Slack's
/// `blocks`, `attachments`) may be the structure itself in a JSON body.
fn json_field(spec: &Spec, param: &Param<'_>, label: &str, value: &Value) -> Vec<String> {
    match value {
        Value::String(text) => check_value(spec, param, label, text),
        Value::Bool(_) | Value::Number(_) => check_value(spec, param, label, &value.to_string()),
        Value::Array(_) | Value::Object(_) => {
            let declared = param.value.get("type").and_then(Value::as_str);
            if declared == Some("string") {
                Vec::new()
            } else {
                vec![format!(
                    "{label}: a structure where the spec declares {declared:?}"
                )]
            }
        }
        Value::Null => vec![format!(
            "{label}: null is not a value a form field can have"
        )],
    }
}
