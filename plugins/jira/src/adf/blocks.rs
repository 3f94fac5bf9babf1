//! The block structure of the Markdown → ADF converter: paragraphs, headings, rules, fenced
//! code blocks, quotes and (nested) lists, read line by line. The text inside each block is
//! handed to [`super::inline`].

use serde_json::{Value, json};

use super::inline::inline;

/// The ADF blocks of `lines`.
pub(super) fn blocks(lines: &[&str]) -> Vec<Value> {
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
