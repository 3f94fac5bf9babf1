//! Secrets: encryption at rest and redaction of every config value a provider's JSON Schema
//! marks `x-secret: true`, wherever it sits (nested objects, `additionalProperties`, array
//! `items`/`prefixItems`, `$ref` into `$defs`, `allOf`/`anyOf`/`oneOf`/`if`/`then`/`else`
//! branches), and rotation of the key that encrypts them.
//!
//! Stored form: each secret value `v` (any JSON) is replaced by the string
//! `"$enc:v2:<kid>:" + base64(nonce ‖ XChaCha20-Poly1305(key, nonce, json(v)))` ([`keyring`]
//! has the details, and reads the older `"$enc:v1:"` form). The keys come from the
//! `SWITCHYARD_SECRET_KEY` variable, a key file, or the generated `<data_dir>/secret.key`
//! ([`keyfile`]); the first key of the source encrypts, the others only decrypt. [`rotate`]
//! moves every stored value to a new key while the coordinator runs.
//!
//! Flow of a config through the coordinator: API input (plaintext, maybe with [`REDACTED`]
//! markers) → [`Secrets::merge_update`] (markers and absent secrets take the stored values) →
//! defaults and validation (on plaintext) → [`Secrets::encrypt_secrets`] → store. Out: stored →
//! [`redact`] → API response; stored → [`Secrets::decrypt_secrets`] → plugin call, in memory
//! only. Every writer of a stored config holds [`Secrets::writing`] from its read (or its
//! encryption) until its store write, so that a rotation can wait for the writes that may
//! still carry an old key. This module never logs a value or a key.

pub mod keyfile;
pub mod keyring;
pub mod rotate;

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use serde_json::Value;

pub use keyfile::{KEY_FILE_NAME, KeySource};
pub use keyring::{ENVELOPE_V1, ENVELOPE_V2, KeyId, is_envelope};
use keyring::{Key, Keyring, OpenError};

/// The fixed marker that replaces every secret value in API responses and logs. Sending it back
/// on update keeps the stored value.
pub const REDACTED: &str = "[REDACTED]";

/// Errors of key loading and of encryption/decryption.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The key text is not a list of base64 texts of exactly 32 bytes each.
    #[error(
        "the secret key from {origin} is not valid ({reason}); it must be the base64 encoding of \
         32 random bytes, e.g. the output of `head -c 32 /dev/urandom | base64` (several keys: \
         one per line or comma-separated, the current one first)"
    )]
    BadKey {
        /// Where the key came from (a path or a variable).
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The key file could not be read or written.
    #[error("cannot use the secret key file {path}: {source}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A stored secret does not decrypt under the key it names (or, in the old form without a
    /// key id, under any key).
    #[error(
        "cannot decrypt the secret at {path}: it was encrypted under another key or is corrupted \
         (check the configured secret key)"
    )]
    Decrypt {
        /// JSON Pointer of the value within the config.
        path: String,
    },
    /// A stored secret names a key that is not configured.
    #[error(
        "cannot decrypt the secret at {path}: it was encrypted under key {kid}, which is not \
         configured (the keys are {known}); add that key after the current one in the key file \
         or SWITCHYARD_SECRET_KEY"
    )]
    UnknownKey {
        /// JSON Pointer of the value within the config.
        path: String,
        /// The id the value names.
        kid: KeyId,
        /// The ids of the configured keys, comma-separated.
        known: String,
    },
    /// Two different keys of the source have the same id.
    #[error(
        "two different secret keys from {origin} have the same key id {kid}; replace one of \
         them with a newly generated key"
    )]
    DuplicateKeyId {
        /// Where the keys came from.
        origin: String,
        /// The shared id.
        kid: KeyId,
    },
    /// An update sent the redaction marker for a secret that has no stored value.
    #[error(
        "the secret at {path} is \"{REDACTED}\" but no value is stored for it; send the real value"
    )]
    MarkerWithoutValue {
        /// JSON Pointer of the value within the config.
        path: String,
    },
}

