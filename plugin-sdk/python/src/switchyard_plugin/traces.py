"""OpenTelemetry traces, on when the host passes ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the
coordinator hands its plugins its own ``OTEL_*`` variables; ``OTEL_SERVICE_NAME`` defaults to
the plugin's executable name), exported over OTLP/gRPC like the Rust SDK's:

- each ``Deliver`` call is a server span (``switchyard.plugin.v1.ProviderPlugin/Deliver``),
  child of the ``traceparent`` the host sent in the call's metadata — the coordinator's span of
  the delivery attempt — so the plugin's spans join the platform's trace;
- each request of :class:`~.http.PolicyClient` is a client span (``POST``…) with its method,
  host, port and status — never its path or query, which may hold a secret;
- log lines written during a traced call carry its ``trace_id`` (:mod:`.hclog`).

Needs the optional ``otel`` extra (``pip install switchyard-plugin[otel]``: the OpenTelemetry
SDK and its OTLP/gRPC exporter). Without it an endpoint only gets a warning; while traces are
off every helper here is a no-op that allocates nothing.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

#: The tracer while traces are on (an ``opentelemetry.trace.Tracer``), else ``None``.
_tracer: Any = None
_provider: Any = None


def wanted(env: Mapping[str, str]) -> bool:
    """Whether ``env`` asks for traces: an OTLP endpoint or ``OTEL_TRACES_EXPORTER=otlp``, unless
    ``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` (the Rust SDK's rules)."""

    def get(name: str) -> str:
        return env.get(name, "").strip()

    if get("OTEL_SDK_DISABLED").lower() == "true" or get("OTEL_TRACES_EXPORTER").lower() == "none":
        return False
    return bool(
        get("OTEL_TRACES_EXPORTER").lower() == "otlp"
        or get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def install(env: Mapping[str, str] | None = None, exporter: Any = None) -> bool:
    """Turns traces on if ``env`` (the process environment by default) asks, exporting through
    ``exporter`` (default: OTLP/gRPC, configured by the ``OTEL_*`` variables). Returns whether
    traces are on; a missing ``otel`` extra is logged and leaves them off."""
    global _tracer, _provider
    env = os.environ if env is None else env
    if exporter is None and not wanted(env):
        return False
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        if exporter is None:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
    except ImportError as err:
        log.warning("traces are off: install switchyard-plugin[otel]", extra={"error": str(err)})
        return False
    attributes = {}
    if not env.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = os.path.basename(sys.argv[0]) or "switchyard-plugin"
    _provider = TracerProvider(resource=Resource.create(attributes))
    _provider.add_span_processor(BatchSpanProcessor(exporter))
    _tracer = _provider.get_tracer("switchyard_plugin")
    return True


def enabled() -> bool:
    """Whether traces are on in this process."""
    return _tracer is not None


def shutdown() -> None:
    """Exports the spans still queued (call before the process exits)."""
    if _provider is not None:
        _provider.shutdown()


@contextmanager
def deliver_span(
    metadata: Sequence[tuple[str, Any]] | None, provider: str, delivery_id: str, attempt: int
) -> Iterator[Any]:
    """The server span of one ``Deliver`` call under the host's ``traceparent`` (gRPC metadata);
    yields the span (``None`` while traces are off)."""
    if _tracer is None:
        yield None
        return
    from opentelemetry.trace import SpanKind
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier = {str(k): str(v) for k, v in (metadata or ()) if isinstance(v, str)}
    parent = TraceContextTextMapPropagator().extract(carrier)
    attributes = {
        "rpc.system": "grpc",
        "rpc.service": "switchyard.plugin.v1.ProviderPlugin",
        "rpc.method": "Deliver",
        "switchyard.provider": provider,
        "switchyard.delivery.id": delivery_id,
        "switchyard.attempt": attempt,
    }
    with _tracer.start_as_current_span(
        "switchyard.plugin.v1.ProviderPlugin/Deliver", context=parent, kind=SpanKind.SERVER, attributes=attributes
    ) as span:
        yield span


def end_deliver(span: Any, outcome: str, error: str) -> None:
    """Records a ``Deliver`` answer on its span (``error``: already scrubbed)."""
    if span is None:
        return
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("switchyard.outcome", outcome)
    if outcome != "OUTCOME_DELIVERED":
        span.set_status(Status(StatusCode.ERROR, error))


@contextmanager
def client_span(method: str, host: str, port: int) -> Iterator[Any]:
    """The client span of one vendor request; yields the span (``None`` while traces are off)."""
    if _tracer is None:
        yield None
        return
    from opentelemetry.trace import SpanKind

    attributes = {"http.request.method": method, "server.address": host, "server.port": port}
    with _tracer.start_as_current_span(method, kind=SpanKind.CLIENT, attributes=attributes) as span:
        yield span


def end_client(span: Any, status: int | None, error: str | None = None) -> None:
    """Records a vendor answer's status (or the failure without one) on its span."""
    if span is None:
        return
    from opentelemetry.trace import Status, StatusCode

    if status is not None:
        span.set_attribute("http.response.status_code", status)
        if status >= 400:
            span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
    elif error:
        span.set_status(Status(StatusCode.ERROR, error))


def current_trace_id() -> str | None:
    """The 32-hex-digit trace id of the span the calling thread runs in, if any."""
    if _tracer is None:
        return None
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None
