//! What both Teams providers post: an event's [`Brief`] (with the user's title and text
//! templates applied) as an Adaptive Card — a header in the tone's colour, the text, the facts
//! as a FactSet, the follow-up note, and an "Open in the platform" action — kept under the
//! ~28 KB Teams accepts for a card (the text gives way first, then the facts).
//!
//! Colours: Adaptive Cards take only named colours (`attention`, `warning`, `good`, `accent`),
//! not RGB, so the tone picks one and there is no `x-color` choice here.

use serde_json::{Value, json};
use switchyard_plugin_sdk::DeliveryContext;
use switchyard_plugin_sdk::byte_limit::cut_bytes;
use switchyard_plugin_sdk::chat::{Brief, Severity, Tone};
use switchyard_plugin_sdk::lifecycle::cut_chars;
use switchyard_plugin_sdk::template::{TemplateCache, TemplateContext, TemplateError};

/// The Adaptive Card content type, in attachments.
pub const CARD_CONTENT_TYPE: &str = "application/vnd.microsoft.card.adaptive";
/// The largest card sent, in bytes of JSON (Teams refuses messages over about 28 KB).
pub const CARD_LIMIT: usize = 26_000;
/// The longest title and fact value, in characters.
const LINE_LIMIT: usize = 500;

/// The user's templates for the card's title and text (config paths `/titleTemplate`,
/// `/textTemplate`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides<'a> {
    /// The title template.
    pub title: Option<&'a str>,
    /// The text template.
    pub text: Option<&'a str>,
}

/// The brief of a delivery with the user's templates applied; `threaded`: it goes into the
/// thread it follows, so it needs no "follows up on" note.
///
/// # Errors
/// When a template does not compile or fails to render.
pub fn brief_for<C, K>(
    ctx: &DeliveryContext<C, K>,
    templates: &TemplateCache,
    overrides: Overrides<'_>,
    threaded: bool,
) -> Result<Brief, TemplateError> {
    let mut brief = Brief::of(&ctx.event, ctx.correlation.as_ref());
    if threaded {
        brief.follows = None;
    }
    if let Some(source) = overrides.title {
        brief.title = templates.line("/titleTemplate", Some(source), ctx, LINE_LIMIT)?;
    }
    if let Some(source) = overrides.text {
        let text = templates
            .get("/textTemplate", source)?
            .render(&TemplateContext::of(ctx))?;
        let text = text.trim();
        brief.description = (!text.is_empty()).then(|| text.to_owned());
    }
    Ok(brief)
}

/// The templates that do not compile, as diagnostics at their paths (save-time checks).
#[must_use]
pub fn template_problems(
    templates: &TemplateCache,
    overrides: Overrides<'_>,
) -> Vec<switchyard_plugin_sdk::Diagnostic> {
    [
        ("/titleTemplate", overrides.title),
        ("/textTemplate", overrides.text),
    ]
    .into_iter()
    .filter_map(|(path, source)| templates.get(path, source?).err())
    .map(|e| e.diagnostic())
    .collect()
}

/// The named colour and container style of a tone.
fn colour(tone: Tone) -> (&'static str, &'static str) {
    match tone {
        Tone::Severity(Severity::Critical | Severity::Major) => ("attention", "attention"),
        Tone::Severity(Severity::Minor) => ("warning", "warning"),
        Tone::Severity(Severity::Info) => ("default", "emphasis"),
        Tone::Maintenance => ("accent", "accent"),
        Tone::Resolved => ("good", "good"),
    }
}

/// The card of `brief`, at most [`CARD_LIMIT`] bytes of JSON.
#[must_use]
pub fn card(brief: &Brief) -> Value {
    let mut card = frame(brief, &facts(brief, LINE_LIMIT));
    if serde_json::to_string(&card).map_or(0, |s| s.len()) > CARD_LIMIT {
        // Very many long facts: a shorter value each.
        card = frame(brief, &facts(brief, 100));
    }
    let Some(description) = &brief.description else {
        return card;
    };
    let used = serde_json::to_string(&card).map_or(0, |s| s.len());
    let budget = CARD_LIMIT.saturating_sub(used + 64);
    let mut cut = budget;
    loop {
        let text = cut_bytes(description, cut);
        // JSON escaping may lengthen the text (quotes, control characters): measure it
        // (without the two quotes around it, which the 64 bytes of slack cover).
        let escaped = serde_json::to_string(&text).map_or(usize::MAX, |s| s.len() - 2);
        if escaped <= budget || cut == 0 {
            insert_text(&mut card, text);
            return card;
        }
        // Cut shorter in proportion to the growth (a control character takes 6 bytes).
        cut = (cut * budget / escaped).saturating_sub(1);
    }
}

