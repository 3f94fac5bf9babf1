"""TestConnection, GetConnectionOptions and MigrateConfig: answered when declared, UNIMPLEMENTED
when not, NOT_FOUND for unknown providers and resolvers; and provider bugs become INTERNAL."""

from __future__ import annotations

import json

import grpc
import pytest

from switchyard_plugin._pb import plugin_pb2 as pb
from switchyard_plugin.testing import PluginProcess

from .conftest import CALL_TIMEOUT, Reply, Sink, deliver_request


def code_of(call, request) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as err:
        call(request, timeout=CALL_TIMEOUT)
    return err.value.code()


def test_test_connection_reaches_the_endpoint(example: PluginProcess, sink: Sink) -> None:
    req = pb.TestConnectionRequest(
        provider_id="http-post", kind=pb.CONFIG_KIND_PROVIDER, config_json=json.dumps({"url": sink.url})
    )
    answer = example.plugin.TestConnection(req, timeout=CALL_TIMEOUT)
    assert answer.success and "200" in answer.message
    assert json.loads(answer.details_json) == {"status": 200}
    assert sink.next().method == "HEAD"
    sink.reply = Reply(401, {}, b"")
    assert not example.plugin.TestConnection(req, timeout=CALL_TIMEOUT).success


def test_test_connection_with_a_bad_config_gives_diagnostics(example: PluginProcess) -> None:
    req = pb.TestConnectionRequest(provider_id="http-post", kind=pb.CONFIG_KIND_PROVIDER, config_json="{}")
    answer = example.plugin.TestConnection(req, timeout=CALL_TIMEOUT)
    assert not answer.success and [d.json_path for d in answer.diagnostics] == ["/url"]


def test_undeclared_capabilities_are_unimplemented(example: PluginProcess, fixture_plugin: PluginProcess) -> None:
    options = pb.GetConnectionOptionsRequest(provider_id="http-post", resolver_name="x")
    assert code_of(example.plugin.GetConnectionOptions, options) == grpc.StatusCode.UNIMPLEMENTED
    test = pb.TestConnectionRequest(provider_id="crashing", kind=pb.CONFIG_KIND_PROVIDER, config_json="{}")
    assert code_of(fixture_plugin.plugin.TestConnection, test) == grpc.StatusCode.UNIMPLEMENTED
    migrate = pb.MigrateConfigRequest(
        provider_id="crashing", kind=pb.CONFIG_KIND_PROVIDER, from_version=1, config_json="{}"
    )
    assert code_of(fixture_plugin.plugin.MigrateConfig, migrate) == grpc.StatusCode.UNIMPLEMENTED


def test_unknown_providers_are_not_found_on_every_rpc(example: PluginProcess) -> None:
    p = example.plugin
    assert (
        code_of(p.TestConnection, pb.TestConnectionRequest(provider_id="nope", kind=pb.CONFIG_KIND_PROVIDER))
        == grpc.StatusCode.NOT_FOUND
    )
    assert (
        code_of(p.GetConnectionOptions, pb.GetConnectionOptionsRequest(provider_id="nope")) == grpc.StatusCode.NOT_FOUND
    )
    assert (
        code_of(p.MigrateConfig, pb.MigrateConfigRequest(provider_id="nope", kind=pb.CONFIG_KIND_PROVIDER))
        == grpc.StatusCode.NOT_FOUND
    )


def test_connection_options_resolve_and_unknown_resolvers_are_not_found(fixture_plugin: PluginProcess) -> None:
    conn = json.dumps({"baseUrl": "https://jira.example.com", "apiToken": "t"})
    ask = lambda name, ctx="{}": pb.GetConnectionOptionsRequest(  # noqa: E731
        provider_id="tracker", resolver_name=name, connection_json=conn, context_json=ctx
    )
    got = fixture_plugin.plugin.GetConnectionOptions(ask("projectOptions"), timeout=CALL_TIMEOUT)
    assert [(o.value, o.label, o.description) for o in got.options] == [
        ("OPS", "Operations", ""),
        ("DEV", "Development", "code"),
    ]
    got = fixture_plugin.plugin.GetConnectionOptions(
        ask("issueTypeOptions", '{"project": "OPS"}'), timeout=CALL_TIMEOUT
    )
    assert [o.value for o in got.options] == ["OPS-bug"]
    assert code_of(fixture_plugin.plugin.GetConnectionOptions, ask("noSuchResolver")) == grpc.StatusCode.NOT_FOUND
    assert code_of(fixture_plugin.plugin.GetConnectionOptions, ask("legacyOptions")) == grpc.StatusCode.NOT_FOUND


