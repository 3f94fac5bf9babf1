//! The Opsgenie provider: sends each event's [`Outgoing`] request with `Authorization:
//! GenieKey …` and maps the answer with the SDK's HTTP classification — 202 delivered with
//! Opsgenie's `requestId` as external id (Opsgenie processes requests asynchronously); 401/403
//! (a wrong or disabled key) and 422 permanent; 429 rate-limited after `Retry-After`; 5xx and
//! network errors retryable. `test_connection` is not offered: an API integration's key has
//! no read-only probe that works for every key's permissions.

use std::sync::Arc;
use std::time::Duration;
use switchyard_plugin_sdk::trace::TracedSend as _;

use reqwest::Url;
use switchyard_plugin_sdk::net_policy::NetworkPolicy;
use switchyard_plugin_sdk::net_policy::shared::SharedClient;
use switchyard_plugin_sdk::template::{Limits, TemplateCache};
use switchyard_plugin_sdk::{
    Capabilities, DeliveryContext, DeliveryResult, Diagnostic, Documentation, NoConnection,
    Provider, REDACTED, RenderedRequest, TestTarget, http,
};

use crate::config::OpsgenieConfig;
use crate::request::{Outgoing, outgoing};

/// The Opsgenie provider: one shared client held to the network policy, one template cache.
#[derive(Debug, Clone)]
pub struct OpsgenieProvider {
    client: SharedClient,
    templates: Arc<TemplateCache>,
}

impl OpsgenieProvider {
    /// A provider held to the network policy of its environment.
    #[must_use]
    pub fn new() -> Self {
        Self::held_to(SharedClient::from_env())
    }

    /// A provider held to `policy` (in-process tests).
    #[must_use]
    pub fn with_policy(policy: NetworkPolicy) -> Self {
        Self::held_to(SharedClient::with_policy(policy))
    }

    fn held_to(client: SharedClient) -> Self {
        let templates = TemplateCache::new(Limits::default(), TemplateCache::DEFAULT_CAPACITY);
        Self {
            client,
            templates: Arc::new(templates),
        }
    }
}

impl Default for OpsgenieProvider {
    fn default() -> Self {
        Self::new()
    }
}

/// The URL of a request: the base, the encoded path segments, `identifierType=alias`.
fn url_of(config: &OpsgenieConfig, out: &Outgoing) -> Result<Url, String> {
    let mut url = Url::parse(config.base()).map_err(|_| "baseUrl is not a valid URL".to_owned())?;
    url.path_segments_mut()
        .map_err(|()| "baseUrl cannot carry a path".to_owned())?
        .pop_if_empty()
        .extend(&out.segments);
    if out.by_alias {
        url.query_pairs_mut().append_pair("identifierType", "alias");
    }
    Ok(url)
}

impl OpsgenieProvider {
    async fn send(
        &self,
        ctx: &DeliveryContext<OpsgenieConfig, NoConnection>,
        out: &Outgoing,
    ) -> DeliveryResult {
        let url = match url_of(&ctx.config, out) {
            Ok(url) => url,
            Err(problem) => return DeliveryResult::permanent(problem),
        };
        let client = match self.client.get().await {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(%error, "cannot build the HTTP client");
                return DeliveryResult::retryable("the plugin cannot build its HTTP client");
            }
        };
        let request = match client.post(url.as_str()) {
            Ok(request) => request,
            Err(refusal) => return DeliveryResult::from(refusal),
        };
        let response = request
            .header(
                "authorization",
                format!("GenieKey {}", ctx.config.api_key.expose()),
            )
            .json(&out.body)
            .timeout(Duration::from_millis(u64::from(ctx.config.timeout_ms)))
            .send_traced()
            .await;
        http::delivery_result(response, |body| {
            http::external_id_from_json(body, &["requestId"])
        })
        .await
    }
}

impl Provider for OpsgenieProvider {
    type Config = OpsgenieConfig;
    type Connection = NoConnection;

    fn id(&self) -> &'static str {
        "opsgenie"
    }

    fn display_name(&self) -> &'static str {
        "Opsgenie"
    }

    fn description(&self) -> &'static str {
        "Creates an Opsgenie alert per incident, adds notes as it changes and closes it when it is resolved."
    }

    fn icon(&self) -> &'static str {
        "opsgenie"
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
        target: TestTarget<OpsgenieConfig, NoConnection>,
    ) -> Vec<Diagnostic> {
        match target {
            TestTarget::Config { config, .. } => problems(&config, &self.templates),
            TestTarget::Connection(_) => Vec::new(),
        }
    }

    async fn preview(
        &self,
        ctx: DeliveryContext<OpsgenieConfig, NoConnection>,
    ) -> Result<RenderedRequest, Vec<Diagnostic>> {
        let found = problems(&ctx.config, &self.templates);
        if !found.is_empty() {
            return Err(found);
        }
        let out = outgoing(&ctx, &self.templates).map_err(|e| vec![e.diagnostic()])?;
        let url = url_of(&ctx.config, &out).map_err(|m| vec![Diagnostic::new("/baseUrl", m)])?;
        Ok(RenderedRequest {
            method: "POST".into(),
            url: url.to_string(),
            headers: vec![
                ("authorization".into(), format!("GenieKey {REDACTED}")),
                ("content-type".into(), "application/json".into()),
            ],
            body: out.body.to_string(),
        })
    }

    async fn deliver(&self, ctx: DeliveryContext<OpsgenieConfig, NoConnection>) -> DeliveryResult {
        let out = match outgoing(&ctx, &self.templates) {
            Ok(out) => out,
            // Permanent: the same template and event fail the same way on every attempt.
            Err(error) => return DeliveryResult::from(error),
        };
        let result = self.send(&ctx, &out).await;
        tracing::debug!(stage = ?out.stage, outcome = ?result.outcome, "opsgenie request sent");
        result
    }
}

/// What the schema cannot say: the message template compiles and the base URL is http(s).
#[must_use]
pub fn problems(config: &OpsgenieConfig, templates: &TemplateCache) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    if let Some(source) = &config.message_template
        && let Err(e) = templates.get("/messageTemplate", source)
    {
        found.push(e.diagnostic());
    }
    if let Some(base) = &config.base_url
        && Url::parse(base).map_or(true, |u| !matches!(u.scheme(), "http" | "https"))
    {
        found.push(Diagnostic::new(
            "/baseUrl",
            "must be an http(s) URL, e.g. https://api.opsgenie.com",
        ));
    }
    if config.api_key.expose().trim().is_empty() {
        found.push(Diagnostic::new(
            "/apiKey",
            "must be the API key of an Opsgenie API integration",
        ));
    }
    found
}
