"""The scrubber against the vectors shared with the Rust crate (``plugin-sdk/scrub/vectors.json``),
plus the schema walk that finds a config's secrets."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from switchyard_plugin.scrub import Scrubber, for_config, secret_pointers

VECTORS = json.loads((Path(__file__).resolve().parents[2] / "scrub" / "vectors.json").read_text("utf-8"))


@pytest.mark.parametrize("case", VECTORS, ids=[c["name"] for c in VECTORS])
def test_shared_vector(case: dict) -> None:
    assert Scrubber(case["secrets"], case["others"]).scrub(case["input"]) == case["expected"]


def test_the_vectors_file_has_its_cases() -> None:
    assert len(VECTORS) >= 10


SCHEMA = {
    "type": "object",
    "properties": {
        "url": {"type": "string"},
        "auth": {"$ref": "#/$defs/Auth"},
        "headers": {"type": "array", "items": {"$ref": "#/$defs/Header"}},
    },
    "$defs": {
        "Auth": {
            "oneOf": [
                {"properties": {"type": {"const": "bearer"}, "token": {"type": "string", "x-secret": True}}},
                {"properties": {"username": {"type": "string"}, "password": {"type": "string", "x-secret": True}}},
            ]
        },
        "Header": {"properties": {"name": {"type": "string"}, "value": {"type": "string", "x-secret": True}}},
    },
}


def test_secret_pointers_follow_refs_branches_and_items() -> None:
    config = {
        "url": "u",
        "auth": {"username": "ops", "password": "pw-123456"},
        "headers": [{"name": "n", "value": "v-1234"}],
    }
    assert set(secret_pointers(SCHEMA, config)) == {("auth", "password"), ("headers", 0, "value")}


def test_for_config_hides_basic_auth_built_from_the_other_strings() -> None:
    config = {"url": "http://x", "auth": {"username": "ops-user", "password": "hunter2-pw"}}
    basic = base64.b64encode(b"ops-user:hunter2-pw").decode()
    assert for_config(SCHEMA, config).scrub(f"Basic {basic} ops-user") == "Basic [REDACTED] ops-user"


def test_log_lines_written_during_a_call_are_scrubbed() -> None:
    import json as _json
    import logging

    from switchyard_plugin.hclog import format_record
    from switchyard_plugin.scrub import active

    record = logging.LogRecord("p", logging.WARNING, __file__, 1, "receiver said %s", ("you sent log-canary-77",), None)
    record.body = "echo: log-canary-77"
    with active(Scrubber(["log-canary-77"])):
        line = _json.loads(format_record(record))
    assert line["@message"] == "receiver said you sent [REDACTED]"
    assert line["body"] == "echo: [REDACTED]"
    assert "log-canary-77" in _json.loads(format_record(record))["body"], "only while the call runs"


def test_an_http_error_excerpt_is_scrubbed_before_it_is_cut() -> None:
    from switchyard_plugin.http import ERROR_BODY_EXCERPT, classify_status
    from switchyard_plugin.scrub import active

    secret = "cut-canary-0123456789"
    body = ("x" * (ERROR_BODY_EXCERPT - 5) + secret).encode()
    with active(Scrubber([secret])):
        error = classify_status(400, None, body).error
    assert "cut-c" not in error and error.endswith("x[REDA"), error
