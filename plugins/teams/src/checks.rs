//! Save-time checks of the Teams configs, for what their schemas cannot say: URLs that parse
//! and are http(s), credentials that are not blank, templates that compile. They contact
//! nothing; every problem names its JSON Pointer and what to put there.

use reqwest::Url;
use switchyard_plugin_sdk::Diagnostic;
use switchyard_plugin_sdk::template::TemplateCache;

use crate::card::{Overrides, template_problems};
use crate::config::{GraphConfig, GraphConnection, WorkflowConfig};

/// A problem when `value` is not an http(s) URL.
fn url_problem(path: &str, value: &str, example: &str) -> Option<Diagnostic> {
    let ok = Url::parse(value).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    (!ok).then(|| Diagnostic::new(path, format!("must be an http(s) URL, e.g. {example}")))
}

/// A problem when `value` is blank.
fn blank(path: &str, value: &str, what: &str) -> Option<Diagnostic> {
    value
        .trim()
        .is_empty()
        .then(|| Diagnostic::new(path, format!("must be {what}")))
}

/// The problems of a Workflows config.
#[must_use]
pub fn workflow(config: &WorkflowConfig, templates: &TemplateCache) -> Vec<Diagnostic> {
    let mut found: Vec<Diagnostic> = url_problem(
        "/webhookUrl",
        config.webhook_url.expose(),
        "the HTTP URL of the workflow's \"When a Teams webhook request is received\" trigger",
    )
    .into_iter()
    .collect();
    found.extend(template_problems(
        templates,
        Overrides {
            title: config.title_template.as_deref(),
            text: config.text_template.as_deref(),
        },
    ));
    found
}

/// The problems of a Graph connection.
#[must_use]
pub fn graph_connection(connection: &GraphConnection) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    found.extend(blank(
        "/tenantId",
        &connection.tenant_id,
        "the Directory (tenant) ID",
    ));
    found.extend(blank(
        "/clientId",
        &connection.client_id,
        "the Application (client) ID",
    ));
    found.extend(blank(
        "/clientSecret",
        connection.client_secret.expose(),
        "the value of a client secret of the app",
    ));
    if let Some(url) = &connection.authority_url {
        found.extend(url_problem(
            "/authorityUrl",
            url,
            "https://login.microsoftonline.com",
        ));
    }
    if let Some(url) = &connection.graph_base_url {
        found.extend(url_problem(
            "/graphBaseUrl",
            url,
            "https://graph.microsoft.com/v1.0",
        ));
    }
    found
}

/// The problems of a Graph subscription config.
#[must_use]
pub fn graph_config(config: &GraphConfig, templates: &TemplateCache) -> Vec<Diagnostic> {
    template_problems(
        templates,
        Overrides {
            title: config.title_template.as_deref(),
            text: config.text_template.as_deref(),
        },
    )
}
