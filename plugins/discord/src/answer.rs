//! What Discord's answers mean. 200 (with `?wait=true`) carries the message, whose `id` is the
//! external id. 429 is rate-limited for the JSON body's `retry_after` (float seconds, the
//! precise figure) or else the `Retry-After` header. 404 means the webhook was deleted
//! (`Unknown Webhook`, code 10015: permanent) — or, on an edit, that the message was
//! (`Unknown Message`, 10008), which the provider answers by posting a new one. Everything
//! else follows the SDK's classification: 5xx retryable, other 4xx permanent with Discord's
//! `message` and error details quoted.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use switchyard_plugin_sdk::http::{self, DEFAULT_RATE_LIMIT_DELAY};
use switchyard_plugin_sdk::{DeliveryResult, Outcome};

/// Discord's error code for a deleted (or never existing) webhook.
pub const UNKNOWN_WEBHOOK: u64 = 10015;
/// Discord's error code for a deleted message.
pub const UNKNOWN_MESSAGE: u64 = 10008;

/// One answer, read whole.
#[derive(Debug)]
pub enum Answer {
    /// 2xx: the message's id, when the body has one.
    Sent(Option<String>),
    /// 404 `Unknown Message`: the message to edit is gone.
    MessageGone,
    /// Any failure, classified.
    Failed(DeliveryResult),
}

/// Reads a response to an execute or edit call.
pub async fn read(response: Result<reqwest::Response, reqwest::Error>) -> Answer {
    match read_json(response).await {
        Ok(json) => Answer::Sent(
            json.get("id")
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty())
                .map(str::to_owned),
        ),
        Err(answer) => answer,
    }
}

/// Reads a response: its JSON body on 2xx (`Null` when it has none), else the failure
/// ([`Answer::MessageGone`] or [`Answer::Failed`]).
///
/// # Errors
/// Every non-2xx answer and network failure, classified.
pub async fn read_json(
    response: Result<reqwest::Response, reqwest::Error>,
) -> Result<Value, Answer> {
    let response = response.map_err(|error| Answer::Failed(http::network_failure(error)))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap_or_default();
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(json);
    }
    let code = json.get("code").and_then(Value::as_u64);
    Err(match status.as_u16() {
        404 if code == Some(UNKNOWN_MESSAGE) => Answer::MessageGone,
        404 => Answer::Failed(deleted(&body)),
        429 => Answer::Failed(rate_limited(&headers, &json, &body)),
        _ => Answer::Failed(refused(status, &headers, &json, &body)),
    })
}

fn deleted(body: &[u8]) -> DeliveryResult {
    DeliveryResult::permanent(
        "Discord answered 404 Unknown Webhook: the webhook was deleted; create a new one (channel settings → Integrations → Webhooks) and update the webhook URL",
    )
    .with_status(404)
    .with_response_excerpt(http::body_excerpt(body))
}

/// The delay of a 429: the body's `retry_after` seconds (a float), else the header's.
#[must_use]
pub fn retry_delay(headers: &HeaderMap, json: &Value) -> Duration {
    json.get("retry_after")
        .and_then(Value::as_f64)
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .or_else(|| http::retry_after(headers, SystemTime::now()))
        .unwrap_or(DEFAULT_RATE_LIMIT_DELAY)
}

fn rate_limited(headers: &HeaderMap, json: &Value, body: &[u8]) -> DeliveryResult {
    let scope = if json.get("global").and_then(Value::as_bool) == Some(true) {
        " (global limit)"
    } else {
        ""
    };
    DeliveryResult::rate_limited(
        format!("Discord rate-limited the webhook{scope}"),
        retry_delay(headers, json),
    )
    .with_status(429)
    .with_response_excerpt(http::body_excerpt(body))
}

/// Any other failure: the SDK's classification, with Discord's own `message` in front.
fn refused(status: StatusCode, headers: &HeaderMap, json: &Value, body: &[u8]) -> DeliveryResult {
    let result = http::failure(status, headers, body);
    let Some(message) = json.get("message").and_then(Value::as_str) else {
        return result;
    };
    let hint = match status.as_u16() {
        401 | 403 => ": the webhook's token is wrong; copy the webhook URL again",
        _ => "",
    };
    let outcome = match result.outcome {
        Outcome::Permanent { error } => Outcome::Permanent {
            error: format!("Discord refused the message: {message}{hint} ({error})"),
        },
        other => other,
    };
    DeliveryResult { outcome, ..result }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_body_s_float_seconds_win_over_the_header() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "3".parse().unwrap());
        assert_eq!(
            retry_delay(&headers, &json!({"retry_after": 1.25})),
            Duration::from_millis(1250)
        );
        assert_eq!(retry_delay(&headers, &json!({})), Duration::from_secs(3));
        assert_eq!(
            retry_delay(&HeaderMap::new(), &json!({"retry_after": -1})),
            DEFAULT_RATE_LIMIT_DELAY
        );
    }
}
