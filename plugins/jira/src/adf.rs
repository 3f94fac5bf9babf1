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

use serde_json::{Value, json};

/// The ADF document of `markdown`.
#[must_use]
pub fn to_adf(markdown: &str) -> Value {
    let lines: Vec<&str> = markdown.lines().collect();
    json!({"type": "doc", "version": 1, "content": blocks(&lines)})
}

// ---- blocks ----

fn blocks(lines: &[&str]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let trimmed = lines[i].trim_start();
        if trimmed.is_empty() {
            i += 1;
        } else if let Some(fence) = fence_of(trimmed) {
            i = code_block(lines, i, fence, &mut out);
        } else if let Some(node) = heading(trimmed) {
            out.push(node);
            i += 1;
        } else if is_rule(trimmed) {
            out.push(json!({"type": "rule"}));
            i += 1;
        } else if trimmed.starts_with('>') {
            i = block_quote(lines, i, &mut out);
        } else if marker(lines[i]).is_some() {
            i = list(lines, i, &mut out);
        } else {
            let start = i;
            i += 1;
            while i < lines.len() && !lines[i].trim().is_empty() && !starts_block(lines[i]) {
                i += 1;
            }
            out.push(paragraph(&lines[start..i]));
        }
    }
    out
}

/// True when `line` opens a block other than a paragraph (so it ends the paragraph above).
fn starts_block(line: &str) -> bool {
    let trimmed = line.trim_start();
    fence_of(trimmed).is_some()
        || heading(trimmed).is_some()
        || is_rule(trimmed)
        || trimmed.starts_with('>')
        || marker(line).is_some()
}

fn paragraph(lines: &[&str]) -> Value {
    let mut content = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        if n > 0 {
            content.push(json!({"type": "hardBreak"}));
        }
        let line = line.trim();
        // A trailing backslash is Markdown's explicit hard break; the break is there anyway.
        let line = line.strip_suffix('\\').unwrap_or(line);
        content.extend(inline(line, &[]));
    }
    json!({"type": "paragraph", "content": content})
}