fn facts(brief: &Brief, limit: usize) -> Vec<Value> {
    brief
        .facts
        .iter()
        .map(|f| json!({"title": f.label, "value": cut_chars(&f.value, limit)}))
        .collect()
}

/// The card without its text: header, facts, follow-up note, link.
fn frame(brief: &Brief, facts: &[Value]) -> Value {
    let (colour, style) = colour(brief.tone);
    let mut body = vec![json!({
        "type": "Container",
        "style": style,
        "bleed": true,
        "items": [{"type": "TextBlock", "text": cut_chars(&brief.title, LINE_LIMIT),
                   "size": "Large", "weight": "Bolder", "color": colour, "wrap": true}],
    })];
    if !facts.is_empty() {
        body.push(json!({"type": "FactSet", "facts": facts}));
    }
    if let Some(note) = &brief.follows {
        body.push(
            json!({"type": "TextBlock", "text": note, "isSubtle": true, "wrap": true,
                         "size": "Small"}),
        );
    }
    let mut card = json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": body,
    });
    if let Some(link) = &brief.link {
        card["actions"] = json!([{"type": "Action.OpenUrl", "title": "Open in the platform",
                                  "url": link}]);
    }
    card
}

/// Puts the text right under the header.
fn insert_text(card: &mut Value, text: String) {
    if text.is_empty() {
        return;
    }
    if let Some(body) = card["body"].as_array_mut() {
        body.insert(1, json!({"type": "TextBlock", "text": text, "wrap": true}));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use switchyard_plugin_sdk::Event;

    use super::*;

    fn brief(event_type: &str, payload: Value) -> Brief {
        let event = Event {
            event_type: event_type.into(),
            payload,
            timestamp: chrono::Utc::now(),
            delivery_id: "d".into(),
            attempt: 1,
            event_id: "e".into(),
        };
        Brief::of(&event, None)
    }

    #[test]
    fn a_card_has_a_coloured_header_text_facts_and_a_link() {
        let card = card(&brief(
            "incident.incident.created",
            json!({"title": "DB down", "severity": "critical", "description": "Writes fail",
                   "systemIds": ["db"], "url": "https://s.example/1"}),
        ));
        assert_eq!(card["type"], "AdaptiveCard");
        let header = &card["body"][0];
        assert_eq!(header["style"], "attention");
        assert_eq!(header["items"][0]["text"], "DB down");
        assert_eq!(card["body"][1]["text"], "Writes fail");
        assert_eq!(
            card["body"][2]["facts"][1],
            json!({"title": "Systems", "value": "db"})
        );
        assert_eq!(card["actions"][0]["url"], "https://s.example/1");
        let resolved = card_of_type("incident.incident.resolved");
        assert_eq!(resolved["body"][0]["style"], "good");
        assert_eq!(
            card_of_type("maintenance.maintenance.created")["body"][0]["style"],
            "accent"
        );
    }

    fn card_of_type(event_type: &str) -> Value {
        card(&brief(event_type, json!({"title": "x"})))
    }

    #[test]
    fn a_huge_text_is_cut_so_the_card_stays_under_the_limit() {
        for unit in ["é", "\"", "\u{1}", "abc "] {
            let description = unit.repeat(40_000);
            let card = card(&brief(
                "incident.incident.created",
                json!({"title": "T".repeat(5_000), "description": description,
                       "status": "s".repeat(5_000)}),
            ));
            let size = serde_json::to_string(&card).unwrap().len();
            assert!(size <= CARD_LIMIT, "{unit:?}: {size}");
            let text = card["body"][1]["text"]
                .as_str()
                .unwrap_or_else(|| panic!("{unit:?} {size} {}", card["body"][1]));
            assert!(
                text.len() > 1_000 && text.ends_with('…'),
                "{unit:?}: {}",
                text.len()
            );
        }
    }
}
