//! How client commands print: aligned tables and `key: value` records for people, or one JSON
//! document for scripts (`--json`). Commands build both forms; this module only prints, and it
//! is the only code that writes to stdout, so that two rules hold everywhere:
//! - Text from the server (names, errors, payloads) may hold control characters; people's
//!   forms show them escaped (`\u{1b}`), so printing cannot drive the terminal. JSON escapes
//!   C0 characters already; DEL and C1 (e.g. the one-byte CSI U+009B) are escaped too.
//! - A closed stdout (`switchyard … | head -1`) ends the command quietly, not with a panic.

use std::fmt::Write as _;
use std::io::Write as _;

use prost_types::Timestamp;
use serde_json::Value;

use crate::text::escape_controls;

/// The chosen output form.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    json: bool,
}

impl Output {
    pub(crate) fn new(json: bool) -> Self {
        Self { json }
    }

    /// Prints rows under headers, or `json`.
    pub(crate) fn table(self, headers: &[&str], rows: &[Vec<String>], json: &Value) {
        if self.json {
            return emit_json(&format!("{json:#}"));
        }
        emit(&render_escaped(headers, rows));
    }

    /// Prints a second table after a record, for people only (the record's `json` holds it).
    pub(crate) fn subtable(self, headers: &[&str], rows: &[Vec<String>]) {
        if !self.json {
            emit(&format!("\n{}", render_escaped(headers, rows)));
        }
    }

    /// Prints `key: value` lines, or `json`.
    pub(crate) fn record(self, fields: &[(&str, String)], json: &Value) {
        if self.json {
            return emit_json(&format!("{json:#}"));
        }
        let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (key, value) in fields {
            let _ = writeln!(out, "{key:<width$}  {}", escape_controls(value));
        }
        emit(&out);
    }

    /// Prints a hint for people; nothing with `--json`.
    pub(crate) fn note(self, text: &str) {
        if !self.json {
            emit(&format!("{}\n", escape_controls(text)));
        }
    }

    /// Prints one JSON line (for streams), or a table-like line.
    pub(crate) fn line(self, text: &str, json: &Value) {
        if self.json {
            emit_json(&json.to_string());
        } else {
            emit(&format!("{}\n", escape_controls(text)));
        }
    }
}

/// Prints a JSON document and a newline, with DEL and C1 characters escaped (`serde_json`
/// leaves them raw; they are legal JSON, but a terminal may obey them).
fn emit_json(json: &str) {
    let mut out = String::with_capacity(json.len() + 1);
    for c in json.chars() {
        if ('\u{7f}'..='\u{9f}').contains(&c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out.push('\n');
    emit(&out);
}

/// Writes to stdout. When the reader has gone (EPIPE), the command's output is no longer
/// wanted: exit at once and quietly, as `cat` or `grep` would.
pub(super) fn emit(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("switchyard: cannot write the output: {e}");
            std::process::exit(1);
        }
    }
}

/// [`render_table`] of cells with their control characters escaped.
fn render_escaped(headers: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|c| escape_controls(c).into_owned())
                .collect()
        })
        .collect();
    render_table(headers, &rows)
}

/// Renders a table with columns padded to their widest cell.
pub(crate) fn render_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut push_row = |cells: Vec<&str>| {
        let line: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    };
    push_row(headers.to_vec());
    for row in rows {
        push_row(row.iter().map(String::as_str).collect());
    }
    out
}

/// A protobuf timestamp as RFC 3339 text; "-" when absent.
pub(crate) fn ts(t: Option<&Timestamp>) -> String {
    t.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
        .map_or_else(
            || "-".to_owned(),
            |d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        )
}

/// A timestamp as JSON: RFC 3339 text or null.
pub(crate) fn ts_json(t: Option<&Timestamp>) -> Value {
    match ts(t).as_str() {
        "-" => Value::Null,
        s => Value::String(s.to_owned()),
    }
}

/// Parses JSON text from the API for embedding in `--json` output (kept as text if invalid).
pub(crate) fn json_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// "-" for an empty string, for table cells.
pub(crate) fn dash(s: &str) -> String {
    if s.is_empty() {
        "-".to_owned()
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_columns_to_the_widest_cell() {
        let text = render_table(&["ID", "NAME"], &[vec!["1".into(), "alpha".into()]]);
        assert_eq!(text, "ID  NAME\n1   alpha\n");
    }

    #[test]
    fn timestamps_print_as_rfc3339() {
        let t = Timestamp {
            seconds: 0,
            nanos: 0,
        };
        assert_eq!(ts(Some(&t)), "1970-01-01T00:00:00.000Z");
        assert_eq!(ts(None), "-");
    }
}
