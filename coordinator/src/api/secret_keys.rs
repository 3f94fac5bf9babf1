//! `SecretKeyService`: the ids of the secret-encryption keys in use, and rotation of the key
//! through [`crate::secrets::rotate`] in this running coordinator (the store is open here, so
//! a rotation cannot run anywhere else). No key ever appears in a request or response.

use switchyard_proto::coordinator::v1 as api;
use switchyard_proto::coordinator::v1::secret_key_service_server::SecretKeyService;
use tonic::{Request, Response, Status};

use super::ApiContext;
use super::status::ApiError;
use crate::secrets::KeyId;

/// Serves `SecretKeyService`.
#[derive(Debug, Clone)]
pub struct SecretKeys(pub(crate) ApiContext);

type Res<T> = Result<Response<T>, Status>;

fn ids(ids: &[KeyId]) -> Vec<String> {
    ids.iter().map(ToString::to_string).collect()
}

#[tonic::async_trait]
impl SecretKeyService for SecretKeys {
    async fn get_secret_key_status(
        &self,
        _req: Request<api::GetSecretKeyStatusRequest>,
    ) -> Res<api::GetSecretKeyStatusResponse> {
        let status = self.0.secrets.status();
        Ok(Response::new(api::GetSecretKeyStatusResponse {
            key_id: status.current.to_string(),
            previous_key_ids: ids(&status.previous),
            key_source: status.source.to_string(),
            rotating: self.0.rotation.running(),
        }))
    }

    async fn rotate_secret_key(
        &self,
        _req: Request<api::RotateSecretKeyRequest>,
    ) -> Res<api::RotateSecretKeyResponse> {
        let report = self
            .0
            .rotation
            .rotate(&self.0.shutdown)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(api::RotateSecretKeyResponse {
            key_id: report.key_id.to_string(),
            retired_key_ids: ids(&report.retired),
            connections_reencrypted: report.connections as u64,
            subscriptions_reencrypted: report.subscriptions as u64,
            resumed: report.resumed,
            key_source: report.source.to_string(),
        }))
    }
}
