//! The webhook provider: sends each event as a JSON (or form) body (the seed's default shape
//! or the config's template, see `body.rs`) to the configured URL, and maps the answer to an outcome with the SDK's HTTP
//! classification, plus the statuses the config lists in `retryOnStatus` as retryable.
//! [`Outgoing::build`] makes the request once for `deliver` and `preview` alike, so a preview
//! shows exactly what a delivery sends (secrets masked); `validate_config` lives in
//! `validate.rs`.
//!
//! `test_connection` is deliberately not offered: any request to an arbitrary webhook URL may
//! trigger something on the receiver's side, so there is no harmless probe. Undeclared, the
//! host gets `UNIMPLEMENTED` and the UI hides the button.

use std::sync::Arc;
use std::time::Duration;
use switchyard_plugin_sdk::trace::TracedSend as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use switchyard_plugin_sdk::net_policy::NetworkPolicy;
use switchyard_plugin_sdk::net_policy::client::PolicyClient;
use switchyard_plugin_sdk::net_policy::shared::SharedClient;
use switchyard_plugin_sdk::template::{Limits, TemplateCache};
use switchyard_plugin_sdk::{
    Capabilities, DeliveryContext, DeliveryResult, Diagnostic, Documentation, NoConnection,
    Outcome, Provider, REDACTED, RenderedRequest, TestTarget, http,
};

use crate::config::{Auth, Signing, WebhookConfig};
use crate::signing::{self, SigningKey, signature_header};

/// The response keys an external id is read from, in order.
pub const EXTERNAL_ID_KEYS: [&str; 3] = ["id", "externalId", "messageId"];

/// Header carrying the delivery id (stable across retries).
pub const DELIVERY_ID_HEADER: &str = "x-delivery-id";
/// Header carrying the event type.
pub const EVENT_TYPE_HEADER: &str = "x-event-type";

/// The webhook provider; holds one pooled HTTP client and one cache of compiled body
/// templates for all deliveries (and all clones).
///
/// The client is built on first use, not at start: building it (TLS backend, root
/// certificates) is the costliest part of the plugin's start, and the host waits for the
/// handshake line. It is built once and then shared, so connections are reused.
///
/// Every request goes through the SDK's [`PolicyClient`]: only public addresses, plus the
/// subnets the operator allows (`SWITCHYARD_NETWORK_ALLOW`, set by the coordinator).
#[derive(Debug, Clone)]
pub struct WebhookProvider {
    client: SharedClient,
    templates: Arc<TemplateCache>,
}

impl Default for WebhookProvider {
    fn default() -> Self {
        Self {
            client: SharedClient::from_env(),
            templates: Arc::new(TemplateCache::new(
                Limits::default(),
                TemplateCache::DEFAULT_CAPACITY,
            )),
        }
    }
}

impl WebhookProvider {
    /// A provider whose HTTP client is built on the first delivery. Redirects are not
    /// followed: a 3xx is a permanent failure, so a receiver cannot bounce events (and their
    /// headers) elsewhere.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A provider held to `policy` instead of the one in its environment (for tests that
    /// deliver to a local receiver in the same process).
    #[must_use]
    pub fn with_policy(policy: NetworkPolicy) -> Self {
        Self {
            client: SharedClient::with_policy(policy),
            ..Self::default()
        }
    }

    /// The shared client, built by the first caller (others wait for it). A failure is not
    /// kept: the next delivery tries again.
    ///
    /// # Errors
    /// A text for the log when the allow-list cannot be read or the TLS backend cannot be
    /// initialised.
    pub async fn client(&self) -> Result<&PolicyClient, String> {
        self.client.get().await
    }
}

/// The request body: `{id, eventType, timestamp, subscription: {id, name}, data}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Body<'a> {
    /// The delivery id.
    pub id: &'a str,
    /// The event type.
    pub event_type: &'a str,
    /// When the event happened, RFC 3339.
    pub timestamp: String,
    /// The subscription.
    pub subscription: SubscriptionRef<'a>,
    /// The event payload.
    pub data: &'a serde_json::Value,
}

/// The subscription part of [`Body`].
#[derive(Debug, Serialize)]
pub struct SubscriptionRef<'a> {
    /// Subscription id.
    pub id: &'a str,
    /// Subscription name.
    pub name: &'a str,
}

