//! Turning the text a field mapping's template rendered into the JSON value Jira expects for
//! that field, by the field's type in the create metadata: text (rich-text fields as ADF),
//! numbers, dates, options and other choices (matched against the allowed values by id,
//! value or name), users (account ids), and arrays of any of these (a JSON array or
//! comma-separated text). Pure: the caller fetched the metadata.

use serde_json::{Value, json};

use crate::adf;
use crate::meta::FieldMeta;

/// How many allowed values an error lists.
const LISTED: usize = 10;

/// The value of `field` for the rendered `text`; `None` when the text is empty (the field
/// stays unset).
///
/// # Errors
/// A sentence saying why the text does not fit the field (not a number, not an allowed value…).
pub fn convert(field: &FieldMeta, text: &str) -> Result<Option<Value>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let kind = field.schema.kind.as_str();
    let value = if kind == "array" {
        let item_kind = field.schema.items.as_deref().unwrap_or("string");
        let items = split_list(text)
            .iter()
            .map(|item| single(field, item_kind, item))
            .collect::<Result<Vec<_>, _>>()?;
        Value::Array(items)
    } else {
        single(field, kind, text)?
    };
    Ok(Some(value))
}

/// One value of type `kind` (the field's type, or its items' type for an array).
fn single(field: &FieldMeta, kind: &str, text: &str) -> Result<Value, String> {
    match kind {
        "string" if is_rich_text(field) => Ok(adf::to_adf(text)),
        "string" => Ok(json!(text)),
        "number" => number(text),
        "date" => date(text),
        "user" => Ok(json!({"accountId": text})),
        "group" => Ok(json!({"name": text})),
        "option" => choice(field, text, "value"),
        "option-with-child" => Ok(cascading(text)),
        "priority" | "resolution" | "version" | "component" | "issuetype" | "project" => {
            choice(field, text, "name")
        }
        // datetime, any, and types this plugin does not know: JSON when the text is JSON
        // (an object or list written by the template), else the text.
        _ => Ok(serde_json::from_str::<Value>(text)
            .ok()
            .filter(|v| v.is_object() || v.is_array())
            .unwrap_or_else(|| json!(text))),
    }
}

/// Description, environment and multi-line text custom fields take ADF.
fn is_rich_text(field: &FieldMeta) -> bool {
    let system = field.schema.system.as_deref();
    matches!(system, Some("description" | "environment"))
        || field
            .schema
            .custom
            .as_deref()
            .is_some_and(|c| c.ends_with(":textarea"))
}

fn number(text: &str) -> Result<Value, String> {
    if let Ok(n) = text.parse::<i64>() {
        return Ok(json!(n));
    }
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok(json!(n)),
        _ => Err(format!("{:?} is not a number", cut(text))),
    }
}

fn date(text: &str) -> Result<Value, String> {
    let b = text.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if shaped {
        Ok(json!(text))
    } else {
        Err(format!("{:?} is not a date (YYYY-MM-DD)", cut(text)))
    }
}

/// A choice: `{"id": …}` of the allowed value whose id, value or name is `text` (ignoring
/// case); without allowed values, `{label_key: text}` for Jira to look up.
fn choice(field: &FieldMeta, text: &str, label_key: &str) -> Result<Value, String> {
    if field.allowed_values.is_empty() {
        return Ok(json!({ label_key: text }));
    }
    let label = |v: &Value| {
        ["value", "name"]
            .iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str))
            .unwrap_or("")
            .to_owned()
    };
    let found = field.allowed_values.iter().find(|v| {
        v.get("id").and_then(Value::as_str) == Some(text) || label(v).eq_ignore_ascii_case(text)
    });
    if let Some(id) = found.and_then(|v| v.get("id")).and_then(Value::as_str) {
        return Ok(json!({"id": id}));
    }
    let names: Vec<String> = field
        .allowed_values
        .iter()
        .take(LISTED)
        .map(label)
        .collect();
    let more = if field.allowed_values.len() > LISTED {
        ", …"
    } else {
        ""
    };
    Err(format!(
        "{:?} is not one of its allowed values ({}{more})",
        cut(text),
        names.join(", ")
    ))
}

