//! The Discord provider: sends the [`Outgoing`] requests of each event and turns Discord's
//! answers into one outcome. The first post of an incident returns its message id as external
//! id and keeps it as correlation state; an edit whose message was deleted posts a new one
//! instead. `test_connection` is the harmless probe Discord offers: `GET` on the webhook with
//! its token, which names the webhook and its channel, or says it was deleted.

use std::sync::Arc;
use std::time::Duration;
use switchyard_plugin_sdk::trace::TracedSend as _;

use switchyard_plugin_sdk::net_policy::NetworkPolicy;
use switchyard_plugin_sdk::net_policy::shared::SharedClient;
use switchyard_plugin_sdk::template::TemplateCache;
use switchyard_plugin_sdk::{
    Capabilities, DeliveryContext, DeliveryResult, Diagnostic, Documentation, NoConnection,
    Provider, RenderedRequest, TestConnectionResult, TestTarget,
};

use crate::answer::{Answer, read, read_json};
use crate::config::{DiscordConfig, WebhookAddress, problems};
use crate::request::{Kind, Outgoing, Posted, outgoing, post_request};

/// The Discord provider: one pooled client held to the network policy, one template cache.
#[derive(Debug, Clone, Default)]
pub struct DiscordProvider {
    client: SharedClient,
    templates: Arc<TemplateCache>,
}

impl DiscordProvider {
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

    async fn send(&self, out: &Outgoing, timeout_ms: u32) -> Answer {
        let client = match self.client.get().await {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(%error, "cannot build the HTTP client");
                return Answer::Failed(DeliveryResult::retryable(
                    "the plugin cannot build its HTTP client",
                ));
            }
        };
        let method = match out.kind {
            Kind::Post => reqwest::Method::POST,
            Kind::Edit(_) => reqwest::Method::PATCH,
        };
        let request = match client.request(method, &out.url) {
            Ok(request) => request,
            Err(refusal) => return Answer::Failed(DeliveryResult::from(refusal)),
        };
        let response = request
            .json(&out.body)
            .timeout(Duration::from_millis(u64::from(timeout_ms)))
            .send_traced()
            .await;
        read(response).await
    }

    /// `GET /webhooks/{id}/{token}`: the webhook, as Discord knows it.
    async fn probe(&self, config: &DiscordConfig) -> TestConnectionResult {
        let address =
            match WebhookAddress::parse(config.webhook_url.expose(), config.api_base_url.is_some())
            {
                Ok(address) => address,
                Err(why) => return TestConnectionResult::failed(format!("/webhookUrl: {why}")),
            };
        let Ok(client) = self.client.get().await else {
            return TestConnectionResult::failed("the plugin cannot build its HTTP client");
        };
        let url = format!(
            "{}/webhooks/{}/{}",
            config.base(),
            address.id,
            address.token
        );
        let request = match client.get(&url) {
            Ok(request) => request,
            Err(refusal) => return TestConnectionResult::failed(refusal.to_string()),
        };
        let timeout = Duration::from_millis(u64::from(config.timeout_ms));
        match read_json(request.timeout(timeout).send_traced().await).await {
            Ok(hook) => {
                let text = |k: &str| {
                    hook.get(k)
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or("?")
                        .to_owned()
                };
                TestConnectionResult::ok(format!("Webhook \"{}\" posts to channel {}", text("name"), text("channel_id")))
                    .with_details(serde_json::json!({"name": text("name"), "channelId": text("channel_id"), "guildId": text("guild_id")}))
            }
            Err(Answer::Failed(failure)) => TestConnectionResult::failed(
                failure
                    .error()
                    .unwrap_or("Discord refused the call")
                    .to_owned(),
            ),
            Err(_) => TestConnectionResult::failed("Discord answered 404"),
        }
    }

    /// A new message in place of an edited one that was deleted.
    async fn repost(&self, ctx: &DeliveryContext<DiscordConfig, NoConnection>) -> DeliveryResult {
        let config = &ctx.config;
        let post =
            WebhookAddress::parse(config.webhook_url.expose(), config.api_base_url.is_some())
                .map_err(|why| Diagnostic::new("/webhookUrl", why))
                .and_then(|address| post_request(ctx, &self.templates, &address));
        match post {
            Ok(post) => self.finish(&post, self.send(&post, config.timeout_ms).await, true),
            Err(problem) => DeliveryResult::permanent(problem.to_string()),
        }
    }

    /// The result of one answer. `first`: a post that starts the incident's message.
    fn finish(&self, out: &Outgoing, answer: Answer, first: bool) -> DeliveryResult {
        match (answer, &out.kind) {
            (Answer::Sent(id), Kind::Post) => {
                let result = DeliveryResult::delivered(id.clone()).with_status(200);
                match id {
                    Some(id) if first => result.with_state(
                        serde_json::to_string(&Posted { message_id: id }).unwrap_or_default(),
                    ),
                    _ => result,
                }
            }
            (Answer::Sent(_), Kind::Edit(id)) => {
                DeliveryResult::delivered(Some(id.clone())).with_status(200)
            }
            (Answer::MessageGone, _) => DeliveryResult::permanent("Discord: unknown message"),
            (Answer::Failed(failure), _) => failure,
        }
    }
}

