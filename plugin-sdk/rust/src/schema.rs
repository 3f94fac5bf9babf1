//! JSON Schemas derived from Rust types, and turning incoming config JSON into a typed config.
//!
//! Schemas come from `schemars` (draft 2020-12). Switchyard's keys are attached with
//! `#[schemars(extend(...))]` on a field:
//!
//! | key | example |
//! |---|---|
//! | `x-secret` | `#[schemars(extend("x-secret" = true))]` |
//! | `x-hidden` | `#[schemars(extend("x-hidden" = true))]` |
//! | `x-options-resolver` | `#[schemars(extend("x-options-resolver" = "projectOptions"))]` |
//! | `x-depends-on` | `#[schemars(extend("x-depends-on" = ["projectKey"]))]` |
//! | `x-searchable` | `#[schemars(extend("x-searchable" = true))]` |
//! | `x-editor-types` | `#[schemars(extend("x-editor-types" = ["json", "yaml"]))]` |
//! | `x-color` | `#[schemars(extend("x-color" = true))]` |
//!
//! Each schema is checked against the 2020-12 meta-schema and compiled into a validator once
//! ([`CompiledSchema::new`]). A plugin does this right after announcing its handshake, on a
//! background thread (compiling costs milliseconds and megabytes of heap, and would otherwise
//! delay the handshake); every call that uses a config waits for it. Per call only validation
//! and deserialization run.
//! Every problem becomes a [`Diagnostic`] with the instance's JSON Pointer. Messages never quote
//! the offending value (it may be a secret).

use std::collections::BTreeSet;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::result::Diagnostic;

/// Why a provider's schema is unusable. A plugin reports it at start-up: `Describe` is refused
/// with it and the plugin exits with status 1.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SchemaError {
    /// The generated schema does not conform to the JSON Schema 2020-12 meta-schema.
    #[error("the {what} schema is not valid JSON Schema 2020-12 at {path}: {message}")]
    MetaSchema {
        /// Which schema ("config" or "connection").
        what: &'static str,
        /// Where in the schema.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The validator could not be compiled (e.g. an unresolvable `$ref`).
    #[error("the {what} schema cannot be compiled: {message}")]
    Compile {
        /// Which schema ("config" or "connection").
        what: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// The draft 2020-12 JSON Schema of `T`, as schemars generates it.
#[must_use]
pub fn schema_for<T: schemars::JsonSchema>() -> schemars::Schema {
    generator().root_schema_for::<T>()
}

/// A schema generator with the settings the SDK uses (draft 2020-12).
#[must_use]
pub fn generator() -> schemars::SchemaGenerator {
    schemars::generate::SchemaSettings::draft2020_12().into_generator()
}

/// A schema compiled once into a validator, which turns JSON into a typed `T`.
pub struct CompiledSchema<T> {
    json: Value,
    text: String,
    validator: jsonschema::Validator,
    resolvers: BTreeSet<String>,
    _type: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for CompiledSchema<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledSchema")
            .field("schema", &self.text)
            .finish_non_exhaustive()
    }
}

impl<T> CompiledSchema<T> {
    /// The schema as a JSON value.
    #[must_use]
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// The schema as JSON text (what `Describe` carries).
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Every `x-options-resolver` name the schema uses.
    #[must_use]
    pub fn resolvers(&self) -> &BTreeSet<String> {
        &self.resolvers
    }
}

impl<T: DeserializeOwned> CompiledSchema<T> {
    /// Checks `schema` against the meta-schema and compiles it; `what` names it in errors.
    ///
    /// # Errors
    /// [`SchemaError`] when the schema is invalid or cannot be compiled.
    pub fn new(what: &'static str, schema: schemars::Schema) -> Result<Self, SchemaError> {
        Self::from_value(what, schema.to_value())
    }

    /// [`CompiledSchema::new`] for a schema already turned into JSON.
    ///
    /// # Errors
    /// [`SchemaError`] when the schema is invalid or cannot be compiled.
    pub fn from_value(what: &'static str, json: Value) -> Result<Self, SchemaError> {
        if let Err(err) = jsonschema::draft202012::meta::validate(&json) {
            return Err(SchemaError::MetaSchema {
                what,
                path: err.instance_path.as_str().to_owned(),
                message: err.masked().to_string(),
            });
        }
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&json)
            .map_err(|err| SchemaError::Compile {
                what,
                message: err.masked().to_string(),
            })?;
        let mut resolvers = BTreeSet::new();
        collect_resolvers(&json, &mut resolvers);
        Ok(Self {
            text: json.to_string(),
            json,
            validator,
            resolvers,
            _type: PhantomData,
        })
    }

    /// Validates `value` and deserializes it into `T`, or lists every problem with its path.
    ///
    /// # Errors
    /// One [`Diagnostic`] per schema violation, or the deserialization error with its path.
    pub fn parse(&self, value: &Value) -> Result<T, Vec<Diagnostic>> {
        // `is_valid` is the cheap path; errors are only collected for invalid input.
        if !self.validator.is_valid(value) {
            return Err(self.diagnostics(value));
        }
        serde_path_to_error::deserialize::<_, T>(value).map_err(|err| {
            let pointer = to_pointer(err.path());
            vec![Diagnostic::new(
                pointer,
                redact(&err.inner().to_string(), value),
            )]
        })
    }

    /// Every schema violation of `value`, each with its JSON Pointer.
    #[must_use]
    pub fn diagnostics(&self, value: &Value) -> Vec<Diagnostic> {
        self.validator
            .iter_errors(value)
            .map(|err| {
                Diagnostic::new(
                    err.instance_path.as_str(),
                    err.masked_with("the value").to_string(),
                )
            })
            .collect()
    }
}

/// Parses config JSON text from the wire; empty text counts as `{}`.
///
/// # Errors
/// A [`Diagnostic`] at the document root when the text is not JSON (without quoting it).
pub fn parse_json_text(text: &str) -> Result<Value, Diagnostic> {
    if text.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_json::from_str(text).map_err(|err| {
        Diagnostic::new(
            "",
            format!(
                "not valid JSON (line {}, column {})",
                err.line(),
                err.column()
            ),
        )
    })
}

/// Turns a serde path (`auth.token`, `customHeaders[0].name`) into a JSON Pointer.
fn to_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        let piece = match segment {
            Segment::Seq { index } => index.to_string(),
            Segment::Map { key } => key.clone(),
            Segment::Enum { variant } => variant.clone(),
            Segment::Unknown => continue,
        };
        out.push('/');
        out.push_str(&piece.replace('~', "~0").replace('/', "~1"));
    }
    out
}

/// Removes quoted string values of the input from a serde message (they may be secrets).
fn redact(message: &str, value: &Value) -> String {
    let mut out = message.to_owned();
    let mut strings = Vec::new();
    collect_strings(value, &mut strings);
    for s in strings {
        if !s.is_empty() {
            out = out
                .replace(&format!("\"{s}\""), "a value")
                .replace(&format!("`{s}`"), "a value");
        }
    }
    out
}

fn collect_strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

fn collect_resolvers(schema: &Value, out: &mut BTreeSet<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(name)) = map.get("x-options-resolver") {
                out.insert(name.clone());
            }
            map.values().for_each(|v| collect_resolvers(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_resolvers(v, out)),
        _ => {}
    }
}
