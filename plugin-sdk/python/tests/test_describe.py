"""Describe on the example plugin: identity, schemas, documentation, derived capabilities."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator

from switchyard_plugin._pb import plugin_pb2 as pb
from switchyard_plugin.testing import PluginProcess

from .conftest import CALL_TIMEOUT


def test_describe_lists_the_http_post_provider(example: PluginProcess) -> None:
    d = example.plugin.Describe(pb.DescribeRequest(), timeout=CALL_TIMEOUT)
    assert (d.plugin_id, d.plugin_version, d.protocol_version) == ("pyexample", "0.1.0", 1)
    assert [p.id for p in d.providers] == ["http-post", "channel-post"]
    p = d.providers[0]
    assert p.id == "http-post" and p.display_name and p.icon == "send"
    schema = json.loads(p.config_schema.json_schema)
    Draft202012Validator.check_schema(schema)
    assert p.config_schema.version == 2
    assert schema["properties"]["url"]["format"] == "uri"
    assert schema["properties"]["token"]["x-secret"] is True
    assert not p.HasField("connection_schema")
    json.loads(p.documentation.example_payload)
    assert "X-Delivery-Id" in [h.name for h in p.documentation.headers]
    caps = p.capabilities
    assert (caps.test_connection, caps.connection_options, caps.migrate_config) == (True, False, True)


def test_describe_lists_the_connection_based_channel_post_provider(example: PluginProcess) -> None:
    p = example.plugin.Describe(pb.DescribeRequest(), timeout=CALL_TIMEOUT).providers[1]
    connection = json.loads(p.connection_schema.json_schema)
    assert p.connection_schema.version == 1 and connection["properties"]["apiToken"]["x-secret"] is True
    config = json.loads(p.config_schema.json_schema)
    assert config["properties"]["connectionId"]["x-hidden"] is True
    assert config["properties"]["mention"]["x-depends-on"] == ["channel"]
    assert list(p.supported_events) == [
        "incident.incident.created",
        "incident.incident.resolved",
        "maintenance.maintenance.created",
    ]
    caps = p.capabilities
    assert (caps.test_connection, caps.connection_options, caps.migrate_config) == (True, True, False)
    assert (caps.validate_config, caps.preview) == (True, True)


def test_describe_answers_the_same_every_time(example: PluginProcess) -> None:
    first = example.plugin.Describe(pb.DescribeRequest(), timeout=CALL_TIMEOUT)
    second = example.plugin.Describe(pb.DescribeRequest(), timeout=CALL_TIMEOUT)
    assert first == second


def test_capabilities_follow_what_a_provider_overrides(fixture_plugin: PluginProcess) -> None:
    d = fixture_plugin.plugin.Describe(pb.DescribeRequest(), timeout=CALL_TIMEOUT)
    by_id = {p.id: p for p in d.providers}
    tracker = by_id["tracker"].capabilities
    assert (tracker.test_connection, tracker.connection_options, tracker.migrate_config) == (False, True, False)
    assert by_id["tracker"].HasField("connection_schema")
    assert by_id["crashing"].capabilities == pb.Capabilities()
