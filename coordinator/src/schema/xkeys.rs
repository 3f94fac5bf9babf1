//! Switchyard's own rules for plugin schemas: the root is an object schema, and the `x-` keys the
//! UI understands are well-formed and used where they make sense (`x-depends-on` and
//! `x-searchable` only next to `x-options-resolver`, `x-depends-on` naming sibling properties
//! or top-level properties of the config: the form sends its values as the resolver's context,
//! so a field in a list item may depend on the config's own fields, as the seed's Jira field
//! mappings depend on the project and the issue type).
//!
//! The walk follows schema keywords only, so data under `default`, `const`, `enum` or `examples`
//! is never mistaken for a schema.

use super::{SchemaProblem, pointer_push};
use serde_json::{Map, Value};

/// The values `x-editor-types` may list.
pub const EDITOR_TYPES: &[&str] = &[
    "none",
    "raw",
    "json",
    "yaml",
    "xml",
    "markdown",
    "formdata",
    "javascript",
    "typescript",
    "shell",
];

/// `x-` keys whose value must be a boolean.
const BOOLEAN_KEYS: &[&str] = &["x-secret", "x-hidden", "x-searchable", "x-color"];

/// Keywords whose value is a single subschema.
const SINGLE: &[&str] = &[
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "additionalItems",
];
/// Keywords whose value is an array of subschemas.
const ARRAYS: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];
/// Keywords whose value maps names to subschemas (`properties` is handled on its own).
const MAPS: &[&str] = &[
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
];

/// The root must describe an object: a config is always a JSON object.
pub(super) fn root_problems(schema: &Value) -> Option<SchemaProblem> {
    match schema.get("type") {
        Some(Value::String(t)) if t == "object" => None,
        _ => Some(SchemaProblem::new(
            "",
            "the root schema must be an object schema: add \"type\": \"object\"",
        )),
    }
}

/// Every `x-` key problem in the document.
pub(super) fn x_key_problems(schema: &Value) -> Vec<SchemaProblem> {
    let mut problems = Vec::new();
    let top = schema.get("properties").and_then(Value::as_object);
    walk(
        &Scope {
            top,
            siblings: None,
        },
        schema,
        "",
        &mut problems,
    );
    problems
}

/// The property names an `x-depends-on` may name at one place of the walk.
#[derive(Clone, Copy)]
struct Scope<'a> {
    /// The root schema's properties (the config's top-level fields).
    top: Option<&'a Map<String, Value>>,
    /// The properties of the object schema whose `properties` holds this one (None when it is
    /// not a property schema).
    siblings: Option<&'a Map<String, Value>>,
}

impl<'a> Scope<'a> {
    fn with_siblings(self, siblings: Option<&'a Map<String, Value>>) -> Self {
        Scope { siblings, ..self }
    }
}

/// Checks one schema object, then its subschemas.
fn walk(scope: &Scope<'_>, schema: &Value, path: &str, out: &mut Vec<SchemaProblem>) {
    let Value::Object(obj) = schema else {
        return; // boolean schemas carry no keys
    };
    check_keys(obj, path, scope, out);
    if let Some(Value::Object(props)) = obj.get("properties") {
        let props_path = pointer_push(path, "properties");
        for (name, sub) in props {
            let inner = scope.with_siblings(Some(props));
            walk(&inner, sub, &pointer_push(&props_path, name), out);
        }
    }
    let nested = scope.with_siblings(None);
    for key in SINGLE {
        if let Some(sub) = obj.get(*key) {
            walk(&nested, sub, &pointer_push(path, key), out);
        }
    }
    for key in ARRAYS {
        if let Some(Value::Array(subs)) = obj.get(*key) {
            let base = pointer_push(path, key);
            for (i, sub) in subs.iter().enumerate() {
                walk(&nested, sub, &pointer_push(&base, &i.to_string()), out);
            }
        }
    }
    for key in MAPS {
        if let Some(Value::Object(subs)) = obj.get(*key) {
            let base = pointer_push(path, key);
            for (name, sub) in subs {
                walk(&nested, sub, &pointer_push(&base, name), out);
            }
        }
    }
}

