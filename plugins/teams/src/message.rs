//! The request bodies of the two Teams providers, built from one event (pure: `deliver` and
//! `preview` share them). Workflows: the card in the `attachments` envelope a Teams workflow's
//! "When a Teams webhook request is received" trigger takes. Graph: a `chatMessage` whose HTML
//! body references the card attachment (Graph wants the card as a JSON *string*), posted as a
//! new channel message or — for an event that follows an earlier one — as a reply to the
//! message that earlier event posted ([`GraphThread`], kept as correlation state).

use std::hash::{DefaultHasher, Hash, Hasher};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchyard_plugin_sdk::DeliveryContext;
use switchyard_plugin_sdk::lifecycle::cut_chars;
use switchyard_plugin_sdk::template::{TemplateCache, TemplateError};

use crate::card::{CARD_CONTENT_TYPE, Overrides, brief_for, card};
use crate::config::{GraphConfig, GraphConnection, WorkflowConfig};

/// Graph's `summary` (push notifications) is short; the card carries the rest.
const SUMMARY_LIMIT: usize = 280;

/// The body for a Workflows webhook: the card as the one attachment of a `message`.
///
/// # Errors
/// When a template does not compile or fails to render.
pub fn workflow_body<K>(
    ctx: &DeliveryContext<WorkflowConfig, K>,
    templates: &TemplateCache,
) -> Result<Value, TemplateError> {
    let overrides = Overrides {
        title: ctx.config.title_template.as_deref(),
        text: ctx.config.text_template.as_deref(),
    };
    // A workflow posts each card on its own: no thread to reply in, so the note stays.
    let brief = brief_for(ctx, templates, overrides, false)?;
    Ok(json!({
        "type": "message",
        "attachments": [{
            "contentType": CARD_CONTENT_TYPE,
            "contentUrl": null,
            "content": card(&brief),
        }],
    }))
}

/// Where a Graph thread started: kept as the correlation state of its first message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphThread {
    /// The team.
    pub team_id: String,
    /// The channel.
    pub channel_id: String,
    /// The id of the thread's first message.
    pub message_id: String,
}

impl GraphThread {
    /// The state text kept for the later events.
    #[must_use]
    pub fn to_state(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A Graph request: the path under the Graph base, and the body.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphOutgoing {
    /// Path segments, e.g. `teams`, `{team}`, `channels`, `{channel}`, `messages`.
    pub segments: Vec<String>,
    /// The message it replies to, when it continues a thread.
    pub reply_to: Option<String>,
    /// The `chatMessage` body.
    pub body: Value,
}

/// The thread this delivery continues: the one the first delivered event of its correlation
/// opened, when that is in the channel this subscription posts to now.
fn thread_of(ctx: &DeliveryContext<GraphConfig, GraphConnection>) -> Option<GraphThread> {
    let origin = ctx.correlation.as_ref()?.origin()?;
    let thread: GraphThread = serde_json::from_str(origin.state.as_deref()?).ok()?;
    (thread.team_id == ctx.config.team_id && thread.channel_id == ctx.config.channel_id)
        .then_some(thread)
}

/// A stable attachment id for a delivery (the same on every attempt).
fn attachment_id(delivery_id: &str) -> String {
    let mut hasher = DefaultHasher::new();
    delivery_id.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// The Graph request for one delivery.
///
/// # Errors
/// When a template does not compile or fails to render.
pub fn graph_outgoing(
    ctx: &DeliveryContext<GraphConfig, GraphConnection>,
    templates: &TemplateCache,
) -> Result<GraphOutgoing, TemplateError> {
    let thread = thread_of(ctx);
    let overrides = Overrides {
        title: ctx.config.title_template.as_deref(),
        text: ctx.config.text_template.as_deref(),
    };
    let brief = brief_for(ctx, templates, overrides, thread.is_some())?;
    let id = attachment_id(&ctx.event.delivery_id);
    let body = json!({
        "body": {"contentType": "html", "content": format!("<attachment id=\"{id}\"></attachment>")},
        "summary": cut_chars(&brief.title, SUMMARY_LIMIT),
        "attachments": [{
            "id": id,
            "contentType": CARD_CONTENT_TYPE,
            "content": card(&brief).to_string(),
        }],
    });
    let mut segments: Vec<String> = [
        "teams",
        &ctx.config.team_id,
        "channels",
        &ctx.config.channel_id,
        "messages",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let reply_to = thread.map(|t| t.message_id);
    if let Some(parent) = &reply_to {
        segments.push(parent.clone());
        segments.push("replies".into());
    }
    Ok(GraphOutgoing {
        segments,
        reply_to,
        body,
    })
}
