//! TestConnection: whom the API token belongs to (`GET /rest/api/3/myself`) and, when a
//! subscription's config is tested, whether its project can create issues of its issue type
//! (the project's create metadata), so a wrong project or issue type shows before the first
//! incident does.

use serde_json::{Value, json};
use switchyard_plugin_sdk::TestConnectionResult;

use crate::api::{Jira, api_path};
use crate::config::{JiraConfig, JiraConnection};
use crate::meta;

/// The verdict for `connection`, and for `config` when given.
pub async fn test(
    jira: &Jira<'_>,
    connection: &JiraConnection,
    config: Option<&JiraConfig>,
) -> TestConnectionResult {
    let me = match jira.get(&api_path(&["myself"]), &[]).await {
        Ok(me) => me,
        Err(failure) => return TestConnectionResult::failed(failure.to_string()),
    };
    let name = me.get("displayName").and_then(Value::as_str).unwrap_or("?");
    let details = json!({"accountId": me.get("accountId"), "displayName": name});
    let connected = format!("Connected to {} as {name}", connection.base());
    let Some(config) = config else {
        return TestConnectionResult::ok(connected).with_details(details);
    };
    let project = &config.project_key;
    let types = match meta::issue_types(jira, project).await {
        Ok(types) => types,
        Err(failure) => {
            return TestConnectionResult::failed(format!(
                "{connected}, but project {project} cannot be read: {failure}"
            ));
        }
    };
    match types
        .iter()
        .find(|t| t.id == config.issue_type_id && !t.subtask)
    {
        Some(kind) => TestConnectionResult::ok(format!(
            "{connected}; project {project} can create {} issues",
            kind.name
        ))
        .with_details(details),
        None => {
            let can: Vec<String> = types
                .iter()
                .filter(|t| !t.subtask)
                .map(|t| format!("{} ({})", t.name, t.id))
                .collect();
            TestConnectionResult::failed(format!(
                "{connected}, but project {project} has no issue type {} (it has: {})",
                config.issue_type_id,
                can.join(", ")
            ))
        }
    }
}
