//! Configs for the checks: the `--config` file (JSON or TOML) a plugin author writes, and the
//! configs the harness builds from a provider's JSON Schema (defaults, examples, `const`,
//! `enum`, then type-based values), with every URL field pointed at the harness's local HTTP
//! sink and every `x-secret` field holding a marker the secrets checks look for.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The string in a `--config` value that is replaced by the URL of the harness's HTTP sink.
pub const SINK_URL_PLACEHOLDER: &str = "{{sink_url}}";

/// How deep the config builder follows nested schemas (and `$ref`s) before giving up.
const MAX_DEPTH: usize = 24;

/// The `--config` file: per provider (by local id) a provider config and a connection config,
/// each merged over the config the harness builds from the schema.
///
/// ```toml
/// [providers.webhook.config]
/// url = "{{sink_url}}"
/// [providers.webhook.config.auth]
/// type = "bearer"
/// token = "s3cr3t"
/// ```
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Keyed by the provider's local id (`Provider.id`).
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderOverrides>,
}

/// What the config file says about one provider.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProviderOverrides {
    /// Merged over the built provider config (objects deeply, everything else replaced).
    pub config: Option<Value>,
    /// Merged over the built connection config.
    pub connection: Option<Value>,
}

/// A `--config` file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid JSON of the expected shape.
    #[error(
        "config file {path} is not valid: {message} (expected {{\"providers\": {{\"<provider id>\": {{\"config\": {{…}}, \"connection\": {{…}}}}}}}})"
    )]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
}

impl ConfigFile {
    /// Reads a config file: TOML when the name ends in `.toml`, JSON otherwise.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file and the parser's position.
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let is_toml = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        let parsed = if is_toml {
            toml::from_str(&text).map_err(|e| e.to_string())
        } else {
            serde_json::from_str(&text).map_err(|e| e.to_string())
        };
        parsed.map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }
}

/// What the builder puts into the fields it cannot take from the schema.
#[derive(Debug, Clone)]
pub(crate) struct Fill<'a> {
    /// The local HTTP sink's URL, for URL fields.
    pub sink_url: &'a str,
    /// The marker put into every `x-secret` string field.
    pub secret: &'a str,
}

/// Builds a config from `schema`: a best effort that the caller validates.
pub(crate) fn build(schema: &Value, fill: &Fill<'_>) -> Value {
    Builder { root: schema, fill }
        .value(schema, None, 0)
        .unwrap_or_else(|| json!({}))
}

struct Builder<'a> {
    root: &'a Value,
    fill: &'a Fill<'a>,
}

impl Builder<'_> {
    fn value(&self, schema: &Value, name: Option<&str>, depth: usize) -> Option<Value> {
        let schema = resolve(self.root, schema, depth)?;
        if depth > MAX_DEPTH {
            return None;
        }
        if schema.get("x-secret") == Some(&Value::Bool(true)) && is_stringish(schema) {
            return Some(Value::String(self.fill.secret.to_owned()));
        }
        if let Some(c) = schema.get("const") {
            return Some(c.clone());
        }
        if is_url_field(schema, name) {
            return Some(Value::String(self.fill.sink_url.to_owned()));
        }
        // A branch holding a secret beats a default, so the secrets checks have something to find.
        let secret_branch = has_secret(self.root, schema, depth).then(|| self.branch(schema));
        if let Some(Some(branch)) = secret_branch {
            return self.value(branch, name, depth + 1);
        }
        let given = schema
            .get("default")
            .or_else(|| schema.pointer("/examples/0"))
            .or_else(|| schema.pointer("/enum/0"));
        match given {
            Some(Value::Object(base)) => return Some(self.object(schema, base.clone(), depth)),
            Some(v) => return Some(v.clone()),
            None => {}
        }
        if let Some(branch) = self.branch(schema) {
            return self.value(branch, name, depth + 1);
        }
        match primary_type(schema) {
            "object" => Some(self.object(schema, Map::new(), depth)),
            t => Some(scalar(schema, t, self, depth)),
        }
    }

    /// The `oneOf`/`anyOf` branch to follow: the first one holding a secret (so secrets get
    /// exercised), else the first one.
    fn branch<'s>(&self, schema: &'s Value) -> Option<&'s Value> {
        let branches = schema
            .get("oneOf")
            .or_else(|| schema.get("anyOf"))?
            .as_array()?;
        let with_secret = branches.iter().find(|b| has_secret(self.root, b, 0));
        with_secret.or_else(|| branches.first())
    }

    fn object(&self, schema: &Value, mut out: Map<String, Value>, depth: usize) -> Value {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(props) = schema.get("properties").and_then(Value::as_object) else {
            return Value::Object(out);
        };
        for (key, prop) in props {
            if out.contains_key(key) {
                continue;
            }
            let resolved = resolve(self.root, prop, depth).unwrap_or(prop);
            let hidden = resolved.get("x-hidden") == Some(&Value::Bool(true));
            let wanted = required.contains(&key.as_str())
                || (!hidden
                    && (has_given_value(resolved)
                        || has_secret(self.root, resolved, 0)
                        || is_url_field(resolved, Some(key))));
            if wanted && let Some(v) = self.value(prop, Some(key), depth + 1) {
                out.insert(key.clone(), v);
            }
        }
        Value::Object(out)
    }
}

