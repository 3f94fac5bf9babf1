//! A message about one event in Discord's format: the SDK's [`Brief`] (or the user's
//! templates) as one embed — title (linking back to the platform), description, facts as
//! inline fields, a footer, the event's time and the colour as an integer — plus a one-line
//! `content` as the text fallback notifications show. Discord refuses a message over its
//! limits (title 256 characters, description 4,096, 25 fields of 256/1,024, footer 2,048, all
//! of an embed's text 6,000, content 2,000), so every text is cut here instead. Mentions are
//! disabled (`allowed_mentions`), so payload text cannot ping `@everyone`. Pure.

use serde_json::{Value, json};
use switchyard_plugin_sdk::DeliveryContext;
use switchyard_plugin_sdk::chat::Brief;
use switchyard_plugin_sdk::lifecycle::cut_chars;
use switchyard_plugin_sdk::template::{TemplateCache, TemplateContext, TemplateError};

use crate::config::DiscordConfig;

/// Discord's limit on an embed title.
pub const TITLE_LIMIT: usize = 256;
/// Discord's limit on an embed description.
pub const DESCRIPTION_LIMIT: usize = 4096;
/// Discord's limit on the fields of an embed.
pub const MAX_FIELDS: usize = 25;
/// Discord's limit on a field's name.
pub const FIELD_NAME_LIMIT: usize = 256;
/// Discord's limit on a field's value.
pub const FIELD_VALUE_LIMIT: usize = 1024;
/// Discord's limit on a footer's text.
pub const FOOTER_LIMIT: usize = 2048;
/// Discord's limit on all the text of an embed together.
pub const EMBED_TOTAL_LIMIT: usize = 6000;
/// Discord's limit on a message's `content`.
pub const CONTENT_LIMIT: usize = 2000;

/// Discord Markdown escaping: a backslash before every character Markdown gives a meaning, so
/// payload text shows as written.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '#' | '[' | ']'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The message body (`content`, `embeds`, `allowed_mentions`) of a delivery. `follows`: keep
/// the "follows up on" note (a new message after an earlier one); an edit of the first
/// message leaves it out.
///
/// # Errors
/// When a template does not compile or fails to render (the error names its field).
pub fn message(
    ctx: &DeliveryContext<DiscordConfig, switchyard_plugin_sdk::NoConnection>,
    templates: &TemplateCache,
    follows: bool,
) -> Result<Value, TemplateError> {
    let config = &ctx.config;
    let mut brief = Brief::of(&ctx.event, ctx.correlation.as_ref());
    if !follows {
        brief.follows = None;
    }
    let title = match &config.title_template {
        Some(_) => templates.line(
            "/titleTemplate",
            config.title_template.as_deref(),
            ctx,
            TITLE_LIMIT,
        )?,
        None => cut_chars(&brief.title, TITLE_LIMIT),
    };
    let description = match &config.text_template {
        Some(source) => Some(
            templates
                .get("/textTemplate", source)?
                .render(&TemplateContext::of(ctx))?,
        ),
        None => brief.description.as_deref().map(escape),
    };
    let mut embed = json!({
        "title": title,
        "color": config.colours.colour(brief.tone).rgb(),
        "timestamp": ctx.event.timestamp.to_rfc3339(),
        "footer": {"text": cut_chars(&footer(&brief), FOOTER_LIMIT)},
    });
    let fields = fields(&brief);
    if !fields.is_empty() {
        embed["fields"] = json!(fields);
    }
    if let Some(text) = description
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
    {
        embed["description"] = json!(cut_chars(&text, DESCRIPTION_LIMIT));
    }
    if let Some(link) = &brief.link {
        embed["url"] = json!(link);
    }
    fit_total(&mut embed);
    Ok(json!({
        "content": cut_chars(&escape(&title), CONTENT_LIMIT),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    }))
}

fn fields(brief: &Brief) -> Vec<Value> {
    brief
        .facts
        .iter()
        .take(MAX_FIELDS)
        .map(|f| {
            json!({
                "name": cut_chars(f.label, FIELD_NAME_LIMIT),
                "value": cut_chars(&escape(&f.value), FIELD_VALUE_LIMIT),
                "inline": true,
            })
        })
        .collect()
}

fn footer(brief: &Brief) -> String {
    match &brief.follows {
        Some(follows) => format!("{follows} · {} · Switchyard", brief.event_type),
        None => format!("{} · Switchyard", brief.event_type),
    }
}

fn chars(value: &Value) -> usize {
    value.as_str().map_or(0, |s| s.chars().count())
}

/// The characters Discord counts toward an embed's 6,000.
fn total(embed: &Value) -> usize {
    let fields: usize = embed["fields"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|f| chars(&f["name"]) + chars(&f["value"]))
                .sum()
        })
        .unwrap_or(0);
    chars(&embed["title"]) + chars(&embed["description"]) + chars(&embed["footer"]["text"]) + fields
}

/// Shrinks an embed over 6,000 characters: the description first (it holds the free text),
/// then the last fields, which matter least.
fn fit_total(embed: &mut Value) {
    let over = total(embed).saturating_sub(EMBED_TOTAL_LIMIT);
    if over > 0 && embed.get("description").is_some() {
        let keep = chars(&embed["description"]).saturating_sub(over);
        embed["description"] = json!(cut_chars(embed["description"].as_str().unwrap_or(""), keep));
    }
    while total(embed) > EMBED_TOTAL_LIMIT {
        match embed.get_mut("fields").and_then(Value::as_array_mut) {
            Some(fields) if !fields.is_empty() => {
                fields.pop();
            }
            _ => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_markdown_and_mentions_literal() {
        assert_eq!(escape("*a* _b_ `c`"), "\\*a\\* \\_b\\_ \\`c\\`");
    }

    #[test]
    fn an_embed_over_6000_is_cut_to_fit() {
        let mut embed = json!({
            "title": "t".repeat(256),
            "description": "d".repeat(4096),
            "footer": {"text": "f".repeat(100)},
            "fields": (0..25).map(|_| json!({"name": "n".repeat(10), "value": "v".repeat(1024)})).collect::<Vec<_>>(),
        });
        fit_total(&mut embed);
        assert!(total(&embed) <= EMBED_TOTAL_LIMIT, "{}", total(&embed));
        assert!(embed["fields"].as_array().unwrap().len() < 25);
    }
}
