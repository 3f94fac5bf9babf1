//! The keyring and the stored form of a secret value: which key seals, which keys open, and
//! how a ciphertext names its key.
//!
//! Stored form, version 2: `"$enc:v2:" + kid + ":" + base64(nonce ‖ ct)`, where `ct` is
//! XChaCha20-Poly1305 under the key `kid` names, with a fresh random 24-byte nonce and the
//! prefix up to and including the kid as associated data (so a value cannot be relabelled to
//! another key). The kid is the first 8 hex digits of SHA-256 over a fixed label and the key:
//! it tells keys apart and reveals nothing about them. Version 1 (`"$enc:v1:" + base64(...)`,
//! no kid, no associated data) was written before keys had ids; it is still read, by trying
//! every key of the ring, and a rotation rewrites it as version 2.
//!
//! The ring has one current key (it seals), the previous keys (they only open, until a
//! rotation has re-encrypted every stored value) and, after a rotation, the retired keys:
//! no longer configured anywhere, kept in this process's memory only so that a delivery which
//! read a record just before it was re-encrypted still opens it. Nothing here touches disk or
//! logs a key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Prefix of a value sealed in the legacy form (no key id).
pub const ENVELOPE_V1: &str = "$enc:v1:";

/// Prefix of a value sealed in the current form; the key id and a `:` follow.
pub const ENVELOPE_V2: &str = "$enc:v2:";

const NONCE_LEN: usize = 24;

/// Label hashed with a key to derive its id, so the id is not a plain hash of the key.
const KID_LABEL: &[u8] = b"switchyard secret key id\0";

/// Whether `text` is a value in the stored form (either version).
#[must_use]
pub fn is_envelope(text: &str) -> bool {
    text.starts_with(ENVELOPE_V2) || text.starts_with(ENVELOPE_V1)
}

/// A key's id: 8 lowercase hex digits derived from the key; safe to log and show.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One 32-byte key with its id and cipher. `Debug` shows the id only.
#[derive(Clone)]
pub(crate) struct Key {
    id: KeyId,
    bytes: [u8; 32],
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({}, <hidden>)", self.id)
    }
}

impl Key {
    pub(crate) fn new(bytes: [u8; 32]) -> Self {
        let digest = Sha256::new()
            .chain_update(KID_LABEL)
            .chain_update(bytes)
            .finalize();
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        Self {
            id: KeyId(id),
            bytes,
            cipher: XChaCha20Poly1305::new(&bytes.into()),
        }
    }

    /// A fresh random key.
    pub(crate) fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self::new(bytes)
    }

    pub(crate) fn id(&self) -> &KeyId {
        &self.id
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    fn seal(&self, value: &Value) -> String {
        let prefix = format!("{ENVELOPE_V2}{}:", self.id);
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let plain = value.to_string();
        let payload = Payload {
            msg: plain.as_bytes(),
            aad: prefix.as_bytes(),
        };
        // Encryption with a valid key and nonce length cannot fail; an empty ciphertext would
        // then simply not decrypt, never leak.
        let ct = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut blob = Vec::with_capacity(NONCE_LEN + ct.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ct);
        format!("{prefix}{}", B64.encode(blob))
    }

    fn open(&self, body: &str, aad: &[u8]) -> Option<Value> {
        let blob = B64.decode(body).ok()?;
        if blob.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ct) = blob.split_at(NONCE_LEN);
        let payload = Payload { msg: ct, aad };
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), payload)
            .ok()?;
        serde_json::from_slice(&plain).ok()
    }
}

/// Why a stored value did not open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Its key id names no key of the ring.
    UnknownKey(KeyId),
    /// It is malformed, corrupted, or (version 1) opens under no key of the ring.
    Invalid,
}

/// The current key, the previous ones and the retired ones (see the module doc).
#[derive(Debug, Clone)]
pub(crate) struct Keyring {
    current: Key,
    previous: Vec<Key>,
    retired: Vec<Key>,
}

impl Keyring {
    /// A ring of one key.
    pub(crate) fn single(current: Key) -> Self {
        Self {
            current,
            previous: Vec::new(),
            retired: Vec::new(),
        }
    }

    /// A ring sealing with `current` and also opening with `previous`. Keys given twice are
    /// kept once. `Err` names the id two different keys share (1 in 4 billion: generate one
    /// of them again).
    pub(crate) fn new(current: Key, previous: Vec<Key>) -> Result<Self, KeyId> {
        let mut ring = Self::single(current);
        for key in previous {
            match ring.find(key.id()) {
                Some(same) if same.bytes == key.bytes => {}
                Some(_) => return Err(key.id.clone()),
                None => ring.previous.push(key),
            }
        }
        Ok(ring)
    }

    pub(crate) fn current(&self) -> &Key {
        &self.current
    }

    pub(crate) fn previous(&self) -> &[Key] {
        &self.previous
    }

    /// Makes `key` the current key; the old current key becomes the first previous one.
    pub(crate) fn install(&mut self, key: Key) {
        let old = std::mem::replace(&mut self.current, key);
        self.previous.insert(0, old);
    }

    /// Moves every previous key to the retired ones and returns their ids.
    pub(crate) fn retire_previous(&mut self) -> Vec<KeyId> {
        let ids = self.previous.iter().map(|k| k.id.clone()).collect();
        self.retired.append(&mut self.previous);
        ids
    }

    /// `value` sealed under the current key (version 2).
    pub(crate) fn seal(&self, value: &Value) -> String {
        self.current.seal(value)
    }

    /// Whether `text` is a stored value sealed under the current key (parsed only, not
    /// decrypted). Version 1 values never are: they have no key id.
    pub(crate) fn is_current(&self, text: &str) -> bool {
        text.strip_prefix(ENVELOPE_V2)
            .and_then(|rest| rest.split_once(':'))
            .is_some_and(|(kid, _)| kid == self.current.id.as_str())
    }

