//! The coordinator's domain types: ids, event types, connections, subscriptions, events,
//! deliveries and their attempts, retry policies, list filters and pages.
//!
//! Plain Rust and serde only: no sled, no tonic. The `store` persists these types, the `engine`
//! changes them, and the `api` layer converts them to and from protobuf. Configs held in
//! [`Connection::config`] and [`Subscription::config`] are always the *stored* form, i.e. with
//! every `x-secret` value encrypted (see `secrets`); nothing in this module ever holds a
//! decrypted config for longer than one call.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

mod delivery_state;
pub use delivery_state::DeliveryState;

/// A string that is not a valid id of the named kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{} is not a valid {kind} id (expected a UUID)",
    crate::text::quote(value)
)]
pub struct InvalidId {
    /// The kind of id, e.g. "delivery".
    pub kind: &'static str,
    /// The text that failed to parse.
    pub value: String,
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Uuid);

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl $name {
            /// A new, time-ordered (UUIDv7) id for something created at `at`.
            pub fn new_at(at: DateTime<Utc>) -> Self {
                Self(uuid_v7_at(at))
            }
            /// A new id for something created now (wall clock).
            pub fn new() -> Self {
                Self::new_at(Utc::now())
            }
            /// The 16 big-endian bytes; ids sort by creation time in this form.
            pub fn to_bytes(self) -> [u8; 16] {
                *self.0.as_bytes()
            }
            /// The id from its 16-byte form.
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(bytes))
            }
            /// The underlying UUID.
            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                Uuid::parse_str(s.trim()).map(Self).map_err(|_| InvalidId {
                    kind: $kind,
                    value: s.to_owned(),
                })
            }
        }
    };
}

uuid_id!(
    /// Id of a [`Connection`].
    ConnectionId,
    "connection"
);
uuid_id!(
    /// Id of a [`Subscription`].
    SubscriptionId,
    "subscription"
);
uuid_id!(
    /// Id of an [`Event`] accepted by `PublishEvent`.
    EventId,
    "event"
);
uuid_id!(
    /// Id of a [`Delivery`]; stable across all attempts of that delivery, so receivers can dedupe.
    DeliveryId,
    "delivery"
);

/// A UUIDv7 whose timestamp is `at` (ids sort by creation time).
fn uuid_v7_at(at: DateTime<Utc>) -> Uuid {
    let ms = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    let ts = uuid::Timestamp::from_unix(uuid::NoContext, ms / 1000, (ms % 1000) as u32 * 1_000_000);
    Uuid::new_v7(ts)
}

/// Milliseconds since the Unix epoch of `at` (0 for times before 1970).
pub fn to_millis(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp_millis()).unwrap_or(0)
}

/// The instant `ms` milliseconds after the Unix epoch (saturating far in the future).
pub fn from_millis(ms: u64) -> DateTime<Utc> {
    let ms = i64::try_from(ms).unwrap_or(i64::MAX / 4);
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A registered event type, e.g. `incident.incident.created`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventType {
    /// Fully qualified id `{plugin}.{hook}`, e.g. `incident.incident.created`.
    pub id: String,
    /// Name shown in the UI.
    pub display_name: String,
    /// What the event means.
    pub description: String,
    /// Grouping in the UI, e.g. "Incidents".
    pub category: String,
    /// JSON Schema of the payload; `None` accepts any JSON object.
    pub payload_schema: Option<Value>,
    /// JSON Pointer of the correlation key in the payload (e.g. `/incidentId`); `None` for
    /// events that stand alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_path: Option<String>,
    /// When it was first registered.
    pub created_at: DateTime<Utc>,
    /// When it was last registered again (registering is an upsert).
    pub updated_at: DateTime<Utc>,
}

/// Site-wide shared credentials of a connection-based provider (e.g. a Jira site).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    /// Connection id.
    pub id: ConnectionId,
    /// Qualified provider id `{plugin}.{provider}`.
    pub provider_id: String,
    /// User-given name.
    pub name: String,
    /// The connection config, validated against the provider's connection schema, with every
    /// `x-secret` value encrypted (stored form).
    pub config: Value,
    /// Version of the provider's connection schema `config` follows.
    pub schema_version: u32,
    /// Why the last config migration failed, if it did (the config is then left unchanged).
    pub migration_error: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last update time.
    pub updated_at: DateTime<Utc>,
}

