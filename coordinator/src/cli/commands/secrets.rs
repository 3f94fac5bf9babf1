//! `switchyard secrets`: the ids of the secret-encryption keys in use (`status`) and rotation
//! of the key through the running coordinator (`rotate`), which holds the database and so is
//! the only process that can re-encrypt it. No key is ever printed: only key ids.

use serde_json::json;
use switchyard_proto::coordinator::v1::{GetSecretKeyStatusRequest, RotateSecretKeyRequest};

use super::{Body, SecretsCmd};
use crate::cli::client::Clients;
use crate::cli::output::Output;

pub(super) async fn run(cmd: SecretsCmd, mut c: Clients, out: Output) -> Result<(), String> {
    let api = &mut c.secret_keys;
    match cmd {
        SecretsCmd::Status => {
            let s = api
                .get_secret_key_status(GetSecretKeyStatusRequest {})
                .await
                .body()?;
            let previous = list_or_none(&s.previous_key_ids);
            out.record(
                &[
                    ("KEY ID", s.key_id.clone()),
                    ("PREVIOUS KEYS", previous),
                    ("KEYS IN", s.key_source.clone()),
                    ("ROTATING", s.rotating.to_string()),
                ],
                &json!({
                    "keyId": s.key_id, "previousKeyIds": s.previous_key_ids,
                    "keySource": s.key_source, "rotating": s.rotating,
                }),
            );
        }
        SecretsCmd::Rotate => {
            let r = api
                .rotate_secret_key(RotateSecretKeyRequest {})
                .await
                .body()?;
            out.record(
                &[
                    ("KEY ID", r.key_id.clone()),
                    ("RETIRED KEYS", list_or_none(&r.retired_key_ids)),
                    ("CONNECTIONS", r.connections_reencrypted.to_string()),
                    ("SUBSCRIPTIONS", r.subscriptions_reencrypted.to_string()),
                    ("RESUMED", r.resumed.to_string()),
                    ("KEYS IN", r.key_source.clone()),
                ],
                &json!({
                    "keyId": r.key_id, "retiredKeyIds": r.retired_key_ids,
                    "connectionsReencrypted": r.connections_reencrypted,
                    "subscriptionsReencrypted": r.subscriptions_reencrypted,
                    "resumed": r.resumed, "keySource": r.key_source,
                }),
            );
            if r.key_source.contains("SWITCHYARD_SECRET_KEY") && !r.retired_key_ids.is_empty() {
                out.note("every secret is encrypted under the first key of SWITCHYARD_SECRET_KEY now: remove the other keys from the variable");
            }
        }
    }
    Ok(())
}

fn list_or_none(ids: &[String]) -> String {
    if ids.is_empty() {
        "-".into()
    } else {
        ids.join(", ")
    }
}
