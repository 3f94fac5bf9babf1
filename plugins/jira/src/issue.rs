//! The JSON bodies the provider sends Jira, built from one delivery: the new issue (project,
//! issue type, summary, ADF description, priority, labels — the delivery's own label among
//! them — and the mapped fields converted by their create metadata), a comment (with a property
//! naming its delivery), a transition, and the JQL search that finds the issue an earlier
//! attempt of the same delivery created.
//! Pure: `deliver` and `preview` share it.

use serde_json::{Map, Value, json};
use switchyard_plugin_sdk::lifecycle::headline;
use switchyard_plugin_sdk::template::{TemplateCache, TemplateContext, TemplateError};
use switchyard_plugin_sdk::{DeliveryContext, DeliveryResult, Diagnostic};

use crate::adf;
use crate::config::{JiraConfig, JiraConnection};
use crate::fields;
use crate::meta::FieldMeta;

/// Jira's limit on a summary, in characters.
pub const SUMMARY_LIMIT: usize = 255;
/// Jira's limit on a label, in characters.
const LABEL_LIMIT: usize = 255;
/// The key of the comment property naming the delivery that added the comment.
pub const COMMENT_PROPERTY: &str = "switchyard";
/// The prefix of the label that marks the issue a delivery created.
pub const LABEL_PREFIX: &str = "switchyard-";

/// The context every body is built from.
pub type Ctx = DeliveryContext<JiraConfig, JiraConnection>;

/// Why a body cannot be built: a template, or a mapped value that does not fit its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A template does not compile or failed to render.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A field mapping's value cannot be converted, or its field is not on the create screen.
    #[error("{path}: {message}")]
    Field {
        /// The JSON Pointer of the mapping's part at fault.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl BuildError {
    /// The error as a diagnostic at its path.
    #[must_use]
    pub fn diagnostic(&self) -> Diagnostic {
        match self {
            Self::Template(e) => e.diagnostic(),
            Self::Field { path, message } => Diagnostic::new(path.clone(), message.clone()),
        }
    }
}

impl From<BuildError> for DeliveryResult {
    /// Permanent: the same config and event fail the same way on every attempt.
    fn from(error: BuildError) -> Self {
        match error {
            BuildError::Template(e) => DeliveryResult::from(e),
            field @ BuildError::Field { .. } => DeliveryResult::permanent(field.to_string()),
        }
    }
}

/// The label marking the issue delivery `delivery_id` created: `switchyard-<id>`, with every
/// character Jira does not allow in a label (spaces, quotes…) replaced by `-`.
#[must_use]
pub fn delivery_label(delivery_id: &str) -> String {
    let id: String = delivery_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':') {
                c
            } else {
                '-'
            }
        })
        .collect();
    switchyard_plugin_sdk::lifecycle::cut_chars(&format!("{LABEL_PREFIX}{id}"), LABEL_LIMIT)
}

/// The `POST /rest/api/3/search/jql` body finding the issue carrying `label` in `project`.
#[must_use]
pub fn search_body(project: &str, label: &str) -> Value {
    json!({
        "jql": format!("project = {} AND labels = {} ORDER BY created ASC", jql_string(project), jql_string(label)),
        "fields": ["summary"],
        "maxResults": 1,
    })
}

