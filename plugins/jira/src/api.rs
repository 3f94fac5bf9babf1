//! The Jira Cloud REST API v3 as the provider calls it: one [`Jira`] per call, holding the
//! shared policy client, the connection (basic auth: email and API token) and the timeout,
//! sending JSON and reading JSON back. Every answer that is not a 2xx becomes a [`Failure`]
//! carrying the delivery outcome Jira's signals call for:
//!
//! - 400 (and 404, 409, 422) with Jira's `errorMessages` / `errors` → permanent, with Jira's
//!   messages in the error text;
//! - 401/403 → permanent, with a hint to check the connection's email, token and permissions;
//! - 429/503 → rate-limited after `Retry-After`; other 5xx and network errors → retryable
//!   (the SDK's classification, which also keeps a scrubbed excerpt of the body).

use std::time::Duration;
use switchyard_plugin_sdk::trace::TracedSend as _;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use switchyard_plugin_sdk::http::{self, PolicyClient};
use switchyard_plugin_sdk::{DeliveryResult, Outcome};

use crate::config::JiraConnection;

/// A failed call: the outcome of the delivery it belonged to.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", .0.error().unwrap_or("the Jira call failed"))]
pub struct Failure(pub DeliveryResult);

impl Failure {
    /// A permanent failure with `error`.
    #[must_use]
    pub fn permanent(error: impl Into<String>) -> Self {
        Self(DeliveryResult::permanent(error))
    }
}

impl From<Failure> for DeliveryResult {
    fn from(failure: Failure) -> Self {
        failure.0
    }
}

/// The path segments of a REST API v3 resource, e.g. `api_path(&["issue", key])`.
#[must_use]
pub fn api_path(segments: &[&str]) -> Vec<String> {
    ["rest", "api", "3"]
        .iter()
        .chain(segments)
        .map(|s| (*s).to_owned())
        .collect()
}

/// The URL of `segments` (each percent-encoded as one segment) under the site's base URL.
///
/// # Errors
/// When the base URL does not parse or cannot carry a path (a config problem).
pub fn url_of(
    connection: &JiraConnection,
    segments: &[String],
    query: &[(&str, String)],
) -> Result<Url, Failure> {
    let invalid = || Failure::permanent("the connection's baseUrl is not a valid http(s) URL");
    let mut url = Url::parse(connection.base()).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid());
    }
    url.path_segments_mut()
        .map_err(|()| invalid())?
        .pop_if_empty()
        .extend(segments);
    if !query.is_empty() {
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
    }
    Ok(url)
}

/// One connection's view of the API.
#[derive(Debug, Clone, Copy)]
pub struct Jira<'a> {
    client: &'a PolicyClient,
    connection: &'a JiraConnection,
    timeout: Duration,
}

impl<'a> Jira<'a> {
    /// Calls through `client` to the site of `connection`, each waiting at most `timeout`.
    #[must_use]
    pub fn new(
        client: &'a PolicyClient,
        connection: &'a JiraConnection,
        timeout: Duration,
    ) -> Self {
        Self {
            client,
            connection,
            timeout,
        }
    }

    /// `GET` a resource with `query`.
    ///
    /// # Errors
    /// See the module docs.
    pub async fn get(
        &self,
        segments: &[String],
        query: &[(&str, String)],
    ) -> Result<Value, Failure> {
        let url = url_of(self.connection, segments, query)?;
        self.send(Method::GET, url, None).await
    }

    /// `POST` a JSON body to a resource; the answer's JSON (`Null` for an empty 204).
    ///
    /// # Errors
    /// See the module docs.
    pub async fn post(&self, segments: &[String], body: &Value) -> Result<Value, Failure> {
        self.post_with(segments, &[], body).await
    }

    /// [`post`](Self::post) with a query.
    ///
    /// # Errors
    /// See the module docs.
    pub async fn post_with(
        &self,
        segments: &[String],
        query: &[(&str, String)],
        body: &Value,
    ) -> Result<Value, Failure> {
        let url = url_of(self.connection, segments, query)?;
        self.send(Method::POST, url, Some(body)).await
    }

    async fn send(&self, method: Method, url: Url, body: Option<&Value>) -> Result<Value, Failure> {
        let mut request = self
            .client
            .request(method, url.as_str())
            .map_err(|refusal| Failure(DeliveryResult::from(refusal)))?
            .basic_auth(
                &self.connection.email,
                Some(self.connection.api_token.expose()),
            )
            .header("accept", "application/json")
            .timeout(self.timeout);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send_traced()
            .await
            .map_err(|e| Failure(http::network_failure(e)))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(e) if status.is_success() => return Err(Failure(http::network_failure(e))),
            Err(_) => Default::default(),
        };
        if !status.is_success() {
            return Err(Failure(refusal(status, &headers, &bytes)));
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|_| {
            Failure::permanent(format!(
                "Jira answered HTTP {status} with a body that is not JSON: {}",
                http::body_excerpt(&bytes)
            ))
        })
    }
}

/// The outcome of a non-2xx answer (see the module docs).
#[must_use]
pub fn refusal(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> DeliveryResult {
    let generic = http::failure(status, headers, body);
    let messages = jira_messages(body);
    let error = match status.as_u16() {
        401 | 403 => format!(
            "HTTP {status}: Jira refused the credentials — check the connection's email and API \
             token, and that this account may browse the project and create and transition \
             issues in it{}",
            messages.map(|m| format!(" ({m})")).unwrap_or_default()
        ),
        400 | 404 | 409 | 422 => match messages {
            Some(m) => format!("HTTP {status}: Jira refused the request: {m}"),
            None => return generic,
        },
        _ => return generic,
    };
    DeliveryResult {
        outcome: Outcome::Permanent { error },
        ..generic
    }
}

/// Jira's error body (`{"errorMessages": [...], "errors": {"field": "message"}}`) as one line,
/// `None` when the body holds neither.
#[must_use]
pub fn jira_messages(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let mut parts: Vec<String> = value
        .get("errorMessages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    if let Some(errors) = value.get("errors").and_then(Value::as_object) {
        parts.extend(
            errors
                .iter()
                .map(|(field, message)| match message.as_str() {
                    Some(text) => format!("{field}: {text}"),
                    None => format!("{field}: {message}"),
                }),
        );
    }
    let parts: Vec<String> = parts.into_iter().filter(|p| !p.trim().is_empty()).collect();
    (!parts.is_empty()).then(|| http::body_excerpt(parts.join("; ").as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jira_messages_join_error_messages_and_field_errors() {
        let body = br#"{"errorMessages":["Issue does not exist"],"errors":{"summary":"You must specify a summary of the issue.","priority":"Priority name 'P9' is not valid"}}"#;
        assert_eq!(
            jira_messages(body).as_deref(),
            Some(
                "Issue does not exist; priority: Priority name 'P9' is not valid; summary: You \
                 must specify a summary of the issue."
            )
        );
        assert_eq!(jira_messages(br#"{"errorMessages":[],"errors":{}}"#), None);
        assert_eq!(jira_messages(b"<html>"), None);
    }

    #[test]
    fn a_path_segment_is_encoded_whole() {
        let connection = JiraConnection {
            base_url: "https://x.atlassian.net/".into(),
            email: "a@b.c".into(),
            api_token: switchyard_plugin_sdk::Secret::new("t"),
        };
        let url = url_of(
            &connection,
            &api_path(&["issue", "A/B 1"]),
            &[("k", "v w".into())],
        )
        .expect("a URL");
        assert_eq!(
            url.as_str(),
            "https://x.atlassian.net/rest/api/3/issue/A%2FB%201?k=v+w"
        );
    }
}
