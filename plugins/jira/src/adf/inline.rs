//! The inline spans of the Markdown → ADF converter: code, emphasis (`**`, `*`, `__`, `_`,
//! `~~`), links and autolinks become ADF text nodes with marks; backslash escapes and
//! whatever opens nothing stay literal.

use serde_json::{Value, json};

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
pub(super) fn inline(text: &str, marks: &[Value]) -> Vec<Value> {
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
