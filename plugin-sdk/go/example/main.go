// Command switchyard-plugin-go-example is the Go SDK's example plugin (id `go-example`): one
// provider, `notify`, that POSTs a message rendered from a template to an HTTP receiver with
// an optional bearer token. Build it with
//
//	go build -o switchyard-plugin-go-example ./example
//
// and hand it to the coordinator (`[[plugins.extra]] command = "…"`).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	switchyard "github.com/switchyard-dev/switchyard/plugin-sdk/go"
	"github.com/switchyard-dev/switchyard/plugin-sdk/go/httpx"
	"github.com/switchyard-dev/switchyard/plugin-sdk/go/netpolicy"
	"github.com/switchyard-dev/switchyard/plugin-sdk/go/template"
)

const schema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "properties": {
    "url": {"type": "string", "format": "uri", "title": "Receiver URL"},
    "token": {"type": "string", "title": "Bearer token", "x-secret": true},
    "text": {"type": "string", "title": "Message", "default": "{{ eventType }}: {{ payload.title }}",
             "x-editor-types": ["raw"]}
  },
  "required": ["url"],
  "additionalProperties": false
}`

const defaultText = "{{ eventType }}: {{ payload.title }}"

type config struct {
	URL   string `json:"url"`
	Token string `json:"token"`
	Text  string `json:"text"`
}

// notify is the provider. The HTTP client is built on first use, from the network policy the
// host handed over.
type notify struct {
	once      sync.Once
	client    *http.Client
	policyErr error
	templates sync.Map // source → *template.Template
}

func (n *notify) Info() switchyard.ProviderInfo {
	return switchyard.ProviderInfo{
		ID:              "notify",
		DisplayName:     "Notify (Go example)",
		Description:     "POSTs a templated message to an HTTP receiver.",
		ConfigSchema:    switchyard.Schema{Version: 1, JSON: schema},
		SupportedEvents: []string{"incident.incident.created", "incident.incident.updated", "incident.incident.resolved"},
		Docs:            docs,
	}
}

func (n *notify) http() (*http.Client, error) {
	n.once.Do(func() {
		policy, err := netpolicy.FromEnv()
		n.client, n.policyErr = policy.Client(10*time.Second), err
	})
	return n.client, n.policyErr
}

func (n *notify) template(source string) (*template.Template, error) {
	if t, ok := n.templates.Load(source); ok {
		return t.(*template.Template), nil
	}
	t, err := template.Compile("/text", source)
	if err != nil {
		return nil, err
	}
	n.templates.Store(source, t)
	return t, nil
}

func (n *notify) decode(d *switchyard.Delivery) (config, *template.Template, error) {
	var cfg config
	if err := d.DecodeConfig(&cfg); err != nil {
		return cfg, nil, err
	}
	if cfg.URL == "" {
		return cfg, nil, switchyard.Invalid("/url", "required: the receiver's http(s) URL")
	}
	if cfg.Text == "" {
		cfg.Text = defaultText
	}
	t, err := n.template(cfg.Text)
	if tErr, ok := err.(*template.Error); ok {
		return cfg, nil, &switchyard.ConfigError{Diagnostics: []switchyard.Diagnostic{tErr.Diagnostic()}}
	}
	return cfg, t, err
}

func (n *notify) Deliver(ctx context.Context, d *switchyard.Delivery) (switchyard.Result, error) {
	cfg, tmpl, err := n.decode(d)
	if err != nil {
		return switchyard.Result{}, err
	}
	text, err := tmpl.Render(d)
	if err != nil {
		return err.(*template.Error).Result(), nil
	}
	body, _ := json.Marshal(map[string]string{"text": text, "eventType": d.Event.Type, "deliveryId": d.Event.DeliveryID})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL, bytes.NewReader(body))
	if err != nil {
		return switchyard.Result{}, switchyard.Invalid("/url", "not a usable URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", d.Event.DeliveryID)
	if cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.Token)
	}
	client, err := n.http()
	if err != nil {
		return switchyard.PermanentResult(err.Error()), nil
	}
	resp, err := client.Do(req)
	if ctx.Err() != nil {
		return switchyard.Result{}, ctx.Err()
	}
	switchyard.Logger().Debug("delivered", "delivery", d.Event.DeliveryID)
	return httpx.FromResponse(resp, err, externalID), nil
}

// ValidateConfig checks at save time what the schema cannot: that the message template compiles.
func (n *notify) ValidateConfig(_ context.Context, _ switchyard.ConfigKind, config, _ json.RawMessage) ([]switchyard.Diagnostic, error) {
	_, _, err := n.decode(&switchyard.Delivery{Config: config})
	return nil, err
}

func externalID(body []byte) string {
	var parsed struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &parsed)
	return parsed.ID
}

func main() { switchyard.Serve(&notify{}) }
