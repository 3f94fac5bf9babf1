//! Schemas derived with schemars: valid draft 2020-12 for the shapes providers use (options,
//! enums, defaults, nested structs), Switchyard's `x-` keys attached with `extend`, and configs
//! turned into typed values or diagnostics with JSON Pointers that never quote values.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchyard_plugin_sdk::schema::{CompiledSchema, schema_for};

#[derive(Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Priority {
    Low,
    High,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Auth {
    None,
    Bearer {
        #[schemars(extend("x-secret" = true))]
        token: String,
    },
}

#[derive(Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Mapping {
    #[schemars(extend("x-options-resolver" = "fieldOptions", "x-depends-on" = ["projectKey"], "x-searchable" = true))]
    field_key: String,
    #[schemars(extend("x-editor-types" = ["raw", "markdown"]))]
    template: String,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    #[schemars(extend("format" = "uri"))]
    url: String,
    #[schemars(extend("x-hidden" = true))]
    connection_id: Option<String>,
    #[schemars(extend("x-options-resolver" = "projectOptions"))]
    project_key: String,
    #[serde(default = "default_priority")]
    priority: Priority,
    #[serde(default)]
    auth: Option<Auth>,
    #[serde(default)]
    mappings: Vec<Mapping>,
    #[schemars(extend("x-color" = true))]
    color: Option<String>,
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 1000, max = 60000))]
    timeout_ms: u32,
}

fn default_priority() -> Priority {
    Priority::Low
}

fn default_timeout() -> u32 {
    10_000
}

fn compiled() -> CompiledSchema<Config> {
    CompiledSchema::new("config", schema_for::<Config>()).expect("a valid schema")
}

/// The property schema of `name`, following one `$ref` into `$defs`.
fn property<'a>(schema: &'a Value, path: &[&str]) -> &'a Value {
    let mut node = schema;
    for name in path {
        node = &node["properties"][*name];
        if let Some(reference) = node["$ref"].as_str() {
            let def = reference.trim_start_matches("#/$defs/");
            node = &schema["$defs"][def];
        }
    }
    node
}

#[test]
fn derived_schema_is_valid_2020_12() {
    let schema = schema_for::<Config>().to_value();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    jsonschema::draft202012::meta::validate(&schema).expect("meta-schema valid");
    // Compiling also resolves every `$ref`.
    let _ = compiled();
}

#[test]
fn x_keys_land_on_their_fields() {
    let schema = schema_for::<Config>().to_value();
    assert_eq!(property(&schema, &["connectionId"])["x-hidden"], true);
    assert_eq!(
        property(&schema, &["projectKey"])["x-options-resolver"],
        "projectOptions"
    );
    assert_eq!(property(&schema, &["color"])["x-color"], true);
    assert_eq!(property(&schema, &["url"])["format"], "uri");
    let mapping = &schema["$defs"]["Mapping"]["properties"];
    assert_eq!(mapping["fieldKey"]["x-depends-on"], json!(["projectKey"]));
    assert_eq!(mapping["fieldKey"]["x-searchable"], true);
    assert_eq!(
        mapping["template"]["x-editor-types"],
        json!(["raw", "markdown"])
    );
    let text = schema.to_string();
    assert!(text.contains(r#""x-secret":true"#), "{text}");
}

#[test]
fn defaults_are_published_and_applied() {
    let schema = schema_for::<Config>().to_value();
    assert_eq!(property(&schema, &["timeoutMs"])["default"], 10_000);
    assert_eq!(property(&schema, &["timeoutMs"])["minimum"], 1000);
    let config = compiled()
        .parse(&json!({"url": "https://example.com/h", "projectKey": "OPS"}))
        .expect("valid");
    assert_eq!(config.timeout_ms, 10_000);
    assert_eq!(config.priority, Priority::Low);
    assert_eq!(config.auth, None);
}

#[test]
fn every_violation_is_reported_with_its_pointer() {
    let diagnostics = compiled()
        .parse(&json!({
            "url": "not a uri",
            "timeoutMs": 5,
            "priority": "urgent",
            "mappings": [{"fieldKey": "a"}],
            "extra": 1
        }))
        .expect_err("invalid");
    let paths: Vec<&str> = diagnostics.iter().map(|d| d.json_path.as_str()).collect();
    for expected in ["", "/url", "/timeoutMs", "/priority", "/mappings/0"] {
        assert!(
            paths.contains(&expected),
            "{expected} missing in {diagnostics:?}"
        );
    }
    let required = diagnostics
        .iter()
        .find(|d| d.json_path.is_empty() && d.message.contains("projectKey"));
    assert!(required.is_some(), "{diagnostics:?}");
}

#[test]
fn messages_never_quote_a_secret() {
    let diagnostics = compiled()
        .parse(&json!({
            "url": "https://example.com",
            "projectKey": "OPS",
            "auth": {"type": "bearer", "token": 12345678}
        }))
        .expect_err("token must be a string");
    assert!(!diagnostics.is_empty());
    for d in &diagnostics {
        assert!(!d.message.contains("12345678"), "{d}");
    }
    let diagnostics = compiled()
        .parse(&json!({"url": "hunter2-secret", "projectKey": "OPS"}))
        .expect_err("not a uri");
    assert_eq!(diagnostics[0].json_path, "/url");
    assert!(
        !diagnostics[0].message.contains("hunter2"),
        "{}",
        diagnostics[0]
    );
}

#[test]
fn tagged_enums_parse_into_their_variant() {
    let config = compiled()
        .parse(&json!({
            "url": "https://example.com",
            "projectKey": "OPS",
            "auth": {"type": "bearer", "token": "t"}
        }))
        .expect("valid");
    assert_eq!(config.auth, Some(Auth::Bearer { token: "t".into() }));
    assert!(compiled().resolvers().contains("fieldOptions"));
    assert!(compiled().resolvers().contains("projectOptions"));
}
