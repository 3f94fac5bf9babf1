//! Loading a spec: JSON or YAML, its dialect, its base path, and `$ref` resolution inside it.
//! OpenAPI 3.0's `nullable: true` is rewritten to a JSON Schema type union once at load, so the
//! schemas validate with a plain JSON Schema validator; so is the "open base type" pattern of
//! Microsoft Graph's generated specs (see [`open_allof_bases`]).

use std::path::Path;

use serde_json::Value;

/// Which specification language a document is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Swagger 2.0: `parameters` with `in: body` / `in: formData`, schemas under `definitions`.
    Swagger2,
    /// OpenAPI 3.0.x: `requestBody`, JSON Schema draft 4/5 semantics plus `nullable`.
    OpenApi30,
    /// OpenAPI 3.1: JSON Schema 2020-12.
    OpenApi31,
}

/// A loaded document.
#[derive(Debug)]
pub(crate) struct Document {
    pub(crate) root: Value,
    pub(crate) dialect: Dialect,
    base_path: String,
}

impl Document {
    pub(crate) fn load(path: &Path, base_override: Option<&str>) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let yaml = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yml" | "yaml")
        );
        let mut root: Value = if yaml {
            serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
        } else {
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
        };
        let dialect = dialect(&root)?;
        if dialect == Dialect::OpenApi30 {
            rewrite_nullable(&mut root);
            open_allof_bases(&mut root);
        }
        let base_path = base_override
            .map(str::to_owned)
            .unwrap_or_else(|| declared_base(&root, dialect));
        Ok(Document {
            root,
            dialect,
            base_path: base_path.trim_end_matches('/').to_owned(),
        })
    }

    /// `path` without the spec's base path, when it starts with it.
    pub(crate) fn strip_base<'p>(&self, path: &'p str) -> &'p str {
        if self.base_path.is_empty() {
            return path;
        }
        match path.strip_prefix(self.base_path.as_str()) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                if rest.is_empty() {
                    "/"
                } else {
                    rest
                }
            }
            _ => path,
        }
    }

    /// The value at `pointer`, following `$ref`s, with the pointer where it was found.
    pub(crate) fn resolve_at(&self, pointer: &str) -> Option<(String, &Value)> {
        let mut pointer = pointer.to_owned();
        for _ in 0..32 {
            let value = self.root.pointer(&pointer)?;
            match value.get("$ref").and_then(Value::as_str) {
                Some(target) => pointer = target.strip_prefix('#')?.to_owned(),
                None => return Some((pointer, value)),
            }
        }
        None
    }

    /// Follows `$ref`s (local JSON Pointers only) until a value that is not a reference.
    pub(crate) fn resolve<'v>(&'v self, mut value: &'v Value) -> &'v Value {
        for _ in 0..32 {
            let Some(target) = value.get("$ref").and_then(Value::as_str) else {
                return value;
            };
            match target
                .strip_prefix('#')
                .and_then(|pointer| self.root.pointer(pointer))
            {
                Some(next) => value = next,
                None => return value,
            }
        }
        value
    }
}

fn dialect(root: &Value) -> Result<Dialect, String> {
    if root.get("swagger").and_then(Value::as_str) == Some("2.0") {
        return Ok(Dialect::Swagger2);
    }
    match root.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.0") => Ok(Dialect::OpenApi30),
        Some(v) if v.starts_with("3.1") => Ok(Dialect::OpenApi31),
        other => Err(format!(
            "not a Swagger 2.0 or OpenAPI 3 document (openapi = {other:?})"
        )),
    }
}

fn declared_base(root: &Value, dialect: Dialect) -> String {
    if dialect == Dialect::Swagger2 {
        return root
            .get("basePath")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
    }
    let url = root
        .pointer("/servers/0/url")
        .and_then(Value::as_str)
        .unwrap_or("");
    // "https://host/v2" → "/v2"; a relative server URL is already a path.
    match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]).to_owned(),
        None => url.to_owned(),
    }
}

/// `{"type": "string", "nullable": true}` → `{"type": ["string", "null"]}`, everywhere.
fn rewrite_nullable(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("nullable") == Some(&Value::Bool(true))
                && let Some(Value::String(t)) = map.get("type").cloned()
            {
                map.insert("type".into(), serde_json::json!([t, "null"]));
            }
            map.values_mut().for_each(rewrite_nullable);
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_nullable),
        _ => {}
    }
}

/// Microsoft's OData → OpenAPI converter writes a derived type as `allOf: [{$ref: base},
/// {properties…, additionalProperties: {type: object}}]`, and the base (`microsoft.graph.entity`:
/// only `id`) carries `additionalProperties: {type: object}` too. Read as JSON Schema, the base
/// then demands that every property of the derived type (`summary`, a string; `attachments`,
/// an array) be an object, so no real request validates; OData means "an open type" there.
/// The base schemas an `allOf` refers to lose that `additionalProperties` (they still check
/// their own properties), while the derived schema keeps its own, so an unknown property (a
/// misspelt field) is still refused unless it is an object.
fn open_allof_bases(root: &mut Value) {
    let mut bases = Vec::new();
    collect_allof_refs(root, &mut bases);
    for reference in bases {
        let Some(pointer) = reference.strip_prefix('#') else {
            continue;
        };
        if let Some(Value::Object(base)) = root.pointer_mut(pointer)
            && base.get("additionalProperties") == Some(&serde_json::json!({"type": "object"}))
        {
            base.remove("additionalProperties");
        }
    }
}

/// The `$ref`s that are direct members of an `allOf`, anywhere in `value`.
fn collect_allof_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(members)) = map.get("allOf") {
                out.extend(
                    members
                        .iter()
                        .filter_map(|m| m.get("$ref").and_then(Value::as_str))
                        .map(str::to_owned),
                );
            }
            map.values().for_each(|v| collect_allof_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_allof_refs(v, out)),
        _ => {}
    }
}