/// A subscription: which events go to which provider, with which config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    /// Subscription id.
    pub id: SubscriptionId,
    /// User-given name (sent to the plugin with every delivery).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Qualified provider id `{plugin}.{provider}`.
    pub provider_id: String,
    /// The provider config, validated with defaults applied, every `x-secret` value encrypted.
    /// A connection-based provider's config names its connection in `connectionId`.
    pub config: Value,
    /// Version of the provider's config schema `config` follows.
    pub schema_version: u32,
    /// Event type patterns; `*` matches one or more whole segments at the end (`incident.*`),
    /// a lone `*` matches everything. At least one.
    pub event_types: Vec<String>,
    /// System filter: when non-empty, only events whose `payload.systemId` or any of
    /// `payload.systemIds[]` is in this list are delivered.
    pub system_ids: Vec<String>,
    /// Whether deliveries are created for new events.
    pub enabled: bool,
    /// Why the coordinator disabled the subscription (e.g. a failed config migration);
    /// cleared when a user enables it again.
    pub disabled_reason: Option<String>,
    /// Overrides the engine's default retry policy.
    pub retry_policy: Option<RetryPolicy>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last update time.
    pub updated_at: DateTime<Utc>,
    /// At most this many attempts per second (a token bucket); `None`: unlimited. Records
    /// written before it existed read back as unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
}

/// A subscription's rate limit: a token bucket refilled at `per_second` tokens a second that
/// holds at most `burst`; each attempt takes one token, and waits for it when there is none.
/// Any window of `t` seconds then holds at most `burst + t·per_second` attempts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Tokens added per second: positive and finite (0.5 is one attempt every 2 s).
    pub per_second: f64,
    /// Most tokens the bucket holds (attempts that may go at once after a quiet period); ≥ 1.
    pub burst: u32,
}

impl RateLimit {
    /// Largest accepted `per_second` (far above any vendor's limit; the bound keeps the
    /// emission interval representable).
    pub const MAX_PER_SECOND: f64 = 100_000.0;
    /// Largest accepted `burst`.
    pub const MAX_BURST: u32 = 100_000;

    /// A checked rate limit; `burst` 0 means the default, one second's worth of tokens
    /// (at least 1). The error says what to fix.
    pub fn new(per_second: f64, burst: u32) -> Result<Self, String> {
        if !per_second.is_finite() || per_second <= 0.0 || per_second > Self::MAX_PER_SECOND {
            return Err(format!(
                "events per second must be a number above 0 and at most {}, not {per_second}",
                Self::MAX_PER_SECOND
            ));
        }
        if burst > Self::MAX_BURST {
            return Err(format!(
                "burst must be at most {}, not {burst}",
                Self::MAX_BURST
            ));
        }
        let burst = if burst == 0 {
            // Truncation is intended: the ceiling of a positive number at most MAX_PER_SECOND.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let one_second = per_second.ceil() as u32;
            one_second.max(1)
        } else {
            burst
        };
        Ok(Self { per_second, burst })
    }
}

impl Subscription {
    /// Whether this subscription wants events of type `event_type` (patterns only; the system
    /// filter is [`Subscription::matches_systems`]).
    /// The coordinator's operational events (`switchyard.*`) match only patterns that name
    /// that prefix, so a catch-all subscription (`*`) does not start receiving them.
    pub fn matches_event_type(&self, event_type: &str) -> bool {
        let operational = event_type.starts_with(OPERATIONAL_PREFIX);
        self.event_types.iter().any(|p| {
            (!operational || p.starts_with(OPERATIONAL_PREFIX)) && event_type_matches(p, event_type)
        })
    }

    /// Whether the system filter lets `payload` through: no filter, or `payload.systemId` or an
    /// element of `payload.systemIds[]` is one of [`Subscription::system_ids`].
    pub fn matches_systems(&self, payload: &Value) -> bool {
        if self.system_ids.is_empty() {
            return true;
        }
        let wanted = |v: &Value| {
            v.as_str()
                .is_some_and(|s| self.system_ids.iter().any(|w| w == s))
        };
        let single = payload.get("systemId").is_some_and(wanted);
        let many = payload
            .get("systemIds")
            .and_then(Value::as_array)
            .is_some_and(|ids| ids.iter().any(wanted));
        single || many
    }

