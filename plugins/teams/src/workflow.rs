//! The Workflows provider (`teams.workflow`): posts each event's Adaptive Card to the HTTP URL
//! of a Teams workflow. The workflow answers 202 without an id, so a delivery has no external
//! id and nothing to thread on: an event that follows an earlier one says so on its card.
//! 400 (the workflow refused the card), 401/403 (a wrong signature, a disabled flow) and 404
//! (the workflow was deleted) are permanent, with what to fix; 429 waits as asked; 5xx retries.

use std::sync::Arc;
use std::time::Duration;
use switchyard_plugin_sdk::trace::TracedSend as _;

use reqwest::Url;
use switchyard_plugin_sdk::net_policy::NetworkPolicy;
use switchyard_plugin_sdk::net_policy::shared::SharedClient;
use switchyard_plugin_sdk::template::TemplateCache;
use switchyard_plugin_sdk::{
    Capabilities, DeliveryContext, DeliveryResult, Diagnostic, Documentation, NoConnection,
    Outcome, Provider, REDACTED, RenderedRequest, TestTarget, http,
};

use crate::config::WorkflowConfig;
use crate::message::workflow_body;

/// The Workflows provider: one shared client held to the network policy, one template cache.
#[derive(Debug, Clone)]
pub struct WorkflowProvider {
    client: SharedClient,
    templates: Arc<TemplateCache>,
}

impl WorkflowProvider {
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
        Self {
            client,
            templates: Arc::new(TemplateCache::default()),
        }
    }
}

impl Default for WorkflowProvider {
    fn default() -> Self {
        Self::new()
    }
}

/// What to tell the user about a permanent answer of a workflow.
fn hint(status: u16) -> Option<&'static str> {
    match status {
        400 => Some("the workflow refused the card: check the flow's \"Post card\" action"),
        401 | 403 => Some(
            "the workflow refused the URL's signature, or the flow is turned off: copy the URL \
             of its \"When a Teams webhook request is received\" trigger again",
        ),
        404 => Some("the workflow was deleted: create it again and paste its new URL"),
        _ => None,
    }
}

/// The webhook URL as shown in a preview: its origin; the rest (path and `sig`) is the secret.
fn masked(url: &str) -> String {
    Url::parse(url).map_or_else(
        |_| REDACTED.to_owned(),
        |u| format!("{}/{REDACTED}", u.origin().ascii_serialization()),
    )
}

impl WorkflowProvider {
    async fn post(&self, config: &WorkflowConfig, body: &serde_json::Value) -> DeliveryResult {
        let client = match self.client.get().await {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(%error, "cannot build the HTTP client");
                return DeliveryResult::retryable("the plugin cannot build its HTTP client");
            }
        };
        if Url::parse(config.webhook_url.expose()).is_err() {
            // Never quoted: the URL is the credential.
            return DeliveryResult::permanent("invalid config: /webhookUrl is not a valid URL");
        }
        let request = match client.post(config.webhook_url.expose()) {
            Ok(request) => request,
            Err(refusal) => return DeliveryResult::from(refusal),
        };
        let response = request
            .json(body)
            .timeout(Duration::from_millis(u64::from(config.timeout_ms)))
            .send_traced()
            .await;
        // A workflow answers 202 Accepted with no id.
        let mut result = http::delivery_result(response, |_| None).await;
        if let (Outcome::Permanent { error }, Some(status)) =
            (&mut result.outcome, result.status_code)
            && let Some(hint) = hint(status)
        {
            error.push_str(" — ");
            error.push_str(hint);
        }
        result
    }
}

impl Provider for WorkflowProvider {
    type Config = WorkflowConfig;
    type Connection = NoConnection;

    fn id(&self) -> &'static str {
        "workflow"
    }

    fn display_name(&self) -> &'static str {
        "Microsoft Teams (Workflows webhook)"
    }

    fn description(&self) -> &'static str {
        "Posts each event as an Adaptive Card to a Teams channel or chat through a Teams workflow's webhook URL."
    }

    fn icon(&self) -> &'static str {
        "message-square"
    }

    fn documentation(&self) -> Documentation {
        crate::docs::workflow()
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
        target: TestTarget<WorkflowConfig, NoConnection>,
    ) -> Vec<Diagnostic> {
        match target {
            TestTarget::Config { config, .. } => crate::checks::workflow(&config, &self.templates),
            TestTarget::Connection(_) => Vec::new(),
        }
    }

    async fn preview(
        &self,
        ctx: DeliveryContext<WorkflowConfig, NoConnection>,
    ) -> Result<RenderedRequest, Vec<Diagnostic>> {
        let found = crate::checks::workflow(&ctx.config, &self.templates);
        if !found.is_empty() {
            return Err(found);
        }
        let body = workflow_body(&ctx, &self.templates).map_err(|e| vec![e.diagnostic()])?;
        Ok(RenderedRequest {
            method: "POST".into(),
            url: masked(ctx.config.webhook_url.expose()),
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        })
    }

    async fn deliver(&self, ctx: DeliveryContext<WorkflowConfig, NoConnection>) -> DeliveryResult {
        let body = match workflow_body(&ctx, &self.templates) {
            Ok(body) => body,
            // Permanent: the same template and event fail the same way on every attempt.
            Err(error) => return DeliveryResult::from(error),
        };
        self.post(&ctx.config, &body).await
    }
}
