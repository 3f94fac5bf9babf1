//! The secrets of the calls in flight, and hiding them in what a plugin returns and logs.
//!
//! Each call that carries a config (Deliver, TestConnection, GetConnectionOptions) builds a
//! [`Scrubber`] from the values its schemas mark `x-secret` ([`secret_pointers`]) and the
//! config's other strings, and [`activate`]s it for as long as the call runs. The SDK then
//! scrubs every text of the answer with it (the error, the external id, messages, details,
//! diagnostics, options), the HTTP helpers scrub a response body before cutting its excerpt
//! (so a secret is never cut into an unrecognisable piece), and the log layer scrubs every
//! line written meanwhile, from whichever task. Provider authors do nothing.
//!
//! The set of active scrubbers is process-wide because the log layer is (tracing's global
//! subscriber); it holds one entry per call in flight and nothing after.

use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;
use switchyard_proto::plugin::v1 as pb;
use switchyard_scrub::Scrubber;

static ACTIVE: Mutex<Vec<Arc<Scrubber>>> = Mutex::new(Vec::new());

/// Keeps a call's scrubber active until dropped.
#[derive(Debug)]
pub(crate) struct Active(Option<Arc<Scrubber>>);

/// Makes `scrubber` active (for logs and HTTP excerpts) until the guard is dropped.
pub(crate) fn activate(scrubber: &Scrubber) -> Active {
    if scrubber.is_empty() {
        return Active(None);
    }
    let scrubber = Arc::new(scrubber.clone());
    active().push(Arc::clone(&scrubber));
    Active(Some(scrubber))
}

impl Drop for Active {
    fn drop(&mut self) {
        if let Some(mine) = self.0.take() {
            active().retain(|s| !Arc::ptr_eq(s, &mine));
        }
    }
}

fn active() -> std::sync::MutexGuard<'static, Vec<Arc<Scrubber>>> {
    ACTIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `text` scrubbed with the scrubbers of every call in flight.
#[must_use]
pub(crate) fn scrub_active(text: &str) -> String {
    let scrubbers = active().clone();
    let mut text = text.to_owned();
    for scrubber in &scrubbers {
        scrubber.scrub_string(&mut text);
    }
    text
}

/// The scrubber of one call: the secrets of each `(schema, config JSON text)` pair.
pub(crate) fn scrubber_of<'a>(configs: impl IntoIterator<Item = (&'a Value, &'a str)>) -> Scrubber {
    let mut builder = Scrubber::builder();
    for (schema, text) in configs {
        if let Ok(config) = serde_json::from_str::<Value>(text) {
            builder.config(&config, &secret_pointers(schema, &config));
        }
    }
    builder.build()
}

/// Scrubs every text of a Deliver answer.
pub(crate) fn deliver_response(secrets: &Scrubber, response: &mut pb::DeliverResponse) {
    secrets.scrub_string(&mut response.error);
    secrets.scrub_string(&mut response.external_id);
    diagnostics(secrets, &mut response.diagnostics);
}

/// Scrubs every text of a TestConnection answer.
pub(crate) fn test_response(secrets: &Scrubber, response: &mut pb::TestConnectionResponse) {
    secrets.scrub_string(&mut response.message);
    secrets.scrub_string(&mut response.details_json);
    diagnostics(secrets, &mut response.diagnostics);
}

/// Scrubs every text of a GetConnectionOptions answer.
pub(crate) fn options_response(
    secrets: &Scrubber,
    response: &mut pb::GetConnectionOptionsResponse,
) {
    for option in &mut response.options {
        secrets.scrub_string(&mut option.value);
        secrets.scrub_string(&mut option.label);
        secrets.scrub_string(&mut option.description);
    }
    diagnostics(secrets, &mut response.diagnostics);
}

fn diagnostics(secrets: &Scrubber, diagnostics: &mut [pb::Diagnostic]) {
    for d in diagnostics {
        secrets.scrub_string(&mut d.message);
    }
}

/// JSON Pointers of every non-null value of `config` that `schema` marks `x-secret`: through
/// `properties`, `additionalProperties`, `items`, `prefixItems`, local `$ref`,
/// `allOf`/`anyOf`/`oneOf` and `then`/`else` (what schemars generates, and more).
#[must_use]
pub(crate) fn secret_pointers(schema: &Value, config: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(schema, schema, config, &mut String::new(), &mut out, 0);
    out.sort();
    out.dedup();
    out
}

/// Deep enough for any real config; stops `$ref` cycles.
const MAX_DEPTH: usize = 48;

fn walk(
    root: &Value,
    schema: &Value,
    inst: &Value,
    at: &mut String,
    out: &mut Vec<String>,
    depth: usize,
) {
    let Some(obj) = schema.as_object() else {
        return;
    };
    if depth > MAX_DEPTH || inst.is_null() {
        return;
    }
    if obj.get("x-secret") == Some(&Value::Bool(true)) {
        out.push(at.clone());
        return;
    }
    let local_ref = obj
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'));
    if let Some(target) = local_ref.and_then(|pointer| root.pointer(pointer)) {
        walk(root, target, inst, at, out, depth + 1);
    }
    let branches = ["allOf", "anyOf", "oneOf"]
        .iter()
        .filter_map(|kw| obj.get(*kw).and_then(Value::as_array))
        .flatten()
        .chain(["then", "else"].iter().filter_map(|kw| obj.get(*kw)));
    for branch in branches {
        walk(root, branch, inst, at, out, depth + 1);
    }
    let len = at.len();
    match inst {
        Value::Object(map) => {
            let props = obj.get("properties").and_then(Value::as_object);
            for (key, value) in map {
                let sub = props
                    .and_then(|p| p.get(key))
                    .or_else(|| obj.get("additionalProperties"));
                if let Some(sub) = sub {
                    at.push('/');
                    at.push_str(&key.replace('~', "~0").replace('/', "~1"));
                    walk(root, sub, value, at, out, depth + 1);
                    at.truncate(len);
                }
            }
        }
        Value::Array(items) => {
            let prefix = obj.get("prefixItems").and_then(Value::as_array);
            for (i, value) in items.iter().enumerate() {
                let sub = prefix.and_then(|p| p.get(i)).or_else(|| obj.get("items"));
                if let Some(sub) = sub {
                    at.push('/');
                    at.push_str(&i.to_string());
                    walk(root, sub, value, at, out, depth + 1);
                    at.truncate(len);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn finds_secrets_behind_refs_branches_and_items() {
        let schema = json!({
            "properties": {
                "auth": {"$ref": "#/$defs/Auth"},
                "headers": {"items": {"properties": {"value": {"x-secret": true}}}},
                "extra": {"additionalProperties": {"x-secret": true}}
            },
            "$defs": {"Auth": {"oneOf": [
                {"properties": {"token": {"type": "string", "x-secret": true}}},
                {"properties": {"password": {"x-secret": true}}}
            ]}}
        });
        let config = json!({
            "auth": {"password": "pw-12345"},
            "headers": [{"value": "v1"}, {"name": "n"}],
            "extra": {"a/b": "x"},
            "url": "u"
        });
        assert_eq!(
            secret_pointers(&schema, &config),
            ["/auth/password", "/extra/a~1b", "/headers/0/value"]
        );
    }

    #[test]
    fn an_active_scrubber_hides_its_secrets_until_dropped() {
        let scrubber = Scrubber::new(&[json!("active-secret-1")], []);
        let guard = activate(&scrubber);
        assert_eq!(scrub_active("x active-secret-1"), "x [REDACTED]");
        drop(guard);
        assert_eq!(scrub_active("x active-secret-1"), "x active-secret-1");
    }
}
