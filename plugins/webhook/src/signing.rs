//! Standard Webhooks signing (<https://www.standardwebhooks.com>, symmetric `v1`): a delivery
//! carries `webhook-id` (the delivery id, stable across retries), `webhook-timestamp` (unix
//! seconds of the attempt) and `webhook-signature`, a space-separated list of
//! `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one entry per configured secret so a
//! receiver can rotate keys without downtime. Secrets are `whsec_` + base64 of 24–64 random
//! bytes; [`SigningKey::parse`] refuses anything else with a reason that never quotes the value.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header carrying the message id (the delivery id).
pub const ID_HEADER: &str = "webhook-id";
/// Header carrying the attempt's unix time in seconds.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// Header carrying the signatures.
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// The prefix of a serialized secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// Shortest and longest key the specification allows, in bytes.
const KEY_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// Secrets are produced padded or unpadded by different tools; both mean the same key.
const SECRET_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a configured secret cannot sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The `whsec_` prefix is missing.
    #[error("must start with `whsec_` (a Standard Webhooks secret)")]
    MissingPrefix,
    /// The part after the prefix is not base64.
    #[error("the part after `whsec_` is not valid base64")]
    NotBase64,
    /// The decoded key is too short or too long.
    #[error("decodes to {0} bytes; a signing key must be 24 to 64 bytes")]
    BadLength(usize),
}

/// A decoded signing key.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// Decodes a `whsec_…` secret.
    ///
    /// # Errors
    /// When the prefix is missing, the rest is not base64, or the key length is out of range.
    pub fn parse(secret: &str) -> Result<Self, SecretError> {
        let encoded = secret
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let key = SECRET_BASE64
            .decode(encoded)
            .map_err(|_| SecretError::NotBase64)?;
        if !KEY_BYTES.contains(&key.len()) {
            return Err(SecretError::BadLength(key.len()));
        }
        Ok(Self(key))
    }

    /// The `v1,<base64>` signature of one message.
    #[must_use]
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` value: one signature per key, space-separated.
#[must_use]
pub fn signature_header(keys: &[SigningKey], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .map(|key| key.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The official vectors, copied from `shared/vendor-specs/standard-webhooks/` (which took
    /// them from the standard-webhooks libraries' test suites; see the file's `_about`) so the
    /// test does not depend on a directory outside the repository.
    fn vectors() -> Vec<serde_json::Value> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/standard-webhooks-test-vectors.json"
        );
        let text = std::fs::read_to_string(path).expect("test vectors present");
        let file: serde_json::Value = serde_json::from_str(&text).expect("vectors are JSON");
        file["sign_vectors"]
            .as_array()
            .expect("sign_vectors")
            .clone()
    }

    #[test]
    fn signs_the_official_test_vectors() {
        let vectors = vectors();
        assert!(vectors.len() >= 2, "{vectors:?}");
        for vector in vectors {
            let key = SigningKey::parse(vector["secret"].as_str().unwrap()).unwrap();
            let signature = key.sign(
                vector["msg_id"].as_str().unwrap(),
                vector["timestamp"].as_i64().unwrap(),
                vector["payload"].as_str().unwrap().as_bytes(),
            );
            assert_eq!(
                signature, vector["expected_signature"],
                "{}",
                vector["name"]
            );
        }
    }

    #[test]
    fn one_signature_per_key_in_order() {
        let keys: Vec<SigningKey> = vectors()
            .iter()
            .map(|v| SigningKey::parse(v["secret"].as_str().unwrap()).unwrap())
            .collect();
        let header = signature_header(&keys, "msg_1", 1_700_000_000, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2, "{header}");
        assert_eq!(parts[0], keys[0].sign("msg_1", 1_700_000_000, b"{}"));
        assert_eq!(parts[1], keys[1].sign("msg_1", 1_700_000_000, b"{}"));
        assert_ne!(parts[0], parts[1]);
    }

    #[test]
    fn accepts_unpadded_secrets_and_refuses_bad_ones() {
        // 24 bytes encode without padding; 25 bytes need `==`, given here without it.
        let padded = format!("whsec_{}", STANDARD.encode([7u8; 25]));
        let unpadded = padded.trim_end_matches('=');
        assert_ne!(padded, unpadded);
        assert_eq!(
            SigningKey::parse(&padded).unwrap().sign("a", 1, b"b"),
            SigningKey::parse(unpadded).unwrap().sign("a", 1, b"b")
        );
        let no_prefix = STANDARD.encode([7u8; 24]);
        assert_eq!(
            SigningKey::parse(&no_prefix).unwrap_err(),
            SecretError::MissingPrefix
        );
        assert_eq!(
            SigningKey::parse("whsec_not*base64!").unwrap_err(),
            SecretError::NotBase64
        );
        let short = format!("whsec_{}", STANDARD.encode([7u8; 8]));
        assert_eq!(
            SigningKey::parse(&short).unwrap_err(),
            SecretError::BadLength(8)
        );
    }
}
