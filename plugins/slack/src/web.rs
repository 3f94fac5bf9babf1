//! Calls to Slack's Web API with a bot connection: `chat.postMessage`, `auth.test` and
//! `conversations.list` followed through its cursor pages to the end. The token travels as
//! `Authorization: Bearer`, never in a URL; every answer goes through [`crate::answer`].

use std::time::Duration;
use switchyard_plugin_sdk::trace::TracedSend as _;

use serde_json::Value;
use switchyard_plugin_sdk::http::PolicyClient;
use switchyard_plugin_sdk::{ConnectionOption, DeliveryResult};

use crate::answer::{ApiFailure, web_api};
use crate::config::BotConnection;

/// The most pages of `conversations.list` read for one picker (200 channels each): a cursor
/// that never ends must not keep the call busy for ever.
pub const MAX_PAGES: usize = 100;
/// Channels asked for per page (Slack allows up to 1,000 and advises at most 200).
pub const PAGE_SIZE: u32 = 200;

/// One bot connection's view of the Web API.
#[derive(Debug, Clone, Copy)]
pub struct Web<'a> {
    /// The policy-held client.
    pub client: &'a PolicyClient,
    /// The connection (token and base URL).
    pub connection: &'a BotConnection,
    /// The per-request timeout.
    pub timeout: Duration,
}

impl Web<'_> {
    fn url(&self, method: &str) -> String {
        format!("{}/{method}", self.connection.base())
    }

    /// POSTs a JSON body to `method`; `Ok` is the `ok: true` answer.
    ///
    /// # Errors
    /// The failure, classified.
    pub async fn post(&self, method: &str, body: &Value) -> Result<Value, ApiFailure> {
        let request = self
            .client
            .post(&self.url(method))
            .map_err(|refusal| ApiFailure::from(DeliveryResult::from(refusal)))?;
        let response = request
            .bearer_auth(self.connection.bot_token.expose())
            .json(body)
            .timeout(self.timeout)
            .send_traced()
            .await;
        web_api(method, response).await
    }

    /// GETs `method` with `query`; `Ok` is the `ok: true` answer.
    ///
    /// # Errors
    /// The failure, classified.
    pub async fn get(&self, method: &str, query: &[(&str, &str)]) -> Result<Value, ApiFailure> {
        let request = self
            .client
            .get(&self.url(method))
            .map_err(|refusal| ApiFailure::from(DeliveryResult::from(refusal)))?;
        let response = request
            .bearer_auth(self.connection.bot_token.expose())
            .query(query)
            .timeout(self.timeout)
            .send_traced()
            .await;
        web_api(method, response).await
    }

    /// `auth.test`: who the token is (the team and the bot user).
    ///
    /// # Errors
    /// The failure, classified.
    pub async fn auth_test(&self) -> Result<Value, ApiFailure> {
        self.get("auth.test", &[]).await
    }

    /// Every channel the bot may post to (public, and private ones it was invited to),
    /// unarchived, whose name contains `query` (case-insensitive), across every page.
    ///
    /// # Errors
    /// The failure of a page, classified.
    pub async fn channels(&self, query: &str) -> Result<Vec<ConnectionOption>, ApiFailure> {
        let query = query.trim().trim_start_matches('#').to_lowercase();
        let limit = PAGE_SIZE.to_string();
        let mut cursor = String::new();
        let mut found = Vec::new();
        for _ in 0..MAX_PAGES {
            let mut params = vec![
                ("types", "public_channel,private_channel"),
                ("exclude_archived", "true"),
                ("limit", limit.as_str()),
            ];
            if !cursor.is_empty() {
                params.push(("cursor", cursor.as_str()));
            }
            let page = self.get("conversations.list", &params).await?;
            found.extend(page_channels(&page, &query));
            cursor = page
                .pointer("/response_metadata/next_cursor")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if cursor.is_empty() {
                break;
            }
        }
        Ok(found)
    }
}

fn page_channels(page: &Value, query: &str) -> Vec<ConnectionOption> {
    let Some(channels) = page.get("channels").and_then(Value::as_array) else {
        return Vec::new();
    };
    channels
        .iter()
        .filter_map(|c| {
            let id = c.get("id")?.as_str()?;
            let name = c.get("name").and_then(Value::as_str).unwrap_or(id);
            if !name.to_lowercase().contains(query) {
                return None;
            }
            let private = c.get("is_private").and_then(Value::as_bool) == Some(true);
            let mut option = ConnectionOption::new(id, format!("#{name}"));
            if private {
                option.description = Some("private channel".into());
            }
            Some(option)
        })
        .collect()
}
