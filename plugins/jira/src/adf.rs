//! Markdown → Atlassian Document Format (ADF), the JSON document Jira Cloud's REST API v3
//! takes for descriptions, comments and rich-text fields (it shows plain text pasted there as
//! one unformatted run). A small converter for what templates produce, not a full CommonMark
//! implementation:
//!
//! - blocks: paragraphs, ATX headings (`#` … `######`), bullet (`-`, `*`, `+`) and ordered
//!   (`1.`, `1)`) lists, nested by indentation, fenced code blocks (```` ``` ```` or `~~~`,
//!   with a language), block quotes (`>`), rules (`---`);
//! - inline: `**bold**` / `__bold__`, `*italic*` / `_italic_` (not inside words, so
//!   `snake_case` stays), `` `code` ``, `~~strike~~`, `[text](url)`, `<https://…>`, and
//!   backslash escapes (`\*`, what the `markdown_escape` filter writes).
//!
//! A line break inside a paragraph is kept as a hard break: Jira users expect `Status: x` and
//! `Severity: y` on two lines, as Jira's own editor shows them. Anything the converter does not
//! recognise is kept as literal text, so nothing a template renders is lost.
//!
//! `blocks` reads the block structure, `inline` the spans inside each block.

mod blocks;
mod inline;

use serde_json::{Value, json};

/// The ADF document of `markdown`.
#[must_use]
pub fn to_adf(markdown: &str) -> Value {
    let lines: Vec<&str> = markdown.lines().collect();
    json!({"type": "doc", "version": 1, "content": blocks::blocks(&lines)})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(markdown: &str) -> Value {
        to_adf(markdown)["content"].clone()
    }

    fn text(t: &str) -> Value {
        json!({"type": "text", "text": t})
    }

    fn marked(t: &str, marks: Value) -> Value {
        json!({"type": "text", "text": t, "marks": marks})
    }

    #[test]
    fn paragraphs_are_split_by_blank_lines_and_keep_line_breaks() {
        assert_eq!(
            content("one\ntwo\n\nthree"),
            json!([
                {"type": "paragraph", "content": [text("one"), {"type": "hardBreak"}, text("two")]},
                {"type": "paragraph", "content": [text("three")]}
            ])
        );
        assert_eq!(
            to_adf(""),
            json!({"type": "doc", "version": 1, "content": []})
        );
    }

    #[test]
    fn headings_carry_their_level() {
        assert_eq!(
            content("## Impact ##\n#not a heading"),
            json!([
                {"type": "heading", "attrs": {"level": 2}, "content": [text("Impact")]},
                {"type": "paragraph", "content": [text("#not a heading")]}
            ])
        );
    }

    #[test]
    fn bold_italic_code_and_strike_become_marks() {
        assert_eq!(
            content("a **b** *c* `d` ~~e~~ __f__ _g_"),
            json!([{"type": "paragraph", "content": [
                text("a "), marked("b", json!([{"type": "strong"}])), text(" "),
                marked("c", json!([{"type": "em"}])), text(" "),
                marked("d", json!([{"type": "code"}])), text(" "),
                marked("e", json!([{"type": "strike"}])), text(" "),
                marked("f", json!([{"type": "strong"}])), text(" "),
                marked("g", json!([{"type": "em"}]))
            ]}])
        );
    }

    #[test]
    fn nested_emphasis_accumulates_marks() {
        assert_eq!(
            content("**bold *both***"),
            json!([{"type": "paragraph", "content": [
                marked("bold ", json!([{"type": "strong"}])),
                marked("both", json!([{"type": "strong"}, {"type": "em"}]))
            ]}])
        );
    }

    #[test]
    fn what_is_not_markup_stays_literal() {
        assert_eq!(
            content(r"snake_case_name, 2 * 3 * 4, **open, \*escaped\*, [x](no url)"),
            json!([{"type": "paragraph", "content": [
                text(r"snake_case_name, 2 * 3 * 4, **open, *escaped*, [x](no url)")
            ]}])
        );
    }

    #[test]
    fn links_wrap_their_text() {
        let link = json!({"type": "link", "attrs": {"href": "https://x.test/a?b=1"}});
        assert_eq!(
            content("see [the **runbook**](https://x.test/a?b=1) or <https://x.test/a?b=1>"),
            json!([{"type": "paragraph", "content": [
                text("see "),
                marked("the ", json!([link])),
                marked("runbook", json!([link, {"type": "strong"}])),
                text(" or "),
                marked("https://x.test/a?b=1", json!([link]))
            ]}])
        );
    }

    #[test]
    fn bullet_and_ordered_lists_nest_by_indentation() {
        let item = |t: &str| json!({"type": "listItem", "content": [{"type": "paragraph", "content": [text(t)]}]});
        assert_eq!(
            content("- a\n- b\n  1. c\n  2. d\n- e\n\n3. x\n4. y"),
            json!([
                {"type": "bulletList", "content": [
                    item("a"),
                    {"type": "listItem", "content": [
                        {"type": "paragraph", "content": [text("b")]},
                        {"type": "orderedList", "content": [item("c"), item("d")]}
                    ]},
                    item("e")
                ]},
                {"type": "orderedList", "attrs": {"order": 3}, "content": [item("x"), item("y")]}
            ])
        );
    }

    #[test]
    fn code_blocks_keep_their_text_and_language() {
        assert_eq!(
            content("```rust\nfn main() {\n    **not bold**\n}\n```\nafter"),
            json!([
                {"type": "codeBlock", "attrs": {"language": "rust"},
                 "content": [text("fn main() {\n    **not bold**\n}")]},
                {"type": "paragraph", "content": [text("after")]}
            ])
        );
    }

    #[test]
    fn quotes_and_rules() {
        assert_eq!(
            content("> # quoted\n> text\n\n---"),
            json!([
                {"type": "blockquote", "content": [
                    {"type": "paragraph", "content": [text("quoted")]},
                    {"type": "paragraph", "content": [text("text")]}
                ]},
                {"type": "rule"}
            ])
        );
    }
}
