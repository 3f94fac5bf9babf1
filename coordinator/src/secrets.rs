//! Secrets: encryption at rest and redaction of every config value a provider's JSON Schema
//! marks `x-secret: true`, wherever it sits (nested objects, `additionalProperties`, array
//! `items`/`prefixItems`, `$ref` into `$defs`, `allOf`/`anyOf`/`oneOf`/`if`/`then`/`else`
//! branches).
//!
//! Stored form: each secret value `v` (any JSON) is replaced by the string
//! `"$enc:v1:" + base64(nonce ‖ XChaCha20-Poly1305(key, nonce, json(v)))` with a fresh random
//! 24-byte nonce. The 32-byte key comes from an environment variable or a key file (base64), or
//! is generated into `<data_dir>/secret.key` (mode 0600) with a warning.
//!
//! Flow of a config through the coordinator: API input (plaintext, maybe with [`REDACTED`]
//! markers) → [`Secrets::merge_update`] (markers and absent secrets take the stored values) →
//! defaults and validation (on plaintext) → [`Secrets::encrypt_secrets`] → store. Out: stored →
//! [`redact`] → API response; stored → [`Secrets::decrypt_secrets`] → plugin call, in memory
//! only. This module never logs a value.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde_json::Value;

/// The fixed marker that replaces every secret value in API responses and logs. Sending it back
/// on update keeps the stored value.
pub const REDACTED: &str = "[REDACTED]";

/// Prefix of an encrypted value in the stored form.
pub const ENVELOPE_PREFIX: &str = "$enc:v1:";

/// File name of the generated key inside the data directory.
pub const KEY_FILE_NAME: &str = "secret.key";

const NONCE_LEN: usize = 24;

/// Errors of key loading and of encryption/decryption.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The key text is not base64 of exactly 32 bytes.
    #[error(
        "the secret key from {origin} is not valid ({reason}); it must be the base64 encoding of \
         32 random bytes, e.g. the output of `head -c 32 /dev/urandom | base64`"
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
    /// A stored secret does not decrypt under this key.
    #[error(
        "cannot decrypt the secret at {path}: it was encrypted under another key or is corrupted \
         (check the configured secret key)"
    )]
    Decrypt {
        /// JSON Pointer of the value within the config.
        path: String,
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

/// The coordinator's secret key and cipher. `Debug` never shows the key.
pub struct Secrets {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets { key: <hidden> }")
    }
}

