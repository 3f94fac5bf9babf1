//! The standard half of [`super::check_schema`]: the draft 2020-12 meta-schema, then compiling
//! the schema (which catches what the meta-schema cannot: `$ref`s that do not resolve, invalid
//! regular expressions). Remote `$ref`s are never fetched (the crate is built without resolvers).

use super::SchemaProblem;
use serde_json::Value;

/// Every meta-schema violation, each at its JSON Pointer within the schema.
pub(super) fn meta_problems(schema: &Value) -> Vec<SchemaProblem> {
    jsonschema::draft202012::meta::VALIDATOR
        .iter_errors(schema)
        .map(|err| {
            SchemaProblem::new(
                err.instance_path.as_str(),
                format!("not a valid JSON Schema (draft 2020-12): {err}"),
            )
        })
        .collect()
}

/// The error, if any, of compiling a meta-valid schema into a validator.
pub(super) fn compile_problems(schema: &Value) -> Option<SchemaProblem> {
    let err = jsonschema::draft202012::options().build(schema).err()?;
    Some(SchemaProblem::new(
        err.schema_path.as_str(),
        format!("the schema does not compile: {err}"),
    ))
}
