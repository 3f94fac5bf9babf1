//! Walking Jira's paginated lists to the end. Jira pages two ways: "page beans"
//! (`project/search`, `priority/search`: `values`, `isLast`) and the create-metadata pages
//! (`issueTypes` or `fields`, with `startAt` / `maxResults` / `total`). Both are read with
//! `startAt` and `maxResults` until Jira says it was the last page (or a page comes back
//! short or empty), bounded so a server that never ends cannot keep a call going for ever.

use serde_json::Value;

use crate::api::{Failure, Jira};

/// Items asked for per page (Jira caps most lists at 50 or 100).
pub const PAGE_SIZE: usize = 50;
/// The most pages read from one list (25,000 items at [`PAGE_SIZE`]).
pub const MAX_PAGES: usize = 500;

/// Every item of the list at `segments`, whose pages hold their items under one of
/// `item_keys` (the first present).
///
/// # Errors
/// The first page that fails, or a list that does not end within [`MAX_PAGES`].
pub async fn all(
    jira: &Jira<'_>,
    segments: &[String],
    item_keys: &[&str],
) -> Result<Vec<Value>, Failure> {
    let mut items = Vec::new();
    for _ in 0..MAX_PAGES {
        let query = [
            ("startAt", items.len().to_string()),
            ("maxResults", PAGE_SIZE.to_string()),
        ];
        let page = jira.get(segments, &query).await?;
        let found: Vec<Value> = item_keys
            .iter()
            .find_map(|k| page.get(*k).and_then(Value::as_array))
            .cloned()
            .unwrap_or_default();
        let got = found.len();
        items.extend(found);
        if got == 0 || is_last(&page, items.len(), got) {
            return Ok(items);
        }
    }
    Err(Failure::permanent(format!(
        "Jira's list at /{} did not end after {MAX_PAGES} pages",
        segments.join("/")
    )))
}

/// Whether `page` (which brought `got` items, `seen` in all so far) is the last one.
fn is_last(page: &Value, seen: usize, got: usize) -> bool {
    if let Some(last) = page.get("isLast").and_then(Value::as_bool) {
        return last;
    }
    let as_usize = |k: &str| {
        page.get(k)
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
    };
    match as_usize("total") {
        Some(total) => seen >= total,
        // Neither flag nor total: a page shorter than asked for is the last.
        None => got < as_usize("maxResults").unwrap_or(PAGE_SIZE).min(PAGE_SIZE),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_last_page_is_known_by_flag_total_or_shortness() {
        assert!(is_last(&json!({"isLast": true, "total": 900}), 10, 10));
        assert!(!is_last(&json!({"isLast": false}), 10, 10));
        assert!(!is_last(&json!({"total": 120}), 100, 50));
        assert!(is_last(&json!({"total": 120}), 120, 20));
        assert!(is_last(&json!({"maxResults": 50}), 70, 20));
        assert!(!is_last(&json!({"maxResults": 50}), 100, 50));
    }
}