    /// Opens a stored value of either version.
    pub(crate) fn open(&self, text: &str) -> Result<Value, OpenError> {
        if let Some(rest) = text.strip_prefix(ENVELOPE_V2) {
            let (kid, body) = rest.split_once(':').ok_or(OpenError::Invalid)?;
            let aad = &text.as_bytes()[..ENVELOPE_V2.len() + kid.len() + 1];
            let key = self
                .find(&KeyId(kid.to_owned()))
                .ok_or_else(|| OpenError::UnknownKey(KeyId(kid.to_owned())))?;
            return key.open(body, aad).ok_or(OpenError::Invalid);
        }
        let body = text.strip_prefix(ENVELOPE_V1).ok_or(OpenError::Invalid)?;
        self.all()
            .find_map(|k| k.open(body, &[]))
            .ok_or(OpenError::Invalid)
    }

    fn find(&self, id: &KeyId) -> Option<&Key> {
        self.all().find(|k| &k.id == id)
    }

    fn all(&self) -> impl Iterator<Item = &Key> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .chain(&self.retired)
    }
}

/// Seals `value` in the legacy version-1 form, as coordinators before key ids did; for tests
/// of reading and rotating old data.
#[cfg(test)]
pub(crate) fn seal_v1(key: &Key, value: &Value) -> String {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let ct = key
        .cipher
        .encrypt(XNonce::from_slice(&nonce), value.to_string().as_bytes())
        .unwrap_or_default();
    format!("{ENVELOPE_V1}{}", B64.encode([&nonce[..], &ct].concat()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ring(current: u8, previous: &[u8]) -> Keyring {
        let prev = previous.iter().map(|b| Key::new([*b; 32])).collect();
        Keyring::new(Key::new([current; 32]), prev).expect("ring")
    }

    #[test]
    fn key_ids_are_8_hex_digits_differ_per_key_and_do_not_contain_the_key() {
        let (a, b) = (Key::new([1; 32]), Key::new([2; 32]));
        assert_eq!(a.id().as_str().len(), 8);
        assert!(a.id().as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.id(), b.id());
        assert_eq!(a.id(), Key::new([1; 32]).id(), "stable");
        assert!(!B64.encode([1u8; 32]).contains(a.id().as_str()));
        assert_eq!(format!("{a:?}"), format!("Key({}, <hidden>)", a.id()));
    }

    #[test]
    fn v2_values_name_the_current_key_and_open_under_it() {
        let r = ring(1, &[]);
        let text = r.seal(&json!({"t": "s3cret"}));
        let kid = Key::new([1; 32]).id().clone();
        assert!(text.starts_with(&format!("$enc:v2:{kid}:")), "{text}");
        assert!(!text.contains("s3cret"));
        assert!(r.is_current(&text));
        assert_eq!(r.open(&text), Ok(json!({"t": "s3cret"})));
    }

    #[test]
    fn v2_values_are_routed_to_the_key_their_id_names() {
        let old = ring(1, &[]);
        let text = old.seal(&json!("tok"));
        let rotated = ring(2, &[1]);
        assert!(!rotated.is_current(&text));
        assert_eq!(rotated.open(&text), Ok(json!("tok")));
        let mut retired = rotated.clone();
        assert_eq!(
            retired.retire_previous(),
            vec![Key::new([1; 32]).id().clone()]
        );
        assert!(retired.previous().is_empty());
        assert_eq!(
            retired.open(&text),
            Ok(json!("tok")),
            "retired keys still open"
        );
    }

    #[test]
    fn an_unknown_key_id_is_reported_by_id() {
        let text = ring(1, &[]).seal(&json!("tok"));
        let err = ring(2, &[3]).open(&text).expect_err("must not open");
        assert_eq!(err, OpenError::UnknownKey(Key::new([1; 32]).id().clone()));
    }

    #[test]
    fn a_relabelled_or_tampered_value_does_not_open() {
        let r = ring(1, &[2]);
        let text = ring(2, &[]).seal(&json!("tok"));
        let (k1, k2) = (Key::new([1; 32]), Key::new([2; 32]));
        let relabelled = text.replace(k2.id().as_str(), k1.id().as_str());
        assert_eq!(r.open(&relabelled), Err(OpenError::Invalid));
        let mut tampered = text.clone();
        tampered.pop();
        tampered.push(if text.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(r.open(&tampered), Err(OpenError::Invalid));
        assert_eq!(r.open("$enc:v2:nocolon"), Err(OpenError::Invalid));
    }

    #[test]
    fn v1_values_still_open_under_any_key_of_the_ring_and_are_never_current() {
        let legacy = seal_v1(&Key::new([1; 32]), &json!("old-tok"));
        assert!(is_envelope(&legacy));
        for r in [ring(1, &[]), ring(2, &[1])] {
            assert_eq!(r.open(&legacy), Ok(json!("old-tok")));
            assert!(!r.is_current(&legacy));
        }
        assert_eq!(ring(2, &[3]).open(&legacy), Err(OpenError::Invalid));
    }

    #[test]
    fn install_makes_the_new_key_current_and_keeps_the_old_one_opening() {
        let mut r = ring(1, &[]);
        let before = r.seal(&json!("a"));
        r.install(Key::new([2; 32]));
        assert_eq!(r.current().id(), Key::new([2; 32]).id());
        assert_eq!(r.previous().len(), 1);
        assert_eq!(r.open(&before), Ok(json!("a")));
        assert!(!r.is_current(&before));
    }

    #[test]
    fn the_same_key_twice_is_kept_once() {
        let r = ring(1, &[1, 2, 2]);
        assert_eq!(r.previous().len(), 1);
    }
}
