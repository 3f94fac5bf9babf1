//! Logging to stderr as JSON lines in go-plugin's (hclog's) format, which the host parses and
//! re-emits: `{"@level":"info","@message":"…","@timestamp":"…","@module":"…", other fields}`.
//!
//! [`init`] installs it (done by `serve`); the level comes from `SWITCHYARD_LOG_LEVEL` (a
//! `tracing` filter such as `debug` or `info,my_plugin=trace`), `info` by default.
//! Never log configs: they carry decrypted secrets. As a safety net, every message and field
//! written while a call runs is scrubbed of that call's secrets (see [`crate::redact`]), so a
//! provider that logs what a receiver echoed does not leak its credentials.

use std::io::Write;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::redact::scrub_active;

/// The environment variable holding the log filter.
pub const LOG_LEVEL_ENV: &str = "SWITCHYARD_LOG_LEVEL";

/// Installs the hclog JSON layer as the global subscriber. Does nothing if one is set already.
pub fn init() {
    let filter = std::env::var(LOG_LEVEL_ENV)
        .ok()
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(HclogLayer)
        .try_init();
}

/// A `tracing` layer writing each event as one hclog JSON line to stderr.
#[derive(Debug, Clone, Copy, Default)]
pub struct HclogLayer;

impl<S: Subscriber> Layer<S> for HclogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let line = format_event(event);
        // One write per line so concurrent events never interleave.
        let _ = std::io::stderr().lock().write_all(&line);
    }
}

/// The hclog JSON line (with its newline) for `event`.
fn format_event(event: &Event<'_>) -> Vec<u8> {
    let meta = event.metadata();
    let mut fields = FieldVisitor(Map::new());
    event.record(&mut fields);
    let mut map = Map::new();
    map.insert("@level".into(), Value::from(level_name(*meta.level())));
    let message = fields.0.remove("message").unwrap_or(Value::from(""));
    map.insert("@message".into(), message);
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
    map.insert("@timestamp".into(), Value::from(now));
    map.insert("@module".into(), Value::from(meta.target()));
    map.extend(fields.0);
    // The trace of the call the line was written in (see crate::trace); none outside one.
    if let Some(trace_id) = switchyard_traces::current()
        .as_ref()
        .and_then(switchyard_traces::trace_id)
    {
        map.insert("trace_id".into(), Value::from(trace_id));
    }
    let mut line = serde_json::to_vec(&Value::Object(map)).unwrap_or_default();
    line.push(b'\n');
    line
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

/// Collects an event's fields as JSON values.
struct FieldVisitor(Map<String, Value>);

impl Visit for FieldVisitor {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().into(), Value::from(scrub_active(value)));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(
            field.name().into(),
            Value::from(scrub_active(&value.to_string())),
        );
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // The message itself arrives here (as `format_args!`).
        self.0.insert(
            field.name().into(),
            Value::from(scrub_active(&format!("{value:?}"))),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Captures formatted lines instead of writing them to stderr.
    struct Capture(Arc<Mutex<Vec<Value>>>);

    impl<S: Subscriber> Layer<S> for Capture {
        fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
            let line = format_event(event);
            let value = serde_json::from_slice(&line).expect("a JSON line");
            self.0.lock().expect("lock").push(value);
        }
    }

    #[test]
    fn writes_hclog_json_lines() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(Capture(lines.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(attempt = 3, provider = "webhook", "delivery slow");
        });
        let lines = lines.lock().expect("lock");
        let line = &lines[0];
        assert_eq!(line["@level"], "warn");
        assert_eq!(line["@message"], "delivery slow");
        assert_eq!(line["attempt"], 3);
        assert_eq!(line["provider"], "webhook");
        assert!(line["@module"].as_str().is_some());
        let ts = line["@timestamp"].as_str().expect("timestamp");
        assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
        assert!(ts.contains('.'), "fractional seconds: {ts}");
    }

    #[test]
    fn hides_the_secrets_of_calls_in_flight() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(Capture(lines.clone()));
        let secrets = switchyard_scrub::Scrubber::new(&[serde_json::json!("log-canary-77")], []);
        let active = crate::redact::activate(&secrets);
        tracing::subscriber::with_default(subscriber, || {
            let echoed = "you sent log-canary-77";
            tracing::warn!(body = echoed, error = %echoed, "receiver said: {echoed}");
        });
        drop(active);
        let line = lines.lock().expect("lock")[0].to_string();
        assert!(!line.contains("log-canary-77"), "{line}");
        assert_eq!(line.matches("[REDACTED]").count(), 3, "{line}");
    }
}