/// The keys in use, by id (never the keys themselves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatus {
    /// The key that encrypts.
    pub current: KeyId,
    /// Configured keys that still decrypt (a rotation is unfinished while there are any).
    pub previous: Vec<KeyId>,
    /// Where the keys live.
    pub source: KeySource,
}

/// Held by a writer of a stored config from its read or encryption until its store write (see
/// the module doc); many writers hold it at once.
#[derive(Debug)]
pub struct ConfigWrite {
    _held: tokio::sync::OwnedRwLockReadGuard<()>,
}

/// The coordinator's keyring and cipher. `Debug` never shows a key.
pub struct Secrets {
    ring: RwLock<Keyring>,
    source: KeySource,
    writers: Arc<tokio::sync::RwLock<()>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets { key: <hidden> }")
    }
}

impl Secrets {
    /// Uses `key` directly.
    pub fn from_key(key: [u8; 32]) -> Self {
        Self::with_ring(Keyring::single(Key::new(key)), KeySource::Memory)
    }

    fn with_ring(ring: Keyring, source: KeySource) -> Self {
        Self {
            ring: RwLock::new(ring),
            source,
            writers: Arc::default(),
        }
    }

    /// Loads the keys, in order of precedence, from `env_value` (base64, comma-separated), from
    /// `key_file`, or from `<data_dir>/secret.key`, generating that file (mode 0600, with a
    /// warning) when it does not exist. The first key encrypts; the others only decrypt.
    pub fn load_or_generate(
        data_dir: &Path,
        key_file: Option<&Path>,
        env_value: Option<String>,
    ) -> Result<Self, SecretsError> {
        let (mut keys, source, generated) = keyfile::load(data_dir, key_file, env_value)?;
        if generated {
            tracing::warn!(
                source = %source,
                "no secret key configured: generated one; back it up, since stored secrets \
                 cannot be decrypted without it, or configure a key file or variable"
            );
        }
        let current = keys.remove(0);
        let ring = Keyring::new(current, keys).map_err(|kid| SecretsError::DuplicateKeyId {
            origin: source.to_string(),
            kid,
        })?;
        Ok(Self::with_ring(ring, source))
    }

    /// The ids of the keys in use and where they live.
    pub fn status(&self) -> KeyStatus {
        let ring = self.ring();
        KeyStatus {
            current: ring.current().id().clone(),
            previous: ring.previous().iter().map(|k| k.id().clone()).collect(),
            source: self.source.clone(),
        }
    }

    /// Waits until no rotation is finishing, then lets this writer go ahead (see
    /// [`ConfigWrite`]).
    pub async fn writing(&self) -> ConfigWrite {
        ConfigWrite {
            _held: Arc::clone(&self.writers).read_owned().await,
        }
    }

    /// Encrypts every secret value of `config` in place, under the current key. Values already
    /// in the stored form under the current key are left alone, so calling it twice is
    /// harmless; values under an older key are re-encrypted.
    pub fn encrypt_secrets(&self, schema: &Value, config: &mut Value) -> Result<(), SecretsError> {
        let ring = self.ring();
        for path in secret_paths(schema, config) {
            if let Some(v) = get_mut(config, &path) {
                let stored = v.as_str().map(|s| (ring.is_current(s), ring.open(s)));
                *v = Value::String(match stored {
                    Some((true, Ok(_))) => continue,
                    Some((false, Ok(plain))) => ring.seal(&plain),
                    _ => ring.seal(v),
                });
            }
        }
        Ok(())
    }

    /// Decrypts every secret value of `config` in place. Values not in the stored form are left
    /// as they are (e.g. a field that became secret in a newer schema version).
    pub fn decrypt_secrets(&self, schema: &Value, config: &mut Value) -> Result<(), SecretsError> {
        for path in secret_paths(schema, config) {
            if let Some(v) = get_mut(config, &path)
                && let Some(text) = v.as_str()
                && is_envelope(text)
            {
                *v = self.open(text, &path)?;
            }
        }
        Ok(())
    }

