//! HTTP helpers every HTTP-based provider needs, so plugins do not copy them: a client with
//! timeouts ([`client`]), `Retry-After` parsing ([`retry_after`]), classifying a status into an
//! outcome ([`classify`]) and turning a whole `reqwest` result into a [`DeliveryResult`]
//! ([`delivery_result`]). [`policy_client`] is the client every HTTP provider should use: the
//! same, held to the operator's network policy (see [`crate::net_policy`]).
//!
//! Classification:
//! - 2xx → delivered;
//! - 429 and 503 → rate-limited, after the `Retry-After` delay, or
//!   [`DEFAULT_RATE_LIMIT_DELAY`] (60 s) when the header is missing or unreadable. 60 s is
//!   about what Slack, Jira and PagerDuty ask for in practice; a rate-limited deferral does not
//!   use up the retry budget and the host caps the delay;
//! - 408, other 5xx and network errors / timeouts → retryable;
//! - a connection the network policy refused → permanent, with the policy's explanation;
//! - 410 and every other 4xx (and 1xx/3xx that reach us) → permanent.
//!
//! Failure texts carry the status and a short excerpt of the body, never request headers, and
//! network errors are stripped of the URL (it may hold a secret, e.g. a Slack webhook URL).
//! The excerpt is scrubbed of the secrets of the calls in flight *before* it is cut, so a
//! receiver echoing a credential never leaves a recognisable piece of it.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

pub use crate::net_policy::client::{PolicyClient, policy_client};
use crate::net_policy::guard::find_refusal;
use crate::result::DeliveryResult;

/// The wait when a 429/503 carries no usable `Retry-After`.
pub const DEFAULT_RATE_LIMIT_DELAY: Duration = Duration::from_secs(60);
/// How many bytes of a response body an error text quotes.
pub const BODY_EXCERPT_BYTES: usize = 256;
/// The longest time to wait for a TCP (and TLS) connection, whatever the overall timeout.
pub const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The `User-Agent` of the SDK's client: `switchyard-plugin/<sdk version>`.
pub const USER_AGENT: &str = concat!("switchyard-plugin/", env!("CARGO_PKG_VERSION"));

/// The outcome class of an HTTP status (the retry delay is added by [`delivery_result`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 2xx.
    Delivered,
    /// 408, 5xx other than 503.
    Retryable,
    /// 429, 503.
    RateLimited,
    /// Other 4xx, 410, and anything unexpected.
    Permanent,
}

/// An HTTP client with an overall `timeout` per request, a connect timeout of at most
/// [`MAX_CONNECT_TIMEOUT`] and the SDK's [`USER_AGENT`]. Build one per provider and share it
/// (it pools connections); override the timeout per request with `RequestBuilder::timeout`.
///
/// # Errors
/// When the TLS backend cannot be initialised.
pub fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    client_builder(timeout).build()
}

/// The builder behind [`client`], for providers that need more (e.g. no redirects).
pub fn client_builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT))
        .user_agent(USER_AGENT)
}

/// The delay a `Retry-After` header asks for, as delta-seconds or an HTTP-date, relative to
/// `now`. A date in the past gives zero; a missing or unreadable header gives `None`.
#[must_use]
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The class of `status`.
#[must_use]
pub fn classify(status: StatusCode) -> Class {
    match status.as_u16() {
        200..=299 => Class::Delivered,
        429 | 503 => Class::RateLimited,
        408 | 500..=599 => Class::Retryable,
        _ => Class::Permanent,
    }
}

/// The failure result for a non-2xx response: its class, the delay it asks for, and an error
/// text with the status and a body excerpt.
#[must_use]
pub fn failure(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> DeliveryResult {
    let mut error = error_text(status, body);
    if status.is_redirection() {
        // The SDK's clients follow no redirects (one could lead past the network policy).
        error.push_str(" (redirects are not followed: configure the final URL)");
    }
    let after = retry_after(headers, SystemTime::now());
    let result = match classify(status) {
        Class::RateLimited => {
            DeliveryResult::rate_limited(error, after.unwrap_or(DEFAULT_RATE_LIMIT_DELAY))
        }
        Class::Retryable => DeliveryResult::retryable_after(error, after),
        // A 2xx handed in here is still not a failure the caller can use; call it permanent
        // so that a misuse is visible rather than silently delivered.
        Class::Permanent | Class::Delivered => DeliveryResult::permanent(error),
    };
    let result = result.with_status(status.as_u16());
    match body_excerpt(body) {
        excerpt if excerpt.is_empty() => result,
        excerpt => result.with_response_excerpt(excerpt),
    }
}

/// `HTTP 404 Not Found: <first bytes of the body>`.
#[must_use]
pub fn error_text(status: StatusCode, body: &[u8]) -> String {
    let excerpt = body_excerpt(body);
    if excerpt.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {excerpt}")
    }
}

/// The first [`BODY_EXCERPT_BYTES`] of a body (scrubbed of the secrets of the calls in flight)
/// as one line of text.
#[must_use]
pub fn body_excerpt(body: &[u8]) -> String {
    // Scrubbed over a wider window than it quotes: a secret across the cut is still whole.
    let window = &body[..body.len().min(BODY_EXCERPT_BYTES * 16)];
    let scrubbed = crate::redact::scrub_active(&String::from_utf8_lossy(window));
    let mut cut = scrubbed.len().min(BODY_EXCERPT_BYTES);
    while !scrubbed.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut text: String = scrubbed[..cut]
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    text = text.trim().to_owned();
    if scrubbed.len() > cut || body.len() > window.len() {
        text.push('…');
    }
    text
}

