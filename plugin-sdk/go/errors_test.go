package switchyard

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestDecodeConfigPointsAtTheField(t *testing.T) {
	type auth struct {
		Token string `json:"token"`
	}
	type cfg struct {
		URL  string `json:"url"`
		Auth auth   `json:"auth"`
	}
	for text, path := range map[string]string{`{"url":5}`: "/url", `{"auth":{"token":true}}`: "/auth/token", `{"other":1}`: "/other", `{`: ""} {
		var c cfg
		err := decodeJSON([]byte(text), &c)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Diagnostics[0].Path != path {
			t.Errorf("%s: %v", text, err)
		}
	}
}

func TestErrorsMapToTheDocumentedCodes(t *testing.T) {
	for err, code := range map[error]codes.Code{
		fmt.Errorf("%w %q", ErrUnknownProvider, "x"): codes.NotFound,
		ErrUnimplemented:         codes.Unimplemented,
		context.Canceled:         codes.Canceled,
		context.DeadlineExceeded: codes.DeadlineExceeded,
		Invalid("/url", "bad"):   codes.InvalidArgument,
		errors.New("boom"):       codes.Internal,
	} {
		if got := status.Code(statusOf(err)); got != code {
			t.Errorf("%v: %v", err, got)
		}
	}
}

func TestSecretsAreFoundThroughTheSchemaAndScrubbed(t *testing.T) {
	schema := `{"properties":{"url":{"type":"string"},"auth":{"oneOf":[{"properties":{"token":{"type":"string","x-secret":true}}}]},
	  "keys":{"type":"array","items":{"type":"string","x-secret":true}}}}`
	s := secretsOf(schema, []byte(`{"url":"http://x","auth":{"token":"tok-123456"},"keys":["k-abcdef","no"]}`))
	got := s.scrub("tok-123456 and k-abcdef at http://x, no")
	if got != "[REDACTED] and [REDACTED] at http://x, no" {
		t.Fatal(got)
	}
}
