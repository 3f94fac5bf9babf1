"""A platform written in Python reaches the coordinator's Unix socket with grpcio on DEFAULT
channel options: ``grpc.insecure_channel("unix:<path>")`` and nothing else. grpcio (≥ 1.57)
sends the percent-encoded socket path as ``:authority``, which the HTTP/2 server refused with
RST_STREAM until the coordinator rewrote it (``coordinator/src/api/uds_authority.rs``).

Several calls share one channel, so later requests are sent with references to grpcio's
HPACK dynamic table (the ``:authority`` among them)."""

from __future__ import annotations

import json

import grpc
from conftest import CALL_TIMEOUT, Api, Coordinator

EVENT_TYPE = "incident.incident.created"


def test_list_providers_register_an_event_type_and_publish_on_default_options(
    api: Api, coordinator: Coordinator
) -> None:
    with grpc.insecure_channel(f"unix:{coordinator.socket}") as channel:
        providers = api.grpc("provider").ProviderServiceStub(channel)
        listed = providers.ListProviders(api.pb("provider").ListProvidersRequest(), timeout=CALL_TIMEOUT)
        assert "webhook.webhook" in [p.id for p in listed.providers]

        event_types = api.grpc("event_type").EventTypeServiceStub(channel)
        schema = {"type": "object", "required": ["incidentId"], "properties": {"incidentId": {"type": "string"}}}
        registered = event_types.RegisterEventType(
            api.pb("event_type").RegisterEventTypeRequest(
                event_type=api.pb("event_type").EventType(
                    id=EVENT_TYPE, display_name="Incident created", payload_schema_json=json.dumps(schema)
                )
            ),
            timeout=CALL_TIMEOUT,
        )
        assert registered.created
        assert registered.event_type.payload_paths == ["payload.incidentId"]
        catalogue = event_types.ListEventTypes(api.pb("event_type").ListEventTypesRequest(), timeout=CALL_TIMEOUT)
        # The coordinator's own operational event types (switchyard.*) are registered at start.
        assert [t.id for t in catalogue.event_types if not t.id.startswith("switchyard.")] == [EVENT_TYPE]

        events = api.grpc("event").EventServiceStub(channel)
        publish = api.pb("event").PublishEventRequest
        first = events.PublishEvent(
            publish(event_type=EVENT_TYPE, payload_json='{"incidentId": "inc-1"}', idempotency_key="k-1"),
            timeout=CALL_TIMEOUT,
        )
        again = events.PublishEvent(
            publish(event_type=EVENT_TYPE, payload_json='{"incidentId": "inc-1"}', idempotency_key="k-1"),
            timeout=CALL_TIMEOUT,
        )
        assert first.event_id and not first.duplicate
        assert (again.event_id, again.duplicate) == (first.event_id, True)


def test_the_coordinators_own_errors_reach_the_client(api: Api, coordinator: Coordinator) -> None:
    """Not a transport failure: the server parsed the request and answered with its status."""
    with grpc.insecure_channel(f"unix:{coordinator.socket}") as channel:
        events = api.grpc("event").EventServiceStub(channel)
        request = api.pb("event").PublishEventRequest(event_type="no.such.type", payload_json="{}")
        try:
            events.PublishEvent(request, timeout=CALL_TIMEOUT)
        except grpc.RpcError as err:
            assert err.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT), err
            assert "no.such.type" in err.details()
        else:
            raise AssertionError("publishing an unregistered event type succeeded")
