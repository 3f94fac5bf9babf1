//! Turning one platform event into the one `POST /v1/messages` body Webex gets: the room, the
//! Markdown (the user's template, else the event's [`Brief`]), a plain-text fallback, and —
//! for an event that follows an earlier one (an incident's update or resolution) — the
//! `parentId` of the message that earlier event posted, so it lands in that thread. Pure:
//! `deliver` and `preview` share it.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchyard_plugin_sdk::DeliveryContext;
use switchyard_plugin_sdk::byte_limit::cut_bytes;
use switchyard_plugin_sdk::chat::Brief;
use switchyard_plugin_sdk::lifecycle::Stage;
use switchyard_plugin_sdk::template::{TemplateCache, TemplateContext, TemplateError};

use crate::config::{WebexConfig, WebexConnection};
use crate::markdown::{self, MARKDOWN_LIMIT};

/// Where a thread started: kept as the correlation state of the message that opened it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Thread {
    /// The room it is in.
    pub room_id: String,
    /// The id of its first message (the `parentId` of the replies).
    pub message_id: String,
}

impl Thread {
    /// The state text kept for the later events.
    #[must_use]
    pub fn to_state(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The thread an earlier delivery's state names, if it is one.
    #[must_use]
    pub fn from_state(state: &str) -> Option<Thread> {
        serde_json::from_str(state).ok()
    }
}

/// The request to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The event's lifecycle stage.
    pub stage: Stage,
    /// The message it replies to, when it continues a thread.
    pub parent_id: Option<String>,
    /// The JSON body of `POST /messages`.
    pub body: Value,
}

/// The thread this delivery continues: the one the first delivered event of its correlation
/// opened, when that was in the room this subscription posts to now (a reply's parent must
/// be in the same room).
fn thread_of(ctx: &DeliveryContext<WebexConfig, WebexConnection>) -> Option<Thread> {
    let origin = ctx.correlation.as_ref()?.origin()?;
    let thread = Thread::from_state(origin.state.as_deref()?)?;
    (thread.room_id == ctx.config.room_id).then_some(thread)
}

/// Builds the request for one delivery.
///
/// # Errors
/// When the Markdown template does not compile or fails to render.
pub fn outgoing(
    ctx: &DeliveryContext<WebexConfig, WebexConnection>,
    templates: &TemplateCache,
) -> Result<Outgoing, TemplateError> {
    let thread = thread_of(ctx);
    let mut brief = Brief::of(&ctx.event, ctx.correlation.as_ref());
    if thread.is_some() {
        // In the thread, "follows up on" says nothing the reader does not see.
        brief.follows = None;
    }
    let rendered = match &ctx.config.markdown_template {
        Some(source) => templates
            .get("/markdownTemplate", source)?
            .render(&TemplateContext::of(ctx))?,
        None => String::new(),
    };
    let markdown = match rendered.trim() {
        // Webex refuses an empty message: an empty rendering falls back to the default.
        "" => markdown::render(&brief),
        text => cut_bytes(text, MARKDOWN_LIMIT),
    };
    let mut body = json!({
        "roomId": ctx.config.room_id,
        "markdown": markdown,
        "text": cut_bytes(&brief.plain_text(MARKDOWN_LIMIT), MARKDOWN_LIMIT),
    });
    let parent_id = thread.map(|t| t.message_id);
    if let Some(parent) = &parent_id {
        body["parentId"] = json!(parent);
    }
    Ok(Outgoing {
        stage: brief.stage,
        parent_id,
        body,
    })
}
