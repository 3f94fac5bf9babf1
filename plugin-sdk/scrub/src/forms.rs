//! The forms in which a secret value may come back in a text, and so must be hidden:
//!
//! - the value itself;
//! - JSON-string-escaped, with non-ASCII kept and with everything beyond `~` as `\uXXXX`
//!   (what `json.dumps` writes by default);
//! - percent-encoded (every byte but `A-Z a-z 0-9 - . _ ~`), with upper- and lower-case hex;
//!   form-urlencoded (space as `+`), with `~` kept (Python's `quote_plus`) and with `*` kept
//!   (the WHATWG rule, what `reqwest`/`url` write);
//! - base64, standard and URL-safe alphabets, with and without padding, of the value and of
//!   `x:value` and `value:x` for every other string `x` of the config (basic auth sends
//!   `base64(user:password)`, and the user name is an ordinary config string);
//! - when the value is an `http(s)` URL (a Slack-style webhook URL): the password of its
//!   userinfo, its path with the query, and each path segment and query value of at least
//!   [`MIN_URL_PART_CHARS`] characters (shorter ones are words like `services`, not tokens).
//!
//! Values shorter than [`MIN_SECRET_CHARS`] characters are not hidden: replacing every `ab`
//! or `1` in a text would shred it without protecting anything (such a value can be guessed).

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// Secrets shorter than this (in characters) are not hidden.
pub const MIN_SECRET_CHARS: usize = 4;

/// Path segments and query values of a secret URL shorter than this are not hidden on their own.
pub const MIN_URL_PART_CHARS: usize = 12;

/// Every form of `secret` to hide; empty when it is too short. `others` are the config's other
/// strings (for the basic-auth pairs).
#[must_use]
pub fn of(secret: &str, others: &[&str]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if secret.chars().count() < MIN_SECRET_CHARS {
        return out;
    }
    out.insert(secret.to_owned());
    out.insert(json_escaped(secret, false));
    out.insert(json_escaped(secret, true));
    out.insert(percent(secret, Hex::Upper));
    out.insert(percent(secret, Hex::Lower));
    out.insert(form(secret, b'~'));
    out.insert(form(secret, b'*'));
    out.extend(base64_all(secret.as_bytes()));
    for other in others {
        out.extend(base64_all(format!("{other}:{secret}").as_bytes()));
        out.extend(base64_all(format!("{secret}:{other}").as_bytes()));
    }
    out.extend(url_parts(secret));
    out.retain(|form| !form.is_empty());
    out
}

/// The four base64 spellings of `bytes`.
fn base64_all(bytes: &[u8]) -> [String; 4] {
    [
        STANDARD.encode(bytes),
        STANDARD_NO_PAD.encode(bytes),
        URL_SAFE.encode(bytes),
        URL_SAFE_NO_PAD.encode(bytes),
    ]
}

/// The content of the JSON string for `text` (without the quotes); `ascii` escapes non-ASCII.
#[must_use]
pub fn json_escaped(text: &str, ascii: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            // DEL too, as Python's `json.dumps` does.
            c if u32::from(c) < 0x20 || (ascii && u32::from(c) > 0x7e) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Hex {
    Upper,
    Lower,
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn push_hex(out: &mut String, b: u8, hex: Hex) {
    match hex {
        Hex::Upper => out.push_str(&format!("%{b:02X}")),
        Hex::Lower => out.push_str(&format!("%{b:02x}")),
    }
}

/// Percent-encoding of every byte but the unreserved ones.
fn percent(text: &str, hex: Hex) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if unreserved(b) {
            out.push(char::from(b));
        } else {
            push_hex(&mut out, b, hex);
        }
    }
    out
}

/// Form-urlencoding: alphanumerics, `-`, `.`, `_` and `kept` as they are, space as `+`.
fn form(text: &str, kept: u8) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') || b == kept {
            out.push(char::from(b));
        } else if b == b' ' {
            out.push('+');
        } else {
            push_hex(&mut out, b, Hex::Upper);
        }
    }
    out
}

/// The token-like parts of an `http(s)` URL; nothing for other values.
fn url_parts(value: &str) -> Vec<String> {
    let lower = value.to_ascii_lowercase();
    let Some(rest) = ["http://", "https://"]
        .iter()
        .find(|scheme| lower.starts_with(*scheme))
        .map(|scheme| &value[scheme.len()..])
    else {
        return Vec::new();
    };
    let cut = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(cut);
    let mut parts = Vec::new();
    if let Some((userinfo, _)) = authority.rsplit_once('@')
        && let Some((_, password)) = userinfo.split_once(':')
    {
        parts.push(password.to_owned());
    }
    let tail = tail.split('#').next().unwrap_or_default();
    parts.push(tail.to_owned());
    let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
    let long = |part: &&str| part.chars().count() >= MIN_URL_PART_CHARS;
    parts.extend(path.split('/').filter(long).map(str::to_owned));
    let values = query
        .split('&')
        .map(|pair| pair.split_once('=').map_or(pair, |(_, value)| value));
    parts.extend(values.filter(long).map(str::to_owned));
    parts.retain(|part| part.chars().count() >= MIN_SECRET_CHARS);
    parts
}
