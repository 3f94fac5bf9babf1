//! THE one place where errors become `tonic::Status`. Handlers return [`ApiError`]; lower
//! layers' errors convert into it with exhaustive matches (so a new variant upstream breaks the
//! build here, not silently at runtime). Client mistakes keep their message, which says what to
//! fix; internal errors are logged (redacted: the message of a store or plugin error never
//! carries a secret, and configs are never formatted into errors) under a reference id, and the
//! caller gets only "internal error (ref …)".

use tonic::{Code, Status};

use crate::app::AppError;
use crate::engine::EngineError;
use crate::host::{CallError, ReloadError};
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
    #[error(
        "missing or unknown bearer token; send `authorization: Bearer <token>` with a token of \
         api.auth_token or [[api.tokens]]"
    )]
    Unauthenticated,
    /// The token is valid but its role does not allow the call; the message names the role
    /// needed (never the token).
    #[error("{0}")]
    PermissionDenied(String),
    /// A plugin needed for the call is not running, or the coordinator is shutting down; retry.
    #[error("{0}")]
    Unavailable(String),
    /// A limit is reached (e.g. storage is full); the message says which and what to do.
    #[error("{0}")]
    ResourceExhausted(String),
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
            ApiError::PermissionDenied(_) => Code::PermissionDenied,
            ApiError::Unavailable(_) => Code::Unavailable,
            ApiError::DeadlineExceeded(_) => Code::DeadlineExceeded,
            ApiError::ResourceExhausted(_) => Code::ResourceExhausted,
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
            StoreError::ConnectionInUse { .. } => Self::FailedPrecondition(err.to_string()),
            StoreError::Io(_)
            | StoreError::Backend(_)
            | StoreError::NotDurable(_)
            | StoreError::Corrupt { .. } => Self::Internal(err.to_string()),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        match err {
            AppError::InvalidArgument(message) => Self::InvalidArgument(message),
            AppError::NotFound(message) => Self::NotFound(message),
            AppError::FailedPrecondition(message) => Self::FailedPrecondition(message),
            AppError::Internal(message) => Self::Internal(message),
            AppError::Store(e) => e.into(),
            AppError::Secrets(e) => e.into(),
            AppError::Plugin(e) => e.into(),
            AppError::Engine(e) => e.into(),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        match err {
            EngineError::PayloadTooLarge { .. } | EngineError::PayloadNotObject { .. } => {
                Self::InvalidArgument(format!("payload_json: {err}"))
            }
            // The request must change (a new key), so it is the caller's argument that is wrong;
            // never ALREADY_EXISTS, which clients may take for "done".
            EngineError::IdempotencyConflict { .. } => Self::InvalidArgument(err.to_string()),
            EngineError::ShuttingDown => Self::Unavailable(format!("{err}; try again later")),
            EngineError::StorageFull(_) => Self::ResourceExhausted(err.to_string()),
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

impl From<ReloadError> for ApiError {
    fn from(err: ReloadError) -> Self {
        match err {
            ReloadError::UnknownPlugin { .. } => Self::NotFound(err.to_string()),
            ReloadError::Stopping(_) => Self::Unavailable(err.to_string()),
            _ => Self::FailedPrecondition(err.to_string()),
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

/// The status for what the transport refused before a handler ran, where tonic's own code
/// misleads the caller: a message over the size limit is OUT_OF_RANGE there but
/// RESOURCE_EXHAUSTED in gRPC's conventions (and our docs), and a message that does not decode
/// (e.g. a string field that is not UTF-8) is INTERNAL there, which is for our bugs, but is
/// the caller's INVALID_ARGUMENT. `None`: keep the status as it is.
pub(crate) fn from_transport(status: &Status, max_payload_bytes: usize) -> Option<Status> {
    let message = status.message();
    match status.code() {
        Code::OutOfRange if message.contains("decoded message length too large") => {
            let sizes = message
                .split_once("found ")
                .map_or(message, |(_, rest)| rest);
            Some(Status::resource_exhausted(format!(
                "the request message is too large ({}); payload_json may be at most \
                 {max_payload_bytes} bytes (api.max_payload_bytes): send a smaller payload",
                sizes.replace("the limit is: ", "limit ")
            )))
        }
        Code::Internal if message.starts_with("failed to decode Protobuf message") => {
            Some(Status::invalid_argument(format!(
                "the request is not a valid message ({message}); string fields must be UTF-8"
            )))
        }
        _ => None,
    }
}

/// The gRPC response refusing a call before it reaches a handler (see `api::auth`).
pub(crate) fn refusal(err: ApiError) -> tonic::codegen::http::Response<tonic::body::Body> {
    Status::from(err).into_http()
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
    fn refusals_carry_their_code() {
        let response = refusal(ApiError::PermissionDenied("needs admin".into()));
        let status = Status::from_header_map(response.headers()).expect("a grpc-status");
        assert_eq!(status.code(), Code::PermissionDenied);
        assert_eq!(status.message(), "needs admin");
    }

    #[test]
    fn client_errors_keep_their_message() {
        let status = Status::from(ApiError::field("payload_json", "is not JSON"));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "payload_json: is not JSON");
    }

    #[test]
    fn transport_refusals_get_the_callers_codes() {
        let big = Status::out_of_range(
            "Error, decoded message length too large: found 10485812 bytes, the limit is: 4194304 bytes",
        );
        let mapped = from_transport(&big, 524_288).unwrap();
        assert_eq!(mapped.code(), Code::ResourceExhausted);
        assert!(
            mapped
                .message()
                .contains("10485812 bytes, limit 4194304 bytes"),
            "{}",
            mapped.message()
        );
        assert!(mapped.message().contains("524288"), "{}", mapped.message());
        let utf8 = Status::internal(
            "failed to decode Protobuf message: PublishEventRequest.event_type: invalid string value: data is not UTF-8 encoded",
        );
        assert_eq!(
            from_transport(&utf8, 1).unwrap().code(),
            Code::InvalidArgument
        );
        assert!(from_transport(&Status::internal("store failed"), 1).is_none());
    }
}
