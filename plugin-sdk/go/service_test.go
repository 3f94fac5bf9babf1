package switchyard

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	pluginv1 "github.com/switchyard-dev/switchyard/plugin-sdk/go/gen/switchyard/plugin/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The service's mapping of the optional calls, over a provider that quotes its secret in every
// answer (as a provider relaying a receiver's echo would).

const secret = "s3cret-value-123"

type echoing struct{}

func (echoing) Info() ProviderInfo {
	return ProviderInfo{ID: "echo", ConfigSchema: Schema{Version: 1, JSON: `{"type":"object","properties":{"key":{"type":"string","x-secret":true}}}`}}
}

func (echoing) Deliver(context.Context, *Delivery) (Result, error) { panic("boom " + secret) }

func (echoing) TestConnection(_ context.Context, r *TestRequest) (TestResult, error) {
	var cfg struct{ Key string }
	_ = json.Unmarshal(r.Config, &cfg)
	return TestResult{Success: true, Message: "connected with " + cfg.Key, Details: json.RawMessage(`{"k":"` + cfg.Key + `"}`)}, nil
}

func (echoing) ValidateConfig(_ context.Context, _ ConfigKind, config, _ json.RawMessage) ([]Diagnostic, error) {
	return nil, Invalid("/key", "rejected "+string(config))
}

func testService(t *testing.T) *service {
	return testServiceLogging(t, hclog.NewNullLogger())
}

func testServiceLogging(t *testing.T, log hclog.Logger) *service {
	svc, err := newService(Plugin{ID: "t", Providers: []Provider{echoing{}}}, log)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestOptionalCallsAreScrubbedOfTheConfigsSecrets(t *testing.T) {
	svc := testService(t)
	config := `{"key":"` + secret + `"}`
	tr, err := svc.TestConnection(context.Background(), &pluginv1.TestConnectionRequest{ProviderId: "echo", ConfigJson: config})
	if err != nil || !tr.GetSuccess() || strings.Contains(tr.String(), secret) || !strings.Contains(tr.GetMessage(), "[REDACTED]") {
		t.Fatalf("%v %v", tr, err)
	}
	vr, err := svc.ValidateConfig(context.Background(), &pluginv1.ValidateConfigRequest{ProviderId: "echo", ConfigJson: config})
	if err != nil || len(vr.GetDiagnostics()) != 1 || vr.GetDiagnostics()[0].GetJsonPath() != "/key" || strings.Contains(vr.String(), secret) {
		t.Fatalf("%v %v", vr, err)
	}
}

func TestAPanickingDeliverIsInternalAndScrubbed(t *testing.T) {
	var logged strings.Builder
	svc := testServiceLogging(t, hclog.New(&hclog.LoggerOptions{Output: &logged, JSONFormat: true}))
	_, err := svc.Deliver(context.Background(), &pluginv1.DeliverRequest{ProviderId: "echo", ConfigJson: `{"key":"` + secret + `"}`})
	if status.Code(err) != codes.Internal || strings.Contains(err.Error(), secret) {
		t.Fatalf("%v", err)
	}
	if !strings.Contains(logged.String(), "boom [REDACTED]") || strings.Contains(logged.String(), secret) {
		t.Fatalf("log: %s", logged.String())
	}
}

func TestDescribeDeclaresWhatTheProviderImplements(t *testing.T) {
	d, _ := testService(t).Describe(context.Background(), &pluginv1.DescribeRequest{})
	caps := d.GetProviders()[0].GetCapabilities()
	if !caps.GetTestConnection() || !caps.GetValidateConfig() || caps.GetMigrateConfig() {
		t.Fatalf("%v", caps)
	}
	if _, err := newService(Plugin{ID: "t", Providers: []Provider{echoing{}, echoing{}}}, hclog.NewNullLogger()); err == nil {
		t.Fatal("a repeated provider id was accepted")
	}
}