impl Provider for DiscordProvider {
    type Config = DiscordConfig;
    type Connection = NoConnection;

    fn id(&self) -> &'static str {
        "webhook"
    }

    fn display_name(&self) -> &'static str {
        "Discord"
    }

    fn description(&self) -> &'static str {
        "Posts an embed per incident to a Discord channel through a webhook, and edits it as the incident is updated and resolved."
    }

    fn icon(&self) -> &'static str {
        "message-circle"
    }

    fn documentation(&self) -> Documentation {
        crate::docs::documentation()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            test_connection: true,
            validate_config: true,
            preview: true,
            ..Capabilities::NONE
        }
    }

    async fn validate_config(
        &self,
        target: TestTarget<DiscordConfig, NoConnection>,
    ) -> Vec<Diagnostic> {
        match target {
            TestTarget::Config { config, .. } => problems(&config, &self.templates),
            TestTarget::Connection(_) => Vec::new(),
        }
    }

    async fn test_connection(
        &self,
        target: TestTarget<DiscordConfig, NoConnection>,
    ) -> TestConnectionResult {
        match target {
            TestTarget::Config { config, .. } => self.probe(&config).await,
            TestTarget::Connection(_) => {
                TestConnectionResult::failed("Discord webhooks have no connection to test")
            }
        }
    }

    async fn preview(
        &self,
        ctx: DeliveryContext<DiscordConfig, NoConnection>,
    ) -> Result<RenderedRequest, Vec<Diagnostic>> {
        let found = problems(&ctx.config, &self.templates);
        if !found.is_empty() {
            return Err(found);
        }
        let out = outgoing(&ctx, &self.templates).map_err(|d| vec![d])?;
        let first = out
            .into_iter()
            .next()
            .ok_or_else(|| vec![Diagnostic::new("", "nothing to send")])?;
        Ok(RenderedRequest {
            method: first.method().into(),
            url: first.masked_url,
            headers: vec![("content-type".into(), "application/json".into())],
            body: first.body.to_string(),
        })
    }

    async fn deliver(&self, ctx: DeliveryContext<DiscordConfig, NoConnection>) -> DeliveryResult {
        let requests = match outgoing(&ctx, &self.templates) {
            Ok(requests) => requests,
            Err(problem) => return DeliveryResult::permanent(problem.to_string()),
        };
        let first = Posted::of(&ctx).is_none();
        let mut result = DeliveryResult::permanent("nothing to send");
        for out in &requests {
            let answer = self.send(out, ctx.config.timeout_ms).await;
            result = match answer {
                Answer::MessageGone if requests.len() == 1 => self.repost(&ctx).await,
                // Edit-and-post: the post that follows is the new message.
                Answer::MessageGone => continue,
                answer => self.finish(out, answer, first),
            };
            if !result.is_delivered() {
                return result;
            }
        }
        result
    }
}
