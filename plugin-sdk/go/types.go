package switchyard

import (
	"encoding/json"
	"time"
)

// Event is the platform event being delivered.
type Event struct {
	// Type is the event type id, e.g. "incident.incident.created".
	Type string
	// Payload is the event's JSON payload.
	Payload json.RawMessage
	// Timestamp is when the platform published the event.
	Timestamp time.Time
	// DeliveryID identifies this delivery (stable across its attempts: an idempotency key).
	DeliveryID string
	// EventID identifies the event (shared by the deliveries of every subscription).
	EventID string
	// Attempt counts from 1.
	Attempt uint32
}

// Subscription is the subscription the delivery belongs to.
type Subscription struct {
	ID, Name string
}

// Correlation links a delivery to the earlier deliveries of the same correlation key.
type Correlation struct {
	// Key is the correlation key taken from the payload.
	Key string
	// Earlier are the ended deliveries of this subscription with the same key, oldest first.
	Earlier []CorrelatedDelivery
}

// CorrelatedDelivery is what an earlier delivery of the same key left behind.
type CorrelatedDelivery struct {
	EventType  string
	ExternalID string
	// State is the small state the provider returned ([Result.State]).
	State      string
	Delivered  bool
	EndedAt    time.Time
	DeliveryID string
}

// Delivery is one Deliver call: one attempt to deliver one event for one subscription.
type Delivery struct {
	// ProviderID is the provider's local id.
	ProviderID   string
	Event        Event
	Subscription Subscription
	// Config is the subscription's provider config (JSON object); Connection the shared
	// connection's config, or nil.
	Config, Connection json.RawMessage
	// Correlation is nil for events without a correlation key.
	Correlation *Correlation
}

// DecodeConfig decodes the provider config into v; a problem is a [*ConfigError] whose
// diagnostics point at the field (JSON Pointer), which the SDK turns into an in-band answer.
func (d *Delivery) DecodeConfig(v any) error { return decodeJSON(d.Config, v) }

// DecodeConnection decodes the connection config into v, like [Delivery.DecodeConfig].
func (d *Delivery) DecodeConnection(v any) error { return decodeJSON(d.Connection, v) }

// Outcome is how an attempt ended, as the host schedules it.
type Outcome int

const (
	// Delivered: done.
	Delivered Outcome = iota + 1
	// Retryable: try again on the retry schedule.
	Retryable
	// RateLimited: try again after RetryAfter, without using up the retry budget.
	RateLimited
	// Permanent: trying again cannot help (bad config, 4xx…).
	Permanent
)

// String names the outcome.
func (o Outcome) String() string {
	switch o {
	case Delivered:
		return "delivered"
	case Retryable:
		return "retryable"
	case RateLimited:
		return "rate-limited"
	case Permanent:
		return "permanent"
	default:
		return "unspecified"
	}
}

// Result is what a provider answers for one delivery attempt.
type Result struct {
	Outcome Outcome
	// ExternalID is the id the external system gave the delivered item (message ts, issue key).
	ExternalID string
	// Error says what went wrong, for the delivery record (scrubbed of secrets by the SDK).
	Error string
	// RetryAfter is how long to wait before the next attempt (rate limits); zero for none.
	RetryAfter time.Duration
	// StatusCode is the HTTP status the receiver answered, if any.
	StatusCode int
	// State is small provider state kept for later deliveries of the same correlation key.
	State string
	// ResponseExcerpt is a short excerpt of the receiver's answer.
	ResponseExcerpt string
	// Diagnostics are config problems (with Permanent).
	Diagnostics []Diagnostic
}

// DeliveredResult is a successful attempt.
func DeliveredResult(externalID string) Result {
	return Result{Outcome: Delivered, ExternalID: externalID}
}

// RetryableResult is a failed attempt worth retrying.
func RetryableResult(why string) Result { return Result{Outcome: Retryable, Error: why} }

// RateLimitedResult is a deferral: try again after `after`.
func RateLimitedResult(why string, after time.Duration) Result {
	return Result{Outcome: RateLimited, Error: why, RetryAfter: after}
}

// PermanentResult is a failure that retrying cannot fix.
func PermanentResult(why string) Result { return Result{Outcome: Permanent, Error: why} }

// Diagnostic is one config problem: where (a JSON Pointer into the config, "" for the whole
// config) and what to fix.
type Diagnostic struct {
	Path, Message string
}

// ConfigKind says which config a call is about.
type ConfigKind int

const (
	// ProviderConfig is the subscription's provider config.
	ProviderConfig ConfigKind = iota + 1
	// ConnectionConfig is a shared connection's config.
	ConnectionConfig
)

// TestRequest is one TestConnection call.
type TestRequest struct {
	ProviderID string
	Kind       ConfigKind
	// Config and Connection as in [Delivery].
	Config, Connection json.RawMessage
}

// TestResult is the answer of a connection test.
type TestResult struct {
	Success bool
	Message string
	// Details is optional JSON for the UI.
	Details     json.RawMessage
	Diagnostics []Diagnostic
}
