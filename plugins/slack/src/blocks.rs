//! A message about one event in Slack's format: the SDK's [`Brief`] (or the user's templates)
//! rendered as Block Kit blocks inside an attachment that carries the colour bar, with a
//! plain-text fallback for notifications. Slack refuses a message over its limits (header 150
//! characters, section text 3,000, a field 2,000, ten fields, 50 blocks), so every text is cut
//! to its limit here rather than sent to be rejected. Shared by both providers; pure.

use serde_json::{Value, json};
use switchyard_plugin_sdk::DeliveryContext;
use switchyard_plugin_sdk::chat::Brief;
use switchyard_plugin_sdk::lifecycle::cut_chars;
use switchyard_plugin_sdk::template::{TemplateCache, TemplateContext, TemplateError};

use crate::config::Look;

/// Slack's limit on a header block's text, in characters.
pub const HEADER_LIMIT: usize = 150;
/// Slack's limit on a section block's text, in characters.
pub const SECTION_LIMIT: usize = 3000;
/// Slack's limit on one section field's text, in characters.
pub const FIELD_LIMIT: usize = 2000;
/// Slack's limit on the fields of one section.
pub const MAX_FIELDS: usize = 10;
/// Slack's limit on the blocks of one message (or attachment).
pub const MAX_BLOCKS: usize = 50;
/// The fallback `text`'s length: Slack truncates past 40,000 characters and advises fewer than
/// 4,000 for notifications.
pub const TEXT_LIMIT: usize = 4000;

/// The message's parts: the fallback text and the attachment (colour and blocks).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The plain-text fallback (`text`).
    pub text: String,
    /// `[{"color": "#rrggbb", "fallback": …, "blocks": […]}]`.
    pub attachments: Value,
}

/// Slack mrkdwn escaping: `&`, `<` and `>` as entities, so text cannot form links or mentions.
#[must_use]
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The message of a delivery. `threaded`: it is a reply in the thread of the incident's first
/// message, so it does not say what it follows.
///
/// # Errors
/// When a template does not compile or fails to render (the error names its field).
pub fn message<C, K>(
    ctx: &DeliveryContext<C, K>,
    look: Look<'_>,
    templates: &TemplateCache,
    threaded: bool,
) -> Result<Message, TemplateError> {
    let mut brief = Brief::of(&ctx.event, ctx.correlation.as_ref());
    if threaded {
        brief.follows = None;
    }
    let title = match look.title_template {
        Some(_) => templates.line("/titleTemplate", look.title_template, ctx, HEADER_LIMIT)?,
        None => cut_chars(&brief.title, HEADER_LIMIT),
    };
    let body = match look.text_template {
        Some(source) => Some(
            templates
                .get("/textTemplate", source)?
                .render(&TemplateContext::of(ctx))?,
        ),
        None => brief.description.as_deref().map(escape),
    };
    let text = match &body {
        Some(body) if look.text_template.is_some() => {
            cut_chars(&format!("{title}\n{body}"), TEXT_LIMIT)
        }
        _ => {
            let mut plain = brief.clone();
            plain.title = title.clone();
            plain.plain_text(TEXT_LIMIT)
        }
    };
    let colour = look.colours.colour(brief.tone).hex();
    let blocks = blocks(&brief, &title, body.as_deref());
    Ok(Message {
        attachments: json!([{"color": colour, "fallback": cut_chars(&text, 300), "blocks": blocks}]),
        text,
    })
}

/// Header, body, facts, link, and a context line (what it follows, the event type).
fn blocks(brief: &Brief, title: &str, body: Option<&str>) -> Vec<Value> {
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": title, "emoji": true},
    })];
    if let Some(body) = body.map(str::trim).filter(|b| !b.is_empty()) {
        blocks.push(section(body));
    }
    let fields: Vec<Value> = brief
        .facts
        .iter()
        .take(MAX_FIELDS)
        .map(|f| {
            let text = format!("*{}*\n{}", f.label, escape(&f.value));
            json!({"type": "mrkdwn", "text": cut_chars(&text, FIELD_LIMIT)})
        })
        .collect();
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    if let Some(link) = &brief.link {
        blocks.push(section(&format!("<{}|Open in the platform>", escape(link))));
    }
    let mut context = Vec::new();
    if let Some(follows) = &brief.follows {
        context.push(json!({"type": "mrkdwn", "text": escape(follows)}));
    }
    context.push(
        json!({"type": "mrkdwn", "text": format!("`{}` · Switchyard", escape(&brief.event_type))}),
    );
    blocks.push(json!({"type": "context", "elements": context}));
    blocks.truncate(MAX_BLOCKS);
    blocks
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": cut_chars(text, SECTION_LIMIT)}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_neutralises_links_and_mentions() {
        assert_eq!(
            escape("<!channel> & <http://x|y>"),
            "&lt;!channel&gt; &amp; &lt;http://x|y&gt;"
        );
    }
}
