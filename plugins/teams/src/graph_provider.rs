//! The Graph provider (`teams.graph`): posts each event's Adaptive Card as a channel message
//! through Microsoft Graph with an app's client-credentials token (cached, see
//! [`crate::token`]), and the later events of an incident as replies to the message its first
//! event posted (`{teamId, channelId, messageId}` kept as correlation state). Also: the team
//! and channel pickers, the connection test (a token, then one team listed), save-time checks
//! and a preview with the token masked.

use std::sync::Arc;

use switchyard_plugin_sdk::http::PolicyClient;
use switchyard_plugin_sdk::net_policy::NetworkPolicy;
use switchyard_plugin_sdk::net_policy::shared::SharedClient;
use switchyard_plugin_sdk::template::TemplateCache;
use switchyard_plugin_sdk::{
    Capabilities, ConnectionOption, DeliveryContext, DeliveryResult, Diagnostic, Documentation,
    OptionsRequest, Outcome, Provider, REDACTED, RenderedRequest, TestConnectionResult, TestTarget,
};

use crate::config::{GraphConfig, GraphConnection};
use crate::graph::{Graph, graph_url};
use crate::message::{GraphThread, graph_outgoing};
use crate::token::{Clock, SystemClock, TokenCache};

/// The Graph provider: one shared client held to the network policy, one token cache, one
/// template cache.
#[derive(Debug, Clone)]
pub struct GraphProvider {
    client: SharedClient,
    tokens: Arc<TokenCache>,
    templates: Arc<TemplateCache>,
}

impl GraphProvider {
    /// A provider held to the network policy of its environment, on the system clock.
    #[must_use]
    pub fn new() -> Self {
        Self::held_to(SharedClient::from_env(), Arc::new(SystemClock))
    }

    /// A provider held to `policy` whose tokens expire by `clock` (in-process tests).
    #[must_use]
    pub fn with_policy(policy: NetworkPolicy, clock: Arc<dyn Clock>) -> Self {
        Self::held_to(SharedClient::with_policy(policy), clock)
    }

    fn held_to(client: SharedClient, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            tokens: Arc::new(TokenCache::new(clock)),
            templates: Arc::new(TemplateCache::default()),
        }
    }

    async fn http(&self) -> Result<&PolicyClient, String> {
        self.client.get().await.map_err(|error| {
            tracing::error!(%error, "cannot build the HTTP client");
            "the plugin cannot build its HTTP client".to_owned()
        })
    }

    /// The options of `resolver` for `connection`, with the form's values in `context`.
    async fn options(
        &self,
        resolver: &str,
        connection: &GraphConnection,
        context: &serde_json::Value,
    ) -> Result<Vec<ConnectionOption>, Diagnostic> {
        let (path, url) = match resolver {
            "channels" => {
                let team = context
                    .get("teamId")
                    .and_then(serde_json::Value::as_str)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| Diagnostic::new("/teamId", "pick a team first"))?;
                let url = graph_url(connection, &["teams", team, "channels"]);
                (
                    "/channelId",
                    url.map(|mut u| {
                        u.set_query(Some("$select=id,displayName,membershipType"));
                        u
                    }),
                )
            }
            _ => (
                "/teamId",
                graph_url(connection, &["teams"]).map(|mut u| {
                    u.set_query(Some("$select=id,displayName,description"));
                    u
                }),
            ),
        };
        let url = url.map_err(|m| Diagnostic::new("/connection/graphBaseUrl", m))?;
        let client = self.http().await.map_err(|m| Diagnostic::new("", m))?;
        Graph::new(client, connection, &self.tokens)
            .list(url)
            .await
            .map_err(|m| Diagnostic::new(path, m))
    }
}

impl Default for GraphProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl Provider for GraphProvider {
    type Config = GraphConfig;
    type Connection = GraphConnection;

