//! What an operator watches: Prometheus metrics ([`metrics`]), OpenTelemetry traces
//! ([`traces`], exported over OTLP when the `OTEL_*` variables ask) and the health endpoints for
//! orchestrators ([`readiness`]), served on the operator's HTTP listener ([`http`],
//! `[observability] listen`), apart from the platform API so that a scrape or a probe needs no
//! token and reaches the coordinator before its plugins and API are up.

pub mod http;
pub mod metrics;
pub mod readiness;
pub mod traces;
