//! Where a config's secrets are: every non-null value that the config's JSON Schema marks
//! `x-secret: true`, wherever the mark sits — `properties`, `additionalProperties`, `items`,
//! `prefixItems`, a local `$ref` (into `$defs` or anywhere in the document), and the branches
//! of `allOf`/`anyOf`/`oneOf`/`then`/`else` (a value matched by several branches is listed
//! once). The one walker of this, shared by the coordinator (which encrypts and redacts these
//! values) and the Rust SDK (which scrubs them from what a provider returns), so that both
//! always agree on what is secret.

use serde_json::{Map, Value};

/// One step of a path into a config.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Segment {
    /// An object member.
    Key(String),
    /// An array element.
    Index(usize),
}

/// Deep enough for any real config; stops `$ref` cycles.
const MAX_DEPTH: usize = 48;

/// The paths of every non-null secret value in `config`, per `schema`: sorted, each once.
#[must_use]
pub fn secret_paths(schema: &Value, config: &Value) -> Vec<Vec<Segment>> {
    let mut walker = Walker {
        root: schema,
        out: Vec::new(),
    };
    walker.walk(schema, config, &mut Vec::new(), 0);
    walker.out.sort();
    walker.out.dedup();
    walker.out
}

/// [`secret_paths`] as JSON Pointers (RFC 6901: `~` and `/` in keys escaped).
#[must_use]
pub fn secret_pointers(schema: &Value, config: &Value) -> Vec<String> {
    secret_paths(schema, config)
        .iter()
        .map(|path| pointer(path))
        .collect()
}

/// The JSON Pointer of a path.
#[must_use]
pub fn pointer(path: &[Segment]) -> String {
    path.iter()
        .map(|s| match s {
            Segment::Key(k) => format!("/{}", k.replace('~', "~0").replace('/', "~1")),
            Segment::Index(i) => format!("/{i}"),
        })
        .collect()
}

struct Walker<'a> {
    root: &'a Value,
    out: Vec<Vec<Segment>>,
}

impl Walker<'_> {
    fn walk(&mut self, schema: &Value, inst: &Value, path: &mut Vec<Segment>, depth: usize) {
        let Some(obj) = schema.as_object() else {
            return;
        };
        if depth > MAX_DEPTH || inst.is_null() {
            return;
        }
        if obj.get("x-secret") == Some(&Value::Bool(true)) {
            self.out.push(path.clone());
            return;
        }
        let root = self.root;
        if let Some(target) = obj
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| root.pointer(r.strip_prefix('#')?))
        {
            self.walk(target, inst, path, depth + 1);
        }
        let branches = ["allOf", "anyOf", "oneOf"]
            .iter()
            .filter_map(|kw| obj.get(*kw).and_then(Value::as_array))
            .flatten()
            .chain(["then", "else"].iter().filter_map(|kw| obj.get(*kw)));
        for branch in branches {
            self.walk(branch, inst, path, depth + 1);
        }
        match inst {
            Value::Object(map) => self.walk_object(obj, map, path, depth),
            Value::Array(items) => self.walk_array(obj, items, path, depth),
            _ => {}
        }
    }

    fn walk_object(
        &mut self,
        obj: &Map<String, Value>,
        map: &Map<String, Value>,
        path: &mut Vec<Segment>,
        depth: usize,
    ) {
        let props = obj.get("properties").and_then(Value::as_object);
        let extra = obj.get("additionalProperties");
        for (key, value) in map {
            if let Some(sub) = props.and_then(|p| p.get(key)).or(extra) {
                path.push(Segment::Key(key.clone()));
                self.walk(sub, value, path, depth + 1);
                path.pop();
            }
        }
    }

    fn walk_array(
        &mut self,
        obj: &Map<String, Value>,
        items: &[Value],
        path: &mut Vec<Segment>,
        depth: usize,
    ) {
        let prefix = obj.get("prefixItems").and_then(Value::as_array);
        let rest = obj.get("items");
        for (i, value) in items.iter().enumerate() {
            if let Some(sub) = prefix.and_then(|p| p.get(i)).or(rest) {
                path.push(Segment::Index(i));
                self.walk(sub, value, path, depth + 1);
                path.pop();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_secrets_behind_refs_branches_and_items() {
        let schema = json!({
            "properties": {
                "auth": {"$ref": "#/$defs/Auth"},
                "headers": {"items": {"properties": {"value": {"x-secret": true}}}},
                "pair": {"prefixItems": [{"type": "string"}, {"x-secret": true}]},
                "extra": {"additionalProperties": {"x-secret": true}}
            },
            "if": {"required": ["mode"]},
            "then": {"properties": {"mode": {"x-secret": true}}},
            "$defs": {"Auth": {"oneOf": [
                {"properties": {"token": {"type": "string", "x-secret": true}}},
                {"properties": {"password": {"x-secret": true}}}
            ]}}
        });
        let config = json!({
            "auth": {"password": "pw-12345", "token": null},
            "headers": [{"value": "v1"}, {"name": "n"}],
            "pair": ["public", "hidden"],
            "extra": {"a/b": "x"},
            "mode": "m",
            "url": "u"
        });
        assert_eq!(
            secret_pointers(&schema, &config),
            [
                "/auth/password",
                "/extra/a~1b",
                "/headers/0/value",
                "/mode",
                "/pair/1"
            ]
        );
    }

    #[test]
    fn a_value_under_overlapping_branches_is_listed_once() {
        let secret = json!({"properties": {"k": {"x-secret": true}}});
        let schema = json!({"allOf": [secret.clone(), secret.clone()], "anyOf": [secret]});
        assert_eq!(secret_pointers(&schema, &json!({"k": "v"})), ["/k"]);
    }

    #[test]
    fn a_ref_cycle_ends() {
        let schema = json!({"$ref": "#", "properties": {"s": {"x-secret": true}}});
        assert_eq!(secret_pointers(&schema, &json!({"s": "v"})), ["/s"]);
    }
}
