//! THE one place where errors become `tonic::Status`. Handlers return [`ApiError`]; lower
//! layers' errors convert into it with exhaustive matches (so a new variant upstream breaks the
//! build here, not silently at runtime). Client mistakes keep their message, which says what to
//! fix; internal errors are logged (redacted: the message of a store or plugin error never
//! carries a secret, and configs are never formatted into errors) under a reference id, and the
//! caller gets only "internal error (ref …)".

use tonic::{Code, Status};

use crate::engine::EngineError;
use crate::host::CallError;
use crate::schema::SchemaProblem;
use crate::secrets::SecretsError;
use crate::secrets::rotate::RotateError;
use crate::store::StoreError;

/// A failed API call, classified by what the caller should do.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or violates a schema; the message says what to fix.
    #[error("{0}")]
    InvalidArgument(String),
    /// A named record does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The record to create exists already.
    #[error("{0}")]
    AlreadyExists(String),
    /// The request is valid but the current state forbids it (e.g. a missing capability).
    #[error("{0}")]
    FailedPrecondition(String),
    /// The request lacks a valid bearer token.
    #[error("missing or wrong bearer token")]
    Unauthenticated,
    /// A plugin needed for the call is not running, or the coordinator is shutting down; retry.
    #[error("{0}")]
    Unavailable(String),
    /// A plugin did not answer in time.
    #[error("{0}")]
    DeadlineExceeded(String),
    /// A bug or a storage failure; the detail is logged, never returned.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// INVALID_ARGUMENT listing schema problems, e.g. "config is invalid: at /url: ...".
    pub fn schema(what: &str, problems: &[SchemaProblem]) -> Self {
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        Self::InvalidArgument(format!("{what} is invalid: {}", list.join("; ")))
    }

    /// INVALID_ARGUMENT about one field.
    pub fn field(field: &str, message: impl std::fmt::Display) -> Self {
        Self::InvalidArgument(format!("{field}: {message}"))
    }
}

impl From<ApiError> for Status {
    fn from(err: ApiError) -> Self {
        let code = match &err {
            ApiError::InvalidArgument(_) => Code::InvalidArgument,
            ApiError::NotFound(_) => Code::NotFound,
            ApiError::AlreadyExists(_) => Code::AlreadyExists,
            ApiError::FailedPrecondition(_) => Code::FailedPrecondition,
            ApiError::Unauthenticated => Code::Unauthenticated,
            ApiError::Unavailable(_) => Code::Unavailable,
            ApiError::DeadlineExceeded(_) => Code::DeadlineExceeded,
            ApiError::Internal(detail) => {
                let reference = uuid::Uuid::new_v4().simple().to_string();
                let reference = &reference[..12];
                tracing::error!(reference, detail = %detail, "internal error in an API call");
                return Status::internal(format!(
                    "internal error (ref {reference}); the coordinator's log has the details"
                ));
            }
        };
        Status::new(code, err.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound { .. } => Self::NotFound(err.to_string()),
            StoreError::AlreadyExists { .. } => Self::AlreadyExists(err.to_string()),
            StoreError::Conflict(message) => Self::FailedPrecondition(message),
            StoreError::Io(_) | StoreError::NotDurable(_) | StoreError::Corrupt { .. } => {
                Self::Internal(err.to_string())
            }
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        match err {
            EngineError::PayloadTooLarge { .. } | EngineError::PayloadNotObject { .. } => {
                Self::InvalidArgument(format!("payload_json: {err}"))
            }
            EngineError::ShuttingDown => Self::Unavailable(format!("{err}; try again later")),
            EngineError::Store(e) => e.into(),
        }
    }
}

impl From<CallError> for ApiError {
    fn from(err: CallError) -> Self {
        match err {
            CallError::NotRunning | CallError::Crashed => {
                Self::Unavailable(format!("{err}; the plugin is restarting, try again"))
            }
            CallError::DeadlineExceeded => Self::DeadlineExceeded(err.to_string()),
            CallError::NotFound(message) => Self::NotFound(message),
            CallError::Unimplemented(message) => {
                Self::FailedPrecondition(format!("not supported by this provider: {message}"))
            }
            CallError::Rpc(status) => Self::Internal(format!(
                "plugin call failed: {}: {}",
                status.code(),
                status.message()
            )),
        }
    }
}

impl From<SecretsError> for ApiError {
    fn from(err: SecretsError) -> Self {
        match err {
            SecretsError::MarkerWithoutValue { .. } => Self::InvalidArgument(err.to_string()),
            SecretsError::Decrypt { .. } | SecretsError::UnknownKey { .. } => {
                Self::FailedPrecondition(err.to_string())
            }
            SecretsError::BadKey { .. }
            | SecretsError::KeyFile { .. }
            | SecretsError::DuplicateKeyId { .. } => Self::Internal(err.to_string()),
        }
    }
}

impl From<RotateError> for ApiError {
    fn from(err: RotateError) -> Self {
        match err {
            // The operator fixes these (the key file's path and key ids are no secrets).
            RotateError::ReadOnlyKeys(_) | RotateError::KeyFile(_) | RotateError::Record { .. } => {
                Self::FailedPrecondition(err.to_string())
            }
            RotateError::ShuttingDown => Self::Unavailable(err.to_string()),
            RotateError::Store(e) => e.into(),
        }
    }
}

/// Rejects the request unless it carries `authorization: Bearer <token>` (when a token is set).
pub(crate) fn check_bearer(
    expected: Option<&crate::cfg::AuthToken>,
    req: &tonic::Request<()>,
) -> Result<(), Status> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let given = req
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // Constant-time comparison: the token is a secret.
    let ok = given.is_some_and(|g| {
        g.len() == expected.expose().len()
            && g.bytes()
                .zip(expected.expose().bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    });
    if ok {
        Ok(())
    } else {
        Err(ApiError::Unauthenticated.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_detail() {
        let status = Status::from(ApiError::Internal("sled: disk /secret/path failed".into()));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("/secret/path"));
    }

    #[test]
    fn client_errors_keep_their_message() {
        let status = Status::from(ApiError::field("payload_json", "is not JSON"));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "payload_json: is not JSON");
    }

    #[test]
    fn bearer_tokens_are_checked_when_configured() {
        let token = crate::cfg::AuthToken::new("t0k");
        let mut req = tonic::Request::new(());
        assert!(check_bearer(None, &req).is_ok());
        assert_eq!(
            check_bearer(token.as_ref(), &req).unwrap_err().code(),
            Code::Unauthenticated
        );
        req.metadata_mut()
            .insert("authorization", "Bearer t0k".parse().unwrap());
        assert!(check_bearer(token.as_ref(), &req).is_ok());
    }
}