    /// The connection the config names in `connectionId`, if any (and if it parses).
    pub fn connection_id(&self) -> Option<ConnectionId> {
        self.config
            .get("connectionId")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
    }
}

/// The prefix of the coordinator's own operational event types (`switchyard.delivery.exhausted`
/// ...); the platform may neither register nor publish event types under it.
pub const OPERATIONAL_PREFIX: &str = "switchyard.";

/// Whether an event type pattern matches an event type. `*` alone matches everything; a pattern
/// ending in `.*` matches every type below that prefix (`incident.*` matches
/// `incident.incident.created`); `*` as a whole middle segment matches exactly one segment
/// (`*.incident.created`); anything else must be equal.
pub fn event_type_matches(pattern: &str, event_type: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let pat: Vec<&str> = pattern.split('.').collect();
    let ty: Vec<&str> = event_type.split('.').collect();
    for (i, p) in pat.iter().enumerate() {
        let last = i + 1 == pat.len();
        match (*p, ty.get(i)) {
            ("*", Some(_)) if last => return true,
            ("*", Some(_)) => {}
            (p, Some(t)) if p == *t => {}
            _ => return false,
        }
    }
    pat.len() == ty.len()
}

/// When and how often a failed delivery is tried again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Delays before retry 1, 2, ... after the first attempt (which runs at once). The number of
    /// attempts in all is `delays.len() + 1`.
    #[serde(with = "duration_ms_vec")]
    pub delays: Vec<Duration>,
    /// Jitter as a fraction of each delay: a delay `d` becomes uniform in `d·(1±jitter)`.
    /// Between 0 and 1.
    pub jitter: f64,
}

impl RetryPolicy {
    /// Attempts in all, the first one included.
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.delays.len()).unwrap_or(u32::MAX - 1) + 1
    }
}

impl Default for RetryPolicy {
    /// The seed's schedule: at once, then after 1 min, 5 min and 15 min (4 attempts), ±10 %.
    fn default() -> Self {
        Self {
            delays: vec![
                Duration::from_secs(60),
                Duration::from_secs(5 * 60),
                Duration::from_secs(15 * 60),
            ],
            jitter: 0.1,
        }
    }
}

mod duration_ms_vec {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        let ms: Vec<u64> = v
            .iter()
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .collect();
        ms.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        let ms = Vec::<u64>::deserialize(d)?;
        Ok(ms.into_iter().map(Duration::from_millis).collect())
    }
}

/// An event accepted by `PublishEvent`. Events are not secret; the payload is stored as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Event id.
    pub id: EventId,
    /// Event type id, e.g. `incident.incident.created`.
    pub event_type: String,
    /// The payload, a JSON object.
    pub payload: Value,
    /// The caller's idempotency key: the same key again returns this event and its deliveries.
    pub idempotency_key: Option<String>,
    /// When the event happened on the platform.
    pub timestamp: DateTime<Utc>,
    /// When the coordinator accepted it.
    pub received_at: DateTime<Utc>,
    /// The payload's value at its event type's correlation path, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_key: Option<String>,
    /// The trace context of the `PublishEvent` call that brought it (the coordinator's span of
    /// the call, or the platform's `traceparent` while the coordinator exports no traces): every
    /// attempt of its deliveries, however late and across restarts, joins that trace. Boxed:
    /// most events have none, and an event travels by value through the writer's queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<Box<TraceContext>>,
}

/// A W3C trace context as stored: the `traceparent` and `tracestate` header values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceContext {
    /// `00-<trace id>-<span id>-<flags>`.
    pub traceparent: String,
    /// Vendor entries, empty for none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tracestate: String,
}

