"""Deliver on the example plugin against a real local HTTP sink: body and headers as received,
status classification, in-band diagnostics for bad configs, and protocol errors."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from switchyard_plugin._pb import plugin_pb2 as pb
from switchyard_plugin.testing import PluginProcess

from .conftest import CALL_TIMEOUT, Reply, Sink, deliver_request


def test_deliver_posts_the_seed_body_with_headers(example: PluginProcess, sink: Sink) -> None:
    req = deliver_request({"url": sink.url, "token": "tok-123"}, delivery_id="del-9", attempt=2)
    answer = example.plugin.Deliver(req, timeout=CALL_TIMEOUT)
    assert answer.outcome == pb.OUTCOME_DELIVERED and answer.success
    assert (answer.external_id, answer.status_code, answer.error) == ("ext-1", 200, "")
    got = sink.next()
    assert (got.method, got.path) == ("POST", "/hook")
    assert got.headers["content-type"] == "application/json"
    assert got.headers["authorization"] == "Bearer tok-123"
    assert got.headers["x-delivery-id"] == "del-9"
    assert got.headers["x-event-type"] == "incident.incident.created"
    assert got.headers["user-agent"].startswith("switchyard-plugin-pyexample/")
    assert got.json() == {
        "id": "del-9",
        "eventType": "incident.incident.created",
        "timestamp": "2026-11-27T09:30:00.123Z",
        "subscription": {"id": "sub-42", "name": "On-call webhook"},
        "data": {"incidentId": "inc-7", "title": "API down"},
    }


def test_no_token_means_no_authorization_header(example: PluginProcess, sink: Sink) -> None:
    example.plugin.Deliver(deliver_request({"url": sink.url}), timeout=CALL_TIMEOUT)
    assert "authorization" not in sink.next().headers


@pytest.mark.parametrize(
    ("reply", "outcome", "retry_after_ms"),
    [
        (Reply(429, {"Retry-After": "7"}, b"slow down"), pb.OUTCOME_RATE_LIMITED, 7000),
        (Reply(503, {}, b""), pb.OUTCOME_RATE_LIMITED, 60000),
        (Reply(500, {}, b"oops"), pb.OUTCOME_RETRYABLE, None),
        (Reply(408, {}, b""), pb.OUTCOME_RETRYABLE, None),
        (Reply(410, {}, b"gone"), pb.OUTCOME_PERMANENT, None),
        (Reply(400, {}, b"bad"), pb.OUTCOME_PERMANENT, None),
        (Reply(204, {}, b""), pb.OUTCOME_DELIVERED, None),
    ],
)
def test_status_codes_are_classified(
    example: PluginProcess, sink: Sink, reply: Reply, outcome: int, retry_after_ms: int | None
) -> None:
    sink.reply = reply
    answer = example.plugin.Deliver(deliver_request({"url": sink.url}), timeout=CALL_TIMEOUT)
    assert answer.outcome == outcome
    assert answer.status_code == reply.status
    assert answer.success == (outcome == pb.OUTCOME_DELIVERED)
    if retry_after_ms is None:
        assert not answer.HasField("retry_after_ms")
    else:
        assert answer.retry_after_ms == retry_after_ms


def test_a_network_error_is_retryable(example: PluginProcess, sink: Sink) -> None:
    url = sink.url
    sink.close()  # nothing listens there any more
    answer = example.plugin.Deliver(deliver_request({"url": url}), timeout=CALL_TIMEOUT)
    assert answer.outcome == pb.OUTCOME_RETRYABLE and answer.status_code == 0
    assert "network error" in answer.error


def test_an_invalid_config_is_answered_in_band_with_json_pointers(example: PluginProcess, sink: Sink) -> None:
    config = {"token": "", "timeoutSeconds": 99, "extra/key": 1}
    answer = example.plugin.Deliver(deliver_request(config), timeout=CALL_TIMEOUT)
    assert answer.outcome == pb.OUTCOME_PERMANENT and not answer.success
    found = {d.json_path: d.message for d in answer.diagnostics}
    assert set(found) == {"/url", "/token", "/timeoutSeconds", "/extra~1key"}
    assert "required" in found["/url"]
    assert "secret" in found["/token"]
    assert sink.received.empty()


def test_a_bad_url_format_is_a_diagnostic(example: PluginProcess) -> None:
    answer = example.plugin.Deliver(deliver_request({"url": "not a url"}), timeout=CALL_TIMEOUT)
    assert [d.json_path for d in answer.diagnostics] == ["/url"]


def test_a_config_that_is_not_an_object_is_a_diagnostic_at_the_root(example: PluginProcess) -> None:
    req = deliver_request({})
    req.config_json = "[1, 2]"
    answer = example.plugin.Deliver(req, timeout=CALL_TIMEOUT)
    assert [d.json_path for d in answer.diagnostics] == [""]


def test_config_text_that_is_not_json_is_invalid_argument(example: PluginProcess) -> None:
    req = deliver_request({})
    req.config_json = "{nope"
    with pytest.raises(grpc.RpcError) as err:
        example.plugin.Deliver(req, timeout=CALL_TIMEOUT)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_missing_event_is_invalid_argument(example: PluginProcess, sink: Sink) -> None:
    req = deliver_request({"url": sink.url})
    req.ClearField("event")
    with pytest.raises(grpc.RpcError) as err:
        example.plugin.Deliver(req, timeout=CALL_TIMEOUT)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_an_unknown_provider_is_not_found(example: PluginProcess, sink: Sink) -> None:
    with pytest.raises(grpc.RpcError) as err:
        example.plugin.Deliver(deliver_request({"url": sink.url}, provider_id="nope"), timeout=CALL_TIMEOUT)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert "http-post" in (err.value.details() or "")


@pytest.mark.parametrize(
    "payload_json", ["", "{}", json.dumps({"a": [[[[[[{"b": 1}]]]]]]}), json.dumps({"blob": "x" * (1 << 20)})]
)
def test_odd_payloads_are_answered_cleanly(example: PluginProcess, sink: Sink, payload_json: str) -> None:
    req = deliver_request({"url": sink.url})
    req.event.payload_json = payload_json
    answer = example.plugin.Deliver(req, timeout=CALL_TIMEOUT)
    assert answer.outcome == pb.OUTCOME_DELIVERED
    assert sink.next().json()["data"] == (json.loads(payload_json) if payload_json else {})


def test_32_concurrent_deliveries_are_all_answered(example: PluginProcess, sink: Sink) -> None:
    def one(i: int) -> int:
        req = deliver_request({"url": sink.url}, delivery_id=f"del-{i}")
        return example.plugin.Deliver(req, timeout=CALL_TIMEOUT * 2).outcome

    with ThreadPoolExecutor(max_workers=32) as pool:
        outcomes = list(pool.map(one, range(32)))
    assert outcomes == [pb.OUTCOME_DELIVERED] * 32
    ids = sorted(sink.next().headers["x-delivery-id"] for _ in range(32))
    assert ids == sorted(f"del-{i}" for i in range(32))


def test_secrets_never_reach_stderr(example: PluginProcess, sink: Sink) -> None:
    marker = "S3CRET-MARKER-4711"
    example.plugin.Deliver(deliver_request({"url": sink.url, "token": marker}), timeout=CALL_TIMEOUT)
    bad = example.plugin.Deliver(
        deliver_request({"url": sink.url, "token": marker, "timeoutSeconds": "x"}), timeout=CALL_TIMEOUT
    )
    assert bad.diagnostics
    assert marker not in "".join(d.message for d in bad.diagnostics)
    assert marker not in example.stderr_text()
