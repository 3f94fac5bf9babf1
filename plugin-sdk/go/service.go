package switchyard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hashicorp/go-hclog"
	pluginv1 "github.com/switchyard-dev/switchyard/plugin-sdk/go/gen/switchyard/plugin/v1"
)

// ProtocolVersion is the app protocol version of the plugin protocol this SDK speaks.
const ProtocolVersion = 1

// service implements switchyard.plugin.v1.ProviderPlugin over the plugin's providers.
type service struct {
	pluginv1.UnimplementedProviderPluginServer
	plugin    Plugin
	providers map[string]Provider
	log       hclog.Logger
}

func newService(p Plugin, log hclog.Logger) (*service, error) {
	s := &service{plugin: p, providers: map[string]Provider{}, log: log}
	for _, prov := range p.Providers {
		id := prov.Info().ID
		if _, dup := s.providers[id]; dup {
			return nil, fmt.Errorf("provider id %q is used twice", id)
		}
		s.providers[id] = prov
	}
	return s, nil
}

func (s *service) provider(id string) (Provider, error) {
	p, ok := s.providers[id]
	if !ok {
		return nil, fmt.Errorf("%w %q (this plugin serves %v)", ErrUnknownProvider, id, s.ids())
	}
	return p, nil
}

func (s *service) ids() []string {
	ids := make([]string, 0, len(s.plugin.Providers))
	for _, p := range s.plugin.Providers {
		ids = append(ids, p.Info().ID)
	}
	return ids
}

// secrets are the x-secret values of a request's provider config and connection config.
func secrets(p Provider, config, connection json.RawMessage) scrubber {
	info := p.Info()
	out := secretsOf(info.ConfigSchema.JSON, config)
	if info.ConnectionSchema != nil && len(connection) > 0 {
		out = out.with(secretsOf(info.ConnectionSchema.JSON, connection))
	}
	return out
}

func (s *service) Describe(context.Context, *pluginv1.DescribeRequest) (*pluginv1.DescribeResponse, error) {
	out := &pluginv1.DescribeResponse{
		PluginId:        s.plugin.ID,
		PluginVersion:   s.plugin.Version,
		ProtocolVersion: ProtocolVersion,
	}
	for _, p := range s.plugin.Providers {
		out.Providers = append(out.Providers, describeProvider(p))
	}
	return out, nil
}

func (s *service) Deliver(ctx context.Context, req *pluginv1.DeliverRequest) (*pluginv1.DeliverResponse, error) {
	p, err := s.provider(req.GetProviderId())
	if err != nil {
		return nil, statusOf(err)
	}
	ctx, span := deliverSpan(ctx, req)
	d := deliveryFrom(req)
	scrub := secrets(p, d.Config, d.Connection)
	result, err := s.deliver(ctx, p, d, scrub)
	var cfg *ConfigError
	switch {
	case errors.As(err, &cfg):
		result = Result{Outcome: Permanent, Error: cfg.Error(), Diagnostics: cfg.Diagnostics}
	case err != nil:
		endDeliver(span, nil, err)
		return nil, statusOf(errors.New(scrub.scrub(err.Error())))
	}
	answer := resultTo(scrub.result(result))
	endDeliver(span, answer, nil)
	return answer, nil
}

// deliver calls the provider, turning a panic into an INTERNAL answer instead of a crash
// that would fail every call in flight; the panic's text is logged without the secrets.
func (s *service) deliver(ctx context.Context, p Provider, d *Delivery, scrub scrubber) (result Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("provider panicked", "provider", d.ProviderID, "panic", scrub.scrub(fmt.Sprint(r)))
			err = fmt.Errorf("provider %q panicked", d.ProviderID)
		}
	}()
	result, err = p.Deliver(ctx, d)
	if err != nil && ctx.Err() != nil {
		return result, ctx.Err()
	}
	return result, err
}

func (s *service) TestConnection(ctx context.Context, req *pluginv1.TestConnectionRequest) (*pluginv1.TestConnectionResponse, error) {
	p, err := s.provider(req.GetProviderId())
	if err != nil {
		return nil, statusOf(err)
	}
	tester, ok := p.(ConnectionTester)
	if !ok {
		return nil, statusOf(ErrUnimplemented)
	}
	tr := &TestRequest{ProviderID: req.GetProviderId(), Kind: kindFrom(req.GetKind()),
		Config: rawOr(req.GetConfigJson(), "{}"), Connection: rawOr(req.GetConnectionJson(), "")}
	scrub := secrets(p, tr.Config, tr.Connection)
	result, err := tester.TestConnection(ctx, tr)
	var cfg *ConfigError
	switch {
	case errors.As(err, &cfg):
		return &pluginv1.TestConnectionResponse{Message: cfg.Error(), Diagnostics: diagnosticsTo(scrub.diagnostics(cfg.Diagnostics))}, nil
	case err != nil:
		return nil, statusOf(errors.New(scrub.scrub(err.Error())))
	}
	return &pluginv1.TestConnectionResponse{
		Success: result.Success, Message: scrub.scrub(result.Message), DetailsJson: scrub.scrub(string(result.Details)),
		Diagnostics: diagnosticsTo(scrub.diagnostics(result.Diagnostics)),
	}, nil
}

func (s *service) ValidateConfig(ctx context.Context, req *pluginv1.ValidateConfigRequest) (*pluginv1.ValidateConfigResponse, error) {
	p, err := s.provider(req.GetProviderId())
	if err != nil {
		return nil, statusOf(err)
	}
	validator, ok := p.(ConfigValidator)
	if !ok {
		return nil, statusOf(ErrUnimplemented)
	}
	config, connection := rawOr(req.GetConfigJson(), "{}"), rawOr(req.GetConnectionJson(), "")
	scrub := secrets(p, config, connection)
	diags, err := validator.ValidateConfig(ctx, kindFrom(req.GetKind()), config, connection)
	var cfg *ConfigError
	switch {
	case errors.As(err, &cfg):
		diags = cfg.Diagnostics
	case err != nil:
		return nil, statusOf(errors.New(scrub.scrub(err.Error())))
	}
	return &pluginv1.ValidateConfigResponse{Diagnostics: diagnosticsTo(scrub.diagnostics(diags))}, nil
}
