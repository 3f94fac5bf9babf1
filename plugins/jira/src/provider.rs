//! The Jira provider: the SDK's `Provider` over a shared connection. `deliver` follows the
//! incident's lifecycle on one issue (`flow.rs`); `test_connection` asks Jira whom the token
//! belongs to and whether the config's project can create its issue type (`probe.rs`); the
//! resolvers list projects, issue types, priorities and fields (`resolvers.rs`);
//! `validate_config` checks what the schema cannot (templates compile, mappings do not clash,
//! the site URL); `preview` renders the first request a delivery would send, basic auth
//! masked.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use switchyard_plugin_sdk::http::PolicyClient;
use switchyard_plugin_sdk::net_policy::NetworkPolicy;
use switchyard_plugin_sdk::net_policy::shared::SharedClient;
use switchyard_plugin_sdk::template::{Limits, TemplateCache};
use switchyard_plugin_sdk::{
    Capabilities, ConnectionOption, DeliveryContext, DeliveryResult, Diagnostic, Documentation,
    OptionsRequest, Provider, REDACTED, RenderedRequest, TestConnectionResult, TestTarget,
};

use crate::api::{Failure, Jira, api_path, url_of};
use crate::config::{DEFAULT_TIMEOUT_MS, JiraConfig, JiraConnection};
use crate::issue::{self, Ctx};
use crate::{flow, meta, probe, resolvers, validate};

/// The Jira provider: one shared client held to the network policy, one template cache.
#[derive(Debug, Clone)]
pub struct JiraProvider {
    client: SharedClient,
    templates: Arc<TemplateCache>,
}

impl JiraProvider {
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

    async fn client(&self) -> Result<&PolicyClient, Failure> {
        self.client.get().await.map_err(|error| {
            tracing::error!(%error, "cannot build the HTTP client");
            Failure(DeliveryResult::retryable(
                "the plugin cannot build its HTTP client",
            ))
        })
    }

    /// The request a delivery of `ctx` sends first: a comment on the known issue, else the
    /// new issue (reading the create metadata when fields are mapped).
    async fn first_request(&self, ctx: &Ctx) -> Result<(Vec<String>, Value), Vec<Diagnostic>> {
        let diagnose = |f: Failure| vec![Diagnostic::new("", f.to_string())];
        if let Some(key) = flow::known_issue(ctx.correlation.as_ref()) {
            let body =
                issue::comment_body(ctx, &self.templates).map_err(|e| vec![e.diagnostic()])?;
            return Ok((api_path(&["issue", &key, "comment"]), body));
        }
        let metas = if ctx.config.field_mappings.is_empty() {
            Vec::new()
        } else {
            let client = self.client().await.map_err(diagnose)?;
            let jira = Jira::new(client, &ctx.connection, timeout(&ctx.config));
            meta::fields(&jira, &ctx.config.project_key, &ctx.config.issue_type_id)
                .await
                .map_err(diagnose)?
        };
        let body =
            issue::create_body(ctx, &self.templates, &metas).map_err(|e| vec![e.diagnostic()])?;
        Ok((api_path(&["issue"]), body))
    }
}

impl Default for JiraProvider {
    fn default() -> Self {
        Self::new()
    }
}

fn timeout(config: &JiraConfig) -> Duration {
    Duration::from_millis(u64::from(config.timeout_ms))
}

impl Provider for JiraProvider {
    type Config = JiraConfig;
    type Connection = JiraConnection;

    fn id(&self) -> &'static str {
        "jira"
    }

    fn display_name(&self) -> &'static str {
        "Jira Cloud"
    }

    fn description(&self) -> &'static str {
        "Creates a Jira issue per incident, comments on it as the incident changes and transitions it when it is resolved."
    }

    fn icon(&self) -> &'static str {
        "ticket"
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

    async fn deliver(&self, ctx: DeliveryContext<JiraConfig, JiraConnection>) -> DeliveryResult {
        let client = match self.client().await {
            Ok(client) => client,
            Err(failure) => return failure.into(),
        };
        let jira = Jira::new(client, &ctx.connection, timeout(&ctx.config));
        let result = flow::deliver(&jira, &ctx, &self.templates).await;
        tracing::debug!(outcome = ?result.outcome, "jira delivery done");
        result
    }

    async fn test_connection(
        &self,
        target: TestTarget<JiraConfig, JiraConnection>,
    ) -> TestConnectionResult {
        let (connection, config) = match &target {
            TestTarget::Config { config, connection } => (connection, Some(config)),
            TestTarget::Connection(connection) => (connection, None),
        };
        let client = match self.client().await {
            Ok(client) => client,
            Err(failure) => return TestConnectionResult::failed(failure.to_string()),
        };
        let jira = Jira::new(
            client,
            connection,
            Duration::from_millis(DEFAULT_TIMEOUT_MS.into()),
        );
        probe::test(&jira, connection, config).await
    }

    async fn get_connection_options(
        &self,
        request: OptionsRequest<JiraConnection>,
    ) -> Result<Vec<ConnectionOption>, Vec<Diagnostic>> {
        let diagnose = |f: Failure| vec![Diagnostic::new("", f.to_string())];
        let client = self.client().await.map_err(diagnose)?;
        let jira = Jira::new(
            client,
            &request.connection,
            Duration::from_millis(DEFAULT_TIMEOUT_MS.into()),
        );
        resolvers::options(&jira, &request.resolver, &request.context)
            .await
            .map_err(diagnose)
    }

    async fn validate_config(
        &self,
        target: TestTarget<JiraConfig, JiraConnection>,
    ) -> Vec<Diagnostic> {
        match target {
            TestTarget::Config { config, .. } => validate::config(&config, &self.templates),
            TestTarget::Connection(connection) => validate::connection(&connection),
        }
    }

    async fn preview(
        &self,
        ctx: DeliveryContext<JiraConfig, JiraConnection>,
    ) -> Result<RenderedRequest, Vec<Diagnostic>> {
        let found = validate::config(&ctx.config, &self.templates);
        if !found.is_empty() {
            return Err(found);
        }
        let (segments, body) = self.first_request(&ctx).await?;
        let url = url_of(&ctx.connection, &segments, &[])
            .map_err(|f| vec![Diagnostic::new("", f.to_string())])?;
        Ok(RenderedRequest {
            method: "POST".into(),
            url: url.to_string(),
            headers: vec![
                ("authorization".into(), format!("Basic {REDACTED}")),
                ("accept".into(), "application/json".into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: body.to_string(),
        })
    }
}
