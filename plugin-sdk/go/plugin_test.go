package switchyard_test

// The SDK end to end: the example plugin built with `go build`, started as the host starts it,
// answering real gRPC calls and sending real HTTP requests to a local sink.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	pluginv1 "github.com/switchyard-dev/switchyard/plugin-sdk/go/gen/switchyard/plugin/v1"
	"github.com/switchyard-dev/switchyard/plugin-sdk/go/internal/hosttest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const allowLoopback = "SWITCHYARD_NETWORK_ALLOW=127.0.0.0/8"

// binary is the example plugin, built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sygo-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary, err = hosttest.Build(dir, "./example", "switchyard-plugin-go-example")
	code := 1
	if err == nil {
		code = m.Run()
	} else {
		fmt.Fprintln(os.Stderr, err)
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func example(*testing.T) string { return binary }

// recorded is one request the sink received.
type recorded struct {
	header http.Header
	body   []byte
}

// sink is a local HTTP server standing in for the receiver.
type sink struct {
	*httptest.Server
	requests chan recorded
}

func newSink(t *testing.T, status int, answer string) *sink {
	s := &sink{requests: make(chan recorded, 16)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.requests <- recorded{header: r.Header.Clone(), body: body}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(s.Close)
	return s
}

func deliverRequest(config map[string]any) *pluginv1.DeliverRequest {
	cfg, _ := json.Marshal(config)
	return &pluginv1.DeliverRequest{
		ProviderId: "notify",
		Event: &pluginv1.Event{
			EventType: "incident.incident.created", PayloadJson: `{"title":"Checkout down","sev":2}`,
			DeliveryId: "del-1", EventId: "evt-1", Attempt: 1,
		},
		Subscription: &pluginv1.Subscription{Id: "sub-1", Name: "Ops"},
		ConfigJson:   string(cfg),
	}
}

func TestWithoutTheCookieThePluginExplainsAndExits(t *testing.T) {
	cmd := exec.Command(example(t))
	cmd.Env = []string{"PLUGIN_PROTOCOL_VERSIONS=1"}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	exit, ok := err.(*exec.ExitError)
	if !ok || exit.ExitCode() != 1 {
		t.Fatalf("want exit status 1, got %v", err)
	}
	if stdout.Len() != 0 || !strings.Contains(stderr.String(), "plugin") {
		t.Fatalf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}

func TestDescribeAndAnUnofferedVersion(t *testing.T) {
	cmd, _ := hosttest.Command(t, example(t))
	cmd.Env[1] = "PLUGIN_PROTOCOL_VERSIONS=999"
	p := hosttest.StartCmd(t, cmd)
	// go-plugin announces its own version when none is in common; the host then refuses it.
	if !strings.HasPrefix(p.Line, "1|1|unix|") || !strings.HasSuffix(p.Line, "|grpc|") {
		t.Fatalf("handshake line %q", p.Line)
	}
	d := hosttest.Must(p.Client.Describe(hosttest.Ctx(t), &pluginv1.DescribeRequest{}))
	if d.GetPluginId() != "go-example" || d.GetProtocolVersion() != 1 || len(d.GetProviders()) != 1 {
		t.Fatalf("describe %v", d)
	}
	caps := d.GetProviders()[0].GetCapabilities()
	if !caps.GetValidateConfig() || caps.GetTestConnection() {
		t.Fatalf("capabilities %v", caps)
	}
	_, err := p.Client.TestConnection(hosttest.Ctx(t), &pluginv1.TestConnectionRequest{ProviderId: "notify"})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("undeclared capability: %v", err)
	}
	_, err = p.Client.Deliver(hosttest.Ctx(t), &pluginv1.DeliverRequest{ProviderId: "nope"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("unknown provider: %v", err)
	}
}

func TestDeliverRendersTheTemplateAndSendsIt(t *testing.T) {
	s := newSink(t, 201, `{"id":"msg-42"}`)
	p := hosttest.Start(t, example(t), allowLoopback)
	req := deliverRequest(map[string]any{
		"url": s.URL + "/hook", "token": "tok-s3cret-value",
		"text": "{{ eventType }}: {{ payload.title }} (sev {{ payload.sev }}){{ payload.missing.deeper }}",
	})
	r := hosttest.Must(p.Client.Deliver(hosttest.Ctx(t), req))
	if r.GetOutcome() != pluginv1.Outcome_OUTCOME_DELIVERED || !r.GetSuccess() || r.GetExternalId() != "msg-42" {
		t.Fatalf("result %v", r)
	}
	got := <-s.requests
	var body map[string]string
	if err := json.Unmarshal(got.body, &body); err != nil {
		t.Fatal(err)
	}
	if body["text"] != "incident.incident.created: Checkout down (sev 2)" || body["deliveryId"] != "del-1" {
		t.Fatalf("body %s", got.body)
	}
	if got.header.Get("Authorization") != "Bearer tok-s3cret-value" || got.header.Get("Idempotency-Key") != "del-1" {
		t.Fatalf("headers %v", got.header)
	}
	if strings.Contains(p.Stderr(), "tok-s3cret-value") {
		t.Fatalf("the token is in the plugin's log: %s", p.Stderr())
	}
}

func TestABadConfigIsAnsweredInBandWithItsPath(t *testing.T) {
	p := hosttest.Start(t, example(t), allowLoopback)
	for config, path := range map[string]string{`{"url": 5}`: "/url", `{"url":"http://x","extra":1}`: "/extra", `{"url":"http://x","text":"{{ a | nope }}"}`: "/text"} {
		req := deliverRequest(nil)
		req.ConfigJson = config
		r := hosttest.Must(p.Client.Deliver(hosttest.Ctx(t), req))
		if r.GetOutcome() != pluginv1.Outcome_OUTCOME_PERMANENT || len(r.GetDiagnostics()) != 1 || r.GetDiagnostics()[0].GetJsonPath() != path {
			t.Fatalf("%s: %v", config, r)
		}
	}
}

func TestAReceiverEchoingTheSecretLeaksNothing(t *testing.T) {
	const token = "tok-echoed-9f8e7d"
	s := newSink(t, 400, `{"error":"bad token tok-echoed-9f8e7d"}`)
	p := hosttest.Start(t, example(t), allowLoopback)
	r := hosttest.Must(p.Client.Deliver(hosttest.Ctx(t), deliverRequest(map[string]any{"url": s.URL, "token": token})))
	<-s.requests
	if r.GetOutcome() != pluginv1.Outcome_OUTCOME_PERMANENT || r.GetStatusCode() != 400 {
		t.Fatalf("result %v", r)
	}
	all := r.String()
	if strings.Contains(all, token) || !strings.Contains(r.GetError(), "[REDACTED]") || !strings.Contains(r.GetResponseExcerpt(), "[REDACTED]") {
		t.Fatalf("secret not scrubbed: %s", all)
	}
}

func TestRateLimitsCarryRetryAfter(t *testing.T) {
	s := newSink(t, 429, `{}`)
	s.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests <- recorded{}
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(429)
	})
	p := hosttest.Start(t, example(t), allowLoopback)
	r := hosttest.Must(p.Client.Deliver(hosttest.Ctx(t), deliverRequest(map[string]any{"url": s.URL})))
	if r.GetOutcome() != pluginv1.Outcome_OUTCOME_RATE_LIMITED || r.GetRetryAfterMs() != 7000 {
		t.Fatalf("result %v", r)
	}
}

func TestTheNetworkPolicyRefusesLoopbackUnlessAllowed(t *testing.T) {
	s := newSink(t, 200, `{}`)
	p := hosttest.Start(t, example(t)) // no SWITCHYARD_NETWORK_ALLOW: public addresses only
	r := hosttest.Must(p.Client.Deliver(hosttest.Ctx(t), deliverRequest(map[string]any{"url": s.URL})))
	want := "the network policy refused 127.0.0.1: it is a loopback address (127.0.0.0/8, ::1). " +
		"Only public addresses are allowed unless the operator adds the subnet (e.g. 127.0.0.1/32) " +
		"to the coordinator's `[plugins] network_allow`, which plugins receive in SWITCHYARD_NETWORK_ALLOW"
	if r.GetOutcome() != pluginv1.Outcome_OUTCOME_PERMANENT || r.GetError() != want {
		t.Fatalf("result %v", r)
	}
	if len(s.requests) != 0 {
		t.Fatal("the sink was reached")
	}
}

func TestShutdownCancelsTheCallsInFlight(t *testing.T) {
	arrived, aborted := make(chan struct{}), make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // the server notices a hang-up only once the body is read
		close(arrived)
		<-r.Context().Done() // the plugin hung up: its call's context was cancelled
		close(aborted)
	}))
	defer hang.Close()
	p := hosttest.Start(t, example(t), allowLoopback)
	errs := make(chan error, 1)
	go func() {
		_, err := p.Client.Deliver(hosttest.Ctx(t), deliverRequest(map[string]any{"url": hang.URL}))
		errs <- err
	}()
	<-arrived
	_ = p.Shutdown(hosttest.Ctx(t)) // the answer may be lost as the server stops
	<-aborted
	if err := <-errs; err == nil {
		t.Fatal("the cancelled delivery answered as if it had run")
	}
	if _, exited := p.Wait(10 * time.Second); !exited {
		t.Fatal("still running after Shutdown")
	}
}
