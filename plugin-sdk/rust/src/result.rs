//! What a provider answers: the result of one delivery attempt ([`DeliveryResult`]), of a
//! connection test ([`TestConnectionResult`]), the choices of a resolver field
//! ([`ConnectionOption`]), and the in-band problem report ([`Diagnostic`]) used for bad input.

use std::time::Duration;

use switchyard_proto::plugin::v1 as pb;

/// How one delivery attempt ended, with exactly the data each case needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The external system accepted the event; the id of the record it created, if any.
    Delivered {
        /// Id of the created record (a Jira key, a message id).
        external_id: Option<String>,
    },
    /// A transient failure (network error, 5xx, timeout): retry on the normal schedule.
    Retryable {
        /// Why it failed, without secrets.
        error: String,
        /// A hint from the external system on when to retry, if it gave one.
        retry_after: Option<Duration>,
    },
    /// The external system asked us to slow down: retry after `retry_after`.
    RateLimited {
        /// Why it failed, without secrets.
        error: String,
        /// How long to wait before the next attempt.
        retry_after: Duration,
    },
    /// Retrying cannot help (4xx, deleted endpoint, bad config): stop now.
    Permanent {
        /// Why it failed, without secrets.
        error: String,
    },
}

/// The result of one delivery attempt: an [`Outcome`] plus the HTTP status that led to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryResult {
    /// How the attempt ended.
    pub outcome: Outcome,
    /// HTTP status (or the like) returned by the external system; `None` when none was received.
    pub status_code: Option<u16>,
    /// Small state for later deliveries of the same correlation key (kept on success only).
    pub state: Option<String>,
    /// The first bytes of the external system's answer, for the attempt log.
    pub response_excerpt: Option<String>,
}

impl DeliveryResult {
    /// The event was delivered; `external_id` is the id of the created record, if any.
    #[must_use]
    pub fn delivered(external_id: Option<String>) -> Self {
        Self::from(Outcome::Delivered { external_id })
    }

    /// A transient failure, retried on the coordinator's normal schedule.
    #[must_use]
    pub fn retryable(error: impl Into<String>) -> Self {
        Self::from(Outcome::Retryable {
            error: error.into(),
            retry_after: None,
        })
    }

    /// A transient failure with the external system's hint on when to retry, if any.
    #[must_use]
    pub fn retryable_after(error: impl Into<String>, after: Option<Duration>) -> Self {
        Self::from(Outcome::Retryable {
            error: error.into(),
            retry_after: after,
        })
    }

    /// The external system asked to slow down; retry after `after`.
    #[must_use]
    pub fn rate_limited(error: impl Into<String>, after: Duration) -> Self {
        Self::from(Outcome::RateLimited {
            error: error.into(),
            retry_after: after,
        })
    }

    /// A failure that retrying cannot fix.
    #[must_use]
    pub fn permanent(error: impl Into<String>) -> Self {
        Self::from(Outcome::Permanent {
            error: error.into(),
        })
    }

    /// Records the HTTP status the external system answered with.
    #[must_use]
    pub fn with_status(mut self, status: u16) -> Self {
        self.status_code = Some(status);
        self
    }

    /// Keeps `state` (at most 4,096 bytes; e.g. `{"channel":"C1","ts":"17.2"}`) for the later
    /// deliveries of this correlation key, which find it in
    /// [`crate::Correlation::earlier`]. Kept only when the attempt delivered.
    #[must_use]
    pub fn with_state(mut self, state: impl Into<String>) -> Self {
        self.state = Some(state.into());
        self
    }

    /// Records the first bytes of the external system's answer for the attempt log.
    #[must_use]
    pub fn with_response_excerpt(mut self, excerpt: impl Into<String>) -> Self {
        self.response_excerpt = Some(excerpt.into());
        self
    }

    /// True when the event was delivered.
    #[must_use]
    pub fn is_delivered(&self) -> bool {
        matches!(self.outcome, Outcome::Delivered { .. })
    }

