//! Secrets: encryption at rest and redaction.
