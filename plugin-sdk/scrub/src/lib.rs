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
//! Building costs O(secrets × strings) forms, a few dozen strings for a real config; it is done
//! per call, so nothing heavier is built up front. A text of up to [`SCAN_UP_TO_BYTES`] bytes
//! (an error, an external id, a log line) is scrubbed by searching it for each form; a longer
//! one by one multi-pattern (Aho-Corasick) pass, with the automaton built on first need and
//! then shared by the scrubber's clones. Both find the leftmost occurrence, the longest at that
//! position, and go on after it. This crate never logs.

pub mod forms;
pub mod secret_paths;

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use serde_json::Value;

pub use forms::{MIN_SECRET_CHARS, MIN_URL_PART_CHARS};
pub use secret_paths::{Segment, pointer, secret_paths, secret_pointers};

/// What every hidden occurrence becomes (the coordinator's API shows secrets the same way).
pub const REDACTED: &str = "[REDACTED]";

/// Texts up to this many bytes are scrubbed by a search per form; longer ones by an automaton.
pub const SCAN_UP_TO_BYTES: usize = 4096;

/// Replaces the secrets of one config (and their encodings) in texts. Cheap to clone.
#[derive(Clone, Default)]
pub struct Scrubber {
    /// `None` when there is nothing to hide (no secret, or all too short).
    forms: Option<Arc<Forms>>,
}

/// The forms to hide, and the automaton over them once a long text needed it.
struct Forms {
    forms: Vec<String>,
    automaton: OnceLock<Option<AhoCorasick>>,
}

impl std::fmt::Debug for Scrubber {
    // Never the forms themselves: they are the secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.forms.as_ref().map_or(0, |f| f.forms.len());
        f.debug_struct("Scrubber").field("forms", &count).finish()
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
        Self {
            forms: Some(Arc::new(Forms {
                forms,
                automaton: OnceLock::new(),
            })),
        }
    }

    /// True when this scrubber changes nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.forms.is_none()
    }

    /// `text` with every form of every secret replaced by [`REDACTED`] (borrowed when clean).
    #[must_use]
    pub fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
        match &self.forms {
            None => Cow::Borrowed(text),
            Some(forms) if text.len() > SCAN_UP_TO_BYTES => forms.replace_with_automaton(text),
            Some(forms) => forms.replace_by_scanning(text),
        }
    }

    /// [`Scrubber::scrub`] in place.
    pub fn scrub_string(&self, text: &mut String) {
        if let Cow::Owned(clean) = self.scrub(text) {
            *text = clean;
        }
    }
}

impl Forms {
    /// The leftmost occurrence of any form in `text`, the longest there: (start, length).
    fn next_match(&self, text: &str) -> Option<(usize, usize)> {
        self.forms
            .iter()
            .filter_map(|form| text.find(form.as_str()).map(|at| (at, form.len())))
            .min_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
    }

    fn replace_by_scanning<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let Some(first) = self.next_match(text) else {
            return Cow::Borrowed(text);
        };
        let (mut clean, mut pos, mut found) = (String::with_capacity(text.len()), 0, Some(first));
        while let Some((at, len)) = found {
            clean.push_str(&text[pos..pos + at]);
            clean.push_str(REDACTED);
            pos += at + len;
            found = self.next_match(&text[pos..]);
        }
        clean.push_str(&text[pos..]);
        Cow::Owned(clean)
    }

    fn replace_with_automaton<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let automaton = self.automaton.get_or_init(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                // Builds several times faster than the DFA it would otherwise pick.
                .kind(Some(AhoCorasickKind::ContiguousNFA))
                .build(&self.forms)
                .ok()
        });
        // Building fails only beyond the crate's size limits, far above a config's forms.
        let Some(automaton) = automaton else {
            return self.replace_by_scanning(text);
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
}

/// Collects the secrets and other strings of one or more configs.
#[derive(Default, Clone)]
pub struct Builder {
    secrets: Vec<Value>,
    others: Vec<String>,
}

impl std::fmt::Debug for Builder {
    // Counts only: the values are secrets, and the other strings help decode them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("secrets", &self.secrets.len())
            .field("others", &self.others.len())
            .finish()
    }
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
