//! One attempt of one claimed delivery, as a task: wait for the subscription's and the
//! plugin's permits (a safe point: on shutdown the delivery is handed back), load and decrypt
//! what the plugin needs (in memory only), call the plugin, and settle: the retry decision and
//! the attempt record are written in one store transaction right after the call returns, with
//! no cancellation point in between.
//!
//! The decrypted secrets of the call (the subscription's and its connection's) also make a
//! [`Scrubber`]: whatever the plugin answers (error, external id) is scrubbed with it before it
//! is stored, logged or shown to watchers, and the plugin's log lines are scrubbed with it
//! during the call — so a receiver that echoes its credentials leaks nothing, even through a
//! plugin that does no scrubbing of its own.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use switchyard_proto::plugin::v1 as pb;
use switchyard_scrub::{Builder as ScrubBuilder, Scrubber};
use tokio::sync::OwnedSemaphorePermit;

use super::event_cache::EventText;
use super::guard::Gate;
use super::providers::Resolved;
use super::retry::{self, Decision, GiveUp, Outcome};
use super::{Inner, SubRef};
use crate::model::{
    Attempt, AttemptOutcome, AttemptTrigger, Delivery, DeliveryId, DeliveryState, DeliveryStatus,
    SUBSCRIPTION_GONE, Subscription, SubscriptionId, to_millis,
};
use crate::observe::traces;
use crate::secrets::secret_pointers;
use crate::store::{Claimed, SaveDelivery};

/// How a plugin call (or the preparation for one) ended.
#[derive(Debug, Clone)]
pub(super) struct CallResult {
    pub(super) outcome: Outcome,
    pub(super) error: Option<String>,
    pub(super) status_code: Option<u32>,
    pub(super) external_id: Option<String>,
    pub(super) retry_after_ms: Option<u64>,
    pub(super) response_excerpt: Option<String>,
    pub(super) state: Option<String>,
    pub(super) started_at: DateTime<Utc>,
    pub(super) ended_at: DateTime<Utc>,
}

/// Most bytes of a response excerpt kept in the attempt record.
const MAX_EXCERPT: usize = 1024;
/// Most bytes of correlation state kept; a plugin returning more gets it dropped (logged).
const MAX_STATE: usize = 4096;

impl CallResult {
    /// A failure found before calling the plugin (provider gone, config unreadable...).
    fn without_call(outcome: Outcome, error: String, at: DateTime<Utc>) -> Self {
        Self {
            outcome,
            error: Some(error),
            status_code: None,
            external_id: None,
            retry_after_ms: None,
            response_excerpt: None,
            state: None,
            started_at: at,
            ended_at: at,
        }
    }
}

/// The ids every log line about a delivery carries: its own, its subscription's and its
/// trace's (empty when the event came without trace context and traces are off).
#[derive(Debug, Clone, Copy)]
struct Ids<'a> {
    delivery: DeliveryId,
    subscription: SubscriptionId,
    trace: &'a str,
}

impl<'a> Ids<'a> {
    fn of(d: &Delivery, event: Option<&'a EventText>) -> Self {
        let trace = event
            .and_then(|e| e.trace.as_deref())
            .and_then(traces::trace_id)
            .unwrap_or_default();
        Self {
            delivery: d.id,
            subscription: d.subscription_id,
            trace,
        }
    }
}

/// A `tracing` event about a delivery, with its [`Ids`] as the fields `delivery`,
/// `subscription` and `trace_id`.
macro_rules! log_delivery {
    ($level:ident, $ids:expr, $($rest:tt)+) => {{
        let ids: &Ids<'_> = &$ids;
        tracing::$level!(
            delivery = %ids.delivery,
            subscription = %ids.subscription,
            trace_id = ids.trace,
            $($rest)+
        )
    }};
}

/// What a plugin call needs, made by [`prepare`].
struct Prepared {
    provider: Arc<Resolved>,
    req: pb::DeliverRequest,
    /// The decrypted secrets of the call, to scrub its answer with.
    secrets: Scrubber,
}

/// Why an attempt stops before the plugin call.
#[derive(Clone)]
enum Stop {
    /// The subscription is gone or disabled: cancel, no attempt recorded.
    Cancel(String),
    /// Record a failed attempt with this outcome and reason.
    Fail(Outcome, String),
}

