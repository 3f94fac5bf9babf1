//! The Microsoft Graph calls of the Graph provider: the client-credentials token
//! (`POST {authority}/{tenant}/oauth2/v2.0/token`, cached by [`TokenCache`]), channel messages
//! and replies (`POST /teams/{team}/channels/{channel}/messages[/{message}/replies]`), and the
//! lists behind the pickers (`GET /teams`, `GET /teams/{team}/channels`, every page through
//! `@odata.nextLink`). A 401 from Graph drops the cached token and the call is made once more
//! with a new one; the permanent answers users meet most get a hint on what to fix. The access
//! token never appears in what is returned, even when a server echoes it.

use std::sync::Arc;
use std::time::Duration;
use switchyard_plugin_sdk::trace::TracedSend as _;

use reqwest::{Method, Url};
use serde_json::Value;
use switchyard_plugin_sdk::http::{self, PolicyClient};
use switchyard_plugin_sdk::{ConnectionOption, DeliveryResult, Outcome, REDACTED};

use crate::config::GraphConnection;
use crate::token::{TokenCache, TokenKey};

/// The most pages a list is followed for: a guard against a server linking a page to itself.
const MAX_PAGES: usize = 1_000;

/// The hint for a permanent answer of Graph, by status (and body, for the one 401 that is no
/// token problem).
fn hint(status: u16, body: &str) -> Option<&'static str> {
    match status {
        401 if body.contains("import purposes") => Some(
            "Microsoft Graph lets an application (client credentials) post channel messages only \
             to import history into a team in migration mode; for notifications use the Teams \
             Workflows provider, or see this provider's setup guide",
        ),
        401 => Some(
            "Graph refused the app's token: check the tenant id, client id and client secret \
             of the connection (and that admin consent was granted)",
        ),
        403 => Some(
            "the app lacks a Graph permission or admin consent (Team.ReadBasic.All and \
             Channel.ReadBasic.All to list, a permission to post in the channel): see the setup \
             guide",
        ),
        404 => Some(
            "the team, channel or message was not found (deleted, or not visible to the app): \
             pick the team and channel again",
        ),
        _ => None,
    }
}

/// The Graph API of one connection.
#[derive(Debug, Clone, Copy)]
pub struct Graph<'a> {
    client: &'a PolicyClient,
    connection: &'a GraphConnection,
    tokens: &'a TokenCache,
}

