//! The requests one delivery sends to an execute-webhook URL. An incident's first event posts
//! (`POST /webhooks/{id}/{token}?wait=true`, so Discord answers with the message and its id);
//! its later events edit that message (`PATCH /webhooks/{id}/{token}/messages/{message_id}`)
//! and/or post a new one, as the config's `followUp` says. `deliver` and `preview` build the
//! same [`Outgoing`] list, so a preview shows what a delivery sends (with the token masked).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchyard_plugin_sdk::template::TemplateCache;
use switchyard_plugin_sdk::{DeliveryContext, Diagnostic, NoConnection, REDACTED};

use crate::config::{DiscordConfig, FollowUp, WebhookAddress, is_snowflake};
use crate::embed::message;

/// What the incident's first message left behind (correlation state).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Posted {
    /// The message's id.
    pub message_id: String,
}

impl Posted {
    /// The first message of the incident this delivery belongs to, if it was posted.
    #[must_use]
    pub fn of<C, K>(ctx: &DeliveryContext<C, K>) -> Option<Posted> {
        let state = ctx.correlation.as_ref()?.origin()?.state.as_deref()?;
        serde_json::from_str::<Posted>(state)
            .ok()
            .filter(|p| is_snowflake(&p.message_id))
    }
}

/// Whether a request posts or edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A new message.
    Post,
    /// An edit of this message.
    Edit(String),
}

/// One request. Its `Debug` shows the masked URL only.
#[derive(Clone, PartialEq)]
pub struct Outgoing {
    /// Post or edit.
    pub kind: Kind,
    /// The full URL (holds the webhook's token).
    pub url: String,
    /// The same URL with the token masked.
    pub masked_url: String,
    /// The JSON body.
    pub body: Value,
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing")
            .field("kind", &self.kind)
            .field("url", &self.masked_url)
            .field("body", &self.body)
            .finish()
    }
}

impl Outgoing {
    /// `POST` or `PATCH`.
    #[must_use]
    pub fn method(&self) -> &'static str {
        match self.kind {
            Kind::Post => "POST",
            Kind::Edit(_) => "PATCH",
        }
    }
}

/// The requests of one delivery, in the order they are sent.
///
/// # Errors
/// A diagnostic when the webhook URL is unusable or a template fails.
pub fn outgoing(
    ctx: &DeliveryContext<DiscordConfig, NoConnection>,
    templates: &TemplateCache,
) -> Result<Vec<Outgoing>, Diagnostic> {
    let config = &ctx.config;
    let address = WebhookAddress::parse(config.webhook_url.expose(), config.api_base_url.is_some())
        .map_err(|why| Diagnostic::new("/webhookUrl", why))?;
    let first = Posted::of(ctx);
    let (edit, post) = match (&first, config.follow_up) {
        (None, _) => (false, true),
        (Some(_), FollowUp::Edit) => (true, false),
        (Some(_), FollowUp::EditAndPost) => (true, true),
        (Some(_), FollowUp::Post) => (false, true),
    };
    let mut out = Vec::new();
    if let (true, Some(first)) = (edit, &first) {
        out.push(edit_request(ctx, templates, &address, &first.message_id)?);
    }
    if post {
        out.push(post_request(ctx, templates, &address)?);
    }
    Ok(out)
}

/// A new message; it says what it follows when it is not the incident's first.
///
/// # Errors
/// A diagnostic when a template fails.
pub fn post_request(
    ctx: &DeliveryContext<DiscordConfig, NoConnection>,
    templates: &TemplateCache,
    address: &WebhookAddress,
) -> Result<Outgoing, Diagnostic> {
    let config = &ctx.config;
    let mut body = message(ctx, templates, true).map_err(|e| e.diagnostic())?;
    if let Some(name) = &config.username {
        body["username"] = json!(name);
    }
    if let Some(avatar) = &config.avatar_url {
        body["avatar_url"] = json!(avatar);
    }
    let query = match &config.thread_id {
        Some(thread) => format!("?wait=true&thread_id={thread}"),
        None => "?wait=true".to_owned(),
    };
    Ok(with_urls(config, address, "", &query, Kind::Post, body))
}

fn edit_request(
    ctx: &DeliveryContext<DiscordConfig, NoConnection>,
    templates: &TemplateCache,
    address: &WebhookAddress,
    message_id: &str,
) -> Result<Outgoing, Diagnostic> {
    let config = &ctx.config;
    let body = message(ctx, templates, false).map_err(|e| e.diagnostic())?;
    let query = match &config.thread_id {
        Some(thread) => format!("?thread_id={thread}"),
        None => String::new(),
    };
    let tail = format!("/messages/{message_id}");
    Ok(with_urls(
        config,
        address,
        &tail,
        &query,
        Kind::Edit(message_id.to_owned()),
        body,
    ))
}

fn with_urls(
    config: &DiscordConfig,
    address: &WebhookAddress,
    tail: &str,
    query: &str,
    kind: Kind,
    body: Value,
) -> Outgoing {
    let base = config.base();
    let id = &address.id;
    Outgoing {
        kind,
        url: format!("{base}/webhooks/{id}/{}{tail}{query}", address.token),
        masked_url: format!("{base}/webhooks/{id}/{REDACTED}{tail}{query}"),
        body,
    }
}
