//! Plugin stderr: every line is re-emitted through `tracing` with the plugin's name and the
//! line's own level, and the last lines are kept for "exited early" errors. Each line is first
//! scrubbed of the secrets of the plugin's recent calls ([`LogSecrets`]), so a plugin that logs
//! what a receiver echoed leaks nothing into the coordinator's log or its error messages.
//!
//! Lines in go-plugin's hclog JSON format (`@level`, `@message`, `@timestamp`, other keys) keep
//! their level and message; the other keys travel as one `fields` JSON value (tracing field names
//! are static). Other lines are kept as they are; a `[LEVEL]` prefix sets their level.

use serde_json::{Map, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::task::JoinHandle;

use super::log_secrets::LogSecrets;

/// How many stderr lines are kept for error messages.
const TAIL_LINES: usize = 20;

/// The last stderr lines of one plugin process.
#[derive(Debug, Clone, Default)]
pub(crate) struct StderrTail(Arc<Mutex<VecDeque<String>>>);

impl StderrTail {
    fn push(&self, line: String) {
        let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.len() == TAIL_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// The kept lines, one per line, or a note that there were none.
    pub(crate) fn render(&self) -> String {
        let lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.is_empty() {
            "(stderr was empty)".to_owned()
        } else {
            lines
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join("\n")
        }
    }
}

/// A log level as plugins write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_lowercase().as_str() {
            "trace" => Self::Trace,
            "debug" => Self::Debug,
            "info" => Self::Info,
            "warn" | "warning" => Self::Warn,
            "error" | "err" => Self::Error,
            _ => return None,
        })
    }
}

/// One parsed stderr line.
#[derive(Debug, PartialEq)]
struct LogLine {
    level: Level,
    message: String,
    /// Other hclog keys as a JSON object text; empty for plain lines.
    fields: String,
}

/// Reads `stream` to its end, logging each line (scrubbed with `secrets`) as plugin `name` and
/// keeping the tail.
pub(crate) fn pump<R>(
    name: String,
    pid: u32,
    stream: R,
    tail: StderrTail,
    secrets: LogSecrets,
) -> JoinHandle<()>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let line = secrets.scrub(line);
            emit(&name, pid, &parse(&line));
            tail.push(line);
        }
    })
}

/// Logs one (already scrubbed) stderr line of plugin `name` with its own level; also used for
/// the stderr lines that arrive over go-plugin's stdio stream.
pub(crate) fn log_line(name: &str, pid: u32, line: &str) {
    emit(name, pid, &parse(line));
}

fn parse(line: &str) -> LogLine {
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(line)
        && let Some(parsed) = parse_json(map)
    {
        return parsed;
    }
    parse_plain(line)
}

/// An hclog JSON line; None when it has no `@message`.
fn parse_json(mut map: Map<String, Value>) -> Option<LogLine> {
    let message = match map.remove("@message")? {
        Value::String(s) => s,
        other => other.to_string(),
    };
    let level = map
        .remove("@level")
        .and_then(|v| v.as_str().and_then(Level::parse))
        .unwrap_or(Level::Info);
    map.remove("@timestamp"); // tracing stamps its own time
    let fields = if map.is_empty() {
        String::new()
    } else {
        Value::Object(map).to_string()
    };
    Some(LogLine {
        level,
        message,
        fields,
    })
}

/// A plain line, with an optional `[LEVEL] ` prefix.
fn parse_plain(line: &str) -> LogLine {
    let prefixed = line.strip_prefix('[').and_then(|rest| {
        let (level, message) = rest.split_once(']')?;
        Some((Level::parse(level)?, message.trim_start()))
    });
    let (level, message) = prefixed.unwrap_or((Level::Info, line));
    LogLine {
        level,
        message: message.to_owned(),
        fields: String::new(),
    }
}

fn emit(plugin: &str, pid: u32, line: &LogLine) {
    let (message, fields) = (&line.message, &line.fields);
    match line.level {
        Level::Trace => {
            tracing::trace!(target: "switchyard::plugin", plugin, pid, fields, "{message}")
        }
        Level::Debug => {
            tracing::debug!(target: "switchyard::plugin", plugin, pid, fields, "{message}")
        }
        Level::Info => {
            tracing::info!(target: "switchyard::plugin", plugin, pid, fields, "{message}")
        }
        Level::Warn => {
            tracing::warn!(target: "switchyard::plugin", plugin, pid, fields, "{message}")
        }
        Level::Error => {
            tracing::error!(target: "switchyard::plugin", plugin, pid, fields, "{message}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hclog_json_keeps_level_message_and_fields() {
        let line = parse(r#"{"@level":"warn","@message":"slow","@timestamp":"t","ms":5}"#);
        assert_eq!(
            line,
            LogLine {
                level: Level::Warn,
                message: "slow".into(),
                fields: r#"{"ms":5}"#.into()
            }
        );
    }

    #[test]
    fn bracket_prefixes_set_the_level() {
        let line = parse("[ERROR] boom");
        assert_eq!((line.level, line.message.as_str()), (Level::Error, "boom"));
    }

    #[test]
    fn other_lines_are_kept_as_they_are() {
        for text in [
            "thread 'main' panicked",
            "[not a level] x",
            "{\"no\":\"message\"}",
        ] {
            let line = parse(text);
            assert_eq!((line.level, line.message.as_str()), (Level::Info, text));
        }
    }

    #[test]
    fn the_tail_keeps_the_last_lines() {
        let tail = StderrTail::default();
        for i in 0..25 {
            tail.push(format!("line {i}"));
        }
        let text = tail.render();
        assert!(
            text.starts_with("line 5\n") && text.ends_with("line 24"),
            "{text}"
        );
    }
}
