//! The Webex Messaging API calls the provider makes, with the bot's token: create a message
//! (`POST /messages`), who the bot is (`GET /people/me`, the connection test) and the rooms it
//! is in (`GET /rooms`, every page, following the `Link: <…>; rel="next"` header). Answers are
//! classified by the SDK (2xx delivered, 429 after `Retry-After`, 5xx retried, other 4xx
//! permanent) and the permanent ones Webex users meet most get a hint on what to fix.

use std::time::Duration;
use switchyard_plugin_sdk::trace::TracedSend as _;

use reqwest::Url;
use reqwest::header::LINK;
use serde_json::Value;
use switchyard_plugin_sdk::http::{self, PolicyClient};
use switchyard_plugin_sdk::{ConnectionOption, DeliveryResult, Outcome};

use crate::config::WebexConnection;
use crate::link::next_link;

/// The most pages a list is followed for (100 000 rooms at 100 a page): a guard against a
/// server that links a page to itself for ever, not a limit anyone should reach.
const MAX_PAGES: usize = 1_000;
/// Rooms per page (Webex allows 1 to 1,000).
const PAGE_SIZE: &str = "100";

/// The bot's API, through the provider's shared policy client.
#[derive(Debug, Clone, Copy)]
pub struct Webex<'a> {
    client: &'a PolicyClient,
    connection: &'a WebexConnection,
}

/// What to tell the user about a permanent answer of Webex.
fn hint(status: u16) -> Option<&'static str> {
    match status {
        401 => Some(
            "the bot token is wrong, expired or revoked: paste the bot's access token into the \
             connection again (developer.webex.com → My Webex Apps → your bot → Regenerate)",
        ),
        403 => Some(
            "the bot may not do this here: check that it is still a member of the room and that \
             the room is not moderated or announcement-only for it",
        ),
        404 => Some(
            "the room (or the message replied to) was not found: add the bot to the room, or \
             pick another room in the subscription",
        ),
        _ => None,
    }
}

/// `result` with the hint for its status appended to a permanent failure.
fn with_hint(mut result: DeliveryResult) -> DeliveryResult {
    if let (Outcome::Permanent { error }, Some(status)) = (&mut result.outcome, result.status_code)
        && let Some(hint) = hint(status)
    {
        error.push_str(" — ");
        error.push_str(hint);
    }
    result
}

impl<'a> Webex<'a> {
    /// The API of the bot `connection` describes.
    #[must_use]
    pub fn new(client: &'a PolicyClient, connection: &'a WebexConnection) -> Self {
        Self { client, connection }
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(u64::from(self.connection.timeout_ms))
    }

    /// Creates a message: delivered with its id as external id.
    pub async fn post_message(&self, body: &Value) -> DeliveryResult {
        let url = format!("{}/messages", self.connection.base());
        let request = match self.client.post(&url) {
            Ok(request) => request,
            Err(refusal) => return DeliveryResult::from(refusal),
        };
        let response = request
            .bearer_auth(self.connection.bot_token.expose())
            .timeout(self.timeout())
            .json(body)
            .send_traced()
            .await;
        with_hint(
            http::delivery_result(response, |b| http::external_id_from_json(b, &["id"])).await,
        )
    }

    /// One GET: the JSON body and the next page's URL, or a failure text for the user.
    async fn get(&self, url: &str) -> Result<(Value, Option<String>), String> {
        let request = self.client.get(url).map_err(|r| r.to_string())?;
        let response = request
            .bearer_auth(self.connection.bot_token.expose())
            .timeout(self.timeout())
            .send_traced()
            .await;
        let response = match response {
            Ok(r) if r.status().is_success() => r,
            other => return Err(failure_text(other).await),
        };
        let next = next_link(
            response
                .headers()
                .get_all(LINK)
                .iter()
                .filter_map(|v| v.to_str().ok()),
        );
        let body = response
            .bytes()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let json = serde_json::from_slice(&body)
            .map_err(|_| "Webex answered with something that is not JSON".to_owned())?;
        Ok((json, next))
    }

    /// Who the bot is (`GET /people/me`).
    ///
    /// # Errors
    /// A text for the user naming the status and what to fix.
    pub async fn me(&self) -> Result<Value, String> {
        let url = format!("{}/people/me", self.connection.base());
        self.get(&url).await.map(|(body, _)| body)
    }

    /// Every room the bot is in, across all pages, as options (value: room id, label: title).
    ///
    /// # Errors
    /// A text for the user naming the status and what to fix, or a next page elsewhere.
    pub async fn rooms(&self) -> Result<Vec<ConnectionOption>, String> {
        let mut url = format!("{}/rooms?max={PAGE_SIZE}", self.connection.base());
        let mut options = Vec::new();
        let mut seen = Vec::new();
        for _ in 0..MAX_PAGES {
            let (page, next) = self.get(&url).await?;
            options.extend(room_options(&page));
            seen.push(url);
            match next {
                Some(next) if seen.contains(&next) => break,
                Some(next) => url = self.same_origin(&next)?,
                None => return Ok(options),
            }
        }
        Ok(options)
    }

    /// `next` when it is on the API's own origin: the bot's token goes nowhere else.
    fn same_origin(&self, next: &str) -> Result<String, String> {
        let base = Url::parse(self.connection.base()).map_err(|_| "baseUrl is not a URL")?;
        match Url::parse(next) {
            Ok(url) if url.origin() == base.origin() => Ok(url.into()),
            _ => Err("Webex linked the next page to another host; not followed".to_owned()),
        }
    }
}

/// The options of one page of `GET /rooms` (`items[]` with `id`, `title`, `type`).
fn room_options(page: &Value) -> Vec<ConnectionOption> {
    let items = page.get("items").and_then(Value::as_array);
    items
        .into_iter()
        .flatten()
        .filter_map(|room| {
            let id = room.get("id")?.as_str()?;
            let title = room.get("title").and_then(Value::as_str).unwrap_or(id);
            let mut option = ConnectionOption::new(id, title);
            option.description = room.get("type").and_then(Value::as_str).map(str::to_owned);
            Some(option)
        })
        .collect()
}

/// The user's text for a failed GET: the SDK's classification text plus the hint.
async fn failure_text(response: Result<reqwest::Response, reqwest::Error>) -> String {
    let result = with_hint(http::delivery_result(response, |_| None).await);
    result.error().unwrap_or("Webex did not answer").to_owned()
}
