//! Filling in `default` values from a schema: object properties recursively, array items, `allOf`
//! branches, and `$ref`s that point inside the same document (`#/...`).

use serde_json::Value;

/// How deep `$ref` chains are followed; guards against self-referencing schemas.
const MAX_DEPTH: usize = 32;

/// Fills in the `default` of every property missing from `instance` (objects' properties,
/// recursively; array items; `allOf`; `$ref`/`$defs` within the document). Existing values,
/// including `null`, are never overwritten.
pub fn apply_defaults(schema: &Value, instance: &mut Value) {
    fill(schema, schema, instance, 0);
}

fn fill(root: &Value, schema: &Value, instance: &mut Value, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let Some(schema) = resolve(root, schema) else {
        return;
    };
    if let Some(Value::Array(branches)) = schema.get("allOf") {
        for branch in branches {
            fill(root, branch, instance, depth + 1);
        }
    }
    match instance {
        Value::Object(map) => {
            let Some(Value::Object(props)) = schema.get("properties") else {
                return;
            };
            for (name, prop) in props {
                // A `default` next to a `$ref` wins over one in the referenced schema.
                let own_default = prop.get("default");
                let prop = resolve(root, prop).unwrap_or(prop);
                if !map.contains_key(name)
                    && let Some(default) = own_default.or_else(|| prop.get("default"))
                {
                    map.insert(name.clone(), default.clone());
                }
                if let Some(value) = map.get_mut(name) {
                    fill(root, prop, value, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    fill(root, item_schema, item, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// The schema itself, or the target of its local `$ref` (followed a bounded number of times).
fn resolve<'a>(root: &'a Value, mut schema: &'a Value) -> Option<&'a Value> {
    for _ in 0..MAX_DEPTH {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference.strip_prefix('#')?;
                schema = root.pointer(pointer)?;
            }
            None => return Some(schema),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_fill_missing_fields_recursively() {
        let schema = json!({
            "type": "object",
            "properties": {
                "method": {"type": "string", "default": "POST"},
                "timeout": {"type": "integer", "default": 10},
                "auth": {"$ref": "#/$defs/Auth", "default": {}},
                "headers": {"type": "array", "items": {"$ref": "#/$defs/Header"}}
            },
            "$defs": {
                "Auth": {"type": "object", "properties": {"kind": {"default": "none"}}},
                "Header": {"type": "object", "properties": {"sensitive": {"default": false}}}
            }
        });
        let mut config = json!({"timeout": 5, "headers": [{"name": "a"}]});
        apply_defaults(&schema, &mut config);
        assert_eq!(
            config,
            json!({"method": "POST", "timeout": 5, "auth": {"kind": "none"},
                   "headers": [{"name": "a", "sensitive": false}]})
        );
    }

    #[test]
    fn a_self_referencing_schema_terminates() {
        let schema = json!({"$ref": "#"});
        let mut config = json!({});
        apply_defaults(&schema, &mut config);
        assert_eq!(config, json!({}));
    }
}
