//! The choices of the config's resolver fields, fetched with the connection's credentials,
//! every page read: projects (`project/search`), the chosen project's issue types
//! (create metadata, sub-task types left out), priorities (`priority/search`, the endpoint
//! that replaces the deprecated `GET /priority`), and the create-screen fields of the chosen
//! project and issue type (required ones marked ` *`). A resolver whose field depends on
//! another that is not chosen yet answers no choices.

use serde_json::Value;
use switchyard_plugin_sdk::ConnectionOption;

use crate::api::{Failure, Jira, api_path};
use crate::config::resolver;
use crate::meta;
use crate::pages;

/// The choices of `name` given the form's current values `context`.
///
/// # Errors
/// When Jira cannot be read.
pub async fn options(
    jira: &Jira<'_>,
    name: &str,
    context: &Value,
) -> Result<Vec<ConnectionOption>, Failure> {
    let chosen = |k: &str| {
        context
            .get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    match name {
        resolver::PROJECTS => projects(jira).await,
        resolver::PRIORITIES => priorities(jira).await,
        resolver::ISSUE_TYPES => match chosen("projectKey") {
            Some(project) => issue_types(jira, project).await,
            None => Ok(Vec::new()),
        },
        resolver::FIELDS => match (chosen("projectKey"), chosen("issueTypeId")) {
            (Some(project), Some(issue_type)) => fields(jira, project, issue_type).await,
            _ => Ok(Vec::new()),
        },
        // The SDK answers NOT_FOUND for names no schema declares; nothing else gets here.
        _ => Ok(Vec::new()),
    }
}

fn text<'v>(value: &'v Value, key: &str) -> &'v str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

async fn projects(jira: &Jira<'_>) -> Result<Vec<ConnectionOption>, Failure> {
    let all = pages::all(jira, &api_path(&["project", "search"]), &["values"]).await?;
    Ok(all
        .iter()
        .filter(|p| !text(p, "key").is_empty())
        .map(|p| {
            let key = text(p, "key");
            ConnectionOption::new(key, format!("{} ({key})", text(p, "name")))
        })
        .collect())
}

async fn priorities(jira: &Jira<'_>) -> Result<Vec<ConnectionOption>, Failure> {
    let all = pages::all(jira, &api_path(&["priority", "search"]), &["values"]).await?;
    Ok(all
        .iter()
        .filter(|p| !text(p, "id").is_empty())
        .map(|p| ConnectionOption::new(text(p, "id"), text(p, "name")))
        .collect())
}

async fn issue_types(jira: &Jira<'_>, project: &str) -> Result<Vec<ConnectionOption>, Failure> {
    Ok(meta::issue_types(jira, project)
        .await?
        .into_iter()
        .filter(|t| !t.subtask)
        .map(|t| ConnectionOption::new(t.id, t.name))
        .collect())
}

async fn fields(
    jira: &Jira<'_>,
    project: &str,
    issue_type: &str,
) -> Result<Vec<ConnectionOption>, Failure> {
    Ok(meta::fields(jira, project, issue_type)
        .await?
        .into_iter()
        // The provider sets these itself.
        .filter(|f| !matches!(f.field_id.as_str(), "project" | "issuetype"))
        .map(|f| {
            let label = if f.required {
                format!("{} *", f.name)
            } else {
                f.name.clone()
            };
            let mut option = ConnectionOption::new(f.field_id.clone(), label);
            let kind = match &f.schema.items {
                Some(items) => format!("{} of {items}", f.schema.kind),
                None => f.schema.kind.clone(),
            };
            option.description = Some(kind);
            option
        })
        .collect())
}