/// A claimed (`InFlight`) delivery. Settling consumes it, so it happens exactly once.
pub(super) struct InFlight {
    inner: Arc<Inner>,
    delivery: Delivery,
    trigger: AttemptTrigger,
    /// For a manual attempt: the state to restore if it fails (the one it had before).
    restore: Option<DeliveryState>,
    /// Whether this attempt is its subscription's half-open circuit-breaker probe.
    probe: bool,
    /// The trace id of its log lines once the event is read (empty before, or without one).
    trace_id: String,
    _claim: Option<OwnedSemaphorePermit>,
}

/// Runs the scheduled attempt of a delivery the dispatcher claimed.
pub(super) async fn run_scheduled(
    inner: Arc<Inner>,
    delivery: Delivery,
    claim: Option<OwnedSemaphorePermit>,
) {
    let flight = InFlight {
        inner,
        delivery,
        trigger: AttemptTrigger::Scheduled,
        restore: None,
        probe: false,
        trace_id: String::new(),
        _claim: claim,
    };
    run(flight).await;
}

/// Runs a manual attempt (redeliver).
pub(super) async fn run_manual(
    inner: Arc<Inner>,
    claimed: Claimed,
    claim: Option<OwnedSemaphorePermit>,
) {
    let flight = InFlight {
        inner,
        delivery: claimed.delivery,
        trigger: AttemptTrigger::Manual,
        restore: Some(claimed.previous),
        probe: false,
        trace_id: String::new(),
        _claim: claim,
    };
    run(flight).await;
}

