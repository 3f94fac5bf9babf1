"""Templates as a provider uses them, beyond the shared vectors (``test_vectors.py``): the
context a delivery gives, the error → diagnostic / outcome mapping, the compile cache, and the
fuel budget being per render (not per template, not shared between threads)."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone

import pytest

from switchyard_plugin import Outcome
from switchyard_plugin.provider import CallInfo, CorrelatedDelivery, Correlation, DeliveryContext, Event, Subscription
from switchyard_plugin.templates import Limits, Template, TemplateCache, TemplateError, context_of, template_schema

EVERYTHING = (
    "{{ event.id }}|{{ event.type }}|{{ event.timestamp }}|{{ event.deliveryId }}|{{ event.attempt }}|"
    "{{ subscription.id }}|{{ subscription.name }}|{{ payload.title }}|{{ correlation.key }}|"
    "{{ correlation.earlier[0].externalId }}|{{ eventId }}|{{ eventType }}|{{ deliveryId }}|{{ timestamp }}|"
    "{{ subscriptionId }}|{{ subscriptionName }}"
)


def _delivery(correlation: Correlation | None = None, micros: int = 0) -> DeliveryContext:
    event = Event(
        event_type="incident.incident.resolved",
        payload={"title": "Down"},
        timestamp=datetime(2026, 1, 2, 3, 4, 5, micros, tzinfo=timezone.utc),
        delivery_id="del-7",
        attempt=2,
        event_id="evt-3",
    )
    call = CallInfo(logger=logging.getLogger("test"))
    return DeliveryContext(event, Subscription("sub-1", "Ops hook"), {}, None, call, correlation)


def test_a_delivery_gives_every_variable() -> None:
    earlier = CorrelatedDelivery(
        "incident.incident.created", "JIRA-12", None, True, datetime(2026, 1, 1, tzinfo=timezone.utc), "del-6"
    )
    ctx = _delivery(Correlation("inc-1", (earlier,)), micros=123000)
    out = Template.compile("/t", EVERYTHING).render(context_of(ctx))
    assert out == (
        "evt-3|incident.incident.resolved|2026-01-02T03:04:05.123Z|del-7|2|sub-1|Ops hook|Down|inc-1|JIRA-12|"
        "evt-3|incident.incident.resolved|del-7|2026-01-02T03:04:05.123Z|sub-1|Ops hook"
    )
    # Without a correlation, `correlation.*` is missing and renders empty.
    assert Template.compile("/t", "[{{ correlation.key }}]").render(context_of(_delivery())) == "[]"


def test_a_compile_error_is_a_diagnostic_at_the_field_and_a_permanent_invalid_config() -> None:
    with pytest.raises(TemplateError) as failed:
        Template.compile("/fieldMappings/0/template", "ok\n{{ payload.title ")
    err = failed.value
    assert err.is_config_problem and err.path == "/fieldMappings/0/template"
    diagnostic = err.diagnostic()
    assert diagnostic.json_path == "/fieldMappings/0/template"
    assert diagnostic.message.startswith("the template does not compile: syntax error"), diagnostic.message
    assert "line 2" in diagnostic.message
    result = err.to_result()
    assert result.outcome is Outcome.PERMANENT
    assert result.error.startswith("invalid config: /fieldMappings/0/template: the template does not compile")


def test_a_render_failure_is_a_permanent_outcome_naming_the_field() -> None:
    template = Template.compile("/summaryTemplate", "{{ payload.missing | required }}")
    with pytest.raises(TemplateError) as failed:
        template.render(context_of(_delivery()))
    err = failed.value
    assert not err.is_config_problem
    result = err.to_result()
    assert result.outcome is Outcome.PERMANENT
    assert result.error.startswith("the template in /summaryTemplate failed to render: "), result.error
    assert err.diagnostic().message.startswith("the template failed to render: ")


def test_the_cache_compiles_each_text_once_and_stays_bounded() -> None:
    cache = TemplateCache(Limits(), capacity=2)
    a = cache.get("/a", "{{ payload.missing | required }}")
    b = cache.get("/b", "{{ payload.missing | required }}")
    assert len(cache) == 1
    context = context_of(_delivery())
    for template, path in ((a, "/a"), (b, "/b")):
        with pytest.raises(TemplateError) as failed:
            template.render(context)
        assert failed.value.path == path  # one compiled text, two fields: each names its own
    with pytest.raises(TemplateError):
        cache.get("/c", "{{ oops")
    assert len(cache) == 1, "compile errors are not kept"
    cache.get("/d", "{{ payload.title }}")
    cache.get("/e", "{{ event.type }}")
    assert len(cache) == 2
    assert cache.get("/e", "{{ event.type }}").render(context) == "incident.incident.resolved"


def test_fuel_is_per_render_and_per_thread() -> None:
    # Each render may spend most of the budget; a budget shared across renders or threads
    # would run out on the second one.
    template = Template.compile("/t", "{% for i in range(300) %}{% endfor %}ok", Limits(fuel=500))
    assert [template.render({}) for _ in range(3)] == ["ok"] * 3
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(template.render({}))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["ok"] * 4


def test_template_fields_carry_editor_types() -> None:
    assert template_schema("json", title="Body") == {"type": "string", "x-editor-types": ["json"], "title": "Body"}