/// An event to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Event type id; must be registered (the API checks the payload against its schema).
    pub event_type: String,
    /// The payload, a JSON object.
    pub payload: Value,
    /// Optional idempotency key.
    pub idempotency_key: Option<String>,
    /// When the event happened; `None` means now.
    pub timestamp: Option<DateTime<Utc>>,
    /// The payload's value at its event type's correlation path (see [`correlation_key`]).
    pub correlation_key: Option<String>,
}

/// Longest correlation key, in bytes of text.
pub const MAX_CORRELATION_KEY: usize = 200;

/// The correlation key of `payload` under a correlation path: the value at the JSON Pointer,
/// when it is a non-empty string or a number. `Err` when it is longer than
/// [`MAX_CORRELATION_KEY`] (the caller refuses the event: a silently missing key would break the
/// ordering the platform relies on).
pub fn correlation_key(path: &str, payload: &Value) -> Result<Option<String>, usize> {
    let key = match payload.pointer(path) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Ok(None),
    };
    if key.len() > MAX_CORRELATION_KEY {
        return Err(key.len());
    }
    Ok(Some(key))
}

/// The status of a delivery. Transitions (checked by [`DeliveryStatus::can_become`]):
/// `Pending → InFlight`, `Retrying → InFlight`, `InFlight → Succeeded | Retrying | Failed |
/// Pending` (handed back at shutdown), `Pending | Retrying → Cancelled | Failed`, and a manual
/// redeliver `Succeeded | Failed | Cancelled → InFlight`. A correlated delivery behind an
/// earlier one of its key is `Waiting`: the store makes it `Pending` when that one ends
/// (`Waiting → Pending | Cancelled | Failed`), a manual redeliver may start it at once
/// (`Waiting → InFlight`), and a failed manual attempt puts it back (`InFlight → Waiting`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its first attempt.
    Pending,
    /// An attempt is running.
    InFlight,
    /// Delivered; final.
    Succeeded,
    /// An attempt failed; the next one is scheduled.
    Retrying,
    /// Gave up (permanent failure, retries exhausted, deadline passed, provider gone); final
    /// unless redelivered by hand.
    Failed,
    /// Its subscription was deleted or disabled before it was delivered; final unless
    /// redelivered by hand.
    Cancelled,
    /// Behind an earlier delivery of the same subscription and correlation key that has not
    /// ended yet; not scheduled.
    Waiting,
}

impl DeliveryStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [DeliveryStatus; 7] = [
        Self::Waiting,
        Self::Pending,
        Self::InFlight,
        Self::Succeeded,
        Self::Retrying,
        Self::Failed,
        Self::Cancelled,
    ];

    /// Whether no further attempt is scheduled (succeeded, failed or cancelled).
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }

    /// Whether the status machine allows going from `self` to `next`.
    pub fn can_become(self, next: DeliveryStatus) -> bool {
        use DeliveryStatus::{Cancelled, Failed, InFlight, Pending, Retrying, Succeeded, Waiting};
        matches!(
            (self, next),
            (Pending | Retrying, InFlight | Cancelled | Failed)
                | (
                    InFlight,
                    Succeeded | Retrying | Failed | Pending | Cancelled | Waiting
                )
                | (Succeeded | Failed | Cancelled, InFlight)
                | (Waiting, Pending | InFlight | Cancelled | Failed)
        )
    }

    /// The snake_case name, as stored and shown (`in_flight`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InFlight => "in_flight",
            Self::Succeeded => "succeeded",
            Self::Retrying => "retrying",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Waiting => "waiting",
        }
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeliveryStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                format!("unknown delivery status {s:?} (expected waiting, pending, in_flight, succeeded, retrying, failed or cancelled)")
            })
    }
}

/// One event on its way to one subscription. Stored as the earlier versions stored it (see
/// [`delivery_state`]'s record), so its serde impls are there.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Delivery id (stable across attempts).
    pub id: DeliveryId,
    /// The event delivered.
    pub event_id: EventId,
    /// The event's type (denormalised for filters and stats).
    pub event_type: String,
    /// The subscription it belongs to.
    pub subscription_id: SubscriptionId,
    /// The subscription's qualified provider id at creation time.
    pub provider_id: String,
    /// Current state, with its due time where it has one.
    pub state: DeliveryState,
    /// Attempts made so far, of any trigger.
    pub attempts: u32,
    /// Scheduled attempts that counted against the retry budget (rate-limited deferrals and
    /// manual attempts do not).
    pub budget_used: u32,
    /// The last failure's reason, or why it was cancelled/failed without an attempt.
    pub last_error: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last status change.
    pub updated_at: DateTime<Utc>,
    /// The event's correlation key, if any: deliveries of one subscription and one key are
    /// attempted in publish order.
    pub correlation_key: Option<String>,
    /// Made by `SendTestEvent`: one attempt, never retried, even for a disabled subscription.
    /// Left out of the stored form when false, so records written before it read back as is.
    pub test: bool,
}

