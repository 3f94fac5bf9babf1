//! The whole environment of a command: nothing inherited (not the plugin's, and so never the
//! coordinator's), only the documented variables — the event's identity, the subscription's,
//! the payload flattened (`PAYLOAD_*`) and whole (`PAYLOAD_JSON`) — then `PATH`, `HOME` and
//! `TMPDIR` (the run's working directory) and the operator's `env`. Pure: the runner and the
//! tests share it.
//!
//! Flattening: each object key is upper-cased with every character other than a letter or a
//! digit turned into `_`, nested objects join with `_` (`{"a":{"b":1}}` → `PAYLOAD_A_B=1`),
//! arrays are JSON text, strings are as they are, `null` is empty. Values are bounded so the
//! exec cannot fail on the kernel's per-variable limit: a variable longer than
//! [`MAX_VALUE_BYTES`] is left out (the payload is always whole on stdin).

use std::path::Path;

use serde_json::Value;
use switchyard_plugin_sdk::DeliveryContext;

use crate::allowed::Command;
use crate::config::ShellConfig;

/// The longest variable value set (Linux refuses single strings over 128 KiB at exec).
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// The most `PAYLOAD_*` variables set; the rest are left out.
pub const MAX_PAYLOAD_VARS: usize = 512;
/// `PATH` unless the operator sets one.
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The variables of one run, in the order they are set (later ones win).
#[must_use]
pub fn environment<K>(
    ctx: &DeliveryContext<ShellConfig, K>,
    command: &Command,
    workdir: &Path,
) -> Vec<(String, String)> {
    let event = &ctx.event;
    let mut vars = vec![
        ("EVENT_ID".to_owned(), event.event_id.clone()),
        ("EVENT_TYPE".to_owned(), event.event_type.clone()),
        ("DELIVERY_ID".to_owned(), event.delivery_id.clone()),
        ("ATTEMPT".to_owned(), event.attempt.to_string()),
        ("TIMESTAMP".to_owned(), event.timestamp.to_rfc3339()),
        ("SUBSCRIPTION_ID".to_owned(), ctx.subscription.id.clone()),
        (
            "SUBSCRIPTION_NAME".to_owned(),
            ctx.subscription.name.clone(),
        ),
        ("PATH".to_owned(), DEFAULT_PATH.to_owned()),
        ("HOME".to_owned(), workdir.display().to_string()),
        ("TMPDIR".to_owned(), workdir.display().to_string()),
    ];
    if let Some(secret) = &ctx.config.secret {
        vars.push(("SUBSCRIPTION_SECRET".to_owned(), secret.expose().to_owned()));
    }
    let mut payload = Vec::new();
    flatten("PAYLOAD", &event.payload, &mut payload);
    vars.extend(payload.into_iter().take(MAX_PAYLOAD_VARS));
    vars.push(("PAYLOAD_JSON".to_owned(), event.payload.to_string()));
    vars.extend(command.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    vars.retain(|(_, v)| v.len() <= MAX_VALUE_BYTES && !v.contains('\0'));
    vars
}

/// Appends `prefix_KEY=value` for every leaf of `value`.
fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(fields) => {
            for (key, inner) in fields {
                flatten(&format!("{prefix}_{}", name_part(key)), inner, out);
            }
        }
        Value::Null => out.push((prefix.to_owned(), String::new())),
        Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

/// A JSON key as part of a variable name: upper-case letters, digits and `_`.
fn name_part(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payloads_flatten_to_upper_case_names() {
        let mut out = Vec::new();
        let payload = json!({"incidentId": "inc-1", "system-ids": ["a", "b"],
                             "meta": {"count": 2, "ok": true, "gone": null}});
        flatten("PAYLOAD", &payload, &mut out);
        let get = |k: &str| out.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("PAYLOAD_INCIDENTID"), Some("inc-1"));
        assert_eq!(get("PAYLOAD_SYSTEM_IDS"), Some(r#"["a","b"]"#));
        assert_eq!(get("PAYLOAD_META_COUNT"), Some("2"));
        assert_eq!(get("PAYLOAD_META_OK"), Some("true"));
        assert_eq!(get("PAYLOAD_META_GONE"), Some(""));
    }
}