/// A Graph URL from the base and path segments (each encoded).
///
/// # Errors
/// When the connection's Graph base URL is not a URL that can carry a path.
pub fn graph_url(connection: &GraphConnection, segments: &[&str]) -> Result<Url, String> {
    let mut url = Url::parse(connection.graph_base())
        .map_err(|_| "graphBaseUrl is not a valid URL".to_owned())?;
    url.path_segments_mut()
        .map_err(|()| "graphBaseUrl cannot carry a path".to_owned())?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// The token endpoint of the connection's tenant.
///
/// # Errors
/// When the authority URL is not a URL that can carry a path.
pub fn token_url(connection: &GraphConnection) -> Result<Url, String> {
    let mut url = Url::parse(connection.authority())
        .map_err(|_| "authorityUrl is not a valid URL".to_owned())?;
    url.path_segments_mut()
        .map_err(|()| "authorityUrl cannot carry a path".to_owned())?
        .pop_if_empty()
        .extend([connection.tenant_id.as_str(), "oauth2", "v2.0", "token"]);
    Ok(url)
}

/// The scope a token is asked for: every permission granted to the app on Graph's host.
#[must_use]
pub fn scope(connection: &GraphConnection) -> String {
    let origin = Url::parse(connection.graph_base())
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    format!("{origin}/.default")
}

/// `result` with `token` hidden from its texts.
fn hide(mut result: DeliveryResult, token: &str) -> DeliveryResult {
    let scrub = |text: &mut String| *text = text.replace(token, REDACTED);
    match &mut result.outcome {
        Outcome::Retryable { error, .. }
        | Outcome::RateLimited { error, .. }
        | Outcome::Permanent { error } => scrub(error),
        Outcome::Delivered { external_id } => external_id.iter_mut().for_each(scrub),
    }
    result.response_excerpt.iter_mut().for_each(scrub);
    result
}

/// The failure of a non-2xx answer: the SDK's classification plus the hint.
fn failure(
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
) -> DeliveryResult {
    let mut result = http::failure(status, headers, body);
    if let Outcome::Permanent { error } = &mut result.outcome
        && let Some(hint) = hint(status.as_u16(), &String::from_utf8_lossy(body))
    {
        error.push_str(" — ");
        error.push_str(hint);
    }
    result
}

impl<'a> Graph<'a> {
    /// The Graph API of `connection`, with tokens from `tokens`.
    #[must_use]
    pub fn new(
        client: &'a PolicyClient,
        connection: &'a GraphConnection,
        tokens: &'a TokenCache,
    ) -> Self {
        Self {
            client,
            connection,
            tokens,
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(u64::from(self.connection.timeout_ms))
    }

    fn key(&self, endpoint: &Url) -> TokenKey {
        TokenKey::new(
            endpoint.as_str(),
            &self.connection.client_id,
            &scope(self.connection),
            self.connection.client_secret.expose(),
        )
    }

    /// A token for the connection: the cached one, else a new one.
    async fn token(&self, endpoint: &Url) -> Result<Arc<str>, DeliveryResult> {
        self.tokens
            .get(&self.key(endpoint), self.fetch_token(endpoint))
            .await
    }

    /// One client-credentials request (RFC 6749 §4.4, as Entra ID takes it).
    async fn fetch_token(&self, endpoint: &Url) -> Result<(String, Duration), DeliveryResult> {
        let request = self
            .client
            .post(endpoint.as_str())
            .map_err(DeliveryResult::from)?;
        let scope = scope(self.connection);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.connection.client_id.as_str()),
            ("client_secret", self.connection.client_secret.expose()),
            ("scope", scope.as_str()),
        ];
        let response = request
            .form(&form)
            .timeout(self.timeout())
            .send_traced()
            .await
            .map_err(http::network_failure)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap_or_default();
        if !status.is_success() {
            let mut result = http::failure(status, &headers, &body);
            if let Outcome::Permanent { error } = &mut result.outcome {
                error.insert_str(0, "the token request failed: ");
                error.push_str(
                    " — check the connection's tenant id, client id and client secret (a secret \
                     expires: create a new one under Certificates & secrets)",
                );
            }
            return Err(result);
        }
        parse_token(&body).ok_or_else(|| {
            DeliveryResult::permanent(
                "the token endpoint answered without an access_token: check authorityUrl",
            )
        })
    }

    /// Sends a request with a token; when Graph answers 401, drops that token and sends once
    /// more with a new one. Returns the last answer, or the failure to get one.
    async fn send(
        &self,
        method: Method,
        url: &Url,
        body: Option<&Value>,
    ) -> Result<(reqwest::Response, Arc<str>), DeliveryResult> {
        let endpoint = token_url(self.connection).map_err(DeliveryResult::permanent)?;
        let mut retried = false;
        loop {
            let token = self.token(&endpoint).await?;
            let mut request = self
                .client
                .request(method.clone(), url.as_str())
                .map_err(DeliveryResult::from)?
                .bearer_auth(&token)
                .timeout(self.timeout());
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request
                .send_traced()
                .await
                .map_err(|e| hide(http::network_failure(e), &token))?;
            if response.status() != reqwest::StatusCode::UNAUTHORIZED || retried {
                return Ok((response, token));
            }
            // A token revoked or rotated before its expiry: once with a new one.
            self.tokens.refused(&self.key(&endpoint), &token).await;
            retried = true;
        }
    }

    /// Posts a message (or reply): delivered with its id as external id.
    pub async fn post(&self, url: &Url, body: &Value) -> DeliveryResult {
        let (response, token) = match self.send(Method::POST, url, Some(body)).await {
            Ok(sent) => sent,
            Err(failure) => return failure,
        };
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap_or_default();
        let result = if status.is_success() {
            DeliveryResult::delivered(http::external_id_from_json(&bytes, &["id"]))
                .with_status(status.as_u16())
        } else {
            failure(status, &headers, &bytes)
        };
        hide(result, &token)
    }

    /// One page of a list: its JSON and the next page's URL.
    async fn page(&self, url: &Url) -> Result<(Value, Option<String>), String> {
        let text = |r: DeliveryResult| r.error().unwrap_or("Graph did not answer").to_owned();
        let (response, token) = self.send(Method::GET, url, None).await.map_err(text)?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap_or_default();
        if !status.is_success() {
            return Err(text(hide(failure(status, &headers, &bytes), &token)));
        }
        let page: Value = serde_json::from_slice(&bytes)
            .map_err(|_| "Graph answered with something that is not JSON".to_owned())?;
        let next = page
            .get("@odata.nextLink")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok((page, next))
    }

    /// Every item of a list (`value[]`, with `id` and `displayName`), across all pages.
    ///
    /// # Errors
    /// A text for the user naming the status and what to fix.
    pub async fn list(&self, first: Url) -> Result<Vec<ConnectionOption>, String> {
        let mut url = first;
        let mut options = Vec::new();
        let mut seen: Vec<Url> = Vec::new();
        for _ in 0..MAX_PAGES {
            let (page, next) = self.page(&url).await?;
            options.extend(options_of(&page));
            seen.push(url.clone());
            let Some(next) = next else {
                return Ok(options);
            };
            let next = Url::parse(&next)
                .ok()
                .filter(|n| n.origin() == url.origin())
                .ok_or("Graph linked the next page to another host; not followed")?;
            if seen.contains(&next) {
                break;
            }
            url = next;
        }
        Ok(options)
    }

    /// Lists teams (`$top=1`) with a fresh token: proof that the credentials and the
    /// permission to list teams work. The first team's name, if any.
    ///
    /// # Errors
    /// A text for the user naming the status and what to fix.
    pub async fn probe(&self) -> Result<Option<String>, String> {
        let mut url = graph_url(self.connection, &["teams"])?;
        url.set_query(Some("$select=id,displayName&$top=1"));
        let (page, _) = self.page(&url).await?;
        Ok(options_of(&page).into_iter().next().map(|o| o.label))
    }
}

/// The access token and its lifetime from a token response (`expires_in` as a number or, as
/// some endpoints send it, a string; an hour when missing).
fn parse_token(body: &[u8]) -> Option<(String, Duration)> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let token = json.get("access_token")?.as_str()?.to_owned();
    let lifetime = match json.get("expires_in") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    Some((token, Duration::from_secs(lifetime.unwrap_or(3600))))
}

/// The options of one Graph list page.
fn options_of(page: &Value) -> Vec<ConnectionOption> {
    let items = page.get("value").and_then(Value::as_array);
    items
        .into_iter()
        .flatten()
        .filter_map(|item| {
            let id = item.get("id")?.as_str()?;
            let name = item
                .get("displayName")
                .and_then(Value::as_str)
                .unwrap_or(id);
            let mut option = ConnectionOption::new(id, name);
            option.description = item
                .get("description")
                .or_else(|| item.get("membershipType"))
                .and_then(Value::as_str)
                .filter(|d| !d.is_empty())
                .map(str::to_owned);
            Some(option)
        })
        .collect()
}