    /// Decrypts every value in the stored form anywhere in `config`, whatever the schema says.
    /// Used for config migrations, where the old schema (which said what was secret) is gone.
    pub fn decrypt_envelopes(&self, config: &mut Value) -> Result<(), SecretsError> {
        for_each_envelope(config, &mut Vec::new(), &mut |v, path| {
            *v = self.open(v.as_str().unwrap_or_default(), path)?;
            Ok(())
        })
    }

    /// Re-encrypts under the current key every value in the stored form anywhere in `config`
    /// that another key (or the old form) sealed, whatever the schema says; returns how many.
    /// Idempotent: a second call changes nothing.
    pub fn reseal_envelopes(&self, config: &mut Value) -> Result<usize, SecretsError> {
        let ring = self.ring();
        let mut n = 0;
        for_each_envelope(config, &mut Vec::new(), &mut |v, path| {
            let text = v.as_str().unwrap_or_default();
            if !ring.is_current(text) {
                let plain = ring.open(text).map_err(|e| open_error(&ring, e, path))?;
                *v = Value::String(ring.seal(&plain));
                n += 1;
            }
            Ok(())
        })?;
        Ok(n)
    }

    /// Prepares an update: wherever `new` has the [`REDACTED`] marker or lacks a secret that
    /// `old_stored` has (its parent being present), the stored value is decrypted into `new`.
    /// An explicit `null` clears the secret. Afterwards `new` is plaintext, ready for defaults,
    /// validation and [`Secrets::encrypt_secrets`].
    pub fn merge_update(
        &self,
        schema: &Value,
        old_stored: &Value,
        new: &mut Value,
    ) -> Result<(), SecretsError> {
        for path in secret_paths(schema, old_stored) {
            let Some((last, parent_path)) = path.split_last() else {
                continue;
            };
            let keep = match get_mut(new, &path) {
                None => get_mut(new, parent_path).is_some(),
                Some(v) => v.as_str() == Some(REDACTED),
            };
            let stored = get(old_stored, &path);
            if keep && let Some(stored) = stored {
                let mut plain = stored.clone();
                if let Some(text) = stored.as_str()
                    && is_envelope(text)
                {
                    plain = self.open(text, &path)?;
                }
                set_child(new, parent_path, last, plain);
            }
        }
        for path in secret_paths(schema, new) {
            if get(new, &path).and_then(Value::as_str) == Some(REDACTED) {
                return Err(SecretsError::MarkerWithoutValue {
                    path: pointer(&path),
                });
            }
        }
        Ok(())
    }

    fn open(&self, text: &str, path: &[Segment]) -> Result<Value, SecretsError> {
        let ring = self.ring();
        ring.open(text).map_err(|e| open_error(&ring, e, path))
    }

    fn ring(&self) -> std::sync::RwLockReadGuard<'_, Keyring> {
        // Every change of the ring is one assignment-like step: a panic cannot leave it torn.
        self.ring.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn ring_mut(&self) -> std::sync::RwLockWriteGuard<'_, Keyring> {
        self.ring.write().unwrap_or_else(PoisonError::into_inner)
    }
}

fn open_error(ring: &Keyring, err: OpenError, path: &[Segment]) -> SecretsError {
    let path = pointer(path);
    match err {
        OpenError::Invalid => SecretsError::Decrypt { path },
        OpenError::UnknownKey(kid) => {
            let ids = std::iter::once(ring.current()).chain(ring.previous());
            let known: Vec<&str> = ids.map(|k| k.id().as_str()).collect();
            SecretsError::UnknownKey {
                path,
                kid,
                known: known.join(", "),
            }
        }
    }
}

/// What [`for_each_envelope`] calls on each stored value, with its path.
type OnEnvelope<'a> = dyn FnMut(&mut Value, &[Segment]) -> Result<(), SecretsError> + 'a;

