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
use switchyard_scrub::{Scrubber, secret_pointers};

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_active_scrubber_hides_its_secrets_until_dropped() {
        let scrubber = Scrubber::new(&[json!("active-secret-1")], []);
        let guard = activate(&scrubber);
        assert_eq!(scrub_active("x active-secret-1"), "x [REDACTED]");
        drop(guard);
        assert_eq!(scrub_active("x active-secret-1"), "x active-secret-1");
    }
}