/// `text` as a quoted JQL string.
fn jql_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The `POST /rest/api/3/issue` body for `ctx`; `metas` are the create-screen fields (needed
/// only when the config maps fields).
///
/// # Errors
/// A template that fails, or a mapped value that does not fit its field.
pub fn create_body(
    ctx: &Ctx,
    templates: &TemplateCache,
    metas: &[FieldMeta],
) -> Result<Value, BuildError> {
    let config = &ctx.config;
    let summary = templates
        .line(
            "/summaryTemplate",
            config.summary_template.as_deref(),
            ctx,
            SUMMARY_LIMIT,
        )?
        // Jira refuses a summary with a line break in it.
        .replace(['\r', '\n'], " ");
    let description = match &config.description_template {
        Some(source) => adf::to_adf(&render(templates, "/descriptionTemplate", source, ctx)?),
        None => payload_list(ctx),
    };
    let mut fields = Map::new();
    for (i, mapping) in config.field_mappings.iter().enumerate() {
        if let Some(value) = mapped_value(ctx, templates, metas, i)? {
            fields.insert(mapping.field_key.clone(), value);
        }
    }
    let mut labels: Vec<Value> = config.labels.iter().map(|l| json!(l)).collect();
    if let Some(Value::Array(mapped)) = fields.remove("labels") {
        labels.extend(mapped);
    }
    labels.push(json!(delivery_label(&ctx.event.delivery_id)));
    fields.insert("project".into(), json!({"key": config.project_key}));
    fields.insert("issuetype".into(), json!({"id": config.issue_type_id}));
    fields.insert("summary".into(), json!(summary));
    fields.insert("description".into(), description);
    fields.insert("labels".into(), Value::Array(labels));
    if let Some(priority) = &config.priority_id {
        fields.insert("priority".into(), json!({"id": priority}));
    }
    Ok(json!({"fields": fields}))
}

/// The value of field mapping `i`, converted by its field's metadata.
fn mapped_value(
    ctx: &Ctx,
    templates: &TemplateCache,
    metas: &[FieldMeta],
    i: usize,
) -> Result<Option<Value>, BuildError> {
    let mapping = &ctx.config.field_mappings[i];
    let Some(meta) = metas.iter().find(|m| m.field_id == mapping.field_key) else {
        return Err(BuildError::Field {
            path: format!("/fieldMappings/{i}/fieldKey"),
            message: format!(
                "field {} is not on the create screen of issue type {} in project {}",
                mapping.field_key, ctx.config.issue_type_id, ctx.config.project_key
            ),
        });
    };
    let path = format!("/fieldMappings/{i}/template");
    let text = render(templates, &path, &mapping.template, ctx)?;
    fields::convert(meta, &text).map_err(|problem| BuildError::Field {
        message: format!("field {} ({}): {problem}", meta.name, meta.field_id),
        path,
    })
}

/// The `POST /rest/api/3/issue/{key}/comment` body for `ctx`: the comment template's
/// Markdown as ADF, or (no template, or one that renders nothing) the event type and headline.
///
/// # Errors
/// When the comment template fails.
pub fn comment_body(ctx: &Ctx, templates: &TemplateCache) -> Result<Value, BuildError> {
    let rendered = match &ctx.config.comment_template {
        Some(source) => render(templates, "/commentTemplate", source, ctx)?,
        None => String::new(),
    };
    // Jira refuses an empty comment: a template rendering nothing gets the default text.
    let body = match rendered.trim() {
        "" => json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
            {"type": "text", "text": ctx.event.event_type, "marks": [{"type": "strong"}]},
            {"type": "text", "text": format!(": {}", headline(&ctx.event.event_type, &ctx.event.payload))}
        ]}]}),
        markdown => adf::to_adf(markdown),
    };
    // The property lets a retry of this delivery see that its comment is already there.
    Ok(json!({"body": body, "properties": [
        {"key": COMMENT_PROPERTY, "value": {"deliveryId": ctx.event.delivery_id}}
    ]}))
}

/// Whether `comment` (as `POST /rest/api/3/comment/list?expand=properties` returns it) is the
/// one delivery `delivery_id` added.
#[must_use]
pub fn is_comment_of(comment: &Value, delivery_id: &str) -> bool {
    comment
        .get("properties")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|p| p["key"] == COMMENT_PROPERTY && p["value"]["deliveryId"] == delivery_id)
}

/// The `POST /rest/api/3/issue/{key}/transitions` body applying transition `id`.
#[must_use]
pub fn transition_body(id: &str) -> Value {
    json!({"transition": {"id": id}})
}

fn render(
    templates: &TemplateCache,
    path: &str,
    source: &str,
    ctx: &Ctx,
) -> Result<String, TemplateError> {
    templates
        .get(path, source)?
        .render(&TemplateContext::of(ctx))
}

/// The default description: the headline in bold, then each payload field on a list item.
fn payload_list(ctx: &Ctx) -> Value {
    let payload = &ctx.event.payload;
    let items: Vec<Value> = payload
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, value)| {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let mut content = vec![
                json!({"type": "text", "text": format!("{key}: "), "marks": [{"type": "strong"}]}),
            ];
            if !text.is_empty() {
                content.push(json!({"type": "text", "text": text}));
            }
            json!({"type": "listItem", "content": [{"type": "paragraph", "content": content}]})
        })
        .collect();
    let title = headline(&ctx.event.event_type, payload);
    let mut content = vec![json!({"type": "paragraph", "content": [
        {"type": "text", "text": title, "marks": [{"type": "strong"}]}
    ]})];
    if !items.is_empty() {
        content.push(json!({"type": "bulletList", "content": items}));
    }
    json!({"type": "doc", "version": 1, "content": content})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_labels_hold_no_characters_jira_refuses() {
        assert_eq!(delivery_label("dlv_01J 9\"x"), "switchyard-dlv_01J-9-x");
        assert!(delivery_label(&"x".repeat(400)).chars().count() <= 255);
    }

    #[test]
    fn jql_strings_are_quoted_and_escaped() {
        let body = search_body("OPS", "switchyard-a");
        assert_eq!(
            body["jql"],
            "project = \"OPS\" AND labels = \"switchyard-a\" ORDER BY created ASC"
        );
        assert_eq!(jql_string(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