/// Why a delivery whose subscription was deleted or disabled before it was delivered was
/// cancelled (its last error).
pub const SUBSCRIPTION_GONE: &str = "cancelled: the subscription was deleted or disabled";

impl Delivery {
    /// Its status (derived from its state).
    pub fn status(&self) -> DeliveryStatus {
        self.state.status()
    }

    /// When its next attempt is due (`Pending`/`Retrying`); for `InFlight`, when the running
    /// attempt was due (it is attempted again from then on if its claim is lost). Derived from
    /// its state.
    pub fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.state.due()
    }

    /// Cancelled at `now` without an attempt, for `reason` (its subscription was deleted or
    /// disabled).
    pub fn cancel(&mut self, now: DateTime<Utc>, reason: impl Into<String>) {
        self.state = DeliveryState::Cancelled;
        self.updated_at = now;
        self.last_error = Some(reason.into());
    }
}

/// What an earlier delivery of the same subscription and correlation key left behind, handed
/// to the provider with later ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorrelatedDelivery {
    /// The earlier delivery.
    pub delivery_id: DeliveryId,
    /// Its event type.
    pub event_type: String,
    /// Whether it was delivered (false: failed or cancelled).
    pub delivered: bool,
    /// The external id its successful attempt returned.
    pub external_id: Option<String>,
    /// The opaque state its successful attempt returned.
    pub state: Option<String>,
    /// When it ended.
    pub ended_at: DateTime<Utc>,
}

impl CorrelatedDelivery {
    /// What delivery `d`, in its final state, leaves for the later ones of its key, when
    /// `last` is its last attempt; `None` when it never reached the receiver's side
    /// (cancelled). Only a delivered one passes on its external id and state.
    pub fn of_ended(d: &Delivery, last: Option<&Attempt>) -> Option<Self> {
        let delivered = match d.state {
            DeliveryState::Succeeded => true,
            DeliveryState::Failed => false,
            _ => return None,
        };
        Some(Self {
            delivery_id: d.id,
            event_type: d.event_type.clone(),
            delivered,
            external_id: last
                .and_then(|a| a.external_id.clone())
                .filter(|_| delivered),
            state: last.and_then(|a| a.state.clone()).filter(|_| delivered),
            ended_at: d.updated_at,
        })
    }
}

/// How many earlier deliveries of one key are kept for the provider.
pub const CORRELATION_HISTORY: usize = 20;

/// What started an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptTrigger {
    /// The retry schedule (or the first attempt).
    Scheduled,
    /// A user's redeliver; never schedules further retries.
    Manual,
}

/// How an attempt ended, as the retry logic sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The external system accepted the event.
    Delivered,
    /// A transient failure (5xx, network, plugin crash, plugin not running, missed deadline).
    Retryable,
    /// The external system asked to slow down.
    RateLimited,
    /// Retrying cannot help (4xx, invalid config, provider gone).
    Permanent,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// The delivery.
    pub delivery_id: DeliveryId,
    /// 1-based attempt number within the delivery.
    pub number: u32,
    /// What started it.
    pub trigger: AttemptTrigger,
    /// Start time.
    pub started_at: DateTime<Utc>,
    /// End time.
    pub ended_at: DateTime<Utc>,
    /// `ended_at - started_at` in milliseconds.
    pub duration_ms: u64,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// The failure reason (no secrets); `None` on success.
    pub error: Option<String>,
    /// HTTP status (or the like) from the external system; `None` when none was received.
    pub status_code: Option<u32>,
    /// Id of the record created in the external system.
    pub external_id: Option<String>,
    /// The retry-after hint the plugin gave, uncapped, in milliseconds.
    pub retry_after_ms: Option<u64>,
    /// When the next attempt was scheduled as a result, if one was.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The first bytes of the external system's answer (bounded, no secrets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_excerpt: Option<String>,
    /// The opaque state a successful attempt returned for later correlated deliveries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// Filters for listing subscriptions; `None` means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionFilter {
    /// Only this qualified provider id.
    pub provider_id: Option<String>,
    /// Only subscriptions whose patterns match this event type (or list it literally).
    pub event_type: Option<String>,
    /// Only enabled (true) or disabled (false) ones.
    pub enabled: Option<bool>,
}

