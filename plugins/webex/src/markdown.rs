//! A [`Brief`] as Webex Markdown: a coloured marker and the title in bold, the description,
//! the facts as bold labels, the follow-up note in italics and a link back to the platform;
//! every value escaped (Webex renders CommonMark). Webex refuses messages over 7,439 bytes, so
//! the parts are bounded and the description gives way first.

use switchyard_plugin_sdk::byte_limit::cut_bytes;
use switchyard_plugin_sdk::chat::{Brief, Severity, Tone};
use switchyard_plugin_sdk::lifecycle::cut_chars;
use switchyard_plugin_sdk::template::filters::escape_markdown;

/// Webex's limit on `markdown` and `text`, in bytes.
pub const MARKDOWN_LIMIT: usize = 7_439;
/// The longest title and fact value shown, in characters (so that facts never crowd out the
/// rest of the message).
const LINE_LIMIT: usize = 300;

/// The marker in front of the title: Webex Markdown has no colours, emoji carry the tone.
fn marker(tone: Tone) -> &'static str {
    match tone {
        Tone::Severity(Severity::Critical) => "🔴",
        Tone::Severity(Severity::Major) => "🟠",
        Tone::Severity(Severity::Minor) => "🟡",
        Tone::Severity(Severity::Info) => "⚪",
        Tone::Maintenance => "🔧",
        Tone::Resolved => "✅",
    }
}

/// The message of `brief` as Markdown, at most [`MARKDOWN_LIMIT`] bytes.
#[must_use]
pub fn render(brief: &Brief) -> String {
    let head = format!(
        "{} **{}**",
        marker(brief.tone),
        escape_markdown(&cut_chars(&brief.title, LINE_LIMIT))
    );
    let mut tail = Vec::new();
    if !brief.facts.is_empty() {
        let facts: Vec<String> = brief
            .facts
            .iter()
            .map(|f| {
                let value = escape_markdown(&cut_chars(&f.value, LINE_LIMIT));
                format!("**{}:** {value}", f.label)
            })
            .collect();
        // Two trailing spaces: a line break within one paragraph.
        tail.push(facts.join("  \n"));
    }
    if let Some(note) = &brief.follows {
        tail.push(format!("_{}_", escape_markdown(note)));
    }
    if let Some(link) = &brief.link {
        tail.push(format!("[Open in the platform]({})", link_target(link)));
    }
    let fixed = head.len() + tail.iter().map(|t| t.len() + 2).sum::<usize>() + 2;
    let mut parts = vec![head];
    if let Some(description) = &brief.description {
        let room = MARKDOWN_LIMIT.saturating_sub(fixed);
        let description = cut_bytes(&escape_markdown(description), room);
        if !description.is_empty() {
            parts.push(description);
        }
    }
    parts.extend(tail);
    cut_bytes(&parts.join("\n\n"), MARKDOWN_LIMIT)
}

/// A link target with the characters that would end a Markdown link target encoded.
fn link_target(url: &str) -> String {
    url.replace(' ', "%20")
        .replace('(', "%28")
        .replace(')', "%29")
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use switchyard_plugin_sdk::Event;

    use super::*;

    fn brief(payload: serde_json::Value) -> Brief {
        let event = Event {
            event_type: "incident.incident.created".into(),
            payload,
            timestamp: chrono::Utc::now(),
            delivery_id: "d".into(),
            attempt: 1,
            event_id: "e".into(),
        };
        Brief::of(&event, None)
    }

    #[test]
    fn a_message_has_marker_title_facts_and_link_escaped() {
        let text = render(&brief(json!({"title": "DB *down*", "severity": "critical",
            "status": "investigating", "systemIds": ["db_1"], "url": "https://s.example/i (1)"})));
        assert!(
            text.starts_with("🔴 **DB \\*down\\* \\(investigating\\)**"),
            "{text}"
        );
        assert!(text.contains("**Severity:** Critical  \n"), "{text}");
        assert!(text.contains("**Systems:** db\\_1"), "{text}");
        assert!(text.ends_with("[Open in the platform](https://s.example/i%20%281%29)"));
    }

    #[test]
    fn a_long_description_is_cut_to_the_limit_and_the_rest_kept() {
        let long = "é".repeat(10_000);
        let text = render(&brief(json!({"title": "T", "description": long,
            "url": "https://s.example/1"})));
        assert!(text.len() <= MARKDOWN_LIMIT, "{}", text.len());
        assert!(text.contains('…'));
        assert!(
            text.ends_with("(https://s.example/1)"),
            "the link was cut off"
        );
    }
}
