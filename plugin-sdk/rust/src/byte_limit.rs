//! Cutting text to a vendor's limit counted in **bytes** (Webex: 7,439 bytes of Markdown;
//! Adaptive Cards: about 28 KB per card), where [`crate::lifecycle::cut_chars`] counts
//! characters. Cut on a character boundary and marked with `…`, never rejected: a reader
//! prefers the start of a long text to a failed delivery.

/// The marker a cut text ends in.
const ELLIPSIS: char = '…';

/// `text` cut to at most `limit` bytes of UTF-8 on a character boundary, ending in `…` when
/// cut (the marker's 3 bytes count towards the limit; below 3 bytes nothing is left but the
/// whole characters that fit).
#[must_use]
pub fn cut_bytes(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let marker = ELLIPSIS.len_utf8();
    if limit < marker {
        return text[..floor_boundary(text, limit)].to_owned();
    }
    let mut out = text[..floor_boundary(text, limit - marker)].to_owned();
    out.push(ELLIPSIS);
    out
}

/// The largest character boundary of `text` at or below `at`.
fn floor_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_texts_are_kept_and_long_ones_cut_on_a_boundary() {
        assert_eq!(cut_bytes("abc", 3), "abc");
        assert_eq!(cut_bytes("abcdef", 5), "ab…");
        // "é" is 2 bytes: 7 - 3 = 4 bytes of text, two whole "é".
        assert_eq!(cut_bytes("ééééé", 7), "éé…");
        assert_eq!(cut_bytes("ééééé", 8), "éé…");
        assert!(cut_bytes(&"€".repeat(5000), 7439).len() <= 7439);
        assert_eq!(cut_bytes("éé", 1), "");
        assert_eq!(cut_bytes("abcdef", 2), "ab");
    }
}
