//! What the schemas cannot say, checked when a config or a connection is saved (nothing is
//! contacted): every template compiles, a field is mapped once and not one the provider sets
//! itself, the site URL is an http(s) URL with a host, the email and token are not blank.

use std::collections::HashSet;

use reqwest::Url;
use switchyard_plugin_sdk::Diagnostic;
use switchyard_plugin_sdk::template::TemplateCache;

use crate::config::{JiraConfig, JiraConnection};

/// Fields the provider sets from its own settings, with the setting to use instead.
const RESERVED: &[(&str, &str)] = &[
    ("project", "projectKey"),
    ("issuetype", "issueTypeId"),
    ("summary", "summaryTemplate"),
    ("description", "descriptionTemplate"),
    ("priority", "priorityId"),
];

/// The problems of a subscription's config, each at its JSON Pointer.
#[must_use]
pub fn config(config: &JiraConfig, templates: &TemplateCache) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    let optional = [
        ("/summaryTemplate", &config.summary_template),
        ("/descriptionTemplate", &config.description_template),
        ("/commentTemplate", &config.comment_template),
    ];
    for (path, source) in optional {
        if let Some(source) = source
            && let Err(e) = templates.get(path, source)
        {
            found.push(e.diagnostic());
        }
    }
    let mut seen = HashSet::new();
    for (i, mapping) in config.field_mappings.iter().enumerate() {
        let key = mapping.field_key.trim();
        if let Some((_, setting)) = RESERVED.iter().find(|(f, _)| *f == key) {
            found.push(Diagnostic::new(
                format!("/fieldMappings/{i}/fieldKey"),
                format!("{key} is set by {setting}; remove this mapping"),
            ));
        } else if !seen.insert(key) {
            found.push(Diagnostic::new(
                format!("/fieldMappings/{i}/fieldKey"),
                format!("{key} is mapped twice; keep one mapping per field"),
            ));
        }
        let path = format!("/fieldMappings/{i}/template");
        if let Err(e) = templates.get(&path, &mapping.template) {
            found.push(e.diagnostic());
        }
    }
    if config
        .resolve_transition
        .as_deref()
        .is_some_and(|t| t.trim().is_empty())
    {
        found.push(Diagnostic::new(
            "/resolveTransition",
            "must name a transition (e.g. Done) or give its id; leave it out for none",
        ));
    }
    found
}

/// The problems of a connection, each at its JSON Pointer.
#[must_use]
pub fn connection(connection: &JiraConnection) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    let usable = Url::parse(&connection.base_url)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
    if !usable {
        found.push(Diagnostic::new(
            "/baseUrl",
            "must be your Jira site's http(s) URL, e.g. https://your-domain.atlassian.net",
        ));
    }
    if !connection.email.contains('@') {
        found.push(Diagnostic::new(
            "/email",
            "must be the email address of the Atlassian account the API token belongs to",
        ));
    }
    if connection.api_token.expose().trim().is_empty() {
        found.push(Diagnostic::new(
            "/apiToken",
            "must be an API token (id.atlassian.com → Security → API tokens)",
        ));
    }
    found
}
