//! Untrusted text made safe to show. Names, ids and messages come from API clients and from
//! plugins; shown raw they could be megabytes long (a gRPC error's message travels in a
//! response header, which clients cap) or drive the reader's terminal with escape sequences.
//! [`quote`] is how an error message cites what it rejects; [`escape_controls`] is how the CLI
//! prints anything it did not write itself.

use std::fmt::Write as _;

/// At most this many characters of a rejected value are quoted in an error message.
pub const QUOTE_CHARS: usize = 40;

/// `text` for an error message: quoted, at most [`QUOTE_CHARS`] characters (then `…` and the
/// full length), control characters escaped.
#[must_use]
pub fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    let mut chars = text.chars();
    for c in chars.by_ref().take(QUOTE_CHARS) {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => push_escaped(&mut out, c),
        }
    }
    out.push('"');
    if chars.next().is_some() {
        let _ = write!(out, "… ({} bytes)", text.len());
    }
    out
}

/// `text` with every control character (C0, DEL and C1, which includes the one-byte CSI
/// U+009B) written as a visible escape (`\n`, `\t`, `\u{1b}`), so that printing it cannot move
/// the cursor, recolour or retitle a terminal. Borrowed unchanged when there is none.
#[must_use]
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    std::borrow::Cow::Owned(out)
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if c.is_control() => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_short_and_escaped() {
        assert_eq!(quote("abc"), "\"abc\"");
        assert_eq!(quote("a\"b\u{1b}[2J"), "\"a\\\"b\\u{1b}[2J\"");
        let long = "x".repeat(100_000);
        let q = quote(&long);
        assert!(q.len() < 80, "{q}");
        assert!(q.ends_with("… (100000 bytes)"), "{q}");
    }

    #[test]
    fn control_characters_become_visible() {
        assert_eq!(escape_controls("plain"), "plain");
        assert_eq!(
            escape_controls("a\u{0}b\u{1b}]0;pwned\u{7}\u{9b}c\nd"),
            "a\\u{0}b\\u{1b}]0;pwned\\u{7}\\u{9b}c\\nd"
        );
    }
}
