//! JSON Schema validation of parameter values and bodies. A schema inside the spec is validated
//! as the whole document with a root `$ref` to it, so its own `$ref`s resolve; validators are
//! compiled once per schema location and kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jsonschema::{Draft, Validator};
use serde_json::Value;

use crate::document::{Dialect, Document};

/// Compiled validators by schema location.
#[derive(Debug, Default)]
pub(crate) struct Cache(Mutex<HashMap<String, Arc<Validator>>>);

impl Cache {
    /// The problems of `instance` under the schema at JSON Pointer `pointer` of `doc`, each
    /// prefixed with `label` and the instance's JSON Pointer.
    pub(crate) fn validate_at(
        &self,
        doc: &Document,
        pointer: &str,
        label: &str,
        instance: &Value,
    ) -> Vec<String> {
        let build = || {
            let mut schema = doc.root.clone();
            if let Value::Object(map) = &mut schema {
                map.insert(
                    "$ref".into(),
                    Value::String(format!("#{}", fragment(pointer))),
                );
            }
            schema
        };
        self.validate(doc.dialect, pointer, build, label, instance)
    }

    /// The problems of `instance` under a standalone `schema` (no `$ref`s into the document),
    /// cached under `key`.
    pub(crate) fn validate_standalone(
        &self,
        doc: &Document,
        key: &str,
        schema: Value,
        label: &str,
        instance: &Value,
    ) -> Vec<String> {
        self.validate(doc.dialect, key, || schema, label, instance)
    }

    fn validate(
        &self,
        dialect: Dialect,
        key: &str,
        build: impl FnOnce() -> Value,
        label: &str,
        instance: &Value,
    ) -> Vec<String> {
        let validator = match self.compiled(dialect, key, build) {
            Ok(validator) => validator,
            Err(err) => {
                return vec![format!(
                    "{label}: the spec's schema at {key} does not compile: {err}"
                )];
            }
        };
        validator
            .iter_errors(instance)
            .map(|err| format!("{label}{}: {err}", err.instance_path))
            .collect()
    }

    fn compiled(
        &self,
        dialect: Dialect,
        key: &str,
        build: impl FnOnce() -> Value,
    ) -> Result<Arc<Validator>, String> {
        let mut cache = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(validator) = cache.get(key) {
            return Ok(Arc::clone(validator));
        }
        let draft = match dialect {
            Dialect::OpenApi31 => Draft::Draft202012,
            Dialect::Swagger2 | Dialect::OpenApi30 => Draft::Draft4,
        };
        let validator = jsonschema::options()
            .with_draft(draft)
            .build(&build())
            .map_err(|e| e.to_string())?;
        let validator = Arc::new(validator);
        cache.insert(key.to_owned(), Arc::clone(&validator));
        Ok(validator)
    }
}

/// A JSON Pointer as a URI fragment: characters a fragment may not hold (`{`, `}`, spaces…)
/// percent-encoded, as RFC 6901 §6 asks.
fn fragment(pointer: &str) -> String {
    const KEEP: &str = "-._~!$&'()*+,;=:@/?";
    pointer
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || KEEP.as_bytes().contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The first non-null `type` of a schema (resolved through `$ref`s), if it names one.
pub(crate) fn primary_type<'v>(doc: &'v Document, schema: &'v Value) -> Option<&'v str> {
    let schema = doc.resolve(schema);
    match schema.get("type") {
        Some(Value::String(t)) => Some(t.as_str()),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null"),
        _ => None,
    }
}

/// A text value (query, path, header, form field) turned into the JSON type its schema says,
/// so `"25"` validates as an integer and `"true"` as a boolean; text that does not parse stays
/// a string and fails validation with a clear type error.
pub(crate) fn coerce(doc: &Document, schema: &Value, text: &str) -> Value {
    match primary_type(doc, schema) {
        Some("integer") => text
            .parse::<i64>()
            .map_or_else(|_| text.into(), Value::from),
        Some("number") => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| text.into(), Value::Number),
        Some("boolean") => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => text.into(),
        },
        Some("array") => {
            let items = doc
                .resolve(schema)
                .get("items")
                .cloned()
                .unwrap_or(Value::Null);
            Value::Array(text.split(',').map(|t| coerce(doc, &items, t)).collect())
        }
        _ => text.into(),
    }
}