/// The `x-` rules for one schema object.
fn check_keys(
    obj: &Map<String, Value>,
    path: &str,
    scope: &Scope<'_>,
    out: &mut Vec<SchemaProblem>,
) {
    for key in BOOLEAN_KEYS {
        if obj.get(*key).is_some_and(|v| !v.is_boolean()) {
            out.push(SchemaProblem::new(
                pointer_push(path, key),
                format!("{key} must be a boolean (true or false)"),
            ));
        }
    }
    let has_resolver = check_resolver(obj, path, out);
    if obj.contains_key("x-searchable") && !has_resolver {
        out.push(SchemaProblem::new(
            pointer_push(path, "x-searchable"),
            "x-searchable is only allowed next to x-options-resolver: add a resolver or remove it",
        ));
    }
    if let Some(deps) = obj.get("x-depends-on") {
        check_depends_on(deps, has_resolver, path, scope, out);
    }
    if let Some(types) = obj.get("x-editor-types") {
        check_editor_types(types, &pointer_push(path, "x-editor-types"), out);
    }
}

/// `x-options-resolver` must be a non-empty string; returns whether a valid one is present.
fn check_resolver(obj: &Map<String, Value>, path: &str, out: &mut Vec<SchemaProblem>) -> bool {
    match obj.get("x-options-resolver") {
        None => false,
        Some(Value::String(name)) if !name.trim().is_empty() => true,
        Some(_) => {
            out.push(SchemaProblem::new(
                pointer_push(path, "x-options-resolver"),
                "x-options-resolver must be a non-empty string naming the resolver",
            ));
            // Present but malformed: reported once here, not again on its companions.
            true
        }
    }
}

/// `x-depends-on`: an array of names of sibling or top-level properties, only next to a
/// resolver.
fn check_depends_on(
    deps: &Value,
    has_resolver: bool,
    path: &str,
    scope: &Scope<'_>,
    out: &mut Vec<SchemaProblem>,
) {
    let at = pointer_push(path, "x-depends-on");
    if !has_resolver {
        out.push(SchemaProblem::new(
            &at,
            "x-depends-on is only allowed next to x-options-resolver: add a resolver or remove it",
        ));
    }
    let Value::Array(items) = deps else {
        out.push(SchemaProblem::new(
            at,
            "x-depends-on must be an array of property names",
        ));
        return;
    };
    let Some(siblings) = scope.siblings else {
        out.push(SchemaProblem::new(
            at,
            "x-depends-on is only allowed on a property schema (directly under \"properties\")",
        ));
        return;
    };
    let own_name = path.rsplit('/').next().unwrap_or_default();
    for (i, item) in items.iter().enumerate() {
        let item_at = pointer_push(&at, &i.to_string());
        match item.as_str() {
            None => out.push(SchemaProblem::new(
                item_at,
                "each x-depends-on entry must be a string",
            )),
            Some(name)
                if name == own_name
                    || !(siblings.contains_key(name)
                        || scope.top.is_some_and(|top| top.contains_key(name))) =>
            {
                out.push(SchemaProblem::new(
                    item_at,
                    format!("x-depends-on names \"{name}\", which is neither another property of the same object nor a top-level property of the config"),
                ));
            }
            Some(_) => {}
        }
    }
}

