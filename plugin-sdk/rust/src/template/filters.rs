//! The filters templates get beyond minijinja's built-ins (`default`, `tojson`, `upper`,
//! `join`…): escaping for the formats providers send (a JSON string, Slack mrkdwn, Markdown,
//! HTML), date formatting, truncation, and `required`, the strict filter that turns a missing
//! value into a render error. Each is a pure function of its arguments; `register` adds them
//! to an environment.
//!
//! | filter | example | gives |
//! |---|---|---|
//! | `json_escape` | `"{{ payload.title \| json_escape }}"` | `Disk "full"` → `Disk \"full\"` |
//! | `mrkdwn_escape` | `{{ payload.title \| mrkdwn_escape }}` | `a<b & c>` → `a&lt;b &amp; c&gt;` |
//! | `markdown_escape` | `{{ payload.title \| markdown_escape }}` | `*bold*` → `\*bold\*` |
//! | `html_escape` | `{{ payload.title \| html_escape }}` | `<b>"x"</b>` → `&lt;b&gt;&quot;x&quot;&lt;/b&gt;` |
//! | `date` | `{{ event.timestamp \| date("%d %b %Y %H:%M") }}` | `2026-01-02T03:04:05Z` → `02 Jan 2026 03:04` |
//! | `truncate` | `{{ payload.description \| truncate(20) }}` | at most 20 characters, ending in `…` when cut |
//! | `required` | `{{ payload.title \| required }}` | the value, or a render error when it is missing or null |
//! | `default` (built-in) | `{{ payload.severity \| default("unknown") }}` | the value, or `unknown` when it is missing |
//! | `tojson` (built-in) | `{{ payload \| tojson }}` | the value as JSON |

use std::fmt::Write as _;

use chrono::format::StrftimeItems;
use chrono::{DateTime, Utc};
use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

/// The format `date` uses without an argument: RFC 3339 in UTC, to the second.
pub const DEFAULT_DATE_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";
/// What `truncate` appends to a cut text unless told otherwise.
pub const TRUNCATION_MARK: &str = "…";

/// Adds the SDK's filters to `env`.
pub fn register(env: &mut Environment<'_>) {
    env.add_filter("json_escape", json_escape);
    env.add_filter("mrkdwn_escape", mrkdwn_escape);
    env.add_filter("markdown_escape", markdown_escape);
    env.add_filter("html_escape", html_escape);
    env.add_filter("date", date);
    env.add_filter("truncate", truncate);
    env.add_filter("required", required);
}

/// The text of a value as the template would print it (objects and lists as JSON).
pub fn text_of(value: &Value) -> String {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => String::new(),
        ValueKind::Map | ValueKind::Seq | ValueKind::Iterable | ValueKind::Plain => {
            serde_json::to_string(value).unwrap_or_else(|_| value.to_string())
        }
        _ => value.to_string(),
    }
}

/// The value's text escaped for use inside a JSON string literal (without the quotes).
fn json_escape(value: &Value) -> String {
    let quoted = serde_json::Value::String(text_of(value)).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

/// Slack's mrkdwn escaping: `&`, `<` and `>` become entities, so user text cannot form links
/// or mentions.
fn mrkdwn_escape(value: &Value) -> String {
    let text = text_of(value);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// CommonMark escaping: a backslash before every character that could start markup.
fn markdown_escape(value: &Value) -> String {
    escape_markdown(&text_of(value))
}

/// `text` with a backslash before every character that could start CommonMark markup (the
/// `markdown_escape` filter; providers rendering Markdown themselves use it for plain values).
#[must_use]
pub fn escape_markdown(text: &str) -> String {
    const SPECIAL: &str = "\\`*_{}[]()<>#+-.!|~";
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if SPECIAL.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// HTML escaping of `&`, `<`, `>`, `"` and `'`.
fn html_escape(value: &Value) -> String {
    let text = text_of(value);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Formats an RFC 3339 timestamp or Unix seconds with a `strftime` format (UTC).
fn date(value: &Value, format: Option<&str>) -> Result<String, Error> {
    let format = format.unwrap_or(DEFAULT_DATE_FORMAT);
    let items = StrftimeItems::new(format)
        .parse()
        .map_err(|_| invalid(format!("date: {format:?} is not a valid strftime format")))?;
    let at = timestamp_of(value)?;
    // `write!`, not `to_string`: a format chrono cannot apply must be an error, not a panic.
    let mut out = String::new();
    write!(out, "{}", at.format_with_items(items.iter()))
        .map_err(|_| invalid(format!("date: {format:?} cannot format a timestamp")))?;
    Ok(out)
}

fn timestamp_of(value: &Value) -> Result<DateTime<Utc>, Error> {
    if let Some(text) = value.as_str() {
        return DateTime::parse_from_rfc3339(text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|_| invalid("date: the value is not an RFC 3339 timestamp"));
    }
    i64::try_from(value.clone())
        .ok()
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        .ok_or_else(|| invalid("date: the value is neither a timestamp nor Unix seconds"))
}

/// At most `length` characters: a longer text is cut and ends in `end` (default `…`).
fn truncate(value: &Value, length: usize, kwargs: Kwargs) -> Result<String, Error> {
    let end: Option<&str> = kwargs.get("end")?;
    kwargs.assert_all_used()?;
    let end = end.unwrap_or(TRUNCATION_MARK);
    let text = text_of(value);
    if text.chars().count() <= length {
        return Ok(text);
    }
    let keep = length.saturating_sub(end.chars().count());
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(end);
    Ok(out)
}

/// The value itself, or an error when it is missing or null.
fn required(value: Value) -> Result<Value, Error> {
    if value.is_undefined() || value.is_none() {
        return Err(invalid("a required value is missing"));
    }
    Ok(value)
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}
