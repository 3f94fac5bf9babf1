//! How client commands print: aligned tables and `key: value` records for people, or one JSON
//! document for scripts (`--json`). Commands build both forms; this module only prints.

use std::fmt::Write as _;

use prost_types::Timestamp;
use serde_json::Value;

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
            println!("{json:#}");
            return;
        }
        print!("{}", render_table(headers, rows));
    }

    /// Prints `key: value` lines, or `json`.
    pub(crate) fn record(self, fields: &[(&str, String)], json: &Value) {
        if self.json {
            println!("{json:#}");
            return;
        }
        let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (key, value) in fields {
            println!("{key:<width$}  {value}");
        }
    }

    /// Prints a hint for people; nothing with `--json`.
    pub(crate) fn note(self, text: &str) {
        if !self.json {
            println!("{text}");
        }
    }

    /// Prints one JSON line (for streams), or a table-like line.
    pub(crate) fn line(self, text: &str, json: &Value) {
        if self.json {
            println!("{json}");
        } else {
            println!("{text}");
        }
    }
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