/// A value for a schema without default, example, const or enum, from its type.
fn scalar(schema: &Value, ty: &str, b: &Builder<'_>, depth: usize) -> Value {
    let num = |key: &str| schema.get(key).and_then(Value::as_f64);
    match ty {
        "integer" | "number" => {
            let low = num("minimum").or_else(|| num("exclusiveMinimum").map(|m| m + 1.0));
            let v = low.unwrap_or(1.0).min(num("maximum").unwrap_or(f64::MAX));
            if ty == "integer" {
                json!(v.ceil() as i64)
            } else {
                json!(v)
            }
        }
        "boolean" => json!(false),
        "null" => Value::Null,
        "array" => {
            let n = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            let item = schema
                .get("items")
                .and_then(|i| b.value(i, None, depth + 1));
            let items = std::iter::repeat_n(item.unwrap_or(json!("conformance")), n as usize);
            Value::Array(items.collect())
        }
        _ => {
            if schema.get("format").and_then(Value::as_str) == Some("email") {
                return json!("conformance@example.com");
            }
            let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
            let mut s = String::from("conformance");
            while s.chars().count() < min {
                s.push('x');
            }
            Value::String(s)
        }
    }
}

/// Follows a local `$ref` (`#/…`), bounded so reference cycles end.
fn resolve<'a>(root: &'a Value, schema: &'a Value, depth: usize) -> Option<&'a Value> {
    let mut current = schema;
    for _ in depth..=MAX_DEPTH {
        match current.get("$ref").and_then(Value::as_str) {
            Some(r) => current = root.pointer(r.strip_prefix('#')?)?,
            None => return Some(current),
        }
    }
    None
}

/// The first non-null type a schema names, `object` when it only has `properties`.
fn primary_type(schema: &Value) -> &str {
    match schema.get("type") {
        Some(Value::String(t)) => t,
        Some(Value::Array(ts)) => {
            let mut names = ts.iter().filter_map(Value::as_str);
            names.find(|t| *t != "null").unwrap_or("null")
        }
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    }
}

fn is_stringish(schema: &Value) -> bool {
    primary_type(schema) == "string"
}

fn has_given_value(schema: &Value) -> bool {
    ["default", "const", "examples"]
        .iter()
        .any(|k| schema.get(*k).is_some())
}

/// A string field that takes a URL: `format: uri`/`url`/`iri`, or a name ending in url/uri.
fn is_url_field(schema: &Value, name: Option<&str>) -> bool {
    if !is_stringish(schema) {
        return false;
    }
    let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
    let by_format = matches!(format, "uri" | "url" | "iri");
    let lower = name.unwrap_or("").to_ascii_lowercase();
    by_format || lower.ends_with("url") || lower.ends_with("uri")
}

/// True when `x-secret: true` appears anywhere in `schema` (following local `$ref`s).
pub(crate) fn has_secret(root: &Value, schema: &Value, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    let Some(schema) = resolve(root, schema, depth) else {
        return false;
    };
    match schema {
        Value::Object(map) => {
            map.get("x-secret") == Some(&Value::Bool(true))
                || map.values().any(|v| has_secret(root, v, depth + 1))
        }
        Value::Array(items) => items.iter().any(|v| has_secret(root, v, depth + 1)),
        _ => false,
    }
}