fn heading(trimmed: &str) -> Option<Value> {
    let level = trimmed.chars().take_while(|&c| c == '#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &trimmed[level..];
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    let text = rest.trim().trim_end_matches('#').trim_end();
    Some(json!({"type": "heading", "attrs": {"level": level}, "content": inline(text, &[])}))
}

fn is_rule(trimmed: &str) -> bool {
    let compact: String = trimmed.chars().filter(|c| !c.is_whitespace()).collect();
    compact.len() >= 3
        && ['-', '*', '_']
            .iter()
            .any(|&c| compact.chars().all(|x| x == c))
}

/// The fence a line opens (```` ``` ```` or `~~~`, three or more), if it opens one.
fn fence_of(trimmed: &str) -> Option<&str> {
    for c in ['`', '~'] {
        let n = trimmed.chars().take_while(|&x| x == c).count();
        if n >= 3 {
            return Some(&trimmed[..n]);
        }
    }
    None
}

fn code_block(lines: &[&str], start: usize, fence: &str, out: &mut Vec<Value>) -> usize {
    let language = lines[start].trim_start()[fence.len()..].trim();
    let mut body = Vec::new();
    let mut i = start + 1;
    while i < lines.len() && !lines[i].trim_start().starts_with(fence) {
        body.push(lines[i]);
        i += 1;
    }
    let mut node = json!({"type": "codeBlock"});
    if !language.is_empty() {
        node["attrs"] = json!({"language": language});
    }
    let text = body.join("\n");
    if !text.is_empty() {
        node["content"] = json!([{"type": "text", "text": text}]);
    }
    out.push(node);
    // Past the closing fence; an unclosed block runs to the end.
    (i + 1).min(lines.len())
}

fn block_quote(lines: &[&str], start: usize, out: &mut Vec<Value>) -> usize {
    let mut inner = Vec::new();
    let mut i = start;
    while let Some(rest) = lines.get(i).and_then(|l| l.trim_start().strip_prefix('>')) {
        inner.push(rest.strip_prefix(' ').unwrap_or(rest));
        i += 1;
    }
    // ADF quotes hold paragraphs, lists and code only: headings become paragraphs, rules go.
    let content: Vec<Value> = blocks(&inner)
        .into_iter()
        .flat_map(|node| match node["type"].as_str() {
            Some("heading") => vec![json!({"type": "paragraph", "content": node["content"]})],
            Some("rule") => Vec::new(),
            Some("blockquote") => node["content"].as_array().cloned().unwrap_or_default(),
            _ => vec![node],
        })
        .collect();
    out.push(json!({"type": "blockquote", "content": content}));
    i
}

// ---- lists ----

/// A list item's marker: its indentation, its number (ordered lists), where its text starts.
#[derive(Debug, Clone, Copy)]
struct Marker {
    indent: usize,
    number: Option<u64>,
    text_at: usize,
}

fn indent_of(line: &str) -> usize {
    line.chars()
        .take_while(|c| c.is_whitespace())
        .map(|c| if c == '\t' { 4 } else { 1 })
        .sum()
}

fn marker(line: &str) -> Option<Marker> {
    let indent = indent_of(line);
    let start = line.len() - line.trim_start().len();
    let rest = &line[start..];
    if let Some(after) = rest
        .strip_prefix("- ")
        .or_else(|| rest.strip_prefix("* "))
        .or_else(|| rest.strip_prefix("+ "))
    {
        let text_at = line.len() - after.len();
        return Some(Marker {
            indent,
            number: None,
            text_at,
        });
    }
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    if !(1..=9).contains(&digits) {
        return None;
    }
    let after = rest[digits..]
        .strip_prefix(". ")
        .or_else(|| rest[digits..].strip_prefix(") "))?;
    Some(Marker {
        indent,
        number: rest[..digits].parse().ok(),
        text_at: line.len() - after.len(),
    })
}

/// Parses the list starting at `start` into `out`; returns the line after it.
fn list(lines: &[&str], start: usize, out: &mut Vec<Value>) -> usize {
    let Some(first) = marker(lines[start]) else {
        return start + 1;
    };
    let ordered = first.number.is_some();
    let mut items = Vec::new();
    let mut i = start;
    while let Some(m) = lines.get(i).and_then(|l| marker(l)) {
        if m.indent < first.indent || m.number.is_some() != ordered {
            break;
        }
        let (item, next) = list_item(lines, i, m);
        items.push(item);
        i = next;
        // A blank line between two items of this list keeps the list going.
        let after_blanks = (i..lines.len())
            .find(|&j| !lines[j].trim().is_empty())
            .unwrap_or(lines.len());
        if after_blanks > i
            && lines
                .get(after_blanks)
                .and_then(|l| marker(l))
                .is_some_and(|n| n.indent == first.indent && n.number.is_some() == ordered)
        {
            i = after_blanks;
        }
    }
    let mut node = if ordered {
        json!({"type": "orderedList", "content": items})
    } else {
        json!({"type": "bulletList", "content": items})
    };
    if let Some(n) = first.number.filter(|&n| n != 1) {
        node["attrs"] = json!({"order": n});
    }
    out.push(node);
    i
}

/// One item: its text, continuation lines indented past its marker, and nested lists.
fn list_item(lines: &[&str], start: usize, m: Marker) -> (Value, usize) {
    let mut text = vec![&lines[start][m.text_at..]];
    let mut children = Vec::new();
    let mut i = start + 1;
    while let Some(line) = lines.get(i) {
        if line.trim().is_empty() {
            break;
        }
        match marker(line) {
            Some(n) if n.indent > m.indent => i = list(lines, i, &mut children),
            Some(_) => break,
            None if indent_of(line) > m.indent && children.is_empty() => {
                text.push(line.trim());
                i += 1;
            }
            None => break,
        }
    }
    let mut content = vec![paragraph(&text)];
    content.extend(children);
    (json!({"type": "listItem", "content": content}), i)
}

// ---- inline ----

fn text_node(text: &str, marks: &[Value]) -> Value {
    if marks.is_empty() {
        json!({"type": "text", "text": text})
    } else {
        json!({"type": "text", "text": text, "marks": marks})
    }
}

/// `marks` plus `mark`, unless a mark of its type is already there.
fn with_mark(marks: &[Value], mark: Value) -> Vec<Value> {
    let mut all = marks.to_vec();
    if !marks.iter().any(|m| m["type"] == mark["type"]) {
        all.push(mark);
    }
    all
}

/// Inline content of one line of text, each run carrying `marks` and its own.
fn inline(text: &str, marks: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut plain = String::new();
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        if let Some((nodes, next)) = span_at(text, i, marks) {
            if !plain.is_empty() {
                out.push(text_node(&std::mem::take(&mut plain), marks));
            }
            out.extend(nodes);
            i = next;
            continue;
        }
        let next = text[i + c.len_utf8()..].chars().next();
        if matches!(c, '*' | '_' | '~') {
            // A run that opens nothing is literal as a whole (its tail must not open either).
            let run = text[i..].chars().take_while(|&x| x == c).count();
            plain.extend(std::iter::repeat_n(c, run));
            i += run;
        } else if c == '\\' && next.is_some_and(|n| n.is_ascii_punctuation()) {
            plain.extend(next);
            i += 2;
        } else {
            plain.push(c);
            i += c.len_utf8();
        }
    }
    if !plain.is_empty() {
        out.push(text_node(&plain, marks));
    }
    out
}

