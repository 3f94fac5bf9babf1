//! The Jira provider's two configurations (schema version 1 each): the shared connection (a
//! Jira Cloud site, the email of the account and its API token, a secret) and a subscription's
//! settings (project, issue type, priority, templates, field mappings, the resolve transition),
//! whose choices come from the resolvers in `resolvers.rs`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchyard_plugin_sdk::Secret;

/// The request timeout when none is configured, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;

/// Resolver names, as the schema's `x-options-resolver` values.
pub mod resolver {
    /// The projects the account can see (`projectKey`).
    pub const PROJECTS: &str = "projectOptions";
    /// The issue types of the chosen project, sub-tasks excepted (`issueTypeId`).
    pub const ISSUE_TYPES: &str = "issueTypeOptions";
    /// The site's priorities (`priorityId`).
    pub const PRIORITIES: &str = "priorityOptions";
    /// The create-screen fields of the chosen project and issue type (`fieldMappings/*/fieldKey`).
    pub const FIELDS: &str = "fieldOptions";
}

/// A Jira Cloud site and the account Switchyard acts as.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "Jira Cloud connection")]
pub struct JiraConnection {
    /// The site's URL, e.g. `https://your-domain.atlassian.net`. The network policy applies.
    #[schemars(extend("format" = "uri", "pattern" = "^[hH][tT][tT][pP][sS]?://"))]
    pub base_url: String,
    /// The email address of the Atlassian account the API token belongs to.
    #[schemars(length(min = 3, max = 254))]
    pub email: String,
    /// An API token of that account (id.atlassian.com → Security → API tokens). Stored
    /// encrypted, never shown again.
    pub api_token: Secret,
}

impl JiraConnection {
    /// The site's URL without a trailing `/`.
    #[must_use]
    pub fn base(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }
}

/// A Jira subscription's settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "Jira Cloud")]
pub struct JiraConfig {
    /// The connection to use (set by the UI, never shown).
    #[schemars(extend("x-hidden" = true))]
    pub connection_id: String,
    /// The project issues are created in, by key (e.g. `OPS`).
    #[schemars(length(min = 1, max = 255), extend("x-options-resolver" = "projectOptions"))]
    pub project_key: String,
    /// The issue type of created issues, by id (sub-task types cannot be chosen).
    #[schemars(
        length(min = 1, max = 64),
        extend("x-options-resolver" = "issueTypeOptions", "x-depends-on" = ["projectKey"])
    )]
    pub issue_type_id: String,
    /// The priority of created issues, by id. Absent: the project's default priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), extend("x-options-resolver" = "priorityOptions"))]
    pub priority_id: Option<String>,
    /// The issue's summary as a template, e.g. `[{{ payload.severity }}] {{ payload.title }}`.
    /// Absent: the payload's title and status. Cut to Jira's 255 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "switchyard_plugin_sdk::template::text_template_schema")]
    pub summary_template: Option<String>,
    /// The issue's description as a Markdown template, rendered to Atlassian Document Format
    /// (headings, bold, italic, code, links, lists, code blocks). Absent: the payload's fields
    /// as a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "switchyard_plugin_sdk::template::markdown_template_schema")]
    pub description_template: Option<String>,
    /// The comment added on updates and on resolution, as a Markdown template. Absent: the
    /// event type and the payload's title and status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "switchyard_plugin_sdk::template::markdown_template_schema")]
    pub comment_template: Option<String>,
    /// More fields of created issues, each from a template; the text is converted to the
    /// field's type (number, option, user, list…) as Jira's create metadata describes it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub field_mappings: Vec<FieldMapping>,
    /// Labels added to every created issue (no spaces).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20), inner(length(min = 1, max = 255), pattern(r"^\S+$")))]
    pub labels: Vec<String>,
    /// The workflow transition applied when the incident is resolved, by name (e.g. `Done`)
    /// or id (e.g. `31`). Absent: resolution only adds a comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub resolve_transition: Option<String>,
    /// How long to wait for each of Jira's answers, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    #[schemars(range(min = 1000, max = 60000))]
    pub timeout_ms: u32,
}

fn default_timeout_ms() -> u32 {
    DEFAULT_TIMEOUT_MS
}

/// One more field of a created issue.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldMapping {
    /// The field, by id (e.g. `customfield_10010`); required fields are marked ` *`. Its
    /// choices depend on the config's `projectKey` and `issueTypeId` (the resolver reads
    /// them from the form's values).
    #[schemars(
        length(min = 1, max = 255),
        extend(
            "x-options-resolver" = "fieldOptions",
            "x-depends-on" = ["projectKey", "issueTypeId"],
            "x-searchable" = true
        )
    )]
    pub field_key: String,
    /// The value as a template, e.g. `{{ payload.severity }}`. Lists: comma-separated or a
    /// JSON array. An empty result leaves the field unset.
    #[schemars(schema_with = "switchyard_plugin_sdk::template::text_template_schema")]
    pub template: String,
}
