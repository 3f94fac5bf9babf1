"""The example's connection-based provider ``channel-post``: delivery through the connection,
dropdown options from the API (one depending on another field), and in-band problems."""

from __future__ import annotations

import json

from switchyard_plugin._pb import plugin_pb2 as pb
from switchyard_plugin.testing import PluginProcess

from .conftest import CALL_TIMEOUT, Reply, Sink, deliver_request

CONFIG = {"connectionId": "conn-1", "channel": "ops room", "mention": "alice"}


def connection(sink: Sink, token: str = "api-tok") -> str:
    return json.dumps({"baseUrl": sink.url.removesuffix("/hook") + "/api/", "apiToken": token})


def test_delivers_a_message_to_the_channel_through_the_connection(example: PluginProcess, sink: Sink) -> None:
    req = deliver_request(CONFIG, provider_id="channel-post", delivery_id="del-3")
    req.connection_json = connection(sink)
    answer = example.plugin.Deliver(req, timeout=CALL_TIMEOUT)
    assert answer.outcome == pb.OUTCOME_DELIVERED and answer.external_id == "ext-1"
    got = sink.next()
    assert (got.method, got.path) == ("POST", "/api/channels/ops%20room/messages")
    assert got.headers["authorization"] == "Bearer api-tok"
    assert got.headers["x-delivery-id"] == "del-3"
    body = got.json()
    assert body["text"] == "[incident.incident.created] API down" and body["mention"] == "alice"
    assert body["event"]["data"] == {"incidentId": "inc-7", "title": "API down"}


def test_the_message_text_comes_from_its_template(example: PluginProcess, sink: Sink) -> None:
    config = {**CONFIG, "textTemplate": "*{{ payload.title | upper }}* for {{subscriptionName}} ({{ event.attempt }})"}
    req = deliver_request(config, provider_id="channel-post", attempt=3)
    req.connection_json = connection(sink)
    assert example.plugin.Deliver(req, timeout=CALL_TIMEOUT).outcome == pb.OUTCOME_DELIVERED
    assert sink.next().json()["text"] == "*API DOWN* for On-call webhook (3)"


def test_a_template_failing_to_render_is_permanent_names_its_field_and_sends_nothing(
    example: PluginProcess, sink: Sink
) -> None:
    config = {**CONFIG, "textTemplate": "{{ payload.severity | required }}"}
    req = deliver_request(config, provider_id="channel-post")
    req.connection_json = connection(sink)
    answer = example.plugin.Deliver(req, timeout=CALL_TIMEOUT)
    assert answer.outcome == pb.OUTCOME_PERMANENT
    assert answer.error.startswith("the template in /textTemplate failed to render: "), answer.error
    assert "a required value is missing" in answer.error
    assert sink.received.empty()


def test_a_template_that_does_not_compile_is_refused_at_save_time(example: PluginProcess, sink: Sink) -> None:
    def validate(template: str) -> list[tuple[str, str]]:
        req = pb.ValidateConfigRequest(
            provider_id="channel-post",
            kind=pb.CONFIG_KIND_PROVIDER,
            config_json=json.dumps({**CONFIG, "textTemplate": template}),
            connection_json=connection(sink),
        )
        answer = example.plugin.ValidateConfig(req, timeout=CALL_TIMEOUT)
        return [(d.json_path, d.message) for d in answer.diagnostics]

    assert validate("{{ payload.title }}") == []
    [(path, message)] = validate("ok\n{% if payload.title %}unclosed")
    assert path == "/textTemplate"
    assert message.startswith("the template does not compile: syntax error") and "line 2" in message
    [(path, message)] = validate('{% include "other" %}')
    assert (path, message) == (
        "/textTemplate",
        "the template does not compile: syntax error: unknown statement include (line 1)",
    )
    assert sink.received.empty()


def test_an_unsupported_event_is_permanent_and_sends_nothing(example: PluginProcess, sink: Sink) -> None:
    req = deliver_request(CONFIG, provider_id="channel-post", event_type="healthcheck.healthcheck.system.degraded")
    req.connection_json = connection(sink)
    answer = example.plugin.Deliver(req, timeout=CALL_TIMEOUT)
    assert answer.outcome == pb.OUTCOME_PERMANENT and "does not handle" in answer.error
    assert sink.received.empty()


def test_without_a_connection_the_delivery_is_permanent(example: PluginProcess) -> None:
    answer = example.plugin.Deliver(deliver_request(CONFIG, provider_id="channel-post"), timeout=CALL_TIMEOUT)
    assert answer.outcome == pb.OUTCOME_PERMANENT


def options(
    example: PluginProcess, sink: Sink, resolver: str, form: dict, token: str = "api-tok"
) -> pb.GetConnectionOptionsResponse:
    req = pb.GetConnectionOptionsRequest(
        provider_id="channel-post",
        resolver_name=resolver,
        connection_json=connection(sink, token),
        context_json=json.dumps(form),
    )
    return example.plugin.GetConnectionOptions(req, timeout=CALL_TIMEOUT)


def test_channel_options_come_from_the_api(example: PluginProcess, sink: Sink) -> None:
    sink.reply = Reply(200, {}, b'[{"id": "c1", "name": "Ops"}, {"id": 2}, "junk"]')
    got = options(example, sink, "channels", {})
    assert [(o.value, o.label) for o in got.options] == [("c1", "Ops"), ("2", "2")]
    seen = sink.next()
    assert (seen.method, seen.path, seen.headers["authorization"]) == ("GET", "/api/channels", "Bearer api-tok")


def test_member_options_depend_on_the_chosen_channel(example: PluginProcess, sink: Sink) -> None:
    assert not options(example, sink, "members", {}).options
    assert sink.received.empty()
    sink.reply = Reply(200, {}, b'[{"id": "u1", "name": "Alice"}]')
    got = options(example, sink, "members", {"channel": "c1"})
    assert [o.label for o in got.options] == ["Alice"]
    assert sink.next().path == "/api/channels/c1/members"


def test_option_problems_are_answered_in_band(example: PluginProcess, sink: Sink) -> None:
    sink.reply = Reply(401, {}, b"")
    got = options(example, sink, "channels", {}, token="wrong-token")
    assert [d.json_path for d in got.diagnostics] == ["/apiToken"] and not got.options
    assert "wrong-token" not in got.diagnostics[0].message
    sink.reply = Reply(200, {}, b'{"id": "1"}')
    got = options(example, sink, "channels", {})
    assert [d.json_path for d in got.diagnostics] == ["/baseUrl"]