impl<'a> Body<'a> {
    /// The body for one delivery.
    #[must_use]
    pub fn new(ctx: &'a DeliveryContext<WebhookConfig, NoConnection>) -> Self {
        Self {
            id: &ctx.event.delivery_id,
            event_type: &ctx.event.event_type,
            timestamp: ctx
                .event
                .timestamp
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            subscription: SubscriptionRef {
                id: &ctx.subscription.id,
                name: &ctx.subscription.name,
            },
            data: &ctx.event.payload,
        }
    }
}

/// Every header of the request except `User-Agent` (set by the client). Errors name the
/// offending field, never its value.
///
/// # Errors
/// A text naming the config field whose header name or value is unusable.
pub fn headers(ctx: &DeliveryContext<WebhookConfig, NoConnection>) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for (i, custom) in ctx.config.custom_headers.iter().enumerate() {
        let name = HeaderName::from_bytes(custom.name.as_bytes())
            .map_err(|_| format!("customHeaders/{i}/name is not a valid header name"))?;
        let value = HeaderValue::from_str(&custom.value)
            .map_err(|_| format!("customHeaders/{i}/value is not a valid header value"))?;
        headers.append(name, value);
    }
    apply_auth(&ctx.config.auth, &mut headers)?;
    let text = |value: &str, field: &str| {
        HeaderValue::from_str(value).map_err(|_| format!("{field} cannot be sent as a header"))
    };
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(crate::encode::mime(ctx.config.content_type)),
    );
    headers.insert(
        DELIVERY_ID_HEADER,
        text(&ctx.event.delivery_id, "the delivery id")?,
    );
    headers.insert(
        EVENT_TYPE_HEADER,
        text(&ctx.event.event_type, "the event type")?,
    );
    Ok(headers)
}

fn apply_auth(auth: &Auth, headers: &mut HeaderMap) -> Result<(), String> {
    let secret = |value: String, field: &str| {
        let mut value = HeaderValue::from_str(&value)
            .map_err(|_| format!("{field} cannot be sent as a header value"))?;
        value.set_sensitive(true);
        Ok::<_, String>(value)
    };
    match auth {
        Auth::None => {}
        Auth::Bearer { token } => {
            let value = secret(format!("Bearer {}", token.expose()), "auth/token")?;
            headers.insert(AUTHORIZATION, value);
        }
        Auth::Basic { username, password } => {
            let pair = format!("{username}:{}", password.expose());
            let value = secret(format!("Basic {}", STANDARD.encode(pair)), "auth/password")?;
            headers.insert(AUTHORIZATION, value);
        }
        Auth::Header { name, value } => {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| "auth/name is not a valid header name".to_owned())?;
            headers.insert(name, secret(value.expose().to_owned(), "auth/value")?);
        }
        // Sent in the URL instead (see `target_url`).
        Auth::Query { .. } => {}
    }
    Ok(())
}

/// The URL a delivery goes to: the configured one, plus the query parameter of `query` auth.
///
/// # Errors
/// A text naming the field when the URL cannot be parsed (never quoting it).
pub fn target_url(config: &WebhookConfig) -> Result<reqwest::Url, String> {
    let mut url =
        reqwest::Url::parse(&config.url).map_err(|_| "url is not a valid URL".to_owned())?;
    if let Auth::Query { name, value } = &config.auth {
        url.query_pairs_mut().append_pair(name, value.expose());
    }
    Ok(url)
}

/// `result` made retryable when it failed permanently with a status the config lists in
/// `retryOnStatus`; any other result unchanged.
#[must_use]
pub fn retry_listed(result: DeliveryResult, retry_on_status: &[u16]) -> DeliveryResult {
    let listed = result
        .status_code
        .is_some_and(|status| retry_on_status.contains(&status));
    match result.outcome {
        Outcome::Permanent { error } if listed => DeliveryResult {
            outcome: Outcome::Retryable {
                error: format!("{error} (retried: listed in retryOnStatus)"),
                retry_after: None,
            },
            ..result
        },
        _ => result,
    }
}

