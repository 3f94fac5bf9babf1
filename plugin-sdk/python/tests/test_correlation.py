"""Correlation through a real plugin process: the context carries the event id and what the
earlier deliveries of the key left behind, and a delivered result's state goes back to the
host (a failed one's does not)."""

from __future__ import annotations

import json

from google.protobuf.timestamp_pb2 import Timestamp

from switchyard_plugin._pb import plugin_pb2 as pb
from switchyard_plugin.testing import PluginProcess

from .conftest import CALL_TIMEOUT, deliver_request


def _earlier(event_type: str, state: str, delivered: bool) -> pb.CorrelatedDelivery:
    ended = Timestamp()
    ended.FromJsonString("2026-11-27T09:31:00Z")
    return pb.CorrelatedDelivery(
        event_type=event_type, external_id="ext-1", state=state, delivered=delivered, ended_at=ended, delivery_id="d-0"
    )


def test_the_first_delivery_of_a_key_returns_state_and_later_ones_find_it(fixture_plugin: PluginProcess) -> None:
    first = deliver_request({}, provider_id="threads", delivery_id="d-1")
    first.event.event_id = "evt-1"
    first.correlation.CopyFrom(pb.Correlation(key="inc-7"))
    answer = fixture_plugin.plugin.Deliver(first, timeout=CALL_TIMEOUT)
    assert answer.outcome == pb.OUTCOME_DELIVERED
    assert json.loads(answer.external_id) == {"eventId": "evt-1", "key": "inc-7", "thread": None, "earlier": []}
    assert answer.state == "thread-of-d-1"

    later = deliver_request({}, provider_id="threads", event_type="incident.incident.resolved")
    later.correlation.CopyFrom(
        pb.Correlation(
            key="inc-7",
            earlier=[
                _earlier("incident.incident.updated", "", False),
                _earlier("incident.incident.created", "thread-of-d-1", True),
            ],
        )
    )
    answer = fixture_plugin.plugin.Deliver(later, timeout=CALL_TIMEOUT)
    told = json.loads(answer.external_id)
    assert told["thread"] == "thread-of-d-1"
    assert told["earlier"] == ["incident.incident.updated", "incident.incident.created"]
    assert answer.state == ""


def test_without_a_correlation_the_context_has_none(fixture_plugin: PluginProcess) -> None:
    answer = fixture_plugin.plugin.Deliver(deliver_request({}, provider_id="threads"), timeout=CALL_TIMEOUT)
    assert json.loads(answer.external_id)["key"] is None
