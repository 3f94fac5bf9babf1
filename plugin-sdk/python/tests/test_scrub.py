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
    config = {"url": "u", "auth": {"username": "ops", "password": "pw-123456"}, "headers": [{"name": "n", "value": "v-1234"}]}
    assert set(secret_pointers(SCHEMA, config)) == {("auth", "password"), ("headers", 0, "value")}


def test_for_config_hides_basic_auth_built_from_the_other_strings() -> None:
    config = {"url": "http://x", "auth": {"username": "ops-user", "password": "hunter2-pw"}}
    basic = base64.b64encode(b"ops-user:hunter2-pw").decode()
    assert for_config(SCHEMA, config).scrub(f"Basic {basic} ops-user") == "Basic [REDACTED] ops-user"
