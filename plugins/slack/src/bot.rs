//! `slack.bot`: posts with a bot connection through `chat.postMessage`. An incident's first
//! event starts a message whose channel and `ts` are kept as correlation state; its later
//! events reply in that thread (`thread_ts`), and its "resolved" reply is also shown in the
//! channel (`reply_broadcast`) unless the config says `onResolve: thread`; before that reply,
//! the first message itself is edited to show the resolution (`chat.update`, unless
//! `markParentResolved` is off) — in that order, so a retry after a failure repeats an
//! idempotent edit rather than a second reply. Offers
//! TestConnection (`auth.test`) and the channel picker (`conversations.list`, searchable).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchyard_plugin_sdk::lifecycle::Stage;
use switchyard_plugin_sdk::net_policy::NetworkPolicy;
use switchyard_plugin_sdk::net_policy::shared::SharedClient;
use switchyard_plugin_sdk::template::TemplateCache;
use switchyard_plugin_sdk::{
    Capabilities, ConnectionOption, DeliveryContext, DeliveryResult, Diagnostic, Documentation,
    OptionsRequest, Provider, REDACTED, RenderedRequest, TestConnectionResult, TestTarget,
};

use crate::answer::ApiFailure;
use crate::blocks::message;
use crate::config::{BotConfig, BotConnection, OnResolve, bot_problems, connection_problems};
use crate::web::Web;

/// Where an incident's first message is: kept as correlation state, at most a few dozen bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thread {
    /// The channel id.
    pub channel: String,
    /// The message's `ts`.
    pub ts: String,
}

impl Thread {
    /// The thread of the incident this delivery belongs to, if its first message was posted.
    #[must_use]
    pub fn of<C, K>(ctx: &DeliveryContext<C, K>) -> Option<Thread> {
        let state = ctx.correlation.as_ref()?.origin()?.state.as_deref()?;
        serde_json::from_str(state).ok()
    }
}

/// The `chat.postMessage` body of one delivery.
///
/// # Errors
/// A diagnostic when a template fails.
pub fn post_body(
    ctx: &DeliveryContext<BotConfig, BotConnection>,
    templates: &TemplateCache,
) -> Result<Value, Diagnostic> {
    let config = &ctx.config;
    let thread = Thread::of(ctx);
    let message =
        message(ctx, config.look(), templates, thread.is_some()).map_err(|e| e.diagnostic())?;
    let mut body = json!({
        "channel": thread.as_ref().map_or(config.channel.as_str(), |t| t.channel.as_str()),
        "text": message.text,
        "attachments": message.attachments,
        "unfurl_links": false,
    });
    if let Some(thread) = &thread {
        body["thread_ts"] = json!(thread.ts);
        let resolved = Stage::of(&ctx.event.event_type, &ctx.event.payload) == Stage::Resolved;
        if resolved && config.on_resolve == OnResolve::Broadcast {
            body["reply_broadcast"] = json!(true);
        }
    }
    if let Some(name) = &config.username {
        body["username"] = json!(name);
    }
    if let Some(icon) = &config.icon_emoji {
        body["icon_emoji"] = json!(icon);
    }
    Ok(body)
}

/// The `chat.update` body that marks the incident's first message resolved, when this
/// delivery resolves a threaded incident and the config asks for it.
///
/// # Errors
/// A diagnostic when a template fails.
pub fn parent_update(
    ctx: &DeliveryContext<BotConfig, BotConnection>,
    templates: &TemplateCache,
) -> Result<Option<Value>, Diagnostic> {
    let Some(thread) = Thread::of(ctx) else {
        return Ok(None);
    };
    let resolved = Stage::of(&ctx.event.event_type, &ctx.event.payload) == Stage::Resolved;
    if !resolved || !ctx.config.mark_parent_resolved {
        return Ok(None);
    }
    let message = message(ctx, ctx.config.look(), templates, true).map_err(|e| e.diagnostic())?;
    Ok(Some(json!({
        "channel": thread.channel,
        "ts": thread.ts,
        "text": message.text,
        "attachments": message.attachments,
    })))
}

/// Whether a failed `chat.update` of the first message may be passed over: the message is
/// gone or can no longer be edited, and the thread reply still says the incident is resolved.
fn parent_gone(failure: &ApiFailure) -> bool {
    matches!(
        failure.code.as_deref(),
        Some("message_not_found" | "cant_update_message" | "edit_window_closed")
    )
}

/// The bot provider.
#[derive(Debug, Clone)]
pub struct SlackBot {
    client: SharedClient,
    templates: Arc<TemplateCache>,
}

impl SlackBot {
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