/// The result for a request that got no response (connect error, timeout…): retryable, with
/// the cause chain but without the URL; permanent when the network policy refused the address
/// (retrying cannot change the verdict; the operator's allow-list can).
#[must_use]
pub fn network_failure(error: reqwest::Error) -> DeliveryResult {
    let error = error.without_url();
    if let Some(refusal) = find_refusal(&error) {
        return DeliveryResult::permanent(refusal.to_string());
    }
    let mut text = if error.is_timeout() {
        "request timed out".to_owned()
    } else if error.is_connect() {
        "cannot connect".to_owned()
    } else {
        error.to_string()
    };
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    DeliveryResult::retryable(text)
}

/// Reads a response and classifies it. On 2xx, `external_id` picks the id out of the body
/// (e.g. [`external_id_from_json`]); otherwise see [`failure`]; without a response see
/// [`network_failure`].
pub async fn delivery_result(
    response: Result<reqwest::Response, reqwest::Error>,
    external_id: impl FnOnce(&[u8]) -> Option<String>,
) -> DeliveryResult {
    let response = match response {
        Ok(response) => response,
        Err(error) => return network_failure(error),
    };
    let status = response.status();
    let headers = response.headers().clone();
    let body = match response.bytes().await {
        Ok(body) => body,
        // The status is known, but the body broke off: judge by the status alone.
        Err(_) if status.is_success() => {
            return DeliveryResult::delivered(None).with_status(status.as_u16());
        }
        Err(_) => Default::default(),
    };
    if status.is_success() {
        DeliveryResult::delivered(external_id(&body)).with_status(status.as_u16())
    } else {
        failure(status, &headers, &body)
    }
}

/// The first of `keys` found at the top of a JSON object body, as a string (numbers are
/// turned into their decimal text). `None` for a non-JSON body.
#[must_use]
pub fn external_id_from_json(body: &[u8], keys: &[&str]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    keys.iter().find_map(|key| match value.get(*key)? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;
    use crate::Outcome;

    fn headers(retry_after: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(retry_after).unwrap());
        headers
    }

    fn now() -> SystemTime {
        httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap()
    }

    #[test]
    fn retry_after_reads_delta_seconds() {
        assert_eq!(
            retry_after(&headers("120"), now()),
            Some(Duration::from_secs(120))
        );
        assert_eq!(retry_after(&headers(" 0 "), now()), Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_reads_an_http_date() {
        let h = headers("Wed, 21 Oct 2015 07:29:30 GMT");
        assert_eq!(retry_after(&h, now()), Some(Duration::from_secs(90)));
    }

    #[test]
    fn retry_after_in_the_past_is_zero() {
        let h = headers("Wed, 21 Oct 2015 07:00:00 GMT");
        assert_eq!(retry_after(&h, now()), Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_ignores_garbage_and_absence() {
        assert_eq!(retry_after(&headers("soon"), now()), None);
        assert_eq!(retry_after(&headers("-5"), now()), None);
        assert_eq!(retry_after(&headers("1.5"), now()), None);
        assert_eq!(retry_after(&HeaderMap::new(), now()), None);
    }

    #[test]
    fn classifies_statuses() {
        let class = |code| classify(StatusCode::from_u16(code).unwrap());
        assert_eq!(class(200), Class::Delivered);
        assert_eq!(class(204), Class::Delivered);
        assert_eq!(class(429), Class::RateLimited);
        assert_eq!(class(503), Class::RateLimited);
        assert_eq!(class(500), Class::Retryable);
        assert_eq!(class(502), Class::Retryable);
        assert_eq!(class(408), Class::Retryable);
        assert_eq!(class(400), Class::Permanent);
        assert_eq!(class(404), Class::Permanent);
        assert_eq!(class(410), Class::Permanent);
        assert_eq!(class(301), Class::Permanent);
    }

    #[test]
    fn rate_limit_honours_retry_after_or_defaults() {
        let limited = failure(StatusCode::TOO_MANY_REQUESTS, &headers("7"), b"slow down");
        assert_eq!(
            limited.outcome,
            Outcome::RateLimited {
                error: "HTTP 429 Too Many Requests: slow down".into(),
                retry_after: Duration::from_secs(7)
            }
        );
        assert_eq!(limited.status_code, Some(429));
        let default = failure(StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new(), b"");
        assert!(matches!(
            default.outcome,
            Outcome::RateLimited { retry_after, .. } if retry_after == DEFAULT_RATE_LIMIT_DELAY
        ));
    }

    #[test]
    fn error_text_quotes_a_short_body_excerpt() {
        let body = "x".repeat(1000);
        let text = error_text(StatusCode::BAD_REQUEST, body.as_bytes());
        assert!(text.starts_with("HTTP 400 Bad Request: xxx"));
        assert!(text.chars().count() < 300, "{text}");
        assert_eq!(error_text(StatusCode::GONE, b""), "HTTP 410 Gone");
    }

    #[test]
    fn external_id_takes_the_first_present_key() {
        let keys = ["id", "externalId", "messageId"];
        assert_eq!(
            external_id_from_json(br#"{"id":"a","externalId":"b"}"#, &keys),
            Some("a".into())
        );
        assert_eq!(
            external_id_from_json(br#"{"externalId":"b"}"#, &keys),
            Some("b".into())
        );
        assert_eq!(
            external_id_from_json(br#"{"messageId":42}"#, &keys),
            Some("42".into())
        );
        assert_eq!(external_id_from_json(b"ok", &keys), None);
        assert_eq!(external_id_from_json(br#"{"other":1}"#, &keys), None);
    }
}
