//! Validating an instance (a provider config) against its schema. Every problem carries the
//! instance JSON Pointer; messages never quote the offending value, because it may be a secret.

use super::SchemaProblem;
use serde_json::Value;

/// Validates `instance` against `schema` (draft 2020-12, `format` checked). `Err` lists every
/// problem with the instance JSON Pointer and what to fix. A schema that does not compile is
/// reported as one problem at `""` (check schemas with [`super::check_schema`] first).
pub fn validate(schema: &Value, instance: &Value) -> Result<(), Vec<SchemaProblem>> {
    let validator = compile(schema).map_err(|problem| vec![problem])?;
    problems(&validator, instance)
}

/// Compiles `schema` with the rules every instance check uses (draft 2020-12, `format`
/// checked), for callers that validate many instances against one schema. A schema that does
/// not compile is one problem at `""`.
pub fn compile(schema: &Value) -> Result<jsonschema::Validator, SchemaProblem> {
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(schema)
        .map_err(|err| {
            SchemaProblem::new(
                "",
                format!("the provider's schema is invalid ({err}); this is a plugin bug"),
            )
        })
}

/// Every problem of `instance` under a compiled `validator`, with its instance JSON Pointer and
/// a message that never quotes the value.
pub fn problems(
    validator: &jsonschema::Validator,
    instance: &Value,
) -> Result<(), Vec<SchemaProblem>> {
    let problems: Vec<SchemaProblem> = validator
        .iter_errors(instance)
        .flat_map(|err| explain(&err))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The problems one error stands for. "Not valid under any of the `oneOf` schemas"
/// says nothing about what to fix; when the instance picked one branch (its discriminator —
/// a `const` or `enum`, such as `"type": "bearer"` — matched there and nowhere else), the
/// problems inside that branch are the ones to report, e.g. `/auth/token: does not match`.
fn explain(err: &jsonschema::ValidationError<'_>) -> Vec<SchemaProblem> {
    use jsonschema::error::ValidationErrorKind as Kind;
    let branches = match &err.kind {
        Kind::OneOfNotValid { context } => Some(context),
        _ => None,
    };
    let picked = branches.and_then(|branches| {
        let mut matched = branches.iter().filter(|errors| {
            !errors
                .iter()
                .any(|e| matches!(e.kind, Kind::Constant { .. } | Kind::Enum { .. }))
        });
        match (matched.next(), matched.next()) {
            (Some(only), None) if !only.is_empty() => Some(only),
            _ => None,
        }
    });
    match picked {
        Some(errors) => errors.iter().flat_map(explain).collect(),
        None => vec![SchemaProblem::new(
            err.instance_path.as_str(),
            err.masked().to_string(),
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "url": {"type": "string", "format": "uri"},
                "auth": {"type": "object", "properties": {"token": {"type": "string", "x-secret": true}}},
                "retries": {"type": "integer", "minimum": 0}
            },
            "required": ["url"]
        })
    }

    #[test]
    fn a_one_of_branch_picked_by_its_tag_reports_its_own_problems() {
        let schema = json!({"oneOf": [
            {"type": "object", "properties": {"type": {"const": "none"}}, "required": ["type"]},
            {"type": "object", "properties": {
                "type": {"const": "bearer"},
                "token": {"type": "string", "pattern": "^[a-z]*$", "x-secret": true}
            }, "required": ["type", "token"]}
        ]});
        let problems =
            validate(&schema, &json!({"type": "bearer", "token": "S3CRET\n"})).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].json_path, "/token");
        assert!(!problems[0].message.contains("S3CRET"), "{problems:?}");
        // No branch's tag matches: the generic oneOf problem stays.
        let problems = validate(&schema, &json!({"type": "other"})).unwrap_err();
        assert_eq!(problems[0].json_path, "");
    }

    #[test]
    fn a_valid_config_passes() {
        let config = json!({"url": "https://example.com/hook", "retries": 2});
        assert_eq!(validate(&schema(), &config), Ok(()));
    }

    #[test]
    fn every_problem_is_reported_with_its_instance_path() {
        let config = json!({"url": "not a uri", "auth": {"token": 42}, "retries": -1});
        let mut paths: Vec<String> = validate(&schema(), &config)
            .unwrap_err()
            .into_iter()
            .map(|p| p.json_path)
            .collect();
        paths.sort();
        assert_eq!(paths, ["/auth/token", "/retries", "/url"]);
    }

    #[test]
    fn a_missing_required_field_names_it() {
        let problems = validate(&schema(), &json!({})).unwrap_err();
        assert_eq!(problems[0].json_path, "");
        assert!(problems[0].message.contains("\"url\""), "{problems:?}");
    }

    #[test]
    fn messages_do_not_quote_the_value() {
        let problems = validate(&schema(), &json!({"url": "s3cr3t-value"})).unwrap_err();
        assert!(!problems[0].message.contains("s3cr3t"), "{problems:?}");
    }
}