    /// The failure text, if the attempt failed.
    #[must_use]
    pub fn error(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Delivered { .. } => None,
            Outcome::Retryable { error, .. }
            | Outcome::RateLimited { error, .. }
            | Outcome::Permanent { error } => Some(error),
        }
    }

    /// Converts into the wire response.
    #[must_use]
    pub fn into_proto(self) -> pb::DeliverResponse {
        let status_code = self.status_code.map_or(0, u32::from);
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let (outcome, external_id, error, retry_after_ms) = match self.outcome {
            Outcome::Delivered { external_id } => (
                pb::Outcome::Delivered,
                external_id.unwrap_or_default(),
                String::new(),
                None,
            ),
            Outcome::Retryable { error, retry_after } => (
                pb::Outcome::Retryable,
                String::new(),
                error,
                retry_after.map(millis),
            ),
            Outcome::RateLimited { error, retry_after } => (
                pb::Outcome::RateLimited,
                String::new(),
                error,
                Some(millis(retry_after)),
            ),
            Outcome::Permanent { error } => (pb::Outcome::Permanent, String::new(), error, None),
        };
        pb::DeliverResponse {
            success: outcome == pb::Outcome::Delivered,
            external_id,
            error,
            retry_after_ms,
            outcome: outcome.into(),
            diagnostics: Vec::new(),
            status_code,
            state: self.state.unwrap_or_default(),
            response_excerpt: self.response_excerpt.unwrap_or_default(),
        }
    }
}

impl From<Outcome> for DeliveryResult {
    fn from(outcome: Outcome) -> Self {
        Self {
            outcome,
            status_code: None,
            state: None,
            response_excerpt: None,
        }
    }
}

/// One problem with user input, with the JSON Pointer (RFC 6901) of the offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// JSON Pointer of the offending value, e.g. `/auth/token`; `""` for the whole document.
    pub json_path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic at `json_path`.
    #[must_use]
    pub fn new(json_path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            json_path: json_path.into(),
            message: message.into(),
        }
    }

    /// Converts into the wire message.
    #[must_use]
    pub fn into_proto(self) -> pb::Diagnostic {
        pb::Diagnostic {
            json_path: self.json_path,
            message: self.message,
        }
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.json_path.is_empty() {
            write!(f, "(document): {}", self.message)
        } else {
            write!(f, "{}: {}", self.json_path, self.message)
        }
    }
}

/// The verdict of a connection test.
#[derive(Debug, Clone, PartialEq)]
pub struct TestConnectionResult {
    /// The external system accepted the credentials / the endpoint answered as expected.
    pub success: bool,
    /// One line for the user, e.g. "Connected as alice@example.com".
    pub message: String,
    /// Optional structured details (e.g. the account name).
    pub details: Option<serde_json::Value>,
}

impl TestConnectionResult {
    /// A successful test with a message for the user.
    #[must_use]
    pub fn ok(message: impl Into<String>) -> Self {
        Self {
            success: true,
            message: message.into(),
            details: None,
        }
    }

    /// A failed test with a message for the user.
    #[must_use]
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            success: false,
            message: message.into(),
            details: None,
        }
    }

    /// Attaches structured details.
    #[must_use]
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }
}

/// One choice in a dropdown served by a resolver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionOption {
    /// The value stored in the config when chosen.
    pub value: String,
    /// What the UI shows.
    pub label: String,
    /// Optional longer text.
    pub description: Option<String>,
}

impl ConnectionOption {
    /// An option with a value and a label.
    #[must_use]
    pub fn new(value: impl Into<String>, label: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            label: label.into(),
            description: None,
        }
    }

    /// Converts into the wire message.
    #[must_use]
    pub fn into_proto(self) -> pb::ConnectionOption {
        pb::ConnectionOption {
            value: self.value,
            label: self.label,
            description: self.description.unwrap_or_default(),
        }
    }
}