impl Secrets {
    /// Uses `key` directly.
    pub fn from_key(key: [u8; 32]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(&key.into()),
        }
    }

    /// Loads the key, in order of precedence, from `env_value` (base64), from `key_file`
    /// (base64 text), or from `<data_dir>/secret.key`, generating that file (mode 0600, with a
    /// warning) when it does not exist.
    pub fn load_or_generate(
        data_dir: &Path,
        key_file: Option<&Path>,
        env_value: Option<String>,
    ) -> Result<Self, SecretsError> {
        if let Some(text) = env_value {
            return decode_key(&text, "the environment variable").map(Self::from_key);
        }
        if let Some(path) = key_file {
            return read_key_file(path).map(Self::from_key);
        }
        let path = data_dir.join(KEY_FILE_NAME);
        if path.exists() {
            return read_key_file(&path).map(Self::from_key);
        }
        let key = generate_key_file(data_dir, &path)?;
        tracing::warn!(
            path = %path.display(),
            "no secret key configured: generated one; back it up, since stored secrets cannot be \
             decrypted without it, or configure a key file or variable"
        );
        Ok(Self::from_key(key))
    }

    /// Encrypts every secret value of `config` in place. Values already in the stored form
    /// under this key are left alone, so calling it twice is harmless.
    pub fn encrypt_secrets(&self, schema: &Value, config: &mut Value) -> Result<(), SecretsError> {
        for path in secret_paths(schema, config) {
            if let Some(v) = get_mut(config, &path) {
                let already = v.as_str().is_some_and(|s| self.open(s).is_some());
                if !already {
                    *v = Value::String(self.seal(v));
                }
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
                && text.starts_with(ENVELOPE_PREFIX)
            {
                *v = self.open(text).ok_or_else(|| SecretsError::Decrypt {
                    path: pointer(&path),
                })?;
            }
        }
        Ok(())
    }

    /// Decrypts every value in the stored form anywhere in `config`, whatever the schema says.
    /// Used for config migrations, where the old schema (which said what was secret) is gone.
    pub fn decrypt_envelopes(&self, config: &mut Value) -> Result<(), SecretsError> {
        fn go(s: &Secrets, v: &mut Value, path: &mut Vec<Seg>) -> Result<(), SecretsError> {
            match v {
                Value::String(text) if text.starts_with(ENVELOPE_PREFIX) => {
                    *v = s.open(text).ok_or_else(|| SecretsError::Decrypt {
                        path: pointer(path),
                    })?;
                }
                Value::Object(map) => {
                    for (k, child) in map.iter_mut() {
                        path.push(Seg::Key(k.clone()));
                        go(s, child, path)?;
                        path.pop();
                    }
                }
                Value::Array(items) => {
                    for (i, child) in items.iter_mut().enumerate() {
                        path.push(Seg::Index(i));
                        go(s, child, path)?;
                        path.pop();
                    }
                }
                _ => {}
            }
            Ok(())
        }
        go(self, config, &mut Vec::new())
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
                    && text.starts_with(ENVELOPE_PREFIX)
                {
                    plain = self.open(text).ok_or_else(|| SecretsError::Decrypt {
                        path: pointer(&path),
                    })?;
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

    fn seal(&self, value: &Value) -> String {
        let plain = value.to_string();
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        // Encryption with a valid key and nonce length cannot fail; an empty ciphertext would
        // then simply not decrypt, never leak.
        let ct = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plain.as_bytes())
            .unwrap_or_default();
        let mut blob = Vec::with_capacity(NONCE_LEN + ct.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ct);
        format!("{ENVELOPE_PREFIX}{}", B64.encode(blob))
    }

    fn open(&self, text: &str) -> Option<Value> {
        let blob = B64.decode(text.strip_prefix(ENVELOPE_PREFIX)?).ok()?;
        if blob.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ct) = blob.split_at(NONCE_LEN);
        let plain = self.cipher.decrypt(XNonce::from_slice(nonce), ct).ok()?;
        serde_json::from_slice(&plain).ok()
    }
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

/// Replaces every value in the stored form ([`ENVELOPE_PREFIX`]) anywhere in `config` by
/// [`REDACTED`], whatever a schema says. For responses about a config whose migration failed:
/// it still follows an older schema, whose secrets may sit at paths the current one does not
/// mark secret, so [`redact`] alone would let their encrypted text through.
pub fn redact_envelopes(config: &mut Value) {
    match config {
        Value::String(s) if s.starts_with(ENVELOPE_PREFIX) => *s = REDACTED.to_owned(),
        Value::Object(map) => map.values_mut().for_each(redact_envelopes),
        Value::Array(items) => items.iter_mut().for_each(redact_envelopes),
        _ => {}
    }
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

fn decode_key(text: &str, origin: &str) -> Result<[u8; 32], SecretsError> {
    let bad = |reason: String| SecretsError::BadKey {
        origin: origin.to_owned(),
        reason,
    };
    let bytes = B64
        .decode(text.trim())
        .map_err(|e| bad(format!("not base64: {e}")))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| bad(format!("{} bytes instead of 32", bytes.len())))
}

fn read_key_file(path: &Path) -> Result<[u8; 32], SecretsError> {
    let text = std::fs::read_to_string(path).map_err(|source| SecretsError::KeyFile {
        path: path.to_owned(),
        source,
    })?;
    decode_key(&text, &path.display().to_string())
}

fn generate_key_file(data_dir: &Path, path: &Path) -> Result<[u8; 32], SecretsError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io_err = |source| SecretsError::KeyFile {
        path: path.to_owned(),
        source,
    };
    std::fs::create_dir_all(data_dir).map_err(io_err)?;
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err)?;
    writeln!(file, "{}", B64.encode(key)).map_err(io_err)?;
    file.sync_all().map_err(io_err)?;
    Ok(key)
}

/// One step of a path into a config.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Seg {
    Key(String),
    Index(usize),
}

fn pointer(path: &[Seg]) -> String {
    path.iter()
        .map(|s| match s {
            Seg::Key(k) => format!("/{}", k.replace('~', "~0").replace('/', "~1")),
            Seg::Index(i) => format!("/{i}"),
        })
        .collect()
}

