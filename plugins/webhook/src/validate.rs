//! What the webhook's JSON Schema cannot say, checked when a config is saved (ValidateConfig)
//! and before a preview: the body template must compile; the URL must parse as an absolute http(s) URL with a host, and no
//! custom header may name a header the provider sets itself (Content-Type, X-Delivery-Id,
//! X-Event-Type, the header `auth` sets, and the `webhook-*` headers when signing), which a
//! delivery would silently override; every signing secret must decode (`whsec_` + base64);
//! `retryOnStatus` lists only non-2xx HTTP statuses.
//! Messages name the field and the clash, never a value that may be secret.

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use switchyard_plugin_sdk::Diagnostic;
use switchyard_plugin_sdk::template::{Limits, Template};

use crate::body::TEMPLATE_PATH;
use crate::config::{Auth, WebhookConfig};
use crate::provider::{DELIVERY_ID_HEADER, EVENT_TYPE_HEADER};
use crate::signing::{ID_HEADER, SIGNATURE_HEADER, SigningKey, TIMESTAMP_HEADER};

/// Every problem of `config`, each with its JSON Pointer; empty when it can be delivered.
#[must_use]
pub fn problems(config: &WebhookConfig) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    if let Some(problem) = url_problem(&config.url) {
        found.push(Diagnostic::new("/url", problem));
    }
    if let Some(source) = &config.body_template
        && let Err(error) = Template::compile(TEMPLATE_PATH, source, &Limits::default())
    {
        found.push(error.diagnostic());
    }
    found.extend(signing_problems(config));
    found.extend(retry_status_problems(&config.retry_on_status));
    let mut reserved = vec![CONTENT_TYPE.as_str(), DELIVERY_ID_HEADER, EVENT_TYPE_HEADER];
    if config.signing.is_some() {
        reserved.extend([ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER]);
    }
    let auth_header = auth_header(&config.auth);
    if let Some(name) = &auth_header
        && reserved.contains(&name.as_str())
    {
        found.push(Diagnostic::new(
            "/auth/name",
            format!("{name:?} is set by the webhook itself; choose another header name"),
        ));
    }
    for (i, header) in config.custom_headers.iter().enumerate() {
        let name = header.name.to_ascii_lowercase();
        let clash = if reserved.contains(&name.as_str()) {
            Some("is set by the webhook itself")
        } else if auth_header.as_deref() == Some(name.as_str()) {
            Some("is set by `auth`")
        } else {
            None
        };
        if let Some(clash) = clash {
            found.push(Diagnostic::new(
                format!("/customHeaders/{i}/name"),
                format!(
                    "{:?} {clash}, which would override this header; remove it",
                    header.name
                ),
            ));
        }
    }
    found
}

/// Each `retryOnStatus` entry that is no HTTP status or is a 2xx (always a delivery).
fn retry_status_problems(statuses: &[u16]) -> Vec<Diagnostic> {
    let problem = |status: u16| match status {
        200..=299 => Some("is a success status (2xx always counts as delivered); remove it"),
        100..=599 => None,
        _ => Some("is not an HTTP status; use one from 100 to 599"),
    };
    statuses
        .iter()
        .enumerate()
        .filter_map(|(i, &status)| {
            let why = problem(status)?;
            Some(Diagnostic::new(
                format!("/retryOnStatus/{i}"),
                format!("{status} {why}"),
            ))
        })
        .collect()
}

/// Each signing secret that cannot sign, at the path of its array item.
fn signing_problems(config: &WebhookConfig) -> Vec<Diagnostic> {
    let Some(signing) = &config.signing else {
        return Vec::new();
    };
    signing
        .secrets
        .iter()
        .enumerate()
        .filter_map(|(i, secret)| {
            let error = SigningKey::parse(secret.expose()).err()?;
            Some(Diagnostic::new(
                format!("/signing/secrets/{i}"),
                error.to_string(),
            ))
        })
        .collect()
}

/// Why `url` cannot be sent to, if it cannot.
fn url_problem(url: &str) -> Option<String> {
    let parsed = match reqwest::Url::parse(url) {
        Ok(parsed) => parsed,
        Err(error) => return Some(format!("is not a valid URL ({error})")),
    };
    if !matches!(parsed.scheme(), "http" | "https") {
        return Some("must be an http or https URL".to_owned());
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Some("has no host".to_owned());
    }
    None
}

/// The (lowercase) header name `auth` sets, if any.
fn auth_header(auth: &Auth) -> Option<String> {
    match auth {
        Auth::None | Auth::Query { .. } => None,
        Auth::Bearer { .. } | Auth::Basic { .. } => Some(AUTHORIZATION.as_str().to_owned()),
        Auth::Header { name, .. } => Some(name.to_ascii_lowercase()),
    }
}
