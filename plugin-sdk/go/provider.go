package switchyard

import (
	"context"
	"encoding/json"
)

// Provider is one provider a plugin serves. Deliver must be safe for concurrent calls.
type Provider interface {
	// Info describes the provider (Describe). It must return the same answer every time.
	Info() ProviderInfo
	// Deliver makes one delivery attempt. Return a [Result] for every outcome the receiver
	// decided (including failures); return an error only for what is not a delivery outcome:
	// a [*ConfigError] (from [Delivery.DecodeConfig]) or the context's error.
	Deliver(ctx context.Context, d *Delivery) (Result, error)
}

// ConnectionTester is implemented by providers that can test a config against the external
// system (capability test_connection).
type ConnectionTester interface {
	TestConnection(ctx context.Context, req *TestRequest) (TestResult, error)
}

// ConfigValidator is implemented by providers that check a config beyond its schema at save
// time (capability validate_config).
type ConfigValidator interface {
	ValidateConfig(ctx context.Context, kind ConfigKind, config, connection json.RawMessage) ([]Diagnostic, error)
}

// ProviderInfo is what Describe says about a provider.
type ProviderInfo struct {
	// ID is the local id: lowercase letters, digits and '-', starting with a letter.
	ID          string
	DisplayName string
	Description string
	// Icon is an icon name for the UI (optional).
	Icon string
	// ConfigSchema is the subscription config's JSON Schema (draft 2020-12, x- keys allowed).
	ConfigSchema Schema
	// ConnectionSchema is the shared connection's schema, or nil.
	ConnectionSchema *Schema
	// SupportedEvents are the event types the provider handles ("incident.incident.created").
	SupportedEvents []string
	Docs            Documentation
}

// Schema is a versioned JSON Schema.
type Schema struct {
	// Version is the config version this schema describes (starting at 1).
	Version uint32
	// JSON is the schema document.
	JSON string
}

// Documentation is the provider's setup guide for the UI.
type Documentation struct {
	// SetupGuide is Markdown.
	SetupGuide string
	// ExamplePayload is an example of what the provider sends (valid JSON).
	ExamplePayload  string
	Headers         []HeaderDoc
	ExternalDocsURL string
}

// HeaderDoc documents one header the provider sends.
type HeaderDoc struct {
	Name, Description string
}