/// JSON Pointers of every secret value present in `config`, per `schema`.
pub fn secret_pointers(schema: &Value, config: &Value) -> Vec<String> {
    secret_paths(schema, config)
        .iter()
        .map(|p| pointer(p))
        .collect()
}

/// Paths of every non-null secret value in `config`, deduplicated (branches may overlap).
fn secret_paths(schema: &Value, config: &Value) -> Vec<Vec<Seg>> {
    let mut out = Vec::new();
    let mut walker = Walker {
        root: schema,
        out: &mut out,
    };
    walker.walk(schema, config, &mut Vec::new(), 0);
    out.sort();
    out.dedup();
    out
}

struct Walker<'a> {
    root: &'a Value,
    out: &'a mut Vec<Vec<Seg>>,
}

/// Deep enough for any real config; stops `$ref` cycles.
const MAX_DEPTH: usize = 48;

impl Walker<'_> {
    fn walk(&mut self, schema: &Value, inst: &Value, path: &mut Vec<Seg>, depth: usize) {
        let Some(obj) = schema.as_object() else {
            return;
        };
        if depth > MAX_DEPTH || inst.is_null() {
            return;
        }
        if obj.get("x-secret") == Some(&Value::Bool(true)) {
            self.out.push(path.clone());
            return;
        }
        let root = self.root;
        if let Some(target) = obj
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| resolve(root, r))
        {
            self.walk(target, inst, path, depth + 1);
        }
        for kw in ["allOf", "anyOf", "oneOf"] {
            for branch in obj.get(kw).and_then(Value::as_array).into_iter().flatten() {
                self.walk(branch, inst, path, depth + 1);
            }
        }
        for kw in ["then", "else"] {
            if let Some(branch) = obj.get(kw) {
                self.walk(branch, inst, path, depth + 1);
            }
        }
        match inst {
            Value::Object(map) => self.walk_object(obj, map, path, depth),
            Value::Array(items) => self.walk_array(obj, items, path, depth),
            _ => {}
        }
    }

    fn walk_object(
        &mut self,
        obj: &serde_json::Map<String, Value>,
        map: &serde_json::Map<String, Value>,
        path: &mut Vec<Seg>,
        depth: usize,
    ) {
        let props = obj.get("properties").and_then(Value::as_object);
        let extra = obj.get("additionalProperties");
        for (key, value) in map {
            let sub = props.and_then(|p| p.get(key)).or(extra);
            if let Some(sub) = sub {
                path.push(Seg::Key(key.clone()));
                self.walk(sub, value, path, depth + 1);
                path.pop();
            }
        }
    }

    fn walk_array(
        &mut self,
        obj: &serde_json::Map<String, Value>,
        items: &[Value],
        path: &mut Vec<Seg>,
        depth: usize,
    ) {
        let prefix = obj.get("prefixItems").and_then(Value::as_array);
        let rest = obj.get("items");
        for (i, value) in items.iter().enumerate() {
            let sub = prefix.and_then(|p| p.get(i)).or(rest);
            if let Some(sub) = sub {
                path.push(Seg::Index(i));
                self.walk(sub, value, path, depth + 1);
                path.pop();
            }
        }
    }
}

/// Resolves a local `$ref` (`#`, `#/$defs/x`, any JSON Pointer into the document).
fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    root.pointer(reference.strip_prefix('#')?)
}

fn get<'v>(value: &'v Value, path: &[Seg]) -> Option<&'v Value> {
    path.iter().try_fold(value, |v, seg| match seg {
        Seg::Key(k) => v.get(k),
        Seg::Index(i) => v.get(i),
    })
}

fn get_mut<'v>(value: &'v mut Value, path: &[Seg]) -> Option<&'v mut Value> {
    path.iter().try_fold(value, |v, seg| match seg {
        Seg::Key(k) => v.get_mut(k),
        Seg::Index(i) => v.get_mut(i),
    })
}

fn set_child(value: &mut Value, parent: &[Seg], last: &Seg, child: Value) {
    match (get_mut(value, parent), last) {
        (Some(Value::Object(map)), Seg::Key(k)) => {
            map.insert(k.clone(), child);
        }
        (Some(Value::Array(items)), Seg::Index(i)) => {
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
    fn debug_never_shows_the_key() {
        assert_eq!(format!("{:?}", key(1)), "Secrets { key: <hidden> }");
    }
}