def test_connection_options_with_a_bad_connection_give_diagnostics(fixture_plugin: PluginProcess) -> None:
    req = pb.GetConnectionOptionsRequest(provider_id="tracker", resolver_name="projectOptions", connection_json="{}")
    got = fixture_plugin.plugin.GetConnectionOptions(req, timeout=CALL_TIMEOUT)
    assert not got.options
    assert sorted(d.json_path for d in got.diagnostics) == ["/apiToken", "/baseUrl"]


def test_migrate_config_upgrades_version_1(example: PluginProcess) -> None:
    old = {"endpoint": "https://example.com/hook", "bearerToken": "t", "timeoutMs": 2500}
    req = pb.MigrateConfigRequest(
        provider_id="http-post", kind=pb.CONFIG_KIND_PROVIDER, from_version=1, config_json=json.dumps(old)
    )
    got = example.plugin.MigrateConfig(req, timeout=CALL_TIMEOUT)
    assert got.version == 2 and not got.diagnostics
    assert json.loads(got.config_json) == {"url": "https://example.com/hook", "token": "t", "timeoutSeconds": 3}


@pytest.mark.parametrize(
    ("from_version", "config", "path"),
    [(1, {"bearerToken": "t"}, "/endpoint"), (3, {}, ""), (0, {}, ""), (1, {"endpoint": "not a url"}, "/url")],
)
def test_migrate_config_problems_are_diagnostics(
    example: PluginProcess, from_version: int, config: dict, path: str
) -> None:
    req = pb.MigrateConfigRequest(
        provider_id="http-post", kind=pb.CONFIG_KIND_PROVIDER, from_version=from_version, config_json=json.dumps(config)
    )
    got = example.plugin.MigrateConfig(req, timeout=CALL_TIMEOUT)
    assert got.config_json == "" and [d.json_path for d in got.diagnostics] == [path]


def test_a_provider_that_raises_gives_internal_and_the_plugin_lives_on(fixture_plugin: PluginProcess) -> None:
    req = deliver_request({}, provider_id="crashing")
    assert code_of(fixture_plugin.plugin.Deliver, req) == grpc.StatusCode.INTERNAL
    d = fixture_plugin.plugin.Describe(pb.DescribeRequest(), timeout=CALL_TIMEOUT)
    assert d.plugin_id == "sdk-fixture"


def test_connection_configs_are_validated_on_deliver(fixture_plugin: PluginProcess) -> None:
    req = deliver_request({"project": "OPS"}, provider_id="tracker")
    req.connection_json = json.dumps({"baseUrl": "https://x.example"})
    answer = fixture_plugin.plugin.Deliver(req, timeout=CALL_TIMEOUT)
    assert [d.json_path for d in answer.diagnostics] == ["/apiToken"]
    req.connection_json = json.dumps({"baseUrl": "https://x.example", "apiToken": "t"})
    answer = fixture_plugin.plugin.Deliver(req, timeout=CALL_TIMEOUT)
    assert answer.outcome == pb.OUTCOME_DELIVERED and answer.external_id == "OPS-1"


def test_a_cancelled_call_does_not_wedge_the_plugin(fixture_plugin: PluginProcess) -> None:
    future = fixture_plugin.plugin.Deliver.future(deliver_request({}, provider_id="slow"), timeout=CALL_TIMEOUT)
    future.cancel()
    assert future.cancelled()
    d = fixture_plugin.plugin.Describe(pb.DescribeRequest(), timeout=CALL_TIMEOUT)
    assert d.plugin_id == "sdk-fixture"
