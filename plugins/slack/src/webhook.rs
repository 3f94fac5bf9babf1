//! `slack.webhook`: posts each event through an incoming webhook. A webhook has no message
//! id and no threads, so an incident's later events are new messages that say which event
//! they follow. [`outgoing`] builds the request for `deliver` and `preview` alike; the preview
//! masks the webhook URL's token (its last path segment).

use std::sync::Arc;
use std::time::Duration;
use switchyard_plugin_sdk::trace::TracedSend as _;

use serde_json::{Value, json};
use switchyard_plugin_sdk::net_policy::NetworkPolicy;
use switchyard_plugin_sdk::net_policy::shared::SharedClient;
use switchyard_plugin_sdk::template::TemplateCache;
use switchyard_plugin_sdk::{
    Capabilities, DeliveryContext, DeliveryResult, Diagnostic, Documentation, NoConnection,
    Provider, REDACTED, RenderedRequest, TestTarget,
};

use crate::blocks::message;
use crate::config::{WebhookConfig, webhook_problems, webhook_url_problem};

/// The request one delivery sends. Its `Debug` shows the masked URL only.
#[derive(Clone, PartialEq)]
pub struct Outgoing {
    /// Where it goes (holds the webhook's token).
    pub url: String,
    /// The same URL with the token masked.
    pub masked_url: String,
    /// The JSON body.
    pub body: Value,
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing")
            .field("url", &self.masked_url)
            .field("body", &self.body)
            .finish()
    }
}

/// The URL to post to (the webhook URL, or its path under `apiBaseUrl`) and its masked form.
fn target(config: &WebhookConfig) -> Result<(String, String), Diagnostic> {
    let raw = config.webhook_url.expose();
    let overridden = config.api_base_url.is_some();
    let bad = |why: &str| Diagnostic::new("/webhookUrl", why);
    if let Some(why) = webhook_url_problem(raw, overridden) {
        return Err(bad(why));
    }
    let url = reqwest::Url::parse(raw).map_err(|_| bad("must be a URL"))?;
    let base = match &config.api_base_url {
        Some(base) => base.trim_end_matches('/').to_owned(),
        None => format!("https://{}", url.host_str().unwrap_or_default()),
    };
    let path = url.path();
    let full = match url.query() {
        Some(q) => format!("{base}{path}?{q}"),
        None => format!("{base}{path}"),
    };
    let kept = path.rsplit_once('/').map_or("", |(head, _)| head);
    Ok((full, format!("{base}{kept}/{REDACTED}")))
}

/// Builds the request of one delivery.
///
/// # Errors
/// A diagnostic when the webhook URL is unusable or a template fails.
pub fn outgoing(
    ctx: &DeliveryContext<WebhookConfig, NoConnection>,
    templates: &TemplateCache,
) -> Result<Outgoing, Diagnostic> {
    let (url, masked_url) = target(&ctx.config)?;
    let config = &ctx.config;
    let message = message(ctx, config.look(), templates, false).map_err(|e| e.diagnostic())?;
    let mut body = json!({
        "text": message.text,
        "attachments": message.attachments,
        "username": config.username,
        "icon_emoji": config.icon_emoji,
        "unfurl_links": false,
    });
    if let Some(channel) = &config.channel {
        body["channel"] = json!(channel);
    }
    Ok(Outgoing {
        url,
        masked_url,
        body,
    })
}

/// The incoming-webhook provider.
#[derive(Debug, Clone)]
pub struct SlackWebhook {
    client: SharedClient,
    templates: Arc<TemplateCache>,
}

impl SlackWebhook {
    /// A provider held to the network policy of its environment.
    #[must_use]
    pub fn new(templates: Arc<TemplateCache>) -> Self {
        Self {
            client: SharedClient::from_env(),
            templates,
        }
    }

    /// A provider held to `policy` (in-process tests).
    #[must_use]
    pub fn with_policy(policy: NetworkPolicy) -> Self {
        Self {
            client: SharedClient::with_policy(policy),
            templates: Arc::default(),
        }
    }
}

impl Provider for SlackWebhook {
    type Config = WebhookConfig;
    type Connection = NoConnection;

    fn id(&self) -> &'static str {
        "webhook"
    }

    fn display_name(&self) -> &'static str {
        "Slack (incoming webhook)"
    }

    fn description(&self) -> &'static str {
        "Posts a formatted message per event to the Slack channel of an incoming webhook."
    }

    fn icon(&self) -> &'static str {
        "slack"
    }

    fn documentation(&self) -> Documentation {
        crate::docs::webhook()
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
            TestTarget::Config { config, .. } => webhook_problems(&config, &self.templates),
            TestTarget::Connection(_) => Vec::new(),
        }
    }

    async fn preview(
        &self,
        ctx: DeliveryContext<WebhookConfig, NoConnection>,
    ) -> Result<RenderedRequest, Vec<Diagnostic>> {
        let found = webhook_problems(&ctx.config, &self.templates);
        if !found.is_empty() {
            return Err(found);
        }
        let out = outgoing(&ctx, &self.templates).map_err(|d| vec![d])?;
        Ok(RenderedRequest {
            method: "POST".into(),
            url: out.masked_url,
            headers: vec![("content-type".into(), "application/json".into())],
            body: out.body.to_string(),
        })
    }

    async fn deliver(&self, ctx: DeliveryContext<WebhookConfig, NoConnection>) -> DeliveryResult {
        let out = match outgoing(&ctx, &self.templates) {
            Ok(out) => out,
            Err(problem) => return DeliveryResult::permanent(problem.to_string()),
        };
        let client = match self.client.get().await {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(%error, "cannot build the HTTP client");
                return DeliveryResult::retryable("the plugin cannot build its HTTP client");
            }
        };
        let request = match client.post(&out.url) {
            Ok(request) => request,
            Err(refusal) => return DeliveryResult::from(refusal),
        };
        let response = request
            .json(&out.body)
            .timeout(Duration::from_millis(u64::from(ctx.config.timeout_ms)))
            .send_traced()
            .await;
        crate::answer::webhook(response).await
    }
}
