//! Hiding secret values in the texts a plugin returns: [`Scrubber`] is built once per call from
//! the secrets of a config (and the config's other strings), computes every form in which a
//! secret may come back — see [`forms`] — and replaces each occurrence in a text with
//! [`REDACTED`], longest form first.
//!
//! One implementation shared by the Rust plugin SDK (which scrubs what a provider returns and
//! logs) and the coordinator (which scrubs again whatever a plugin answers, so a plugin written
//! without the SDK cannot leak either). The Python SDK implements the same rules; both run the
//! test vectors of `vectors.json` next to this crate, so the semantics are the same everywhere.
//!
//! Building costs O(secrets × strings) forms; scrubbing a text is one multi-pattern
//! (Aho-Corasick) pass over it. This crate never logs.

pub mod forms;

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, MatchKind};
use serde_json::Value;

pub use forms::{MIN_SECRET_CHARS, MIN_URL_PART_CHARS};

/// What every hidden occurrence becomes (the coordinator's API shows secrets the same way).
pub const REDACTED: &str = "[REDACTED]";

/// Replaces the secrets of one config (and their encodings) in texts. Cheap to clone.
#[derive(Clone, Default)]
pub struct Scrubber {
    /// `None` when there is nothing to hide (no secret, or all too short).
    automaton: Option<std::sync::Arc<AhoCorasick>>,
    forms: usize,
}

impl std::fmt::Debug for Scrubber {
    // Never the forms themselves: they are the secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrubber")
            .field("forms", &self.forms)
            .finish()
    }
}

impl Scrubber {
    /// A scrubber for `secrets` (strings as they are; any other JSON value as its JSON text,
    /// and the strings inside it too), with `others` — the config's other string values —
    /// used for the `base64(user:password)` forms of basic auth.
    #[must_use]
    pub fn new<'a>(
        secrets: impl IntoIterator<Item = &'a Value>,
        others: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let others: Vec<&str> = others.into_iter().collect();
        let mut all = std::collections::BTreeSet::new();
        for secret in secrets {
            for text in secret_texts(secret) {
                all.extend(forms::of(&text, &others));
            }
        }
        Self::from_forms(all.into_iter().collect())
    }

    /// A scrubber for one config: the values at the JSON Pointers `secrets` are the secrets,
    /// every other string in it is an "other" string.
    #[must_use]
    pub fn for_config(config: &Value, secrets: &[String]) -> Self {
        let mut builder = Builder::default();
        builder.config(config, secrets);
        builder.build()
    }

    /// A [`Builder`], to combine several configs (a subscription's and its connection's).
    #[must_use]
    pub fn builder() -> Builder {
        Builder::default()
    }

    fn from_forms(forms: Vec<String>) -> Self {
        if forms.is_empty() {
            return Self::default();
        }
        let count = forms.len();
        // Building fails only for automata beyond the crate's size limits, far above what a
        // config's secrets produce; hiding everything would then be the safe answer, but a
        // config that large is refused long before a call, so keep the texts as they are.
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&forms)
            .ok()
            .map(std::sync::Arc::new);
        Self {
            automaton,
            forms: count,
        }
    }

    /// True when this scrubber changes nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.automaton.is_none()
    }

    /// `text` with every form of every secret replaced by [`REDACTED`] (borrowed when clean).
    #[must_use]
    pub fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let Some(automaton) = &self.automaton else {
            return Cow::Borrowed(text);
        };
        if !automaton.is_match(text) {
            return Cow::Borrowed(text);
        }
        let mut clean = String::with_capacity(text.len());
        automaton.replace_all_with(text, &mut clean, |_, _, out| {
            out.push_str(REDACTED);
            true
        });
        Cow::Owned(clean)
    }

    /// [`Scrubber::scrub`] in place.
    pub fn scrub_string(&self, text: &mut String) {
        if let Cow::Owned(clean) = self.scrub(text) {
            *text = clean;
        }
    }
}

/// Collects the secrets and other strings of one or more configs.
#[derive(Debug, Default)]
pub struct Builder {
    secrets: Vec<Value>,
    others: Vec<String>,
}

impl Builder {
    /// Adds one secret value.
    pub fn secret(&mut self, value: &Value) -> &mut Self {
        self.secrets.push(value.clone());
        self
    }

    /// Adds one other string of a config.
    pub fn other(&mut self, text: &str) -> &mut Self {
        self.others.push(text.to_owned());
        self
    }

    /// Adds a config: the values at the JSON Pointers `secrets` are secrets, every other
    /// string in it (keys excluded) is an other string.
    pub fn config(&mut self, config: &Value, secrets: &[String]) -> &mut Self {
        for pointer in secrets {
            if let Some(value) = config.pointer(pointer) {
                self.secrets.push(value.clone());
            }
        }
        collect_others(config, &mut String::new(), secrets, &mut self.others);
        self
    }

    /// The scrubber.
    #[must_use]
    pub fn build(&self) -> Scrubber {
        Scrubber::new(&self.secrets, self.others.iter().map(String::as_str))
    }
}

/// The texts a secret is sent as: a string as it is; another value as its JSON text, plus the
/// strings inside it.
fn secret_texts(secret: &Value) -> Vec<String> {
    match secret {
        Value::Null => Vec::new(),
        Value::String(s) => vec![s.clone()],
        other => {
            let mut texts = vec![other.to_string()];
            let mut inner = Vec::new();
            collect_strings(other, &mut inner);
            texts.extend(inner);
            texts
        }
    }
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// Every string of `value` outside the subtrees at `secrets`; `at` is `value`'s own pointer.
fn collect_others(value: &Value, at: &mut String, secrets: &[String], out: &mut Vec<String>) {
    if secrets.iter().any(|s| s == at) {
        return;
    }
    let len = at.len();
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                at.push('/');
                at.push_str(&i.to_string());
                collect_others(item, at, secrets, out);
                at.truncate(len);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                at.push('/');
                at.push_str(&key.replace('~', "~0").replace('/', "~1"));
                collect_others(item, at, secrets, out);
                at.truncate(len);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
