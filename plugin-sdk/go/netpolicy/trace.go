package netpolicy

import (
	"fmt"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracedTransport makes each request a client span (named for its method, child of the span in
// the request's context) with its method, host, port and status — never its path or query,
// which may hold a secret (a Slack webhook URL is one). While traces are off the global tracer
// is OpenTelemetry's no-op.
type tracedTransport struct{ base http.RoundTripper }

func (t tracedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	port, _ := strconv.Atoi(req.URL.Port())
	if port == 0 && req.URL.Scheme == "https" {
		port = 443
	} else if port == 0 {
		port = 80
	}
	ctx, span := otel.Tracer("github.com/switchyard-dev/switchyard/plugin-sdk/go/netpolicy").Start(
		req.Context(), req.Method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("http.request.method", req.Method),
			attribute.String("server.address", req.URL.Hostname()),
			attribute.Int("server.port", port),
		))
	defer span.End()
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		span.SetStatus(codes.Error, "request failed")
		return resp, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetStatus(codes.Error, fmt.Sprintf("HTTP %d", resp.StatusCode))
	}
	return resp, nil
}
