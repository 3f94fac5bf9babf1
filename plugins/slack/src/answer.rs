//! What Slack's answers mean. The Web API answers HTTP 200 to most failures, with
//! `{"ok": false, "error": "channel_not_found"}`: such a 200 is not a success, and the error
//! code decides the outcome — rate limits wait (`Retry-After`, else the SDK's default), Slack's
//! own trouble is retried, everything else (a missing or archived channel, a revoked token…)
//! is permanent with a sentence saying what to fix. Incoming webhooks answer `ok` in plain
//! text, and fail with an HTTP status and a code in the body (`no_service`,
//! `channel_is_archived`…), which the SDK's classification handles and [`hint`] explains.

use std::time::SystemTime;

use serde_json::Value;
use switchyard_plugin_sdk::http::{self, DEFAULT_RATE_LIMIT_DELAY};
use switchyard_plugin_sdk::{DeliveryResult, Outcome};

/// A failed Web API call: its outcome, and Slack's error code when it answered `ok: false`
/// (callers that pass over some codes decide on the code, never on the text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    /// Slack's `error`, for an `ok: false` answer.
    pub code: Option<String>,
    /// The outcome.
    pub result: DeliveryResult,
}

impl From<DeliveryResult> for ApiFailure {
    fn from(result: DeliveryResult) -> Self {
        Self { code: None, result }
    }
}

/// What to tell the user about a Slack error code, if there is more to say than the code.
#[must_use]
pub fn hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "channel_not_found" => {
            "the channel does not exist or the app cannot see it: pick the channel again, and invite the app to a private channel (/invite @app)"
        }
        "not_in_channel" => "the app is not a member of the channel: invite it (/invite @app)",
        "is_archived" | "channel_is_archived" => {
            "the channel is archived: unarchive it or pick another channel"
        }
        "invalid_auth" | "not_authed" | "token_revoked" | "token_expired" | "account_inactive" => {
            "the bot token is invalid or revoked: reinstall the app and paste its new Bot User OAuth Token into the connection"
        }
        "missing_scope" => {
            "the app lacks a scope: add chat:write (and channels:read, groups:read) under OAuth & Permissions and reinstall it"
        }
        "no_service" | "no_team" | "team_disabled" | "invalid_token" => {
            "the incoming webhook was removed or disabled: create a new one and update the webhook URL"
        }
        "action_prohibited" => "a workspace admin restricted posting to this channel",
        "invalid_blocks"
        | "invalid_payload"
        | "invalid_attachments"
        | "msg_too_long"
        | "no_text" => "Slack refused the message's content: check the text template",
        "thread_not_found" | "message_not_found" => "the incident's first message was deleted",
        _ => return None,
    })
}

/// Whether an `ok: false` code is Slack's own transient trouble.
fn transient(code: &str) -> bool {
    matches!(
        code,
        "internal_error"
            | "fatal_error"
            | "service_unavailable"
            | "request_timeout"
            | "ratelimited_internal"
    )
}

/// The failure for a Web API `ok: false` answer with `code`.
#[must_use]
pub fn api_error(
    method: &str,
    code: &str,
    retry_after: Option<std::time::Duration>,
) -> DeliveryResult {
    let text = match hint(code) {
        Some(hint) => format!("Slack {method} failed: {code}: {hint}"),
        None => format!("Slack {method} failed: {code}"),
    };
    let result = match code {
        "ratelimited" | "rate_limited" => {
            DeliveryResult::rate_limited(text, retry_after.unwrap_or(DEFAULT_RATE_LIMIT_DELAY))
        }
        code if transient(code) => DeliveryResult::retryable_after(text, retry_after),
        _ => DeliveryResult::permanent(text),
    };
    result.with_status(200)
}

/// Reads a Web API answer: `Ok(body)` for `ok: true`, else the failure.
pub async fn web_api(
    method: &str,
    response: Result<reqwest::Response, reqwest::Error>,
) -> Result<Value, ApiFailure> {
    let response = response.map_err(http::network_failure)?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap_or_default();
    if !status.is_success() {
        return Err(http::failure(status, &headers, &body).into());
    }
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if json.get("ok").and_then(Value::as_bool) == Some(true) {
        return Ok(json);
    }
    let retry_after = http::retry_after(&headers, SystemTime::now());
    let Some(code) = json.get("error").and_then(Value::as_str) else {
        return Err(DeliveryResult::permanent(format!(
            "Slack {method} answered {status} without \"ok\": {}",
            http::body_excerpt(&body)
        ))
        .with_status(status.as_u16())
        .into());
    };
    Err(ApiFailure {
        code: Some(code.to_owned()),
        result: api_error(method, code, retry_after)
            .with_response_excerpt(http::body_excerpt(&body)),
    })
}

/// Reads an incoming webhook's answer: delivered (webhooks return no id) or the SDK's
/// classification of the status, with a hint for Slack's code in the body.
pub async fn webhook(response: Result<reqwest::Response, reqwest::Error>) -> DeliveryResult {
    let result = http::delivery_result(response, |_| None).await;
    let Some(code) = result.response_excerpt.clone() else {
        return result;
    };
    let Some(hint) = hint(code.trim()) else {
        return result;
    };
    let outcome = match result.outcome {
        Outcome::Permanent { error } => Outcome::Permanent {
            error: format!("{error}: {hint}"),
        },
        other => other,
    };
    DeliveryResult { outcome, ..result }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_outcomes() {
        assert!(
            matches!(api_error("chat.postMessage", "channel_not_found", None).outcome, Outcome::Permanent { ref error } if error.contains("invite the app"))
        );
        assert!(
            matches!(api_error("x", "ratelimited", None).outcome, Outcome::RateLimited { retry_after, .. } if retry_after == DEFAULT_RATE_LIMIT_DELAY)
        );
        assert!(matches!(
            api_error("x", "internal_error", None).outcome,
            Outcome::Retryable { .. }
        ));
        assert!(matches!(
            api_error("x", "something_new", None).outcome,
            Outcome::Permanent { .. }
        ));
    }
}
