package switchyard

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-hclog"
	pluginv1 "github.com/switchyard-dev/switchyard/plugin-sdk/go/gen/switchyard/plugin/v1"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
)

// Traces, on when the host passes OTEL_EXPORTER_OTLP_ENDPOINT (the coordinator hands its
// plugins its own OTEL_* variables; OTEL_SERVICE_NAME defaults to the executable's name),
// exported over OTLP/gRPC like the Rust and Python SDKs': each Deliver call is a server span
// (switchyard.plugin.v1.ProviderPlugin/Deliver) under the traceparent the host sent in the
// call's metadata, and each request of a netpolicy client is a client span under it (see
// netpolicy.Policy.Client). While traces are off the global tracer is OpenTelemetry's no-op.

// tracerName names the SDK's tracer.
const tracerName = "github.com/switchyard-dev/switchyard/plugin-sdk/go"

// tracesWanted reports whether env asks for traces: an OTLP endpoint or
// OTEL_TRACES_EXPORTER=otlp, unless OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none.
func tracesWanted(env func(string) string) bool {
	get := func(name string) string { return strings.TrimSpace(env(name)) }
	exporter := strings.ToLower(get("OTEL_TRACES_EXPORTER"))
	if strings.EqualFold(get("OTEL_SDK_DISABLED"), "true") || exporter == "none" {
		return false
	}
	return exporter == "otlp" || get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || get("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
}

// startTraces installs the OTLP pipeline if the environment asks; the returned function
// exports what is still queued (call it before exiting).
func startTraces(ctx context.Context, log hclog.Logger) func() {
	if !tracesWanted(os.Getenv) {
		return func() {}
	}
	exporter, err := otlptracegrpc.New(ctx)
	if err != nil {
		log.Warn("traces are off: cannot set up the OTLP exporter", "error", err.Error())
		return func() {}
	}
	attrs := []attribute.KeyValue{}
	if os.Getenv("OTEL_SERVICE_NAME") == "" {
		attrs = append(attrs, semconv.ServiceName(filepath.Base(os.Args[0])))
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attrs...))
	if err != nil {
		res = resource.Default()
	}
	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	otel.SetTracerProvider(provider)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return func() { _ = provider.Shutdown(context.Background()) }
}

// metadataCarrier reads a gRPC call's incoming metadata as a propagation carrier.
type metadataCarrier metadata.MD

func (m metadataCarrier) Get(key string) string {
	if v := metadata.MD(m).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (m metadataCarrier) Set(key, value string) { metadata.MD(m).Set(key, value) }

func (m metadataCarrier) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// deliverSpan starts the server span of a Deliver call under the host's traceparent.
func deliverSpan(ctx context.Context, req *pluginv1.DeliverRequest) (context.Context, trace.Span) {
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		ctx = propagation.TraceContext{}.Extract(ctx, metadataCarrier(md))
	}
	return otel.Tracer(tracerName).Start(ctx, "switchyard.plugin.v1.ProviderPlugin/Deliver",
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("rpc.system", "grpc"),
			attribute.String("rpc.service", "switchyard.plugin.v1.ProviderPlugin"),
			attribute.String("rpc.method", "Deliver"),
			attribute.String("switchyard.provider", req.GetProviderId()),
			attribute.String("switchyard.delivery.id", req.GetEvent().GetDeliveryId()),
			attribute.Int64("switchyard.attempt", int64(req.GetEvent().GetAttempt())),
		))
}

// endDeliver records the (scrubbed) answer on the span and ends it.
func endDeliver(span trace.Span, answer *pluginv1.DeliverResponse, err error) {
	switch {
	case err != nil:
		span.SetStatus(codes.Error, "the call failed")
	case answer.GetOutcome() != pluginv1.Outcome_OUTCOME_DELIVERED:
		span.SetAttributes(attribute.String("switchyard.outcome", answer.GetOutcome().String()))
		span.SetStatus(codes.Error, answer.GetError())
	default:
		span.SetAttributes(attribute.String("switchyard.outcome", answer.GetOutcome().String()))
	}
	span.End()
}
