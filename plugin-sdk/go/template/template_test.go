package template

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	switchyard "github.com/switchyard-dev/switchyard/plugin-sdk/go"
)

func delivery() *switchyard.Delivery {
	return &switchyard.Delivery{
		Event: switchyard.Event{
			Type: "incident.incident.created", EventID: "evt-1", DeliveryID: "del-1", Attempt: 2,
			Payload:   json.RawMessage(`{"title":"Disk \"full\"","n":3,"tags":["a","b"],"obj":{"k":1},"none":null}`),
			Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		},
		Subscription: switchyard.Subscription{ID: "sub-1", Name: "Ops"},
		Correlation:  &switchyard.Correlation{Key: "inc-1"},
	}
}

func render(t *testing.T, source string) string {
	t.Helper()
	tmpl, err := Compile("/text", source)
	if err != nil {
		t.Fatalf("%s: %v", source, err)
	}
	out, err := tmpl.Render(delivery())
	if err != nil {
		t.Fatalf("%s: %v", source, err)
	}
	return out
}

func TestVariablesAndMissingValues(t *testing.T) {
	for source, want := range map[string]string{
		"{{ payload.title }}":                  `Disk "full"`,
		"{{payload.n}}/{{ event.attempt }}":    "3/2",
		"{{ payload.tags.1 }}":                 "b",
		"{{ payload.tags }} {{ payload.obj }}": `["a","b"] {"k":1}`,
		"[{{ payload.missing }}{{ payload.missing.deeper }}{{ payload.none }}{{ payload.tags.9 }}]": "[]",
		"{{ eventType }} {{ subscriptionName }} {{ correlation.key }}":                              "incident.incident.created Ops inc-1",
		"{{ event.timestamp }}":                     "2026-01-02T03:04:05Z",
		`{"t":"{{ payload.title | json_escape }}"}`: `{"t":"Disk \"full\""}`,
		"{{ payload.title | html_escape }}":         "Disk &quot;full&quot;",
		`{{ payload.sev | default("unknown") }}`:    "unknown",
		"no holes at all":                           "no holes at all",
	} {
		if got := render(t, source); got != want {
			t.Errorf("%s: got %q, want %q", source, got, want)
		}
	}
}

func TestRequiredFailsWhileRenderingNamingTheField(t *testing.T) {
	tmpl, err := Compile("/summary", "{{ payload.sev | required }}")
	if err != nil {
		t.Fatal(err)
	}
	_, err = tmpl.Render(delivery())
	var tErr *Error
	if !errors.As(err, &tErr) || tErr.Compile || tErr.Path != "/summary" || !strings.Contains(tErr.Message, "payload.sev") {
		t.Fatalf("%v", err)
	}
	if r := tErr.Result(); r.Outcome != switchyard.Permanent || len(r.Diagnostics) != 0 {
		t.Fatalf("%+v", r)
	}
}

func TestCompileErrorsAreConfigProblemsAtTheField(t *testing.T) {
	for _, source := range []string{"{{ payload.title", "{{ }}", "{{ a | upper }}", "{% if x %}y{% endif %}", "{{ a b }}", `{{ a | default(x) }}`, strings.Repeat("x", MaxSourceBytes+1)} {
		_, err := Compile("/text", source)
		var tErr *Error
		if !errors.As(err, &tErr) || !tErr.Compile || tErr.Diagnostic().Path != "/text" {
			t.Errorf("%.40s: %v", source, err)
		}
	}
}
