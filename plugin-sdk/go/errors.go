package switchyard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrUnknownProvider answers NOT_FOUND: the request names a provider (or resolver) the plugin
// does not serve.
var ErrUnknownProvider = errors.New("unknown provider")

// ErrUnimplemented answers UNIMPLEMENTED: the provider does not offer the capability.
var ErrUnimplemented = errors.New("not implemented by this provider")

// ConfigError is a config that cannot be used: the SDK answers it in band (gRPC OK) with a
// permanent outcome and these diagnostics, as the protocol requires.
type ConfigError struct {
	Diagnostics []Diagnostic
}

func (e *ConfigError) Error() string {
	parts := make([]string, 0, len(e.Diagnostics))
	for _, d := range e.Diagnostics {
		parts = append(parts, fmt.Sprintf("%s: %s", pathOrRoot(d.Path), d.Message))
	}
	return "invalid config: " + strings.Join(parts, "; ")
}

func pathOrRoot(p string) string {
	if p == "" {
		return "(config)"
	}
	return p
}

// Invalid is a [*ConfigError] with one diagnostic at the JSON Pointer `path`.
func Invalid(path, message string) *ConfigError {
	return &ConfigError{Diagnostics: []Diagnostic{{Path: path, Message: message}}}
}

// statusOf maps an error a provider returned to the documented gRPC status.
func statusOf(err error) error {
	var cfg *ConfigError
	switch {
	case errors.Is(err, ErrUnknownProvider):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, ErrUnimplemented):
		return status.Error(codes.Unimplemented, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.As(err, &cfg):
		return status.Error(codes.InvalidArgument, err.Error())
	default:
		return status.Error(codes.Internal, err.Error())
	}
}

// decodeJSON decodes a config strictly (unknown fields refused) into v; each problem becomes
// a diagnostic at its JSON Pointer.
func decodeJSON(raw json.RawMessage, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = json.RawMessage("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return Invalid(pointer(typeErr.Field), fmt.Sprintf("must be %s, not %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value))
	case errors.As(err, &syntaxErr):
		return Invalid("", "the config is not valid JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return Invalid(pointer(field), "unknown property")
	default:
		return Invalid("", err.Error())
	}
}

// pointer turns encoding/json's dotted field path ("auth.token") into a JSON Pointer.
func pointer(field string) string {
	if field == "" {
		return ""
	}
	parts := strings.Split(field, ".")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~", "~0"), "/", "~1")
	}
	return "/" + strings.Join(parts, "/")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	default:
		return "a number"
	}
}