/// Filters for listing deliveries; `None` means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    /// Only this subscription's deliveries.
    pub subscription_id: Option<SubscriptionId>,
    /// Only this event type (exact).
    pub event_type: Option<String>,
    /// Only this status.
    pub status: Option<DeliveryStatus>,
    /// Created at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Created before this time.
    pub to: Option<DateTime<Utc>>,
}

/// Which slice of a filtered list to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Items to skip (after filtering).
    pub offset: usize,
    /// Items to return at most (1..=1000; 0 is treated as the default of 50).
    pub limit: usize,
}

impl PageRequest {
    /// Largest page size.
    pub const MAX_LIMIT: usize = 1000;
    /// Page size used when the caller gives 0.
    pub const DEFAULT_LIMIT: usize = 50;

    /// The limit clamped into `1..=MAX_LIMIT`.
    pub fn effective_limit(&self) -> usize {
        match self.limit {
            0 => Self::DEFAULT_LIMIT,
            n => n.min(Self::MAX_LIMIT),
        }
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            offset: 0,
            limit: Self::DEFAULT_LIMIT,
        }
    }
}

/// One page of a filtered list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// How many items match the filters in all (computed after filtering, before paging).
    pub total: usize,
    /// The offset of the next page, if there are more items.
    pub next_offset: Option<usize>,
}

impl<T> Page<T> {
    /// Cuts a page out of an already filtered, ordered iterator.
    pub fn from_filtered(iter: impl Iterator<Item = T>, page: PageRequest) -> Self {
        let limit = page.effective_limit();
        let mut total = 0;
        let mut items = Vec::with_capacity(limit.min(64));
        for item in iter {
            if total >= page.offset && items.len() < limit {
                items.push(item);
            }
            total += 1;
        }
        let end = page.offset + items.len();
        Self {
            items,
            total,
            next_offset: (end < total).then_some(end),
        }
    }
}

/// Counts of deliveries per status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts {
    /// Count per status (statuses with no delivery are absent).
    pub by_status: BTreeMap<DeliveryStatus, u64>,
    /// Sum of all counts.
    pub total: u64,
}

impl StatusCounts {
    /// Counts one more delivery with `status`.
    pub fn add(&mut self, status: DeliveryStatus) {
        *self.by_status.entry(status).or_default() += 1;
        self.total += 1;
    }

    /// The count of `status`.
    pub fn get(&self, status: DeliveryStatus) -> u64 {
        self.by_status.get(&status).copied().unwrap_or(0)
    }
}

