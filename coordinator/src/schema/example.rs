//! An example instance made from a JSON Schema, for previews and test events when the caller
//! gives no payload: the schema's own `examples`, `const`, `default` or first `enum` value
//! where it has one, else a placeholder of the declared type, descending into `properties`,
//! `items`, the first `anyOf`/`oneOf` branch, every `allOf` branch and local `$ref`s. It is a
//! best effort (patterns, formats and numeric bounds are not solved); the caller validates
//! the result and asks for a payload when it does not fit.

use serde_json::{Map, Value};

/// How deep `$ref`s and nesting are followed; a recursive schema stops there.
const MAX_DEPTH: usize = 16;

/// An example instance of `schema`.
#[must_use]
pub fn example(schema: &Value) -> Value {
    make(schema, schema, 0)
}

fn make(root: &Value, node: &Value, depth: usize) -> Value {
    let Some(map) = node.as_object() else {
        return Value::Null;
    };
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    if let Some(given) = given_value(map) {
        return given;
    }
    if let Some(target) = map
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| local(root, r))
    {
        return make(root, target, depth + 1);
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(first) = map
            .get(key)
            .and_then(Value::as_array)
            .and_then(|a| a.first())
        {
            return make(root, first, depth + 1);
        }
    }
    let mut made = by_type(root, map, depth);
    for part in map
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Value::Object(into), Value::Object(more)) = (&mut made, make(root, part, depth + 1))
        {
            into.extend(more);
        }
    }
    made
}

/// A value the schema names itself.
fn given_value(map: &Map<String, Value>) -> Option<Value> {
    if let Some(first) = map
        .get("examples")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        return Some(first.clone());
    }
    if let Some(v) = map.get("const").or_else(|| map.get("default")) {
        return Some(v.clone());
    }
    map.get("enum")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .cloned()
}

/// A placeholder of the schema's type (the first one when it lists several).
fn by_type(root: &Value, map: &Map<String, Value>, depth: usize) -> Value {
    let declared = match map.get("type") {
        Some(Value::String(t)) => Some(t.as_str()),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    };
    let declared = declared.or_else(|| map.contains_key("properties").then_some("object"));
    match declared {
        Some("object") => object(root, map, depth),
        Some("array") => {
            let item = map
                .get("items")
                .map_or(Value::Null, |i| make(root, i, depth + 1));
            let min = map
                .get("minItems")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .max(1);
            Value::Array(vec![item; usize::try_from(min.min(8)).unwrap_or(1)])
        }
        Some("string") => Value::String(string(map)),
        Some("integer") => number(map).map_or(Value::from(0), |n| Value::from(n.ceil() as i64)),
        Some("number") => number(map).map_or(Value::from(0), Value::from),
        Some("boolean") => Value::Bool(false),
        _ => Value::Null,
    }
}

fn object(root: &Value, map: &Map<String, Value>, depth: usize) -> Value {
    let mut out = Map::new();
    if let Some(props) = map.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            out.insert(name.clone(), make(root, sub, depth + 1));
        }
    }
    Value::Object(out)
}

/// A string placeholder that satisfies the common formats and a `minLength`.
fn string(map: &Map<String, Value>) -> String {
    let text = match map.get("format").and_then(Value::as_str) {
        Some("date-time") => "2026-01-01T00:00:00Z",
        Some("date") => "2026-01-01",
        Some("email") => "user@example.com",
        Some("uri" | "url") => "https://example.com/",
        Some("uuid") => "00000000-0000-4000-8000-000000000000",
        _ => "example",
    };
    let min = map
        .get("minLength")
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0);
    let mut text = text.to_owned();
    while text.chars().count() < min.min(1024) {
        text.push('x');
    }
    text
}

/// The lower bound of a number, if the schema sets one.
fn number(map: &Map<String, Value>) -> Option<f64> {
    map.get("minimum")
        .or_else(|| map.get("exclusiveMinimum"))
        .and_then(Value::as_f64)
        .map(|n| {
            if map.contains_key("minimum") {
                n
            } else {
                n + 1.0
            }
        })
}

/// The target of a document-local `$ref` such as `#/$defs/Impact`.
fn local<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    root.pointer(reference.strip_prefix('#')?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_example_follows_types_examples_and_refs() {
        let schema = json!({
            "type": "object",
            "required": ["incidentId", "systemIds", "impact"],
            "properties": {
                "incidentId": {"type": "string", "examples": ["inc-42"]},
                "systemIds": {"type": "array", "items": {"type": "string"}},
                "impact": {"$ref": "#/$defs/Impact"},
                "count": {"type": "integer", "minimum": 3},
                "at": {"type": "string", "format": "date-time"}
            },
            "$defs": {"Impact": {"type": "string", "enum": ["major", "minor"]}}
        });
        let made = example(&schema);
        assert_eq!(
            made,
            json!({
                "incidentId": "inc-42",
                "systemIds": ["example"],
                "impact": "major",
                "count": 3,
                "at": "2026-01-01T00:00:00Z"
            })
        );
        assert!(crate::schema::validate(&schema, &made).is_ok());
    }

    #[test]
    fn a_recursive_schema_stops() {
        let schema = json!({"$ref": "#"});
        assert_eq!(example(&schema), Value::Null);
    }
}