/// Calls `f` on every string in the stored form anywhere in `value`, with its path.
fn for_each_envelope(
    value: &mut Value,
    path: &mut Vec<Segment>,
    f: &mut OnEnvelope<'_>,
) -> Result<(), SecretsError> {
    match value {
        Value::String(text) if is_envelope(text) => f(value, path)?,
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                path.push(Segment::Key(k.clone()));
                for_each_envelope(child, path, f)?;
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                path.push(Segment::Index(i));
                for_each_envelope(child, path, f)?;
                path.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

/// Replaces every (non-null) secret value of `config` by [`REDACTED`]. Works on the stored and
/// on the plaintext form alike.
pub fn redact(schema: &Value, config: &mut Value) {
    for path in secret_paths(schema, config) {
        if let Some(v) = get_mut(config, &path)
            && !v.is_null()
        {
            *v = Value::String(REDACTED.to_owned());
        }
    }
}

/// Replaces every value in the stored form ([`is_envelope`]) anywhere in `config` by
/// [`REDACTED`], whatever a schema says. For responses about a config whose migration failed:
/// it still follows an older schema, whose secrets may sit at paths the current one does not
/// mark secret, so [`redact`] alone would let their encrypted text through.
pub fn redact_envelopes(config: &mut Value) {
    let _ = for_each_envelope(config, &mut Vec::new(), &mut |v, _| {
        *v = Value::String(REDACTED.to_owned());
        Ok(())
    });
}

/// Whether the schema marks anything `x-secret` (cheap check before copying configs around).
pub fn has_secrets(schema: &Value) -> bool {
    match schema {
        Value::Object(m) => {
            m.get("x-secret") == Some(&Value::Bool(true)) || m.values().any(has_secrets)
        }
        Value::Array(a) => a.iter().any(has_secrets),
        _ => false,
    }
}

/// The walker that finds them is shared with the Rust SDK (`switchyard_scrub::secret_paths`),
/// so that the coordinator encrypts exactly what the SDK scrubs.
pub use switchyard_scrub::secret_pointers;
use switchyard_scrub::{Segment, pointer, secret_paths};

fn get<'v>(value: &'v Value, path: &[Segment]) -> Option<&'v Value> {
    path.iter().try_fold(value, |v, seg| match seg {
        Segment::Key(k) => v.get(k),
        Segment::Index(i) => v.get(i),
    })
}

fn get_mut<'v>(value: &'v mut Value, path: &[Segment]) -> Option<&'v mut Value> {
    path.iter().try_fold(value, |v, seg| match seg {
        Segment::Key(k) => v.get_mut(k),
        Segment::Index(i) => v.get_mut(i),
    })
}