/// The span (code, emphasis, link) starting at byte `i`, and the byte after it.
fn span_at(text: &str, i: usize, marks: &[Value]) -> Option<(Vec<Value>, usize)> {
    let rest = &text[i..];
    match rest.as_bytes().first()? {
        b'`' => code_span(rest, marks).map(|(n, len)| (n, i + len)),
        b'*' | b'_' | b'~' => emphasis(text, i, marks),
        b'[' => link(rest, marks).map(|(n, len)| (n, i + len)),
        b'<' => autolink(rest, marks).map(|(n, len)| (n, i + len)),
        _ => None,
    }
}

fn code_span(rest: &str, marks: &[Value]) -> Option<(Vec<Value>, usize)> {
    let ticks = rest.bytes().take_while(|&b| b == b'`').count();
    let fence = &rest[..ticks];
    let close = rest[ticks..].find(fence)? + ticks;
    let code = rest[ticks..close].trim();
    if code.is_empty() {
        return None;
    }
    // ADF allows the code mark with a link only.
    let mut kept: Vec<Value> = marks
        .iter()
        .filter(|m| m["type"] == "link")
        .cloned()
        .collect();
    kept.push(json!({"type": "code"}));
    Some((vec![text_node(code, &kept)], close + ticks))
}

fn emphasis(text: &str, i: usize, marks: &[Value]) -> Option<(Vec<Value>, usize)> {
    let rest = &text[i..];
    let c = rest.chars().next()?;
    let run = rest.chars().take_while(|&x| x == c).count();
    let n = if c == '~' || run >= 2 { 2 } else { 1 };
    if run < n {
        return None;
    }
    let before = text[..i].chars().next_back();
    // `_` inside a word (snake_case) is not emphasis.
    if c == '_' && before.is_some_and(char::is_alphanumeric) {
        return None;
    }
    let delim = &rest[..n];
    let body_at = n;
    if rest[body_at..]
        .chars()
        .next()
        .is_none_or(char::is_whitespace)
    {
        return None;
    }
    let close = find_closing(&rest[body_at..], delim, c)? + body_at;
    let mark = match (c, n) {
        ('~', _) => json!({"type": "strike"}),
        (_, 2) => json!({"type": "strong"}),
        _ => json!({"type": "em"}),
    };
    let inner = inline(&rest[body_at..close], &with_mark(marks, mark));
    Some((inner, i + close + n))
}

/// Where `delim` closes in `body`: at the end of a run of its character that does not follow
/// whitespace or a backslash, and (for `_`) is not inside a word. A run of two cannot close a
/// single delimiter: it closes an inner `**`.
fn find_closing(body: &str, delim: &str, c: char) -> Option<usize> {
    let n = delim.len();
    let mut from = 0;
    while let Some(found) = body[from..].find(c) {
        let at = from + found;
        let run = body[at..].chars().take_while(|&x| x == c).count();
        let prev = body[..at].chars().next_back();
        let after = body[at + run..].chars().next();
        let fits = if n == 1 { run != 2 } else { run >= 2 };
        let flanked = at > 0 && !prev.is_some_and(char::is_whitespace) && prev != Some('\\');
        let word_after = c == '_' && after.is_some_and(char::is_alphanumeric);
        if fits && flanked && !word_after {
            return Some(at + run - n);
        }
        from = at + run;
    }
    None
}

fn link(rest: &str, marks: &[Value]) -> Option<(Vec<Value>, usize)> {
    let mut depth = 0usize;
    let mut close = None;
    for (at, ch) in rest.char_indices() {
        match ch {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(at);
                    break;
                }
            }
            _ => {}
        }
    }
    let close = close?;
    let target = rest[close + 1..].strip_prefix('(')?;
    let end = target.find(')')?;
    let href = target[..end].trim();
    if href.is_empty() || href.contains(char::is_whitespace) {
        return None;
    }
    let label = &rest[1..close];
    let mark = json!({"type": "link", "attrs": {"href": href}});
    let mut nodes = inline(label, &with_mark(marks, mark.clone()));
    if nodes.is_empty() {
        nodes.push(text_node(href, &with_mark(marks, mark)));
    }
    Some((nodes, close + 2 + end + 1))
}

fn autolink(rest: &str, marks: &[Value]) -> Option<(Vec<Value>, usize)> {
    let end = rest.find('>')?;
    let url = &rest[1..end];
    let is_url = (url.starts_with("http://") || url.starts_with("https://"))
        && !url.contains(char::is_whitespace);
    if !is_url {
        return None;
    }
    let mark = json!({"type": "link", "attrs": {"href": url}});
    Some((vec![text_node(url, &with_mark(marks, mark))], end + 1))
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