    async fn web<'a>(
        &'a self,
        connection: &'a BotConnection,
        timeout_ms: u32,
    ) -> Result<Web<'a>, DeliveryResult> {
        let client = self.client.get().await.map_err(|error| {
            tracing::error!(%error, "cannot build the HTTP client");
            DeliveryResult::retryable("the plugin cannot build its HTTP client")
        })?;
        Ok(Web {
            client,
            connection,
            timeout: Duration::from_millis(u64::from(timeout_ms)),
        })
    }

    async fn check(&self, connection: &BotConnection) -> TestConnectionResult {
        let problems = connection_problems(connection);
        if let Some(first) = problems.first() {
            return TestConnectionResult::failed(first.to_string());
        }
        let answer = match self
            .web(connection, crate::config::DEFAULT_TIMEOUT_MS)
            .await
        {
            Ok(web) => web.auth_test().await,
            Err(failure) => Err(failure.into()),
        };
        match answer {
            Ok(who) => {
                let text = |k: &str| who.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
                TestConnectionResult::ok(format!(
                    "Connected to the {} workspace as {}",
                    text("team"),
                    text("user")
                ))
                .with_details(json!({"team": text("team"), "teamId": text("team_id"), "user": text("user"), "botId": text("bot_id")}))
            }
            Err(failure) => TestConnectionResult::failed(failure_text(&failure)),
        }
    }
}

fn failure_text(failure: &ApiFailure) -> String {
    failure
        .result
        .error()
        .unwrap_or("Slack refused the call")
        .to_owned()
}

impl Provider for SlackBot {
    type Config = BotConfig;
    type Connection = BotConnection;

    fn id(&self) -> &'static str {
        "bot"
    }

    fn display_name(&self) -> &'static str {
        "Slack (bot)"
    }

    fn description(&self) -> &'static str {
        "Posts a formatted message per incident to a Slack channel with a bot token, and threads the incident's updates and resolution under it."
    }

    fn icon(&self) -> &'static str {
        "slack"
    }

    fn documentation(&self) -> Documentation {
        crate::docs::bot()
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
        target: TestTarget<BotConfig, BotConnection>,
    ) -> Vec<Diagnostic> {
        match target {
            TestTarget::Config { config, .. } => bot_problems(&config, &self.templates),
            TestTarget::Connection(connection) => connection_problems(&connection),
        }
    }

    async fn test_connection(
        &self,
        target: TestTarget<BotConfig, BotConnection>,
    ) -> TestConnectionResult {
        match target {
            TestTarget::Config { connection, .. } | TestTarget::Connection(connection) => {
                self.check(&connection).await
            }
        }
    }

    async fn get_connection_options(
        &self,
        request: OptionsRequest<BotConnection>,
    ) -> Result<Vec<ConnectionOption>, Vec<Diagnostic>> {
        // The SDK routes only resolvers the schema names: `channelOptions`.
        let query = request
            .context
            .get("query")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let web = self
            .web(&request.connection, crate::config::DEFAULT_TIMEOUT_MS)
            .await
            .map_err(|f| vec![Diagnostic::new("", failure_text(&f.into()))])?;
        web.channels(query)
            .await
            .map_err(|f| vec![Diagnostic::new("/channel", failure_text(&f))])
    }

    async fn preview(
        &self,
        ctx: DeliveryContext<BotConfig, BotConnection>,
    ) -> Result<RenderedRequest, Vec<Diagnostic>> {
        let found = bot_problems(&ctx.config, &self.templates);
        if !found.is_empty() {
            return Err(found);
        }
        let body = post_body(&ctx, &self.templates).map_err(|d| vec![d])?;
        Ok(RenderedRequest {
            method: "POST".into(),
            url: format!("{}/chat.postMessage", ctx.connection.base()),
            headers: vec![
                ("authorization".into(), format!("Bearer {REDACTED}")),
                ("content-type".into(), "application/json".into()),
            ],
            body: body.to_string(),
        })
    }

    async fn deliver(&self, ctx: DeliveryContext<BotConfig, BotConnection>) -> DeliveryResult {
        let (body, update) = match post_body(&ctx, &self.templates)
            .and_then(|body| Ok((body, parent_update(&ctx, &self.templates)?)))
        {
            Ok(both) => both,
            Err(problem) => return DeliveryResult::permanent(problem.to_string()),
        };
        let threaded = body.get("thread_ts").is_some();
        let web = match self.web(&ctx.connection, ctx.config.timeout_ms).await {
            Ok(web) => web,
            Err(failure) => return failure,
        };
        if let Some(update) = update
            && let Err(failure) = web.post("chat.update", &update).await
            && !parent_gone(&failure)
        {
            return failure.result;
        }
        let posted = match web.post("chat.postMessage", &body).await {
            Ok(posted) => posted,
            Err(failure) => return failure.result,
        };
        delivered(&posted, threaded)
    }
}

/// A posted message: its `channel:ts` as external id; the first of a thread keeps both as
/// state for the events that follow.
fn delivered(posted: &Value, threaded: bool) -> DeliveryResult {
    let text = |k: &str| {
        posted
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (channel, ts) = (text("channel"), text("ts"));
    if ts.is_empty() {
        return DeliveryResult::delivered(None).with_status(200);
    }
    let result = DeliveryResult::delivered(Some(format!("{channel}:{ts}"))).with_status(200);
    if threaded {
        return result;
    }
    let state = serde_json::to_string(&Thread { channel, ts }).unwrap_or_default();
    result.with_state(state)
}