async fn run(mut flight: InFlight) {
    let inner = Arc::clone(&flight.inner);
    match gate(&inner, &flight.delivery, flight.trigger) {
        Gate::Defer { until, reason } => return flight.defer(until, reason).await,
        Gate::Go { wait, probe } => {
            flight.probe = probe;
            if !wait.is_zero() {
                tokio::select! {
                    biased;
                    () = inner.shutdown.cancelled() => return flight.hand_back().await,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
    let d = &flight.delivery;
    let permits = tokio::select! {
        biased;
        () = inner.shutdown.cancelled() => return flight.hand_back().await,
        p = inner.limits.acquire(&d.provider_id, d.subscription_id) => p,
    };
    // A coordinator that hung past its lease leaves the delivery to the one that took it over.
    if !inner.store.holds_claim(d.id) {
        return;
    }
    // First: its trace context names the trace of every log line about the attempt.
    let event = event_text(&inner, d);
    let ids = Ids::of(d, event.as_ref().ok().map(|e| &**e));
    flight.trace_id = ids.trace.to_owned();
    let sub = inner.subscription(d.subscription_id);
    let prepared = match (&sub, &event) {
        (Ok(sub), Ok(event)) => prepare(&inner, d, sub.as_ref(), event, flight.trigger, &ids).await,
        (Err(e), _) => {
            log_delivery!(error, ids, error = %e, "cannot read the subscription");
            let retry = Outcome::Retryable { retry_after: None };
            Err(Stop::Fail(
                retry,
                "internal error: cannot read the subscription".into(),
            ))
        }
        (_, Err(stop)) => Err(stop.clone()),
    };
    let result = match prepared {
        Ok(prepared) => {
            let trace = event.as_ref().ok().and_then(|e| e.trace.as_deref());
            traced_call(&inner, d, trace, prepared, &ids).await
        }
        Err(Stop::Cancel(reason)) => return flight.cancel(reason).await,
        Err(Stop::Fail(outcome, reason)) => {
            CallResult::without_call(outcome, reason, inner.clock.now())
        }
    };
    drop(permits);
    // Re-read: the subscription may have been disabled or deleted during the call.
    let sub = inner.subscription(d.subscription_id).or(sub).ok().flatten();
    flight.settle(&result, sub.as_deref(), &ids).await;
}

/// What the subscription's rate limit and circuit breaker say to this attempt ([`super::guard`]).
/// A subscription that is gone, disabled or unreadable is not gated: [`prepare`] deals with it.
fn gate(inner: &Inner, d: &Delivery, trigger: AttemptTrigger) -> Gate {
    let gated = trigger == AttemptTrigger::Scheduled && !d.test;
    match inner.subscription(d.subscription_id) {
        Ok(Some(sub)) if sub.enabled || !gated => {
            inner.guard.gate(d, &sub, gated, inner.clock.now())
        }
        _ => Gate::Go {
            wait: std::time::Duration::ZERO,
            probe: false,
        },
    }
}

/// Loads, migrates and decrypts what the plugin call needs, and the scrubber of its secrets.
async fn prepare(
    inner: &Inner,
    d: &Delivery,
    sub: Option<&SubRef>,
    event: &EventText,
    trigger: AttemptTrigger,
    ids: &Ids<'_>,
) -> Result<Prepared, Stop> {
    let Some(sub) = sub else {
        return Err(Stop::Cancel(
            "cancelled: the subscription was deleted".into(),
        ));
    };
    // A test delivery is asked for explicitly, often before the subscription is enabled.
    if !sub.enabled && trigger == AttemptTrigger::Scheduled && !d.test {
        return Err(Stop::Cancel(
            "cancelled: the subscription is disabled".into(),
        ));
    }
    let Some(provider) = inner.providers.get(&sub.provider_id) else {
        return Err(Stop::Fail(
            Outcome::Permanent,
            format!(
                "provider {} is not available: no loaded plugin serves it",
                sub.provider_id
            ),
        ));
    };
    let migrated;
    let (sub, call_config) = if sub.schema_version < provider.config_version {
        migrated = super::migrate::subscription(inner, (**sub).clone(), &provider)
            .await
            .map_err(|reason| Stop::Fail(Outcome::Permanent, reason))?;
        let made = super::call_config::make(&migrated, &provider, &inner.secrets);
        (&migrated, made.map(Arc::new))
    } else {
        let cached = inner.call_configs.get(sub, &provider, &inner.secrets);
        (&**sub, cached)
    };
    let call_config = call_config.map_err(|e| Stop::Fail(Outcome::Permanent, e))?;
    let (connection_json, secrets) = match sub.connection_id() {
        None => (String::new(), call_config.scrubber.clone()),
        Some(_) => {
            let mut secrets = call_config.secrets.clone();
            let json = connection_json(inner, sub, &provider, &mut secrets, ids)?;
            (json, secrets.build())
        }
    };
    let correlation = correlation(inner, d, ids)?;
    let req = pb::DeliverRequest {
        provider_id: provider.provider().id.clone(),
        event: Some(pb::Event {
            event_type: event.event_type.clone(),
            payload_json: event.payload_json.clone(),
            timestamp: Some(timestamp(event.timestamp)),
            delivery_id: d.id.to_string(),
            attempt: d.attempts.saturating_add(1),
            event_id: d.event_id.to_string(),
        }),
        subscription: Some(pb::Subscription {
            id: sub.id.to_string(),
            name: sub.name.clone(),
        }),
        config_json: call_config.config_json.clone(),
        connection_json,
        correlation,
    };
    Ok(Prepared {
        provider,
        req,
        secrets,
    })
}

/// The delivery's correlation key with what the earlier deliveries of its key left behind.
fn correlation(
    inner: &Inner,
    d: &Delivery,
    ids: &Ids<'_>,
) -> Result<Option<pb::Correlation>, Stop> {
    let Some(key) = &d.correlation_key else {
        return Ok(None);
    };
    let earlier = inner
        .store
        .correlation_history(d.subscription_id, key)
        .map_err(|e| {
            log_delivery!(error, ids, error = %e, "cannot read the correlation history");
            let retry = Outcome::Retryable { retry_after: None };
            Stop::Fail(
                retry,
                "internal error: cannot read the correlation history".into(),
            )
        })?;
    let earlier = earlier
        .into_iter()
        .map(|e| pb::CorrelatedDelivery {
            event_type: e.event_type,
            external_id: e.external_id.unwrap_or_default(),
            state: e.state.unwrap_or_default(),
            delivered: e.delivered,
            ended_at: Some(timestamp(e.ended_at)),
            delivery_id: e.delivery_id.to_string(),
        })
        .collect();
    Ok(Some(pb::Correlation {
        key: key.clone(),
        earlier,
    }))
}

/// The event as the plugin sees it: from the cache of recent publishes, else from the store.
fn event_text(inner: &Inner, d: &Delivery) -> Result<Arc<EventText>, Stop> {
    if let Some(text) = inner.event_cache.take(d.event_id) {
        return Ok(text);
    }
    match inner.store.get_event(d.event_id) {
        Ok(Some(e)) => Ok(Arc::new(EventText::of(&e))),
        Ok(None) => Err(Stop::Fail(
            Outcome::Permanent,
            "the event was purged".into(),
        )),
        Err(e) => {
            let ids = Ids::of(d, None);
            log_delivery!(error, ids, error = %e, "cannot read the event");
            Err(Stop::Fail(
                Outcome::Retryable { retry_after: None },
                "internal error: cannot read the event".into(),
            ))
        }
    }
}

/// The decrypted connection config named by the subscription's `connectionId`, as JSON text
/// (its secrets added to `secrets`); empty when there is none.
fn connection_json(
    inner: &Inner,
    sub: &Subscription,
    provider: &Resolved,
    secrets: &mut ScrubBuilder,
    ids: &Ids<'_>,
) -> Result<String, Stop> {
    let Some(id) = sub.connection_id() else {
        return Ok(String::new());
    };
    let conn = match inner.store.get_connection(id) {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Err(Stop::Fail(
                Outcome::Permanent,
                format!("connection {id} does not exist"),
            ));
        }
        Err(e) => {
            log_delivery!(error, ids, error = %e, "cannot read connection {id}");
            let retry = Outcome::Retryable { retry_after: None };
            return Err(Stop::Fail(
                retry,
                "internal error: cannot read the connection".into(),
            ));
        }
    };
    if let Some(problem) = &conn.migration_error {
        // Its stored config is still the old version's: the plugin would misread it.
        return Err(Stop::Fail(
            Outcome::Permanent,
            format!("connection {id} cannot be used: its {problem}; update the connection"),
        ));
    }
    let mut config = conn.config;
    if let Some(schema) = &provider.connection_schema {
        inner
            .secrets
            .decrypt_secrets(schema, &mut config)
            .map_err(|e| Stop::Fail(Outcome::Permanent, format!("connection {id}: {e}")))?;
        secrets.config(&config, &secret_pointers(schema, &config));
    }
    Ok(config.to_string())
}

fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// [`call`] under the attempt's span (child of the publish's stored `trace` context) while
/// traces are on; with the stored context passed on to the plugin while they are off.
async fn traced_call(
    inner: &Inner,
    d: &Delivery,
    trace: Option<&crate::model::TraceContext>,
    p: Prepared,
    ids: &Ids<'_>,
) -> CallResult {
    use opentelemetry::context::FutureExt as _;
    let number = d.attempts.saturating_add(1);
    let Some(cx) = traces::attempt(trace, d, number) else {
        return call(inner, &p.provider, p.req, p.secrets, ids).await;
    };
    let result = call(inner, &p.provider, p.req, p.secrets, ids)
        .with_context(cx.clone())
        .await;
    let failed = (result.outcome != Outcome::Delivered).then_some(result.error.as_deref());
    traces::end_attempt(&cx, outcome_word(result.outcome), failed.flatten());
    result
}

/// Calls the plugin and classifies the answer, scrubbed of the call's `secrets`.
async fn call(
    inner: &Inner,
    provider: &Resolved,
    req: pb::DeliverRequest,
    secrets: Scrubber,
    ids: &Ids<'_>,
) -> CallResult {
    let started_at = inner.clock.now();
    let answer = provider.handle.deliver_hiding(req, secrets.clone()).await;
    let ended_at = inner.clock.now();
    let result = match answer {
        Ok(resp) => classify(&resp, started_at, ended_at, ids),
        Err(e) => {
            let outcome = if e.retryable {
                Outcome::Retryable { retry_after: None }
            } else {
                Outcome::Permanent
            };
            CallResult::without_call(outcome, e.message, started_at).ended(ended_at)
        }
    };
    result.scrubbed(&secrets)
}

impl CallResult {
    fn ended(mut self, at: DateTime<Utc>) -> Self {
        self.ended_at = at;
        self
    }

    /// Hides `secrets` in every text that came from the plugin, then cuts the excerpt (after,
    /// so that no prefix of a secret survives at the cut).
    fn scrubbed(mut self, secrets: &Scrubber) -> Self {
        for text in [
            &mut self.error,
            &mut self.external_id,
            &mut self.response_excerpt,
            &mut self.state,
        ]
        .into_iter()
        .flatten()
        {
            secrets.scrub_string(text);
        }
        self.response_excerpt = self.response_excerpt.as_deref().and_then(excerpt);
        self
    }
}

/// The outcome's name in metrics, spans and logs.
fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Delivered => "delivered",
        Outcome::Retryable { .. } => "retryable",
        Outcome::RateLimited { .. } => "rate_limited",
        Outcome::Permanent => "permanent",
    }
}

/// Reports an attempt and what it decided to the metrics.
fn observe(provider: &str, result: &CallResult, decision: &Decision) {
    use crate::observe::metrics;
    let word = outcome_word(result.outcome);
    let seconds = (result.ended_at - result.started_at)
        .to_std()
        .unwrap_or_default()
        .as_secs_f64();
    metrics::attempt(provider, word, seconds);
    match decision {
        Decision::Succeed => metrics::delivery_ended(provider, "succeeded"),
        Decision::Retry { .. } => metrics::retry_scheduled(provider, word),
        Decision::GiveUp(GiveUp::ManualFailed) => {}
        Decision::GiveUp(_) => metrics::delivery_ended(provider, "failed"),
    }
}

/// The log line of an attempt: debug when it delivered, info when it is retried, warn when the
/// delivery failed for good (its error is already scrubbed of the call's secrets).
fn log_outcome(ids: &Ids<'_>, attempt: u32, result: &CallResult, decision: &Decision) {
    let outcome = outcome_word(result.outcome);
    let error = result.error.as_deref().unwrap_or_default();
    match decision {
        Decision::Succeed => log_delivery!(debug, ids, attempt, "delivered"),
        Decision::Retry { delay, .. } => log_delivery!(
            info,
            ids,
            attempt,
            outcome,
            error,
            retry_in = %humantime::format_duration(*delay),
            "delivery attempt failed; retrying"
        ),
        Decision::GiveUp(GiveUp::ManualFailed) => {
            log_delivery!(
                info,
                ids,
                attempt,
                outcome,
                error,
                "manual delivery attempt failed"
            )
        }
        Decision::GiveUp(why) => {
            log_delivery!(warn, ids, attempt, outcome, error, reason = %why, "delivery failed")
        }
    }
}

/// Maps a `DeliverResponse` to an outcome; diagnostics make it permanent.
fn classify(
    resp: &pb::DeliverResponse,
    started_at: DateTime<Utc>,
    ended_at: DateTime<Utc>,
    ids: &Ids<'_>,
) -> CallResult {
    let retry_after = resp.retry_after_ms.map(std::time::Duration::from_millis);
    let mut outcome = match resp.outcome() {
        pb::Outcome::Delivered => Outcome::Delivered,
        pb::Outcome::RateLimited => Outcome::RateLimited { retry_after },
        pb::Outcome::Permanent => Outcome::Permanent,
        pb::Outcome::Retryable | pb::Outcome::Unspecified => Outcome::Retryable { retry_after },
    };
    let mut error = (!resp.error.is_empty()).then(|| resp.error.clone());
    if !resp.diagnostics.is_empty() {
        outcome = Outcome::Permanent;
        let diags: Vec<String> = resp
            .diagnostics
            .iter()
            .map(|d| {
                format!(
                    "at {}: {}",
                    if d.json_path.is_empty() {
                        "(root)"
                    } else {
                        &d.json_path
                    },
                    d.message
                )
            })
            .collect();
        error = Some(format!("invalid config: {}", diags.join("; ")));
    }
    if outcome != Outcome::Delivered && error.is_none() {
        error = Some("the plugin reported a failure without a reason".into());
    }
    CallResult {
        outcome,
        error,
        status_code: (resp.status_code != 0).then_some(resp.status_code),
        external_id: (!resp.external_id.is_empty()).then(|| resp.external_id.clone()),
        retry_after_ms: resp.retry_after_ms,
        response_excerpt: (!resp.response_excerpt.is_empty())
            .then(|| resp.response_excerpt.clone()),
        state: state(outcome, &resp.state, ids),
        started_at,
        ended_at,
    }
}

/// The plugin's response excerpt, cut to [`MAX_EXCERPT`] bytes on a character boundary.
fn excerpt(text: &str) -> Option<String> {
    if text.is_empty() {
        return None;
    }
    let mut cut = text.len().min(MAX_EXCERPT);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Some(text[..cut].to_owned())
}

/// The correlation state a successful attempt returned; state of a failure is not kept, and
/// state over [`MAX_STATE`] is dropped rather than cut (cut state would be corrupt).
fn state(outcome: Outcome, text: &str, ids: &Ids<'_>) -> Option<String> {
    if text.is_empty() || outcome != Outcome::Delivered {
        return None;
    }
    if text.len() > MAX_STATE {
        log_delivery!(
            warn,
            ids,
            bytes = text.len(),
            limit = MAX_STATE,
            "the plugin returned correlation state over the limit; it is not kept"
        );
        return None;
    }
    Some(text.to_owned())
}

/// `at + delay`, saturating.
fn after(at: DateTime<Utc>, delay: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(delay)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn attempt_outcome(o: Outcome) -> AttemptOutcome {
    match o {
        Outcome::Delivered => AttemptOutcome::Delivered,
        Outcome::Retryable { .. } => AttemptOutcome::Retryable,
        Outcome::RateLimited { .. } => AttemptOutcome::RateLimited,
        Outcome::Permanent => AttemptOutcome::Permanent,
    }
}

impl InFlight {
    /// The delivery's deadline: no attempt is scheduled after it.
    fn deadline(&self) -> DateTime<Utc> {
        chrono::Duration::from_std(self.inner.cfg.delivery_deadline)
            .ok()
            .and_then(|d| self.delivery.created_at.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The retry decision for `result`, given the subscription's current state.
    fn decide(&self, result: &CallResult, sub: Option<&Subscription>) -> Decision {
        let inner = &self.inner;
        let policy = inner.policy_for(sub);
        let deadline = self.deadline();
        let ctx = retry::Context {
            // A test delivery gets one attempt, like a manual one: it never schedules a retry.
            trigger: if self.delivery.test {
                AttemptTrigger::Manual
            } else {
                self.trigger
            },
            budget_used: self.delivery.budget_used,
            policy: &policy,
            retry_after_cap: inner.cfg.retry_after_cap,
            deadline_left: (deadline - result.ended_at).to_std().unwrap_or_default(),
        };
        match inner.rng.lock() {
            Ok(mut rng) => retry::decide(&ctx, result.outcome, &mut *rng),
            Err(_) => retry::decide(&ctx, result.outcome, &mut rand::rng()),
        }
    }

    /// Writes the attempt and the delivery's next state in one transaction.
    async fn settle(self, result: &CallResult, sub: Option<&Subscription>, ids: &Ids<'_>) {
        let decision = self.decide(result, sub);
        observe(&self.delivery.provider_id, result, &decision);
        log_outcome(
            ids,
            self.delivery.attempts.saturating_add(1),
            result,
            &decision,
        );
        let inner = Arc::clone(&self.inner);
        let actions = sub.map_or_else(Vec::new, |s| {
            let error = result.error.as_deref();
            inner
                .guard
                .record(s, result.outcome, error, result.ended_at)
        });
        let failed_for_good = match decision {
            Decision::GiveUp(GiveUp::ManualFailed) => None,
            Decision::GiveUp(why) => Some(why),
            _ => None,
        };
        let now = result.ended_at;
        let mut d = self.delivery.clone();
        d.attempts = d.attempts.saturating_add(1);
        d.updated_at = now;
        d.last_error.clone_from(&result.error);
        match decision {
            Decision::Succeed => {
                d.state = DeliveryState::Succeeded;
                d.last_error = None;
            }
            Decision::Retry { delay, counted } => {
                d.budget_used += u32::from(counted);
                match sub {
                    Some(s) if s.enabled => {
                        d.state = DeliveryState::Retrying {
                            due: after(now, delay),
                        };
                    }
                    _ => d.cancel(now, SUBSCRIPTION_GONE),
                }
            }
            Decision::GiveUp(GiveUp::ManualFailed) => self.restore_after_manual(&mut d, now),
            Decision::GiveUp(why) => {
                d.state = DeliveryState::Failed;
                let err = result.error.as_deref().unwrap_or("no reason given");
                d.last_error = Some(format!("{why}: {err}"));
            }
        }
        let attempt = self.attempt_record(result, &d);
        let written = self.write(d.clone(), Some(attempt)).await;
        if let (true, Some(why)) = (written, failed_for_good) {
            super::operational::exhausted(&inner, &d, sub, why);
        }
        if let Some(sub) = sub {
            super::guard::act(&inner, sub, actions);
        }
    }

    /// Hands the delivery back to the schedule, due at `until`, without an attempt (the rate
    /// limit or an open circuit breaker; `reason` for the latter, shown as its last error). No
    /// retry budget is used; past the delivery deadline it fails instead.
    async fn defer(self, until: DateTime<Utc>, reason: Option<String>) {
        let inner = Arc::clone(&self.inner);
        let mut d = self.delivery.clone();
        d.updated_at = inner.clock.now();
        let why = if reason.is_some() {
            "circuit_open"
        } else {
            "rate_limit"
        };
        crate::observe::metrics::deferred(&d.provider_id, why);
        if until > self.deadline() {
            let held = if reason.is_some() {
                "the circuit breaker was open"
            } else {
                "it waited for the rate limit"
            };
            let last = d.last_error.take().unwrap_or_else(|| "none".into());
            d.state = DeliveryState::Failed;
            d.last_error = Some(format!(
                "{}: {held}; last error: {last}",
                GiveUp::DeadlinePassed
            ));
            crate::observe::metrics::delivery_ended(&d.provider_id, "failed");
            if self.write(d.clone(), None).await {
                let sub = inner.subscription(d.subscription_id).ok().flatten();
                let why = GiveUp::DeadlinePassed;
                super::operational::exhausted(&inner, &d, sub.as_deref(), why);
            }
            return;
        }
        d.state = DeliveryState::scheduled(d.attempts, until);
        if reason.is_some() {
            d.last_error = reason;
        }
        self.write(d, None).await;
    }

    /// Lets another attempt be the breaker's probe, when this one was and makes no call.
    fn abandon_probe(&self) {
        if self.probe {
            self.inner
                .guard
                .abandon_probe(self.delivery.subscription_id);
        }
    }

    /// After a failed manual attempt: keep a scheduled retry if there was one (due no earlier
    /// than now: the store wants no due time in the past), else failed.
    fn restore_after_manual(&self, d: &mut Delivery, now: DateTime<Utc>) {
        d.state = after_failed_manual(self.restore, now);
    }

    fn attempt_record(&self, r: &CallResult, d: &Delivery) -> Attempt {
        let duration_ms = to_millis(r.ended_at).saturating_sub(to_millis(r.started_at));
        Attempt {
            delivery_id: d.id,
            number: d.attempts,
            trigger: self.trigger,
            started_at: r.started_at,
            ended_at: r.ended_at,
            duration_ms,
            outcome: attempt_outcome(r.outcome),
            error: r.error.clone(),
            status_code: r.status_code,
            external_id: r.external_id.clone(),
            retry_after_ms: r.retry_after_ms,
            next_attempt_at: d.next_attempt_at(),
            response_excerpt: r.response_excerpt.clone(),
            state: r.state.clone(),
        }
    }

    /// Cancels without an attempt (the subscription is gone or disabled).
    async fn cancel(self, reason: String) {
        self.abandon_probe();
        let mut d = self.delivery.clone();
        d.cancel(self.inner.clock.now(), reason);
        self.write(d, None).await;
    }

    /// Gives the delivery back to the schedule, due now (shutdown before the call).
    async fn hand_back(self) {
        self.abandon_probe();
        let mut d = self.delivery.clone();
        let now = self.inner.clock.now();
        d.updated_at = now;
        d.state = handed_back(self.restore, d.attempts, now);
        self.write(d, None).await;
    }

    /// Records the new state (batched, durable when it returns), then tells the watchers.
    /// Returns whether it was written.
    async fn write(&self, delivery: Delivery, attempt: Option<Attempt>) -> bool {
        let inner = &self.inner;
        let write = SaveDelivery {
            delivery,
            attempt,
            expected: DeliveryStatus::InFlight,
        };
        let d = &write.delivery;
        // A correlated delivery that ended may have let the next one of its key go ahead.
        let rescheduled =
            d.next_attempt_at().is_some() || (d.correlation_key.is_some() && d.state.is_final());
        // Copied for the watchers only when someone watches.
        let watched = (inner.updates.receiver_count() > 0)
            .then(|| (write.delivery.clone(), write.attempt.clone()));
        match inner.writer.save(write).await {
            Ok(()) => {
                if let Some((d, attempt)) = watched {
                    inner.publish_update(&d, attempt.as_ref());
                }
                if rescheduled {
                    inner.wake.notify_one();
                }
                true
            }
            // The in-flight record stays; the next start resumes it (at-least-once).
            Err(e) => {
                let ids = Ids {
                    delivery: self.delivery.id,
                    subscription: self.delivery.subscription_id,
                    trace: &self.trace_id,
                };
                log_delivery!(error, ids, error = %e, "cannot record the attempt's result");
                false
            }
        }
    }
}

/// The state after a failed manual attempt that found `restore`: a scheduled retry is kept
/// (due no earlier than `now`: the store wants no due time in the past), a delivery behind an
/// earlier one of its key waits again, anything else failed.
fn after_failed_manual(restore: Option<DeliveryState>, now: DateTime<Utc>) -> DeliveryState {
    match restore {
        Some(DeliveryState::Pending { due } | DeliveryState::Retrying { due }) => {
            DeliveryState::Retrying { due: due.max(now) }
        }
        // Still behind an earlier delivery of its correlation key.
        Some(DeliveryState::Waiting) => DeliveryState::Waiting,
        _ => DeliveryState::Failed,
    }
}

/// The state of an attempt handed back before its call (shutdown): a scheduled attempt is due
/// again at `now`; a manual one puts back what it found (`restore`, due no earlier than
/// `now`), except that one found in flight (the record of an attempt a crash interrupted) is
/// scheduled again rather than written back in flight.
fn handed_back(restore: Option<DeliveryState>, attempts: u32, now: DateTime<Utc>) -> DeliveryState {
    match restore {
        None => DeliveryState::scheduled(attempts, now),
        Some(DeliveryState::InFlight { due }) => DeliveryState::scheduled(attempts, due.max(now)),
        Some(DeliveryState::Pending { due }) => DeliveryState::Pending { due: due.max(now) },
        Some(DeliveryState::Retrying { due }) => DeliveryState::Retrying { due: due.max(now) },
        Some(other) => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::from_millis;

    #[test]
    fn a_handed_back_attempt_is_due_again_or_gets_back_what_it_found() {
        let (past, now, later) = (from_millis(1_000), from_millis(2_000), from_millis(3_000));
        let back = |restore, attempts| handed_back(restore, attempts, now);
        assert_eq!(back(None, 0), DeliveryState::Pending { due: now });
        assert_eq!(back(None, 2), DeliveryState::Retrying { due: now });
        let retrying = DeliveryState::Retrying { due: later };
        assert_eq!(back(Some(retrying), 2), retrying);
        assert_eq!(
            back(Some(DeliveryState::Pending { due: past }), 0),
            DeliveryState::Pending { due: now },
            "never due in the past"
        );
        assert_eq!(
            back(Some(DeliveryState::InFlight { due: past }), 1),
            DeliveryState::Retrying { due: now },
            "an interrupted attempt's record is scheduled again, not written back in flight"
        );
        for kept in [
            DeliveryState::Succeeded,
            DeliveryState::Failed,
            DeliveryState::Cancelled,
            DeliveryState::Waiting,
        ] {
            assert_eq!(back(Some(kept), 1), kept);
        }
    }

    #[test]
    fn a_failed_manual_attempt_keeps_a_scheduled_retry_or_a_wait_else_fails() {
        let (past, now) = (from_millis(1_000), from_millis(2_000));
        assert_eq!(
            after_failed_manual(Some(DeliveryState::Pending { due: past }), now),
            DeliveryState::Retrying { due: now }
        );
        assert_eq!(
            after_failed_manual(Some(DeliveryState::Waiting), now),
            DeliveryState::Waiting
        );
        for failed in [
            None,
            Some(DeliveryState::Succeeded),
            Some(DeliveryState::Cancelled),
            Some(DeliveryState::InFlight { due: past }),
        ] {
            assert_eq!(after_failed_manual(failed, now), DeliveryState::Failed);
        }
    }

    #[test]
    fn excerpts_are_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_EXCERPT);
        let cut = excerpt(&long).expect("an excerpt");
        assert!(
            cut.len() <= MAX_EXCERPT && cut.len() >= MAX_EXCERPT - 1,
            "{}",
            cut.len()
        );
        assert!(long.starts_with(&cut));
        assert_eq!(excerpt(""), None);
    }

    #[test]
    fn state_is_kept_only_for_a_delivered_attempt_and_within_its_bound() {
        let ids = Ids {
            delivery: DeliveryId::new(),
            subscription: SubscriptionId::new(),
            trace: "",
        };
        let state = |outcome, text: &str| state(outcome, text, &ids);
        assert_eq!(state(Outcome::Delivered, "ts-1").as_deref(), Some("ts-1"));
        assert_eq!(state(Outcome::Permanent, "ts-1"), None);
        // Over the bound it is dropped whole: cut state would be corrupt.
        assert_eq!(state(Outcome::Delivered, &"s".repeat(MAX_STATE + 1)), None);
        assert!(state(Outcome::Delivered, &"s".repeat(MAX_STATE)).is_some());
    }
}
