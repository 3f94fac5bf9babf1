package switchyard

import (
	"encoding/json"
	"time"

	pluginv1 "github.com/switchyard-dev/switchyard/plugin-sdk/go/gen/switchyard/plugin/v1"
)

// Conversions between the wire messages and the SDK's Go types.

func deliveryFrom(req *pluginv1.DeliverRequest) *Delivery {
	ev := req.GetEvent()
	d := &Delivery{
		ProviderID: req.GetProviderId(),
		Event: Event{
			Type:       ev.GetEventType(),
			Payload:    rawOr(ev.GetPayloadJson(), "null"),
			DeliveryID: ev.GetDeliveryId(),
			EventID:    ev.GetEventId(),
			Attempt:    ev.GetAttempt(),
		},
		Subscription: Subscription{ID: req.GetSubscription().GetId(), Name: req.GetSubscription().GetName()},
		Config:       rawOr(req.GetConfigJson(), "{}"),
		Connection:   rawOr(req.GetConnectionJson(), ""),
	}
	if ts := ev.GetTimestamp(); ts != nil {
		d.Event.Timestamp = ts.AsTime()
	}
	if c := req.GetCorrelation(); c != nil && c.GetKey() != "" {
		d.Correlation = &Correlation{Key: c.GetKey()}
		for _, e := range c.GetEarlier() {
			d.Correlation.Earlier = append(d.Correlation.Earlier, CorrelatedDelivery{
				EventType: e.GetEventType(), ExternalID: e.GetExternalId(), State: e.GetState(),
				Delivered: e.GetDelivered(), EndedAt: e.GetEndedAt().AsTime(), DeliveryID: e.GetDeliveryId(),
			})
		}
	}
	return d
}

func rawOr(text, fallback string) json.RawMessage {
	if text == "" {
		if fallback == "" {
			return nil
		}
		return json.RawMessage(fallback)
	}
	return json.RawMessage(text)
}

func resultTo(r Result) *pluginv1.DeliverResponse {
	out := &pluginv1.DeliverResponse{
		Success:         r.Outcome == Delivered,
		ExternalId:      r.ExternalID,
		Error:           r.Error,
		Outcome:         outcomeTo(r.Outcome),
		Diagnostics:     diagnosticsTo(r.Diagnostics),
		State:           r.State,
		ResponseExcerpt: r.ResponseExcerpt,
	}
	if r.StatusCode > 0 && r.StatusCode < 1000 {
		out.StatusCode = uint32(r.StatusCode)
	}
	if r.RetryAfter > 0 {
		ms := uint64(r.RetryAfter / time.Millisecond)
		out.RetryAfterMs = &ms
	}
	return out
}

func outcomeTo(o Outcome) pluginv1.Outcome {
	switch o {
	case Delivered:
		return pluginv1.Outcome_OUTCOME_DELIVERED
	case Retryable:
		return pluginv1.Outcome_OUTCOME_RETRYABLE
	case RateLimited:
		return pluginv1.Outcome_OUTCOME_RATE_LIMITED
	default:
		// An unset outcome is a provider bug; permanent keeps it from retrying forever.
		return pluginv1.Outcome_OUTCOME_PERMANENT
	}
}

func diagnosticsTo(ds []Diagnostic) []*pluginv1.Diagnostic {
	out := make([]*pluginv1.Diagnostic, 0, len(ds))
	for _, d := range ds {
		out = append(out, &pluginv1.Diagnostic{JsonPath: d.Path, Message: d.Message})
	}
	return out
}

func kindFrom(k pluginv1.ConfigKind) ConfigKind {
	if k == pluginv1.ConfigKind_CONFIG_KIND_CONNECTION {
		return ConnectionConfig
	}
	return ProviderConfig
}

func describeProvider(p Provider) *pluginv1.Provider {
	info := p.Info()
	_, tests := p.(ConnectionTester)
	_, validates := p.(ConfigValidator)
	out := &pluginv1.Provider{
		Id:              info.ID,
		DisplayName:     info.DisplayName,
		Description:     info.Description,
		Icon:            info.Icon,
		ConfigSchema:    &pluginv1.VersionedSchema{Version: max(info.ConfigSchema.Version, 1), JsonSchema: info.ConfigSchema.JSON},
		SupportedEvents: info.SupportedEvents,
		Documentation: &pluginv1.Documentation{
			SetupGuide:      info.Docs.SetupGuide,
			ExamplePayload:  info.Docs.ExamplePayload,
			ExternalDocsUrl: info.Docs.ExternalDocsURL,
		},
		Capabilities: &pluginv1.Capabilities{TestConnection: tests, ValidateConfig: validates},
	}
	if s := info.ConnectionSchema; s != nil {
		out.ConnectionSchema = &pluginv1.VersionedSchema{Version: max(s.Version, 1), JsonSchema: s.JSON}
	}
	for _, h := range info.Docs.Headers {
		out.Documentation.Headers = append(out.Documentation.Headers, &pluginv1.HeaderDoc{Name: h.Name, Description: h.Description})
	}
	return out
}
