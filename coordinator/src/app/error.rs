//! [`AppError`]: why an application-layer operation refused or failed, classified by what the
//! caller should do. The API turns it into a gRPC status in `api/status.rs` (the one place that
//! does); lower layers' errors are carried as they are, so that place maps each exhaustively.

use crate::engine::EngineError;
use crate::host::CallError;
use crate::schema::SchemaProblem;
use crate::secrets::SecretsError;
use crate::store::StoreError;

/// A refused or failed lifecycle or config operation. Client mistakes carry a message that says
/// what to fix (never a secret value); the wrapped errors keep their own classification.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input is malformed or violates a schema; the message says what to fix.
    #[error("{0}")]
    InvalidArgument(String),
    /// A named record does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The input is valid but the current state forbids the operation.
    #[error("{0}")]
    FailedPrecondition(String),
    /// A bug (e.g. a provider schema that is not JSON); logged, never shown in detail.
    #[error("internal error: {0}")]
    Internal(String),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Encrypting or decrypting a config's secrets failed.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// A plugin call failed (its message scrubbed of the secrets the call carried).
    #[error(transparent)]
    Plugin(#[from] CallError),
    /// The engine refused or failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Result alias of the application layer.
pub type AppResult<T> = Result<T, AppError>;

impl AppError {
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
