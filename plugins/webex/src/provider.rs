//! The Webex provider: posts each event's [`Outgoing`] message with the connection's bot
//! token and keeps `{roomId, messageId}` of a thread's first message as correlation state, so
//! the events that follow reply in that thread. Also: the connection test (`GET /people/me`),
//! the room picker (`rooms`, every page), save-time checks and a preview with the token masked.

use std::sync::Arc;

use reqwest::Url;
use switchyard_plugin_sdk::net_policy::NetworkPolicy;
use switchyard_plugin_sdk::net_policy::shared::SharedClient;
use switchyard_plugin_sdk::template::{Limits, TemplateCache};
use switchyard_plugin_sdk::{
    Capabilities, ConnectionOption, DeliveryContext, DeliveryResult, Diagnostic, Documentation,
    OptionsRequest, Outcome, Provider, REDACTED, RenderedRequest, TestConnectionResult, TestTarget,
};

use crate::api::Webex;
use crate::config::{WebexConfig, WebexConnection};
use crate::message::{Thread, outgoing};

/// The Webex provider: one shared client held to the network policy, one template cache.
#[derive(Debug, Clone)]
pub struct WebexProvider {
    client: SharedClient,
    templates: Arc<TemplateCache>,
}

impl WebexProvider {
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

impl Default for WebexProvider {
    fn default() -> Self {
        Self::new()
    }
}

/// What the schemas cannot say about a connection: the token is there, the base URL is http(s).
fn connection_problems(connection: &WebexConnection) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    if connection.bot_token.expose().trim().is_empty() {
        found.push(Diagnostic::new(
            "/botToken",
            "must be the bot's access token (developer.webex.com → My Webex Apps)",
        ));
    }
    if let Some(base) = &connection.base_url
        && Url::parse(base).map_or(true, |u| !matches!(u.scheme(), "http" | "https"))
    {
        found.push(Diagnostic::new(
            "/baseUrl",
            "must be an http(s) URL, e.g. https://webexapis.com/v1",
        ));
    }
    found
}

/// What the schema cannot say about a subscription config: its template compiles.
fn config_problems(config: &WebexConfig, templates: &TemplateCache) -> Vec<Diagnostic> {
    match &config.markdown_template {
        Some(source) => templates
            .get("/markdownTemplate", source)
            .err()
            .map(|e| e.diagnostic())
            .into_iter()
            .collect(),
        None => Vec::new(),
    }
}

impl WebexProvider {
    async fn api_client(&self) -> Result<&switchyard_plugin_sdk::http::PolicyClient, String> {
        self.client.get().await.map_err(|error| {
            tracing::error!(%error, "cannot build the HTTP client");
            "the plugin cannot build its HTTP client".to_owned()
        })
    }
}

impl Provider for WebexProvider {
    type Config = WebexConfig;
    type Connection = WebexConnection;

    fn id(&self) -> &'static str {
        "webex"
    }

    fn display_name(&self) -> &'static str {
        "Webex"
    }

    fn description(&self) -> &'static str {
        "Posts each event as a Markdown message of a Webex bot in a room; an incident's updates and resolution reply in its thread."
    }

    fn icon(&self) -> &'static str {
        "message-square"
    }

    fn documentation(&self) -> Documentation {
        crate::docs::documentation()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            test_connection: true,
            connection_options: true,
            validate_config: true,
            preview: true,
            ..Capabilities::NONE
        }
    }

    async fn validate_config(
        &self,
        target: TestTarget<WebexConfig, WebexConnection>,
    ) -> Vec<Diagnostic> {
        match target {
            TestTarget::Config { config, .. } => config_problems(&config, &self.templates),
            TestTarget::Connection(connection) => connection_problems(&connection),
        }
    }

    async fn test_connection(
        &self,
        target: TestTarget<WebexConfig, WebexConnection>,
    ) -> TestConnectionResult {
        let connection = match target {
            TestTarget::Config { connection, .. } | TestTarget::Connection(connection) => {
                connection
            }
        };
        let client = match self.api_client().await {
            Ok(client) => client,
            Err(text) => return TestConnectionResult::failed(text),
        };
        match Webex::new(client, &connection).me().await {
            Ok(me) => {
                let name = me
                    .get("displayName")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("the bot");
                TestConnectionResult::ok(format!("Connected as {name}"))
                    .with_details(serde_json::json!({"displayName": me.get("displayName"),
                                       "emails": me.get("emails"), "type": me.get("type")}))
            }
            Err(text) => TestConnectionResult::failed(text),
        }
    }

    async fn get_connection_options(
        &self,
        request: OptionsRequest<WebexConnection>,
    ) -> Result<Vec<ConnectionOption>, Vec<Diagnostic>> {
        // The schema names one resolver, `rooms`; the SDK refuses every other name.
        let client = self
            .api_client()
            .await
            .map_err(|t| vec![Diagnostic::new("", t)])?;
        Webex::new(client, &request.connection)
            .rooms()
            .await
            .map_err(|text| vec![Diagnostic::new("/roomId", text)])
    }

    async fn preview(
        &self,
        ctx: DeliveryContext<WebexConfig, WebexConnection>,
    ) -> Result<RenderedRequest, Vec<Diagnostic>> {
        let mut found = config_problems(&ctx.config, &self.templates);
        found.extend(
            connection_problems(&ctx.connection)
                .into_iter()
                .map(|d| Diagnostic::new(format!("/connection{}", d.json_path), d.message)),
        );
        if !found.is_empty() {
            return Err(found);
        }
        let out = outgoing(&ctx, &self.templates).map_err(|e| vec![e.diagnostic()])?;
        Ok(RenderedRequest {
            method: "POST".into(),
            url: format!("{}/messages", ctx.connection.base()),
            headers: vec![
                ("authorization".into(), format!("Bearer {REDACTED}")),
                ("content-type".into(), "application/json".into()),
            ],
            body: out.body.to_string(),
        })
    }

    async fn deliver(&self, ctx: DeliveryContext<WebexConfig, WebexConnection>) -> DeliveryResult {
        let out = match outgoing(&ctx, &self.templates) {
            Ok(out) => out,
            // Permanent: the same template and event fail the same way on every attempt.
            Err(error) => return DeliveryResult::from(error),
        };
        let client = match self.api_client().await {
            Ok(client) => client,
            Err(text) => return DeliveryResult::retryable(text),
        };
        let result = Webex::new(client, &ctx.connection)
            .post_message(&out.body)
            .await;
        tracing::debug!(stage = ?out.stage, reply = out.parent_id.is_some(),
                        outcome = ?result.outcome, "webex message sent");
        match (&result.outcome, out.parent_id) {
            // A thread's first message: the events that follow reply to it.
            (
                Outcome::Delivered {
                    external_id: Some(id),
                },
                None,
            ) => {
                let thread = Thread {
                    room_id: ctx.config.room_id.clone(),
                    message_id: id.clone(),
                };
                result.with_state(thread.to_state())
            }
            _ => result,
        }
    }
}
