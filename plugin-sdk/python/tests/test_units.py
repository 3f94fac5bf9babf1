"""Pure helpers: Retry-After parsing, status classification, external ids, JSON Pointers,
config validation (secrets never quoted, defaults filled) and hclog formatting."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone

import pytest

from switchyard_plugin import DeliveryResult, Documentation, Outcome, VersionedSchema
from switchyard_plugin.config import ConfigValidator, json_pointer, resolver_names
from switchyard_plugin.hclog import format_record, hclog_level
from switchyard_plugin.http import classify_status, external_id_from, parse_retry_after
from switchyard_plugin.provider import Provider
from switchyard_plugin.service import PluginDefinitionError, validate_definition

NOW = datetime(2026, 11, 27, 9, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Fri, 27 Nov 2026 09:01:30 GMT", 90.0),
        ("Fri, 27 Nov 2026 08:00:00 GMT", 0.0),
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


def test_parse_retry_after_defaults_to_the_current_time() -> None:
    soon = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 3000 < (parse_retry_after(soon) or 0) <= 3600


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.DELIVERED),
        (201, Outcome.DELIVERED),
        (299, Outcome.DELIVERED),
        (429, Outcome.RATE_LIMITED),
        (503, Outcome.RATE_LIMITED),
        (500, Outcome.RETRYABLE),
        (502, Outcome.RETRYABLE),
        (504, Outcome.RETRYABLE),
        (408, Outcome.RETRYABLE),
        (410, Outcome.PERMANENT),
        (404, Outcome.PERMANENT),
        (400, Outcome.PERMANENT),
        (301, Outcome.PERMANENT),
    ],
)
def test_classify_status(status: int, outcome: Outcome) -> None:
    result = classify_status(status)
    assert result.outcome is outcome and result.status_code == status


def test_rate_limits_honour_retry_after_and_go_to_the_wire_in_ms() -> None:
    msg = classify_status(429, "3").to_proto()
    assert msg.retry_after_ms == 3000 and not msg.success
    assert classify_status(503).retry_after == 60.0


def test_external_id_follows_id_then_external_id_then_message_id() -> None:
    assert external_id_from(b'{"id": 5, "externalId": "e"}') == "5"
    assert external_id_from(b'{"externalId": "e", "messageId": "m"}') == "e"
    assert external_id_from(b'{"messageId": "m"}') == "m"
    assert external_id_from(b'{"id": true}') is None
    assert external_id_from(b"ok") is None
    assert classify_status(201, None, b'{"key": "x", "id": "10001"}').external_id == "10001"


def test_json_pointer_escapes() -> None:
    assert json_pointer(["a/b", "c~d", 0]) == "/a~1b/c~0d/0"
    assert json_pointer([]) == ""


SCHEMA = {
    "type": "object",
    "properties": {
        "token": {"type": "string", "minLength": 10, "x-secret": True},
        "auth": {"type": "object", "properties": {"password": {"type": "string", "x-secret": True}}},
        "retries": {"type": "integer", "default": 3},
        "nested": {"type": "object", "properties": {"level": {"type": "string", "default": "info"}}, "default": {}},
        "list": {"type": "array", "items": {"type": "integer"}},
    },
    "required": ["token"],
}


def test_validation_reports_every_problem_with_its_pointer_and_never_quotes_secrets() -> None:
    v = ConfigValidator(SCHEMA)
    diags = v.validate({"token": "short-pw", "auth": "pw-in-a-string?", "list": [1, "two"]})
    paths = [d.json_path for d in diags]
    assert paths == ["/auth", "/list/1", "/token"]
    assert all("short-pw" not in d.message for d in diags)
    diags = v.validate({"auth": {"password": 42}})
    assert [d.json_path for d in diags] == ["/auth/password", "/token"]
    assert "42" not in diags[0].message


def test_validation_of_containers_does_not_quote_their_content() -> None:
    diags = ConfigValidator({"type": "array"}).validate({"token": "hunter2"})
    assert [d.json_path for d in diags] == [""] and "hunter2" not in diags[0].message


def test_defaults_are_filled_recursively() -> None:
    got = ConfigValidator(SCHEMA).with_defaults({"token": "x" * 10})
    assert got == {"token": "x" * 10, "retries": 3, "nested": {"level": "info"}}


def test_resolver_names_are_collected_from_the_whole_schema() -> None:
    schema = {"properties": {"a": {"x-options-resolver": "one"}, "b": {"items": {"x-options-resolver": "two"}}}}
    assert resolver_names(schema) == {"one", "two"}


def test_hclog_lines_carry_level_message_timestamp_and_fields() -> None:
    record = logging.LogRecord("mod", logging.WARNING, __file__, 1, "hello %s", ("world",), None)
    record.status = 503  # what extra={"status": 503} does
    line = json.loads(format_record(record))
    assert line["@level"] == "warn" and line["@message"] == "hello world" and line["status"] == 503
    assert line["@module"] == "mod"
    datetime.strptime(line["@timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert [hclog_level(n) for n in (5, 10, 20, 30, 40, 50)] == ["trace", "debug", "info", "warn", "error", "error"]


def test_invalid_definitions_are_refused_with_the_provider_named() -> None:
    class Bad(Provider):
        id = "bad"
        display_name = "Bad"
        config_schema = VersionedSchema(1, {"type": "no-such-type"})

        def deliver(self, ctx):  # type: ignore[no-untyped-def]
            return DeliveryResult.delivered()

    with pytest.raises(PluginDefinitionError, match="provider 'bad'.*config_schema"):
        validate_definition("p", [Bad()])
    with pytest.raises(PluginDefinitionError, match="plugin id"):
        validate_definition("Not_An_Id", [])
    good = Bad()
    good.config_schema = VersionedSchema(1, {"type": "object"})
    with pytest.raises(PluginDefinitionError, match="used twice"):
        validate_definition("p", [good, good])


@pytest.mark.parametrize(
    ("attribute", "value", "complaint"),
    [
        ("display_name", " ", "display_name is required"),
        ("supported_events", ["Incident Created"], "supported event"),
        ("documentation", Documentation(example_payload="{not json"), "example_payload is not JSON"),
        ("connection_schema", VersionedSchema(0, {}), r"connection_schema.version must be 1"),
    ],
)
def test_definition_mistakes_are_named(attribute: str, value: object, complaint: str) -> None:
    class P(Provider):
        id = "p"
        display_name = "P"
        config_schema = VersionedSchema(1, {"type": "object"})

    provider = P()
    setattr(provider, attribute, value)
    with pytest.raises(PluginDefinitionError, match=complaint):
        validate_definition("plugin", [provider])
    assert validate_definition("plugin", [P()]).keys() == {"p"}