fn set_child(value: &mut Value, parent: &[Segment], last: &Segment, child: Value) {
    match (get_mut(value, parent), last) {
        (Some(Value::Object(map)), Segment::Key(k)) => {
            map.insert(k.clone(), child);
        }
        (Some(Value::Array(items)), Segment::Index(i)) => {
            if let Some(slot) = items.get_mut(*i) {
                *slot = child;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "$defs": {"cred": {"type": "object", "properties": {
                "password": {"type": "string", "x-secret": true},
                "user": {"type": "string"}
            }}},
            "properties": {
                "url": {"type": "string"},
                "token": {"type": "string", "x-secret": true},
                "auth": {"$ref": "#/$defs/cred"},
                "headers": {"type": "array", "items": {"type": "object", "properties": {
                    "name": {"type": "string"},
                    "value": {"type": "string", "x-secret": true}
                }}},
                "mode": {"oneOf": [
                    {"type": "object", "properties": {"apiKey": {"type": "string", "x-secret": true}}},
                    {"type": "object", "properties": {"apiKey": {"type": "string", "x-secret": true}}}
                ]}
            }
        })
    }

    fn config() -> Value {
        json!({
            "url": "https://example.test/hook",
            "token": "tok-PLAIN-1",
            "auth": {"user": "alice", "password": "pw-PLAIN-2"},
            "headers": [{"name": "X-A", "value": "hv-PLAIN-3"}, {"name": "X-B", "value": "hv-PLAIN-4"}],
            "mode": {"apiKey": "key-PLAIN-5"}
        })
    }

    fn key(b: u8) -> Secrets {
        Secrets::from_key([b; 32])
    }

    #[test]
    fn round_trip_encrypts_nested_array_ref_and_branch_secrets_once() {
        let s = key(7);
        let mut c = config();
        s.encrypt_secrets(&schema(), &mut c).expect("encrypt");
        let text = c.to_string();
        assert!(!text.contains("PLAIN"), "plaintext left in {text}");
        assert_eq!(c["url"], "https://example.test/hook");
        assert_eq!(c["auth"]["user"], "alice");
        s.decrypt_secrets(&schema(), &mut c).expect("decrypt");
        assert_eq!(c, config());
    }

    #[test]
    fn encrypting_twice_does_not_double_encrypt() {
        let s = key(7);
        let mut c = config();
        s.encrypt_secrets(&schema(), &mut c).expect("encrypt");
        s.encrypt_secrets(&schema(), &mut c).expect("encrypt again");
        s.decrypt_secrets(&schema(), &mut c).expect("decrypt");
        assert_eq!(c, config());
    }

    #[test]
    fn wrong_key_fails_cleanly_naming_the_path() {
        let mut c = config();
        key(1).encrypt_secrets(&schema(), &mut c).expect("encrypt");
        let err = key(2)
            .decrypt_secrets(&schema(), &mut c)
            .expect_err("must fail");
        let msg = err.to_string();
        assert!(
            msg.contains("/auth/password") || msg.contains("/token") || msg.contains("/headers"),
            "{msg}"
        );
        assert!(!msg.contains("PLAIN"));
    }

    #[test]
    fn redaction_replaces_every_secret_with_the_marker() {
        let mut c = config();
        redact(&schema(), &mut c);
        assert_eq!(c["token"], REDACTED);
        assert_eq!(c["auth"]["password"], REDACTED);
        assert_eq!(c["headers"][1]["value"], REDACTED);
        assert_eq!(c["mode"]["apiKey"], REDACTED);
        assert_eq!(c["headers"][1]["name"], "X-B");
        assert!(!c.to_string().contains("PLAIN"));
    }

    #[test]
    fn envelopes_are_redacted_wherever_they_sit() {
        let s = key(5);
        let mut c = config();
        s.encrypt_secrets(&schema(), &mut c).expect("encrypt");
        // As if an older schema had put the secrets there: the current one knows none of it.
        let mut moved = json!({
            "old": {"list": [c["token"].clone()], "key": c["auth"]["password"].clone()},
            "plain": "kept",
        });
        redact_envelopes(&mut moved);
        assert_eq!(moved["old"]["list"][0], REDACTED);
        assert_eq!(moved["old"]["key"], REDACTED);
        assert_eq!(moved["plain"], "kept");
    }

    #[test]
    fn update_keeps_stored_secrets_for_marker_or_absence_and_takes_new_ones() {
        let s = key(3);
        let mut stored = config();
        s.encrypt_secrets(&schema(), &mut stored).expect("encrypt");
        let mut new = json!({
            "url": "https://example.test/v2",
            "token": REDACTED,
            "auth": {"user": "bob"},
            "headers": [{"name": "X-A", "value": "hv-NEW"}, {"name": "X-B", "value": REDACTED}],
            "mode": {"apiKey": null}
        });
        s.merge_update(&schema(), &stored, &mut new).expect("merge");
        assert_eq!(new["token"], "tok-PLAIN-1");
        assert_eq!(new["auth"]["password"], "pw-PLAIN-2");
        assert_eq!(new["headers"][0]["value"], "hv-NEW");
        assert_eq!(new["headers"][1]["value"], "hv-PLAIN-4");
        assert_eq!(new["mode"]["apiKey"], Value::Null);
    }

    #[test]
    fn a_marker_without_stored_value_is_rejected() {
        let s = key(3);
        let mut new = json!({"token": REDACTED});
        let err = s
            .merge_update(&schema(), &json!({}), &mut new)
            .expect_err("must fail");
        assert!(err.to_string().contains("/token"));
    }

    #[test]
    fn key_is_generated_with_0600_then_reused_and_env_wins() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let s1 = Secrets::load_or_generate(dir.path(), None, None).expect("generate");
        let path = dir.path().join(KEY_FILE_NAME);
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let mut c = config();
        s1.encrypt_secrets(&schema(), &mut c).expect("encrypt");
        let s2 = Secrets::load_or_generate(dir.path(), None, None).expect("reload");
        s2.decrypt_secrets(&schema(), &mut c)
            .expect("same key decrypts");
        let env = B64.encode([9u8; 32]);
        let s3 = Secrets::load_or_generate(dir.path(), None, Some(env)).expect("env");
        let mut c2 = config();
        s3.encrypt_secrets(&schema(), &mut c2).expect("encrypt");
        assert!(key(9).decrypt_secrets(&schema(), &mut c2).is_ok());
        let bad = Secrets::load_or_generate(dir.path(), None, Some("short".into()));
        assert!(matches!(bad, Err(SecretsError::BadKey { .. })));
    }

    #[test]
    fn v1_values_still_decrypt_and_reseal_moves_them_to_v2_once() {
        let s = key(4);
        let legacy = keyring::Key::new([4; 32]);
        let mut c = config();
        for path in secret_paths(&schema(), &c) {
            let v = get_mut(&mut c, &path).expect("present");
            *v = Value::String(keyring::seal_v1(&legacy, v));
        }
        assert!(c.to_string().contains(ENVELOPE_V1));
        let mut plain = c.clone();
        s.decrypt_secrets(&schema(), &mut plain)
            .expect("v1 decrypts");
        assert_eq!(plain, config());

        assert_eq!(s.reseal_envelopes(&mut c).expect("reseal"), 5);
        let text = c.to_string();
        let kid = s.status().current;
        assert!(!text.contains(ENVELOPE_V1), "{text}");
        assert_eq!(
            text.matches(&format!("$enc:v2:{kid}:")).count(),
            5,
            "{text}"
        );
        assert_eq!(s.reseal_envelopes(&mut c).expect("again"), 0, "idempotent");
        s.decrypt_secrets(&schema(), &mut c).expect("decrypt");
        assert_eq!(c, config());
    }

    #[test]
    fn an_unknown_key_id_is_named_with_the_path_and_never_a_key() {
        let mut c = config();
        key(1).encrypt_secrets(&schema(), &mut c).expect("encrypt");
        let err = key(2)
            .decrypt_secrets(&schema(), &mut c)
            .expect_err("must fail");
        let (k1, k2) = (key(1).status().current, key(2).status().current);
        assert!(
            matches!(&err, SecretsError::UnknownKey { kid, .. } if *kid == k1),
            "{err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains(k1.as_str()) && msg.contains(k2.as_str()),
            "{msg}"
        );
        assert!(msg.contains("/auth/password"), "{msg}");
        for b in [1u8, 2] {
            assert!(!msg.contains(&B64.encode([b; 32])), "{msg}");
        }
    }

    #[test]
    fn previous_keys_decrypt_and_encrypting_moves_their_values_to_the_current_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = config();
        key(1).encrypt_secrets(&schema(), &mut c).expect("encrypt");
        let env = format!("{},{}", B64.encode([2u8; 32]), B64.encode([1u8; 32]));
        let s = Secrets::load_or_generate(dir.path(), None, Some(env)).expect("env ring");
        let status = s.status();
        assert_eq!(status.current, key(2).status().current);
        assert_eq!(status.previous, vec![key(1).status().current]);
        assert_eq!(status.source, KeySource::Env);
        let mut plain = c.clone();
        s.decrypt_secrets(&schema(), &mut plain)
            .expect("previous key decrypts");
        assert_eq!(plain, config());
        s.encrypt_secrets(&schema(), &mut c).expect("encrypt");
        key(2)
            .decrypt_secrets(&schema(), &mut c)
            .expect("now under the current key alone");
        assert_eq!(c, config());
    }

    #[test]
    fn debug_never_shows_the_key() {
        assert_eq!(format!("{:?}", key(1)), "Secrets { key: <hidden> }");
    }
}