/// Merges `over` into `base`: objects key by key, recursively; anything else replaces.
pub(crate) fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// Replaces [`SINK_URL_PLACEHOLDER`] in every string of `value`.
pub(crate) fn substitute_sink(value: &mut Value, sink_url: &str) {
    match value {
        Value::String(s) if s.contains(SINK_URL_PLACEHOLDER) => {
            *s = s.replace(SINK_URL_PLACEHOLDER, sink_url);
        }
        Value::Array(items) => items.iter_mut().for_each(|v| substitute_sink(v, sink_url)),
        Value::Object(map) => map.values_mut().for_each(|v| substitute_sink(v, sink_url)),
        _ => {}
    }
}

/// Puts `marker` into every string the schema marks `x-secret` in `instance` (every branch of
/// a `oneOf`/`anyOf` is consulted), so a leak can be recognised whatever the config file said.
pub(crate) fn mark_secrets(root: &Value, schema: &Value, instance: &mut Value, marker: &str) {
    mark(root, schema, instance, marker, 0);
}

fn mark(root: &Value, schema: &Value, instance: &mut Value, marker: &str, depth: usize) {
    let Some(schema) = resolve(root, schema, depth).filter(|_| depth <= MAX_DEPTH) else {
        return;
    };
    if schema.get("x-secret") == Some(&Value::Bool(true)) && instance.is_string() {
        *instance = Value::String(marker.to_owned());
        return;
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for branch in schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            mark(root, branch, instance, marker, depth + 1);
        }
    }
    if let (Some(props), Value::Object(obj)) = (schema.get("properties"), &mut *instance) {
        for (k, v) in obj.iter_mut() {
            if let Some(prop) = props.get(k) {
                mark(root, prop, v, marker, depth + 1);
            }
        }
    }
    if let (Some(items), Value::Array(arr)) = (schema.get("items"), instance) {
        arr.iter_mut()
            .for_each(|v| mark(root, items, v, marker, depth + 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill() -> Fill<'static> {
        Fill {
            sink_url: "http://127.0.0.1:9/hook",
            secret: "MARK",
        }
    }

    #[test]
    fn builds_from_defaults_types_and_urls() {
        let schema = json!({
            "type": "object",
            "required": ["url", "count", "name"],
            "properties": {
                "url": {"type": "string", "format": "uri"},
                "count": {"type": "integer", "minimum": 3},
                "name": {"type": "string", "minLength": 15},
                "method": {"type": "string", "enum": ["POST", "PUT"], "default": "PUT"},
                "optional": {"type": "string"},
                "auth": {"oneOf": [
                    {"type": "object", "properties": {"type": {"const": "none"}}, "required": ["type"]},
                    {"type": "object", "properties": {"type": {"const": "bearer"},
                        "token": {"type": "string", "x-secret": true}}, "required": ["type", "token"]}
                ]}
            }
        });
        let v = build(&schema, &fill());
        assert_eq!(v["url"], "http://127.0.0.1:9/hook");
        assert_eq!(v["count"], 3);
        assert_eq!(v["name"].as_str().map(str::len), Some(15));
        assert_eq!(v["method"], "PUT");
        assert!(v.get("optional").is_none());
        assert_eq!(v["auth"], json!({"type": "bearer", "token": "MARK"}));
    }

    #[test]
    fn marks_secrets_and_merges_overrides() {
        let schema = json!({"type": "object", "$defs": {"tok": {"type": "string", "x-secret": true}},
            "properties": {"token": {"$ref": "#/$defs/tok"}, "x": {"type": "string"}}});
        let mut v = json!({"token": "user", "x": "a"});
        merge(&mut v, &json!({"x": "{{sink_url}}/p"}));
        substitute_sink(&mut v, "http://s");
        mark_secrets(&schema, &schema, &mut v, "MARK");
        assert_eq!(v, json!({"token": "MARK", "x": "http://s/p"}));
    }

    #[test]
    fn parses_toml_and_json_config_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let toml_path = dir.path().join("c.toml");
        std::fs::write(
            &toml_path,
            "[providers.webhook.config]\nurl = \"{{sink_url}}\"\n",
        )
        .expect("write");
        let json_path = dir.path().join("c.json");
        std::fs::write(
            &json_path,
            r#"{"providers":{"webhook":{"config":{"url":"{{sink_url}}"}}}}"#,
        )
        .expect("write");
        let a = ConfigFile::load(&toml_path).expect("toml");
        let b = ConfigFile::load(&json_path).expect("json");
        assert_eq!(a, b);
        std::fs::write(&json_path, r#"{"provider":{}}"#).expect("write");
        assert!(ConfigFile::load(&json_path).is_err());
    }
}
