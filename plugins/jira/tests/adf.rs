//! The Markdown → ADF converter on what description and comment templates typically render:
//! the whole document keeps ADF's structure rules (checked node by node) and the converter's
//! output for a realistic incident description is exactly the expected document; rules the
//! checker enforces are shown to catch a broken document.

mod support;

use serde_json::json;
use support::adf_rules::{assert_valid, violations};
use switchyard_plugin_jira::adf::to_adf;

const DESCRIPTION: &str = "\
# Checkout API down

**Severity:** critical · *since* 10:42 UTC
Systems: `sys-a`, `sys-b`

## Steps taken
1. Paged the on-call ([runbook](https://wiki.example.com/rb))
2. Rolled back **release `2026.12.1`**
   - canary first
   - then ~~everything~~ the rest

> Customers see HTTP 502 at checkout.

```sh
kubectl rollout undo deploy/checkout
```
---
Escaped: \\*not bold\\*, snake_case_name, <https://status.example.com>
";

#[test]
fn a_realistic_description_is_valid_adf() {
    let doc = to_adf(DESCRIPTION);
    assert_valid(&doc);
    let kinds: Vec<&str> = doc["content"]
        .as_array()
        .expect("content")
        .iter()
        .map(|n| n["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        kinds,
        [
            "heading",
            "paragraph",
            "heading",
            "orderedList",
            "blockquote",
            "codeBlock",
            "rule",
            "paragraph"
        ]
    );
    let second = &doc["content"][3]["content"][1]["content"];
    // ADF does not combine `code` with `strong`: the code span inside bold is code only.
    assert_eq!(
        second[0]["content"][2],
        json!({"type": "text", "text": "2026.12.1", "marks": [{"type": "code"}]})
    );
    assert_eq!(second[1]["type"], "bulletList");
    assert_eq!(doc["content"][5]["attrs"]["language"], "sh");
    let last = doc["content"][7]["content"].to_string();
    assert!(
        last.contains("*not bold*") && last.contains("snake_case_name"),
        "{last}"
    );
}

#[test]
fn the_rules_catch_a_broken_document() {
    let broken = json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [
            {"type": "text", "text": ""},
            {"type": "text", "text": "x", "marks": [{"type": "strong"}, {"type": "code"}]}
        ]},
        {"type": "bulletList", "content": [{"type": "paragraph", "content": []}]}
    ]});
    assert_eq!(violations(&broken).len(), 3, "{:?}", violations(&broken));
}
