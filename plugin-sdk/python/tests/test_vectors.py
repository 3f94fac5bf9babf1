"""The shared vectors at the repository's ``tests/vectors/``, which the Rust SDK's
``plugin-sdk/rust/tests/vectors.rs`` runs too, so both SDKs provably agree: every template
vector (output, or error kind and the words of its message), every one-line field, every
address verdict, refusal text and allow-list parse. One pytest case per vector."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from switchyard_plugin import net_policy
from switchyard_plugin.net_policy import NetworkPolicy, PolicyError, Refusal
from switchyard_plugin.provider import CallInfo, DeliveryContext, Event, Subscription
from switchyard_plugin.templates import Limits, Template, TemplateCache, TemplateError

VECTORS = Path(__file__).resolve().parents[3] / "tests" / "vectors"


def _load(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


TEMPLATES = _load("templates.json")
NET = _load("net_policy.json")


def _ids(cases: list[dict[str, Any]], key: str) -> list[str]:
    return [str(c.get(key)) + (f" [{c['allow']}]" if c.get("allow") else "") for c in cases]


# === templates ===


def _context(case: dict[str, Any]) -> Any:
    given = case.get("context")
    if given is None:
        return TEMPLATES["contexts"]["default"]
    return TEMPLATES["contexts"][given] if isinstance(given, str) else given


@pytest.mark.parametrize("case", TEMPLATES["cases"], ids=_ids(TEMPLATES["cases"], "name"))
def test_template_vector(case: dict[str, Any]) -> None:
    path = case.get("path", "/template")
    limits = Limits(**case.get("limits", {}))
    try:
        out = Template.compile(path, case["template"], limits).render(_context(case))
    except TemplateError as err:
        assert "error" in case, f"failed: {err}"
        assert (err.kind, err.path, err.diagnostic().json_path) == (case["error"], path, path), str(err)
        for words in case.get("message_contains", []):
            assert words in str(err), f"{str(err)!r} lacks {words!r}"
        return
    assert "error" not in case, f"rendered {out!r}, want a {case['error']} error"
    assert out == case["output"]


def _delivery(case: dict[str, Any]) -> DeliveryContext:
    event = Event(
        event_type=case["event_type"],
        payload=case["payload"],
        timestamp=datetime(1970, 1, 1, tzinfo=timezone.utc),
        delivery_id="del-1",
        attempt=1,
        event_id="evt-1",
    )
    return DeliveryContext(event, Subscription("sub-1", "Ops"), {}, None, CallInfo(logger=None))  # type: ignore[arg-type]


_CACHE = TemplateCache()


@pytest.mark.parametrize("case", TEMPLATES["lines"], ids=_ids(TEMPLATES["lines"], "name"))
def test_line_vector(case: dict[str, Any]) -> None:
    assert _CACHE.line("/summary", case["template"], _delivery(case), case["limit"]) == case["output"]


# === network policy ===


def _judge(case: dict[str, Any]) -> Refusal | None:
    address = net_policy.parse_address(case["address"])
    assert address is not None, case["address"]
    try:
        NetworkPolicy.parse(case["allow"]).check(address)
    except Refusal as refusal:
        return refusal
    return None


_EMBEDDINGS = {
    net_policy.Embedding.IPV4_MAPPED: "ipv4_mapped",
    net_policy.Embedding.IPV4_COMPATIBLE: "ipv4_compatible",
    net_policy.Embedding.NAT64: "nat64",
    net_policy.Embedding.SIX_TO_FOUR: "6to4",
    net_policy.Embedding.TEREDO: "teredo",
}


@pytest.mark.parametrize("case", NET["cases"], ids=_ids(NET["cases"], "address"))
def test_address_vector(case: dict[str, Any]) -> None:
    refusal = _judge(case)
    got: dict[str, Any] = {"verdict": "allowed"}
    if refusal is not None:
        got = {"verdict": "refused", "category": refusal.verdict.category.name.lower()}
        if refusal.verdict.embedded:
            form, v4 = refusal.verdict.embedded
            got.update(embedding=_EMBEDDINGS[form], embedded=str(v4))
    want = {k: case[k] for k in ("verdict", "category", "embedding", "embedded") if k in case}
    assert got == want


@pytest.mark.parametrize("case", NET["messages"], ids=_ids(NET["messages"], "address"))
def test_refusal_text_vector(case: dict[str, Any]) -> None:
    refusal = _judge(case)
    assert refusal is not None, f"{case['address']} is not refused"
    if case.get("host"):
        refusal = refusal.with_host(case["host"])
    assert str(refusal) == case["message"]


@pytest.mark.parametrize("case", NET["allow_lists"], ids=_ids(NET["allow_lists"], "allow"))
def test_allow_list_vector(case: dict[str, Any]) -> None:
    if "error" not in case:
        assert [str(n) for n in NetworkPolicy.parse(case["allow"]).allow] == case["subnets"]
        return
    with pytest.raises(PolicyError) as caught:
        NetworkPolicy.parse(case["allow"])
    want = case["error"]
    assert (caught.value.position, caught.value.entry) == (want["position"], want["entry"])
    if "message" in want:
        assert str(caught.value) == want["message"]


def test_every_vector_file_has_vectors() -> None:
    # A vector file emptied by mistake must not pass as "nothing disagreed".
    assert len(TEMPLATES["cases"]) > 50 and len(TEMPLATES["lines"]) > 5
    assert len(NET["cases"]) > 50 and NET["messages"] and NET["allow_lists"]
