//! JSON Schema checks for Switchyard: plugin schemas against the draft 2020-12 meta-schema and
//! Switchyard's `x-` key rules ([`check_schema`]), configs against a provider's schema with the
//! JSON path of every problem ([`validate`]), filling in `default`s ([`apply_defaults`]), and
//! making an example instance of a schema ([`example`]).
//!
//! Depends only on `serde_json` and `jsonschema`; it knows nothing about plugins or gRPC, so the
//! host, the API and the conformance harness share one set of rules.

mod defaults;
mod example;
mod instance;
mod meta;
mod xkeys;

pub use defaults::apply_defaults;
pub use example::example;
pub use instance::{compile, problems, validate};

use serde_json::Value;

/// One problem found in a schema or in an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaProblem {
    /// RFC 6901 JSON Pointer into the schema (for [`check_schema`]) or into the instance (for
    /// [`validate`]); `""` is the document as a whole.
    pub json_path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl SchemaProblem {
    /// A problem at `json_path`.
    pub fn new(json_path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            json_path: json_path.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for SchemaProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = if self.json_path.is_empty() {
            "(root)"
        } else {
            &self.json_path
        };
        write!(f, "at {path}: {}", self.message)
    }
}

/// Checks a plugin's schema: the draft 2020-12 meta-schema, that it compiles (its `$ref`s resolve
/// within the document, its patterns are valid regexes), that the root is an object schema, and
/// Switchyard's `x-` key rules. `Err` lists every problem, each with its schema JSON Pointer.
pub fn check_schema(schema: &Value) -> Result<(), Vec<SchemaProblem>> {
    let mut problems = meta::meta_problems(schema);
    if problems.is_empty() {
        problems.extend(meta::compile_problems(schema));
    }
    problems.extend(xkeys::root_problems(schema));
    problems.extend(xkeys::x_key_problems(schema));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Appends one reference token to a JSON Pointer, escaping `~` and `/` as RFC 6901 requires.
pub(crate) fn pointer_push(base: &str, token: &str) -> String {
    let escaped = token.replace('~', "~0").replace('/', "~1");
    format!("{base}/{escaped}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_plain_object_schema_passes() {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {"url": {"type": "string", "format": "uri"}},
            "required": ["url"]
        });
        assert_eq!(check_schema(&schema), Ok(()));
    }

    #[test]
    fn a_meta_schema_violation_names_the_schema_path() {
        let schema = json!({"type": "object", "properties": {"url": {"type": 5}}});
        let problems = check_schema(&schema).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.json_path == "/properties/url/type"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_non_object_root_is_refused() {
        let problems = check_schema(&json!({"type": "string"})).unwrap_err();
        assert_eq!(problems[0].json_path, "");
        assert!(problems[0].message.contains("object"), "{problems:?}");
    }

    #[test]
    fn an_unresolvable_ref_is_refused() {
        let schema = json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}});
        assert!(check_schema(&schema).is_err());
    }

    #[test]
    fn pointer_tokens_are_escaped() {
        assert_eq!(pointer_push("/properties", "a/b~c"), "/properties/a~1b~0c");
    }
}