    fn id(&self) -> &'static str {
        "graph"
    }

    fn display_name(&self) -> &'static str {
        "Microsoft Teams (Graph)"
    }

    fn description(&self) -> &'static str {
        "Posts each event as an Adaptive Card in a Teams channel through Microsoft Graph; an incident's updates and resolution reply in its thread."
    }

    fn icon(&self) -> &'static str {
        "message-square"
    }

    fn documentation(&self) -> Documentation {
        crate::docs::graph()
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
        target: TestTarget<GraphConfig, GraphConnection>,
    ) -> Vec<Diagnostic> {
        match target {
            TestTarget::Config { config, .. } => {
                crate::checks::graph_config(&config, &self.templates)
            }
            TestTarget::Connection(connection) => crate::checks::graph_connection(&connection),
        }
    }

    async fn test_connection(
        &self,
        target: TestTarget<GraphConfig, GraphConnection>,
    ) -> TestConnectionResult {
        let (TestTarget::Config { connection, .. } | TestTarget::Connection(connection)) = target;
        let client = match self.http().await {
            Ok(client) => client,
            Err(text) => return TestConnectionResult::failed(text),
        };
        match Graph::new(client, &connection, &self.tokens).probe().await {
            Ok(Some(team)) => TestConnectionResult::ok(format!(
                "Signed in as the app and listed teams (first: {team})"
            )),
            Ok(None) => TestConnectionResult::ok(
                "Signed in as the app; it sees no team yet (check Team.ReadBasic.All)",
            ),
            Err(text) => TestConnectionResult::failed(text),
        }
    }

    async fn get_connection_options(
        &self,
        request: OptionsRequest<GraphConnection>,
    ) -> Result<Vec<ConnectionOption>, Vec<Diagnostic>> {
        self.options(&request.resolver, &request.connection, &request.context)
            .await
            .map_err(|d| vec![d])
    }

    async fn preview(
        &self,
        ctx: DeliveryContext<GraphConfig, GraphConnection>,
    ) -> Result<RenderedRequest, Vec<Diagnostic>> {
        let mut found = crate::checks::graph_config(&ctx.config, &self.templates);
        found.extend(
            crate::checks::graph_connection(&ctx.connection)
                .into_iter()
                .map(|d| Diagnostic::new(format!("/connection{}", d.json_path), d.message)),
        );
        if !found.is_empty() {
            return Err(found);
        }
        let out = graph_outgoing(&ctx, &self.templates).map_err(|e| vec![e.diagnostic()])?;
        let segments: Vec<&str> = out.segments.iter().map(String::as_str).collect();
        let url = graph_url(&ctx.connection, &segments)
            .map_err(|m| vec![Diagnostic::new("/connection/graphBaseUrl", m)])?;
        Ok(RenderedRequest {
            method: "POST".into(),
            url: url.to_string(),
            headers: vec![
                ("authorization".into(), format!("Bearer {REDACTED}")),
                ("content-type".into(), "application/json".into()),
            ],
            body: out.body.to_string(),
        })
    }

    async fn deliver(&self, ctx: DeliveryContext<GraphConfig, GraphConnection>) -> DeliveryResult {
        let out = match graph_outgoing(&ctx, &self.templates) {
            Ok(out) => out,
            // Permanent: the same template and event fail the same way on every attempt.
            Err(error) => return DeliveryResult::from(error),
        };
        let segments: Vec<&str> = out.segments.iter().map(String::as_str).collect();
        let url = match graph_url(&ctx.connection, &segments) {
            Ok(url) => url,
            Err(problem) => return DeliveryResult::permanent(problem),
        };
        let client = match self.http().await {
            Ok(client) => client,
            Err(text) => return DeliveryResult::retryable(text),
        };
        let result = Graph::new(client, &ctx.connection, &self.tokens)
            .post(&url, &out.body)
            .await;
        tracing::debug!(reply = out.reply_to.is_some(), outcome = ?result.outcome,
                        "teams graph message sent");
        match (&result.outcome, out.reply_to) {
            // A thread's first message: the events that follow reply to it.
            (
                Outcome::Delivered {
                    external_id: Some(id),
                },
                None,
            ) => {
                let thread = GraphThread {
                    team_id: ctx.config.team_id.clone(),
                    channel_id: ctx.config.channel_id.clone(),
                    message_id: id.clone(),
                };
                result.with_state(thread.to_state())
            }
            _ => result,
        }
    }
}