/// A cascading select: `parent > child` (or just `parent`).
fn cascading(text: &str) -> Value {
    match text.split_once('>') {
        Some((parent, child)) => {
            json!({"value": parent.trim(), "child": {"value": child.trim()}})
        }
        None => json!({"value": text}),
    }
}

/// The items of a list value: a JSON array's items (strings as they are, others as JSON
/// text), else the comma-separated parts; empty parts dropped.
fn split_list(text: &str) -> Vec<String> {
    let items: Vec<String> = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => s,
                other => other.to_string(),
            })
            .collect(),
        _ => text.split(',').map(str::to_owned).collect(),
    };
    items
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// A value quoted in an error, cut short (it comes from the payload).
fn cut(text: &str) -> String {
    switchyard_plugin_sdk::lifecycle::cut_chars(text, 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::FieldSchema;

    fn field(kind: &str, items: Option<&str>, allowed: Value) -> FieldMeta {
        FieldMeta {
            field_id: "customfield_1".into(),
            name: "F".into(),
            required: false,
            schema: FieldSchema {
                kind: kind.into(),
                items: items.map(str::to_owned),
                system: None,
                custom: None,
            },
            allowed_values: allowed.as_array().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn scalars_are_typed() {
        let none = json!([]);
        assert_eq!(
            convert(&field("string", None, none.clone()), " a "),
            Ok(Some(json!("a")))
        );
        assert_eq!(
            convert(&field("number", None, none.clone()), "5"),
            Ok(Some(json!(5)))
        );
        assert_eq!(
            convert(&field("number", None, none.clone()), "2.5"),
            Ok(Some(json!(2.5)))
        );
        assert!(convert(&field("number", None, none.clone()), "five").is_err());
        assert_eq!(
            convert(&field("date", None, none.clone()), "2026-01-31"),
            Ok(Some(json!("2026-01-31")))
        );
        assert!(convert(&field("date", None, none.clone()), "31/01/2026").is_err());
        assert_eq!(
            convert(
                &field("user", None, none.clone()),
                "5b10ac8d82e05b22cc7d4ef5"
            ),
            Ok(Some(json!({"accountId": "5b10ac8d82e05b22cc7d4ef5"})))
        );
        assert_eq!(convert(&field("number", None, none), "  "), Ok(None));
    }

    #[test]
    fn choices_match_allowed_values_by_id_value_or_name() {
        let options = field(
            "option",
            None,
            json!([{"id": "10001", "value": "High"}, {"id": "10002", "value": "Low"}]),
        );
        assert_eq!(convert(&options, "low"), Ok(Some(json!({"id": "10002"}))));
        assert_eq!(convert(&options, "10001"), Ok(Some(json!({"id": "10001"}))));
        let err = convert(&options, "Medium").unwrap_err();
        assert!(err.contains("High, Low"), "{err}");
        let open = field("option", None, json!([]));
        assert_eq!(convert(&open, "Any"), Ok(Some(json!({"value": "Any"}))));
    }

    #[test]
    fn arrays_split_json_or_commas() {
        let labels = field("array", Some("string"), json!([]));
        assert_eq!(
            convert(&labels, "a, b,,c"),
            Ok(Some(json!(["a", "b", "c"])))
        );
        assert_eq!(
            convert(&labels, r#"["x","y"]"#),
            Ok(Some(json!(["x", "y"])))
        );
        let components = field(
            "array",
            Some("component"),
            json!([{"id": "7", "name": "API"}, {"id": "8", "name": "Web"}]),
        );
        assert_eq!(
            convert(&components, "web,API"),
            Ok(Some(json!([{"id": "8"}, {"id": "7"}])))
        );
        let users = field("array", Some("user"), json!([]));
        assert_eq!(
            convert(&users, "u1,u2"),
            Ok(Some(json!([{"accountId": "u1"}, {"accountId": "u2"}])))
        );
    }

    #[test]
    fn rich_text_fields_take_adf() {
        let mut notes = field("string", None, json!([]));
        notes.schema.custom =
            Some("com.atlassian.jira.plugin.system.customfieldtypes:textarea".into());
        let value = convert(&notes, "**x**").unwrap().unwrap();
        assert_eq!(value["type"], "doc");
        assert_eq!(
            value["content"][0]["content"][0]["marks"][0]["type"],
            "strong"
        );
    }
}
