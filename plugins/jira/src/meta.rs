//! Jira's create metadata: the issue types a project can create
//! (`GET /rest/api/3/issue/createmeta/{project}/issuetypes`) and the fields of one issue type's
//! create screen (`…/issuetypes/{id}`), each field with its type schema and allowed values.
//! The field-key resolver lists them; field mappings are converted by their schema.

use serde::Deserialize;
use serde_json::Value;

use crate::api::{Failure, Jira, api_path};
use crate::pages;

/// One field of a create screen.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldMeta {
    /// The field's id, what `fields` in a create request is keyed by (`customfield_10010`).
    pub field_id: String,
    /// The name Jira shows.
    #[serde(default)]
    pub name: String,
    /// Whether an issue cannot be created without it.
    #[serde(default)]
    pub required: bool,
    /// The field's type.
    #[serde(default)]
    pub schema: FieldSchema,
    /// The values it accepts, when it is a choice (options, priorities, versions…).
    #[serde(default)]
    pub allowed_values: Vec<Value>,
}

/// A field's type, as Jira's `JsonTypeBean`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct FieldSchema {
    /// `string`, `number`, `date`, `datetime`, `option`, `user`, `array`, `priority`…
    #[serde(default, rename = "type")]
    pub kind: String,
    /// The type of an array's items.
    #[serde(default)]
    pub items: Option<String>,
    /// A system field's name (`description`, `labels`…).
    #[serde(default)]
    pub system: Option<String>,
    /// A custom field's type key (`com.atlassian.jira.plugin.system.customfieldtypes:textarea`).
    #[serde(default)]
    pub custom: Option<String>,
}

/// One issue type a project can create.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IssueTypeMeta {
    /// Its id.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Whether it is a sub-task type (these need a parent and are not offered).
    #[serde(default)]
    pub subtask: bool,
}

/// Every issue type `project` can create, every page read.
///
/// # Errors
/// When a page cannot be read.
pub async fn issue_types(jira: &Jira<'_>, project: &str) -> Result<Vec<IssueTypeMeta>, Failure> {
    let segments = api_path(&["issue", "createmeta", project, "issuetypes"]);
    let items = pages::all(jira, &segments, &["issueTypes", "createMetaIssueType"]).await?;
    Ok(items
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect())
}

/// Every field of the create screen of `issue_type` in `project`, every page read.
///
/// # Errors
/// When a page cannot be read.
pub async fn fields(
    jira: &Jira<'_>,
    project: &str,
    issue_type: &str,
) -> Result<Vec<FieldMeta>, Failure> {
    let segments = api_path(&["issue", "createmeta", project, "issuetypes", issue_type]);
    let items = pages::all(jira, &segments, &["fields", "results"]).await?;
    Ok(items
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect())
}