/// `x-editor-types`: an array of known editor names.
fn check_editor_types(types: &Value, at: &str, out: &mut Vec<SchemaProblem>) {
    let Value::Array(items) = types else {
        out.push(SchemaProblem::new(
            at,
            "x-editor-types must be an array of editor names",
        ));
        return;
    };
    for (i, item) in items.iter().enumerate() {
        if !item.as_str().is_some_and(|t| EDITOR_TYPES.contains(&t)) {
            out.push(SchemaProblem::new(
                pointer_push(at, &i.to_string()),
                format!(
                    "unknown editor type {item}; use one of: {}",
                    EDITOR_TYPES.join(", ")
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::check_schema;
    use serde_json::json;

    fn paths(schema: &serde_json::Value) -> Vec<String> {
        check_schema(schema)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.json_path)
            .collect()
    }

    fn object(props: serde_json::Value) -> serde_json::Value {
        json!({"type": "object", "properties": props})
    }

    #[test]
    fn resolver_fields_with_dependencies_pass() {
        let schema = object(json!({
            "project": {"type": "string", "x-options-resolver": "projects"},
            "issueType": {"type": "string", "x-options-resolver": "types",
                          "x-depends-on": ["project"], "x-searchable": true},
            "token": {"type": "string", "x-secret": true},
            "body": {"type": "string", "x-editor-types": ["json", "markdown"]}
        }));
        assert_eq!(check_schema(&schema), Ok(()));
    }

    #[test]
    fn depends_on_without_resolver_is_refused() {
        let schema = object(
            json!({"a": {"type": "string"}, "b": {"type": "string", "x-depends-on": ["a"]}}),
        );
        assert_eq!(paths(&schema), ["/properties/b/x-depends-on"]);
    }

    #[test]
    fn depends_on_must_name_an_existing_sibling() {
        let schema = object(
            json!({"b": {"type": "string", "x-options-resolver": "r", "x-depends-on": ["nope", 3]}}),
        );
        assert_eq!(
            paths(&schema),
            [
                "/properties/b/x-depends-on/0",
                "/properties/b/x-depends-on/1"
            ]
        );
    }

    #[test]
    fn depends_on_may_name_a_top_level_property_from_a_list_item() {
        // The seed's Jira: each field mapping's field depends on the config's project and
        // issue type, also when the item schema sits in $defs behind a $ref.
        let item = json!({"type": "object", "properties": {
            "fieldKey": {"type": "string", "x-options-resolver": "fields",
                         "x-depends-on": ["projectKey", "issueTypeId", "nope"]},
            "template": {"type": "string"}}});
        let schema = json!({"type": "object",
            "properties": {"projectKey": {"type": "string"}, "issueTypeId": {"type": "string"},
                           "fieldMappings": {"type": "array", "items": {"$ref": "#/$defs/Mapping"}}},
            "$defs": {"Mapping": item}});
        assert_eq!(
            paths(&schema),
            ["/$defs/Mapping/properties/fieldKey/x-depends-on/2"]
        );
    }

    #[test]
    fn searchable_without_resolver_is_refused() {
        let schema = object(json!({"b": {"type": "string", "x-searchable": true}}));
        assert_eq!(paths(&schema), ["/properties/b/x-searchable"]);
    }

    #[test]
    fn boolean_keys_must_be_booleans() {
        let schema = object(json!({"b": {"type": "string", "x-secret": "yes", "x-color": 1}}));
        assert_eq!(
            paths(&schema),
            ["/properties/b/x-secret", "/properties/b/x-color"]
        );
    }

    #[test]
    fn empty_resolver_and_unknown_editor_are_refused() {
        let schema = object(json!({"b": {"type": "string", "x-options-resolver": "",
                                          "x-editor-types": ["json", "cobol"]}}));
        assert_eq!(
            paths(&schema),
            [
                "/properties/b/x-options-resolver",
                "/properties/b/x-editor-types/1"
            ]
        );
    }

    #[test]
    fn rules_apply_inside_defs_and_items() {
        let schema = json!({
            "type": "object",
            "properties": {"m": {"type": "array", "items": {"$ref": "#/$defs/M"}}},
            "$defs": {"M": {"type": "object", "properties": {"k": {"type": "string", "x-hidden": "no"}}}}
        });
        assert_eq!(paths(&schema), ["/$defs/M/properties/k/x-hidden"]);
    }

    #[test]
    fn data_under_default_is_not_a_schema() {
        let schema = object(json!({"a": {"type": "object", "default": {"x-secret": "data"}}}));
        assert_eq!(check_schema(&schema), Ok(()));
    }
}
