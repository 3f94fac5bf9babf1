"""ValidateConfig and Preview: derived from what a provider overrides, reached only after the
schema check, UNIMPLEMENTED for a provider that does not override them."""

from __future__ import annotations

import json

import grpc
import pytest

from switchyard_plugin._pb import plugin_pb2 as pb
from switchyard_plugin.testing import PluginProcess

from .conftest import CALL_TIMEOUT, deliver_request

CONNECTION = json.dumps({"baseUrl": "https://jira.example.com", "apiToken": "t0k"})


def validate(project: object) -> pb.ValidateConfigRequest:
    return pb.ValidateConfigRequest(
        provider_id="tracker",
        kind=pb.CONFIG_KIND_PROVIDER,
        config_json=json.dumps({"project": project}),
        connection_json=CONNECTION,
    )


def test_the_capabilities_follow_the_overrides(fixture_plugin: PluginProcess) -> None:
    d = fixture_plugin.plugin.Describe(pb.DescribeRequest(), timeout=CALL_TIMEOUT)
    caps = {p.id: (p.capabilities.validate_config, p.capabilities.preview) for p in d.providers}
    assert caps == {
        "tracker": (True, True),
        "threads": (False, False),
        "crashing": (False, False),
        "slow": (False, False),
    }


def test_validate_config_runs_after_the_schema(fixture_plugin: PluginProcess) -> None:
    call = fixture_plugin.plugin.ValidateConfig
    assert not call(validate("OPS"), timeout=CALL_TIMEOUT).diagnostics
    assert [d.json_path for d in call(validate("ops"), timeout=CALL_TIMEOUT).diagnostics] == ["/project"]
    # A schema problem is reported as such, and the provider's own check never sees it.
    bad = call(validate(7), timeout=CALL_TIMEOUT).diagnostics
    assert [d.json_path for d in bad] == ["/project"] and "upper case" not in bad[0].message


def test_preview_renders_without_sending(fixture_plugin: PluginProcess) -> None:
    delivery = deliver_request({"project": "OPS"}, provider_id="tracker")
    delivery.connection_json = CONNECTION
    got = fixture_plugin.plugin.Preview(pb.PreviewRequest(delivery=delivery), timeout=CALL_TIMEOUT)
    assert not got.diagnostics
    assert got.request.url == "https://jira.example.com/rest/issue"
    assert [(h.name, h.value) for h in got.request.headers] == [("authorization", "[REDACTED]")]
    assert json.loads(got.request.body) == {"project": "OPS", "delivery": "del-1"}
    assert "t0k" not in str(got)
    invalid = deliver_request({}, provider_id="tracker")
    invalid.connection_json = CONNECTION
    got = fixture_plugin.plugin.Preview(pb.PreviewRequest(delivery=invalid), timeout=CALL_TIMEOUT)
    assert not got.HasField("request") and [d.json_path for d in got.diagnostics] == ["/project"]


def test_undeclared_preview_and_validation_are_unimplemented(fixture_plugin: PluginProcess) -> None:
    p = fixture_plugin.plugin
    for call, req in [
        (p.Preview, pb.PreviewRequest(delivery=deliver_request({}, provider_id="crashing"))),
        (p.ValidateConfig, pb.ValidateConfigRequest(provider_id="crashing", kind=pb.CONFIG_KIND_PROVIDER)),
    ]:
        with pytest.raises(grpc.RpcError) as err:
            call(req, timeout=CALL_TIMEOUT)
        assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    with pytest.raises(grpc.RpcError) as err:
        p.Preview(pb.PreviewRequest(), timeout=CALL_TIMEOUT)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