/// Delivery statistics over a time window (deliveries created within it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Start of the window.
    pub since: Option<DateTime<Utc>>,
    /// All deliveries by status.
    pub overall: StatusCounts,
    /// Per event type.
    pub by_event_type: BTreeMap<String, StatusCounts>,
    /// Per qualified provider id.
    pub by_provider: BTreeMap<String, StatusCounts>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcards_match_whole_segments() {
        assert!(event_type_matches("*", "incident.incident.created"));
        assert!(event_type_matches(
            "incident.*",
            "incident.incident.created"
        ));
        assert!(event_type_matches(
            "incident.incident.*",
            "incident.incident.created"
        ));
        assert!(!event_type_matches("incident.*", "incident"));
        assert!(!event_type_matches(
            "incident.*",
            "maintenance.maintenance.created"
        ));
        assert!(event_type_matches(
            "*.incident.created",
            "incident.incident.created"
        ));
        assert!(!event_type_matches(
            "incident.incident",
            "incident.incident.created"
        ));
        assert!(event_type_matches(
            "incident.incident.created",
            "incident.incident.created"
        ));
        assert!(!event_type_matches("incid*", "incident.incident.created"));
    }

    fn sub_with_systems(ids: &[&str]) -> Subscription {
        let now = Utc::now();
        Subscription {
            id: SubscriptionId::new(),
            name: "s".into(),
            description: String::new(),
            provider_id: "webhook.webhook".into(),
            config: json!({}),
            schema_version: 1,
            event_types: vec!["*".into()],
            system_ids: ids.iter().map(|s| (*s).to_owned()).collect(),
            enabled: true,
            disabled_reason: None,
            retry_policy: None,
            created_at: now,
            updated_at: now,
            rate_limit: None,
        }
    }

    #[test]
    fn rate_limit_is_checked_and_burst_defaults_to_one_second() {
        assert_eq!(RateLimit::new(5.0, 0).map(|r| r.burst), Ok(5));
        assert_eq!(RateLimit::new(0.5, 0).map(|r| r.burst), Ok(1));
        assert_eq!(RateLimit::new(1.0, 3).map(|r| r.burst), Ok(3));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e9] {
            let err = RateLimit::new(bad, 0).expect_err("refused");
            assert!(err.contains("events per second"), "{err}");
        }
        assert!(RateLimit::new(1.0, RateLimit::MAX_BURST + 1).is_err());
    }

    #[test]
    fn operational_events_match_only_patterns_naming_their_prefix() {
        let mut sub = sub_with_systems(&[]);
        let exhausted = "switchyard.delivery.exhausted";
        for (pattern, matches) in [
            ("*", false),
            ("*.delivery.exhausted", false),
            ("switchyard.*", true),
            ("switchyard.delivery.*", true),
            (exhausted, true),
            ("switchyard.subscription.*", false),
        ] {
            sub.event_types = vec![pattern.into()];
            assert_eq!(sub.matches_event_type(exhausted), matches, "{pattern}");
        }
        sub.event_types = vec!["*".into()];
        assert!(sub.matches_event_type("incident.incident.created"));
    }

    #[test]
    fn system_filter_matches_system_id_and_system_ids_array() {
        let sub = sub_with_systems(&["sys-1"]);
        assert!(sub.matches_systems(&json!({"systemId": "sys-1"})));
        assert!(sub.matches_systems(&json!({"systemIds": ["sys-0", "sys-1"]})));
        assert!(!sub.matches_systems(&json!({"systemIds": ["sys-2"]})));
        assert!(!sub.matches_systems(&json!({})));
        assert!(sub_with_systems(&[]).matches_systems(&json!({})));
    }

    #[test]
    fn page_total_counts_every_filtered_item() {
        let page = Page::from_filtered(
            (0..10).filter(|n| n % 2 == 0),
            PageRequest {
                offset: 1,
                limit: 2,
            },
        );
        assert_eq!(page.items, vec![2, 4]);
        assert_eq!(page.total, 5);
        assert_eq!(page.next_offset, Some(3));
        let last = Page::from_filtered(
            0..3,
            PageRequest {
                offset: 2,
                limit: 5,
            },
        );
        assert_eq!(last.next_offset, None);
    }

    #[test]
    fn status_machine_forbids_skipping_in_flight() {
        assert!(DeliveryStatus::Pending.can_become(DeliveryStatus::InFlight));
        assert!(!DeliveryStatus::Pending.can_become(DeliveryStatus::Succeeded));
        assert!(!DeliveryStatus::Succeeded.can_become(DeliveryStatus::Retrying));
        assert!(DeliveryStatus::Failed.can_become(DeliveryStatus::InFlight));
    }

    #[test]
    fn ids_are_time_ordered_and_parse_back() {
        let a = DeliveryId::new_at(from_millis(1_000));
        let b = DeliveryId::new_at(from_millis(2_000));
        assert!(a.to_bytes() < b.to_bytes());
        assert_eq!(a.to_string().parse::<DeliveryId>(), Ok(a));
        assert!("nope".parse::<DeliveryId>().is_err());
    }
}
