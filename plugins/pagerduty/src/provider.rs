//! The PagerDuty provider: sends the [`Outgoing`] request of each event to the Events API v2
//! and maps the answer to an outcome — 202 delivered with the dedup key as external id; 400
//! permanent with PagerDuty's own reasons; 429 rate-limited after `Retry-After`; 5xx and
//! network errors retryable (the SDK's classification). `test_connection` is not offered: the
//! Events API has no harmless probe (every accepted request opens or changes an alert).

use std::sync::Arc;
use std::time::Duration;
use switchyard_plugin_sdk::trace::TracedSend as _;

use serde_json::Value;
use switchyard_plugin_sdk::net_policy::NetworkPolicy;
use switchyard_plugin_sdk::net_policy::shared::SharedClient;
use switchyard_plugin_sdk::template::{Limits, TemplateCache};
use switchyard_plugin_sdk::{
    Capabilities, DeliveryContext, DeliveryResult, Diagnostic, Documentation, NoConnection,
    Provider, REDACTED, RenderedRequest, TestTarget, http,
};

use crate::config::PagerDutyConfig;
use crate::event::{Outgoing, outgoing};

/// The PagerDuty provider: one pooled client held to the network policy, one template cache.
#[derive(Debug, Clone)]
pub struct PagerDutyProvider {
    client: SharedClient,
    templates: Arc<TemplateCache>,
}

impl Default for PagerDutyProvider {
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

impl PagerDutyProvider {
    /// A provider whose client is built on the first delivery (after the handshake).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A provider held to `policy` instead of its environment's (in-process tests).
    #[must_use]
    pub fn with_policy(policy: NetworkPolicy) -> Self {
        Self {
            client: SharedClient::with_policy(policy),
            ..Self::default()
        }
    }

    async fn send(
        &self,
        ctx: &DeliveryContext<PagerDutyConfig, NoConnection>,
        out: Outgoing,
    ) -> DeliveryResult {
        let client = match self.client.get().await {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(%error, "cannot build the HTTP client");
                return DeliveryResult::retryable("the plugin cannot build its HTTP client");
            }
        };
        let url = format!("{}{}", ctx.config.base(), out.path);
        let request = match client.post(&url) {
            Ok(request) => request,
            Err(refusal) => return DeliveryResult::from(refusal),
        };
        let response = request
            .json(&out.body)
            .timeout(Duration::from_millis(u64::from(ctx.config.timeout_ms)))
            .send_traced()
            .await;
        let fallback = out.dedup_key.clone();
        let result = match response {
            Ok(r) if r.status().as_u16() == 400 => return refused(r).await,
            other => other,
        };
        http::delivery_result(result, |body| {
            http::external_id_from_json(body, &["dedup_key"]).or(fallback)
        })
        .await
    }
}

/// A 400: PagerDuty's `message` and `errors` in a permanent failure.
async fn refused(response: reqwest::Response) -> DeliveryResult {
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let message = body
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("invalid event");
    let errors: Vec<&str> = body
        .get("errors")
        .and_then(Value::as_array)
        .map(|e| e.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let text = if errors.is_empty() {
        format!("PagerDuty refused the event (400): {message}")
    } else {
        format!(
            "PagerDuty refused the event (400): {message}: {}",
            errors.join("; ")
        )
    };
    DeliveryResult::permanent(text).with_status(400)
}

impl Provider for PagerDutyProvider {
    type Config = PagerDutyConfig;
    type Connection = NoConnection;

    fn id(&self) -> &'static str {
        "pagerduty"
    }

    fn display_name(&self) -> &'static str {
        "PagerDuty"
    }

    fn description(&self) -> &'static str {
        "Opens a PagerDuty alert per incident and acknowledges or resolves it as the incident changes; maintenance windows become change events."
    }

    fn icon(&self) -> &'static str {
        "pagerduty"
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
        target: TestTarget<PagerDutyConfig, NoConnection>,
    ) -> Vec<Diagnostic> {
        match target {
            TestTarget::Config { config, .. } => problems(&config, &self.templates),
            TestTarget::Connection(_) => Vec::new(),
        }
    }

    async fn preview(
        &self,
        ctx: DeliveryContext<PagerDutyConfig, NoConnection>,
    ) -> Result<RenderedRequest, Vec<Diagnostic>> {
        let found = problems(&ctx.config, &self.templates);
        if !found.is_empty() {
            return Err(found);
        }
        let mut out = outgoing(&ctx, &self.templates).map_err(|e| vec![e.diagnostic()])?;
        out.body["routing_key"] = Value::String(REDACTED.to_owned());
        Ok(RenderedRequest {
            method: "POST".into(),
            url: format!("{}{}", ctx.config.base(), out.path),
            headers: vec![("content-type".into(), "application/json".into())],
            body: out.body.to_string(),
        })
    }

    async fn deliver(&self, ctx: DeliveryContext<PagerDutyConfig, NoConnection>) -> DeliveryResult {
        let out = match outgoing(&ctx, &self.templates) {
            Ok(out) => out,
            // Permanent: the same template and event fail the same way on every attempt.
            Err(error) => return DeliveryResult::from(error),
        };
        let action = out.action;
        let result = self.send(&ctx, out).await;
        tracing::debug!(?action, outcome = ?result.outcome, "pagerduty event sent");
        result
    }
}

/// What the schema cannot say: the summary template compiles, the base URL is an http(s) URL,
/// the routing key looks like one.
#[must_use]
pub fn problems(config: &PagerDutyConfig, templates: &TemplateCache) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    if let Some(source) = &config.summary_template
        && let Err(e) = templates.get("/summaryTemplate", source)
    {
        found.push(e.diagnostic());
    }
    if let Some(base) = &config.base_url
        && reqwest::Url::parse(base).map_or(true, |u| !matches!(u.scheme(), "http" | "https"))
    {
        found.push(Diagnostic::new(
            "/baseUrl",
            "must be an http(s) URL, e.g. https://events.pagerduty.com",
        ));
    }
    let key = config.routing_key.expose();
    if key.trim().is_empty() || key.chars().any(char::is_whitespace) {
        found.push(Diagnostic::new(
            "/routingKey",
            "must be the integration key of an Events API V2 integration (32 characters, no spaces)",
        ));
    }
    found
}
