package switchyard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	pluginv1 "github.com/switchyard-dev/switchyard/plugin-sdk/go/gen/switchyard/plugin/v1"
	"github.com/switchyard-dev/switchyard/plugin-sdk/go/netpolicy"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
)

// A provider that POSTs to url through a netpolicy client that allows loopback.
type posting struct {
	client *http.Client
	url    string
}

func (p posting) Info() ProviderInfo {
	return ProviderInfo{ID: "post", ConfigSchema: Schema{Version: 1, JSON: `{"type":"object"}`}}
}

func (p posting) Deliver(ctx context.Context, _ *Delivery) (Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, strings.NewReader("{}"))
	if err != nil {
		return Result{}, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return Result{Outcome: Retryable, Error: "network"}, nil
	}
	_ = resp.Body.Close()
	if resp.StatusCode >= 500 {
		return Result{Outcome: Retryable, Error: "HTTP " + resp.Status}, nil
	}
	return Result{Outcome: Delivered}, nil
}

func TestDeliverAndTheVendorRequestAreSpansInTheHostsTrace(t *testing.T) {
	recorder := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
	otel.SetTracerProvider(provider)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	defer otel.SetTracerProvider(trace.NewNoopTracerProvider())

	vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer vendor.Close()
	policy, err := netpolicy.Parse("127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := newService(Plugin{ID: "t", Providers: []Provider{posting{policy.Client(5 * time.Second), vendor.URL + "/secret-path"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const traceID, hostSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("traceparent", "00-"+traceID+"-"+hostSpan+"-01"))
	req := &pluginv1.DeliverRequest{ProviderId: "post", ConfigJson: "{}", Event: &pluginv1.Event{DeliveryId: "del-7", Attempt: 2, EventType: "x", PayloadJson: "{}"}}
	answer, err := svc.Deliver(ctx, req)
	if err != nil || answer.GetOutcome() != pluginv1.Outcome_OUTCOME_RETRYABLE {
		t.Fatalf("%v %v", answer, err)
	}
	spans := recorder.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	post, deliver := spans[0], spans[1]
	if deliver.Name() != "switchyard.plugin.v1.ProviderPlugin/Deliver" || post.Name() != "POST" {
		t.Fatalf("%q %q", deliver.Name(), post.Name())
	}
	if deliver.SpanContext().TraceID().String() != traceID || post.SpanContext().TraceID().String() != traceID {
		t.Fatal("not in the host's trace")
	}
	if deliver.Parent().SpanID().String() != hostSpan || post.Parent().SpanID() != deliver.SpanContext().SpanID() {
		t.Fatalf("parents: %v %v", deliver.Parent().SpanID(), post.Parent().SpanID())
	}
	for _, kv := range post.Attributes() {
		if strings.Contains(kv.Value.Emit(), "secret-path") {
			t.Fatalf("the URL's path is in %s", kv.Key)
		}
		if kv.Key == "http.response.status_code" && kv.Value.AsInt64() != 500 {
			t.Fatalf("status %v", kv.Value.AsInt64())
		}
	}
}

func TestTracesFollowTheStandardVariables(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if tracesWanted(env(nil)) || !tracesWanted(env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"})) {
		t.Fatal("endpoint")
	}
	if tracesWanted(env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_SDK_DISABLED": "true"})) {
		t.Fatal("disabled")
	}
}
