//! The structure rules of Atlassian Document Format for the nodes and marks the plugin writes,
//! as Atlassian's ADF documentation states them: which node may hold which, text nodes are
//! never empty, `code` combines with `link` only, headings have a level of 1 to 6, links an
//! `href`. Jira refuses a description or comment that breaks them ("INVALID_INPUT").

use serde_json::Value;

/// The children each node type may hold (`None`: it holds no content).
fn allowed_children(kind: &str) -> Option<&'static [&'static str]> {
    const BLOCKS: &[&str] = &[
        "paragraph",
        "heading",
        "bulletList",
        "orderedList",
        "codeBlock",
        "blockquote",
        "rule",
    ];
    match kind {
        "doc" => Some(BLOCKS),
        "paragraph" | "heading" => Some(&["text", "hardBreak"]),
        "bulletList" | "orderedList" => Some(&["listItem"]),
        "listItem" => Some(&["paragraph", "bulletList", "orderedList", "codeBlock"]),
        "blockquote" => Some(&["paragraph", "bulletList", "orderedList", "codeBlock"]),
        "codeBlock" => Some(&["text"]),
        _ => None,
    }
}

/// Every rule broken in `doc`, with the JSON Pointer of the node.
pub fn violations(doc: &Value) -> Vec<String> {
    let mut found = Vec::new();
    if doc["type"] != "doc" || doc["version"] != 1 {
        found.push("the root must be {\"type\": \"doc\", \"version\": 1}".to_owned());
    }
    node(doc, "", &mut found);
    found
}

fn node(value: &Value, at: &str, found: &mut Vec<String>) {
    let kind = value["type"].as_str().unwrap_or("");
    match kind {
        "text" => text(value, at, found),
        "heading" => {
            let level = value["attrs"]["level"].as_u64().unwrap_or(0);
            if !(1..=6).contains(&level) {
                found.push(format!("{at}: heading level {level}"));
            }
        }
        "listItem" if value["content"][0]["type"] != "paragraph" => {
            found.push(format!("{at}: a list item must start with a paragraph"));
        }
        "bulletList" | "orderedList" | "listItem" | "blockquote"
            if value["content"].as_array().is_none_or(Vec::is_empty) =>
        {
            found.push(format!("{at}: {kind} needs content"));
        }
        _ => {}
    }
    let Some(children) = value.get("content").and_then(Value::as_array) else {
        return;
    };
    let Some(allowed) = allowed_children(kind) else {
        found.push(format!("{at}: {kind} cannot hold content"));
        return;
    };
    for (i, child) in children.iter().enumerate() {
        let child_at = format!("{at}/content/{i}");
        let child_kind = child["type"].as_str().unwrap_or("");
        if !allowed.contains(&child_kind) {
            found.push(format!("{child_at}: {kind} cannot hold {child_kind:?}"));
        }
        if kind == "codeBlock" && child.get("marks").is_some() {
            found.push(format!("{child_at}: code block text carries no marks"));
        }
        node(child, &child_at, found);
    }
}

fn text(value: &Value, at: &str, found: &mut Vec<String>) {
    if value["text"].as_str().is_none_or(str::is_empty) {
        found.push(format!("{at}: a text node must not be empty"));
    }
    let marks: Vec<&str> = value["marks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| m["type"].as_str().unwrap_or(""))
        .collect();
    for (i, mark) in marks.iter().enumerate() {
        if !["strong", "em", "code", "strike", "link"].contains(mark) {
            found.push(format!("{at}: unknown mark {mark:?}"));
        }
        if marks[..i].contains(mark) {
            found.push(format!("{at}: mark {mark:?} twice"));
        }
        if *mark == "link"
            && value["marks"][i]["attrs"]["href"]
                .as_str()
                .is_none_or(str::is_empty)
        {
            found.push(format!("{at}: a link needs an href"));
        }
    }
    if marks.contains(&"code") && marks.iter().any(|m| !["code", "link"].contains(m)) {
        found.push(format!("{at}: code combines with link only, not {marks:?}"));
    }
}

/// Panics listing every rule `doc` breaks.
pub fn assert_valid(doc: &Value) {
    let found = violations(doc);
    assert!(
        found.is_empty(),
        "invalid ADF:\n  - {}\n{doc:#}",
        found.join("\n  - ")
    );
}