/// Adds the Standard Webhooks headers for `body`, signed now. The signature is marked
/// sensitive, so a preview masks it: it reveals no secret, but a shown valid signature would
/// let whoever sees the preview replay a forged-but-verifying request for a few minutes.
///
/// # Errors
/// A text naming the secret that cannot sign (never quoting it).
fn sign(
    signing: &Signing,
    delivery_id: &str,
    body: &[u8],
    headers: &mut HeaderMap,
) -> Result<(), String> {
    let keys = signing
        .secrets
        .iter()
        .enumerate()
        .map(|(i, secret)| {
            SigningKey::parse(secret.expose())
                .map_err(|error| format!("signing/secrets/{i} {error}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let timestamp = chrono::Utc::now().timestamp();
    let id = HeaderValue::from_str(delivery_id)
        .map_err(|_| "the delivery id cannot be sent as a header".to_owned())?;
    let mut signature =
        HeaderValue::from_str(&signature_header(&keys, delivery_id, timestamp, body))
            .map_err(|_| "the signature cannot be sent as a header".to_owned())?;
    signature.set_sensitive(true);
    headers.insert(signing::ID_HEADER, id);
    headers.insert(signing::TIMESTAMP_HEADER, HeaderValue::from(timestamp));
    headers.insert(signing::SIGNATURE_HEADER, signature);
    Ok(())
}

/// The request one delivery sends, before the client adds `User-Agent`.
#[derive(Debug)]
pub struct Outgoing {
    /// The HTTP method.
    pub method: reqwest::Method,
    /// The target.
    pub url: reqwest::Url,
    /// Every header but `User-Agent`; secret-bearing values are marked sensitive.
    pub headers: HeaderMap,
    /// The JSON body.
    pub body: Vec<u8>,
    /// `url` as a preview shows it: the secret of `query` auth masked.
    pub shown_url: String,
}

impl Outgoing {
    /// Builds the request of one delivery, the body template compiled through `templates`.
    /// Errors name the offending field, never its value.
    ///
    /// # Errors
    /// A diagnostic naming the config field that cannot be sent.
    pub fn build(
        ctx: &DeliveryContext<WebhookConfig, NoConnection>,
        templates: &TemplateCache,
    ) -> Result<Self, Diagnostic> {
        let whole = |error: String| Diagnostic::new("", error);
        let url = target_url(&ctx.config).map_err(whole)?;
        let mut headers = headers(ctx).map_err(whole)?;
        let body = crate::body::encoded(ctx, templates)?;
        if let Some(signing) = &ctx.config.signing {
            sign(signing, &ctx.event.delivery_id, &body, &mut headers).map_err(whole)?;
        }
        let shown_url = match &ctx.config.auth {
            Auth::Query { name, .. } => {
                // A placeholder the query encoding leaves alone, then the marker.
                let mut shown = reqwest::Url::parse(&ctx.config.url)
                    .map_err(|_| whole("url is not a valid URL".to_owned()))?;
                shown.query_pairs_mut().append_pair(name, "REDACTEDVALUE");
                shown.to_string().replace("REDACTEDVALUE", REDACTED)
            }
            _ => url.to_string(),
        };
        Ok(Self {
            method: ctx.config.method.as_reqwest(),
            url,
            headers,
            body,
            shown_url,
        })
    }

    /// The request as a preview shows it: sensitive header values and a password in the URL
    /// replaced by the marker, and the `User-Agent` the client adds.
    #[must_use]
    pub fn render(&self) -> RenderedRequest {
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let shown = if value.is_sensitive() {
                    REDACTED.to_owned()
                } else {
                    String::from_utf8_lossy(value.as_bytes()).into_owned()
                };
                (name.as_str().to_owned(), shown)
            })
            .collect();
        headers.push(("user-agent".to_owned(), http::USER_AGENT.to_owned()));
        let mut url = self.shown_url.clone();
        if let Some(password) = self.url.password() {
            url = url.replacen(&format!(":{password}@"), &format!(":{REDACTED}@"), 1);
        }
        RenderedRequest {
            method: self.method.to_string(),
            url,
            headers,
            body: String::from_utf8_lossy(&self.body).into_owned(),
        }
    }
}

impl Provider for WebhookProvider {
    type Config = WebhookConfig;
    type Connection = NoConnection;

    fn id(&self) -> &'static str {
        "webhook"
    }

    fn display_name(&self) -> &'static str {
        "Webhook"
    }

    fn description(&self) -> &'static str {
        "Sends each event as JSON over HTTP to a URL of your choice."
    }

    fn icon(&self) -> &'static str {
        "webhook"
    }

    fn documentation(&self) -> Documentation {
        crate::docs::documentation()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            validate_config: true,
            preview: true,
            ..Capabilities::NONE
        }
    }

    async fn validate_config(
        &self,
        target: TestTarget<WebhookConfig, NoConnection>,
    ) -> Vec<Diagnostic> {
        match target {
            TestTarget::Config { config, .. } => crate::validate::problems(&config),
            TestTarget::Connection(_) => Vec::new(),
        }
    }

    async fn preview(
        &self,
        ctx: DeliveryContext<WebhookConfig, NoConnection>,
    ) -> Result<RenderedRequest, Vec<Diagnostic>> {
        let problems = crate::validate::problems(&ctx.config);
        if !problems.is_empty() {
            return Err(problems);
        }
        Outgoing::build(&ctx, &self.templates)
            .map(|out| out.render())
            .map_err(|problem| vec![problem])
    }

    async fn deliver(&self, ctx: DeliveryContext<WebhookConfig, NoConnection>) -> DeliveryResult {
        let out = match Outgoing::build(&ctx, &self.templates) {
            Ok(out) => out,
            Err(problem) if problem.json_path.is_empty() => {
                return DeliveryResult::permanent(problem.message);
            }
            Err(problem) => {
                return DeliveryResult::permanent(format!(
                    "{}: {}",
                    problem.json_path, problem.message
                ));
            }
        };
        let client = match self.client().await {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(%error, "cannot build the HTTP client");
                return DeliveryResult::retryable("the plugin cannot build its HTTP client");
            }
        };
        let request = match client.request(out.method, out.url.as_str()) {
            Ok(request) => request,
            Err(refusal) => return DeliveryResult::from(refusal),
        };
        let response = request
            .headers(out.headers)
            .timeout(Duration::from_millis(u64::from(ctx.config.timeout_ms)))
            .body(out.body)
            .send_traced()
            .await;
        let result = http::delivery_result(response, |body| {
            http::external_id_from_json(body, &EXTERNAL_ID_KEYS)
        })
        .await;
        let result = retry_listed(result, &ctx.config.retry_on_status);
        tracing::debug!(
            delivery_id = %ctx.event.delivery_id,
            attempt = ctx.event.attempt,
            status = result.status_code,
            delivered = result.is_delivered(),
            "webhook attempt done"
        );
        result
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use switchyard_plugin_sdk::{Event, Subscription};

    use super::*;

    fn context(template: &str) -> DeliveryContext<WebhookConfig, NoConnection> {
        let config = json!({"url": "https://example.com/h", "bodyTemplate": template});
        DeliveryContext {
            event: Event {
                event_type: "incident.incident.created".into(),
                payload: json!({"title": "Down"}),
                timestamp: chrono::DateTime::UNIX_EPOCH,
                delivery_id: "dlv_1".into(),
                attempt: 1,
                event_id: "evt_1".into(),
            },
            subscription: Subscription {
                id: "sub_1".into(),
                name: "Ops".into(),
            },
            config: serde_json::from_value(config).expect("a valid config"),
            connection: NoConnection,
            correlation: None,
        }
    }

    #[test]
    fn a_body_template_is_compiled_once_for_every_delivery_and_clone() {
        let provider = WebhookProvider::new();
        let clone = provider.clone();
        let ctx = context(r#"{"t": "{{ payload.title }}"}"#);
        for templates in [&provider.templates, &clone.templates, &provider.templates] {
            let out = Outgoing::build(&ctx, templates).expect("builds");
            assert_eq!(out.body, br#"{"t": "Down"}"#);
        }
        assert_eq!(provider.templates.len(), 1);
        Outgoing::build(&context(r#"{"u": 1}"#), &clone.templates).expect("builds");
        assert_eq!(provider.templates.len(), 2, "a new text is compiled");
    }
}
