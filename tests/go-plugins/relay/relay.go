// Package relay is the provider that the plain go-plugin test plugins serve: it speaks the
// Switchyard plugin protocol through the generated stubs only (no Switchyard SDK), as a Go
// author who already uses hashicorp/go-plugin would write it. It POSTs each event as JSON to
// the configured URL.
//
// For the host's stdio test, an event whose payload has `"stdoutBytes": N` makes the handler
// write a line quoting its token, then N bytes of numbered lines, to os.Stdout before it sends
// anything: under go-plugin that
// output goes through the plugin.GRPCStdio stream, which blocks once its pipe is full unless
// the host reads the stream.
package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	pluginv1 "github.com/switchyard-dev/switchyard/plugin-sdk/go/gen/switchyard/plugin/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ProviderID is the provider's local id.
const ProviderID = "relay"

const configSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "properties": {
    "url": {"type": "string", "format": "uri", "title": "Receiver URL"},
    "token": {"type": "string", "title": "Bearer token", "x-secret": true}
  },
  "required": ["url"],
  "additionalProperties": false
}`

// FloodMarker starts every line the handler writes to stdout for `stdoutBytes`.
const FloodMarker = "relay-stdout-flood"

// Server implements switchyard.plugin.v1.ProviderPlugin.
type Server struct {
	pluginv1.UnimplementedProviderPluginServer
	// PluginID and Version are what Describe reports.
	PluginID, Version string
	client            *http.Client
}

// Register adds the ProviderPlugin service for plugin `id` to s.
func Register(s *grpc.Server, id, version string) {
	// No overall client timeout: the call's context (the host's deadline) bounds each request.
	pluginv1.RegisterProviderPluginServer(s, &Server{PluginID: id, Version: version, client: &http.Client{}})
}

// Describe names the plugin and its one provider.
func (s *Server) Describe(context.Context, *pluginv1.DescribeRequest) (*pluginv1.DescribeResponse, error) {
	return &pluginv1.DescribeResponse{
		PluginId:        s.PluginID,
		PluginVersion:   s.Version,
		ProtocolVersion: 1,
		Providers: []*pluginv1.Provider{{
			Id:              ProviderID,
			DisplayName:     "Relay (plain go-plugin)",
			Description:     "POSTs each event as JSON to a URL.",
			ConfigSchema:    &pluginv1.VersionedSchema{Version: 1, JsonSchema: configSchema},
			SupportedEvents: []string{"incident.incident.created", "incident.incident.resolved"},
			Documentation: &pluginv1.Documentation{
				SetupGuide:     "Point `url` at any HTTP receiver.",
				ExamplePayload: `{"eventType":"incident.incident.created","payload":{"incidentId":"inc-1"}}`,
			},
			Capabilities: &pluginv1.Capabilities{},
		}},
	}, nil
}

type config struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// Deliver POSTs the event to the configured URL.
func (s *Server) Deliver(ctx context.Context, req *pluginv1.DeliverRequest) (*pluginv1.DeliverResponse, error) {
	if req.GetProviderId() != ProviderID {
		return nil, status.Errorf(codes.NotFound, "unknown provider %q", req.GetProviderId())
	}
	cfg, diags := parseConfig(req.GetConfigJson())
	if len(diags) > 0 {
		return &pluginv1.DeliverResponse{
			Outcome: pluginv1.Outcome_OUTCOME_PERMANENT, Error: "invalid config", Diagnostics: diags,
		}, nil
	}
	payload := json.RawMessage(req.GetEvent().GetPayloadJson())
	if !json.Valid(payload) {
		payload = json.RawMessage("null")
	}
	flood(payload, cfg.Token)
	body, err := json.Marshal(map[string]any{
		"eventType":  req.GetEvent().GetEventType(),
		"deliveryId": req.GetEvent().GetDeliveryId(),
		"payload":    payload,
	})
	if err != nil {
		return permanent(err.Error()), nil
	}
	return s.post(ctx, cfg, body)
}

func (s *Server) post(ctx context.Context, cfg config, body []byte) (*pluginv1.DeliverResponse, error) {
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL, bytes.NewReader(body))
	if err != nil {
		return permanent("invalid url: " + err.Error()), nil
	}
	httpReq.Header.Set("Content-Type", "application/json")
	if cfg.Token != "" {
		httpReq.Header.Set("Authorization", "Bearer "+cfg.Token)
	}
	resp, err := s.client.Do(httpReq)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, status.FromContextError(ctxErr).Err()
		}
		// The URL is not echoed: it is the operator's, and errors end up in delivery records.
		return &pluginv1.DeliverResponse{Outcome: pluginv1.Outcome_OUTCOME_RETRYABLE, Error: "request failed: " + errors.Unwrap(err).Error()}, nil
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return classify(resp, answer), nil
}

func classify(resp *http.Response, answer []byte) *pluginv1.DeliverResponse {
	out := &pluginv1.DeliverResponse{StatusCode: uint32(resp.StatusCode)}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		out.Success, out.Outcome = true, pluginv1.Outcome_OUTCOME_DELIVERED
		var parsed struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(answer, &parsed) == nil {
			out.ExternalId = parsed.ID
		}
	case code == http.StatusTooManyRequests:
		out.Outcome, out.Error = pluginv1.Outcome_OUTCOME_RATE_LIMITED, "rate limited"
		if secs, err := strconv.ParseUint(resp.Header.Get("Retry-After"), 10, 32); err == nil {
			ms := uint64(time.Duration(secs) * time.Second / time.Millisecond)
			out.RetryAfterMs = &ms
		}
	case code >= 500 || code == http.StatusRequestTimeout:
		out.Outcome, out.Error = pluginv1.Outcome_OUTCOME_RETRYABLE, fmt.Sprintf("HTTP %d", code)
	default:
		out.Outcome, out.Error = pluginv1.Outcome_OUTCOME_PERMANENT, fmt.Sprintf("HTTP %d", code)
	}
	return out
}

func permanent(why string) *pluginv1.DeliverResponse {
	return &pluginv1.DeliverResponse{Outcome: pluginv1.Outcome_OUTCOME_PERMANENT, Error: why}
}

// parseConfig checks the config by hand (a plain plugin has no schema validator): each problem
// is a diagnostic at its JSON Pointer.
func parseConfig(text string) (config, []*pluginv1.Diagnostic) {
	var raw map[string]any
	if err := json.Unmarshal([]byte(text), &raw); err != nil || raw == nil {
		return config{}, []*pluginv1.Diagnostic{{JsonPath: "", Message: "the config must be a JSON object"}}
	}
	var cfg config
	var diags []*pluginv1.Diagnostic
	for key, value := range raw {
		s, ok := value.(string)
		switch {
		case key != "url" && key != "token":
			diags = append(diags, &pluginv1.Diagnostic{JsonPath: "/" + key, Message: "unknown property"})
		case !ok:
			diags = append(diags, &pluginv1.Diagnostic{JsonPath: "/" + key, Message: "must be a string"})
		case key == "url":
			cfg.URL = s
		default:
			cfg.Token = s
		}
	}
	if _, ok := raw["url"]; !ok {
		diags = append(diags, &pluginv1.Diagnostic{JsonPath: "/url", Message: "required"})
	} else if cfg.URL != "" && !strings.HasPrefix(cfg.URL, "http://") && !strings.HasPrefix(cfg.URL, "https://") {
		diags = append(diags, &pluginv1.Diagnostic{JsonPath: "/url", Message: "must be an http(s) URL"})
	}
	return cfg, diags
}

// flood writes `stdoutBytes` bytes of numbered lines to stdout, if the payload asks for it,
// after one line quoting the token (as a careless handler might): the host must scrub it from
// its log.
func flood(payload json.RawMessage, token string) {
	var ask struct {
		StdoutBytes int `json:"stdoutBytes"`
	}
	if json.Unmarshal(payload, &ask) != nil || ask.StdoutBytes <= 0 {
		return
	}
	fmt.Fprintf(os.Stdout, "%s token %s\n", FloodMarker, token)
	line := 0
	for written := 0; written < ask.StdoutBytes; line++ {
		n, _ := fmt.Fprintf(os.Stdout, "%s %06d %s\n", FloodMarker, line, strings.Repeat("x", 100))
		written += n
	}
	fmt.Fprintf(os.Stdout, "%s done after %d lines\n", FloodMarker, line)
}
