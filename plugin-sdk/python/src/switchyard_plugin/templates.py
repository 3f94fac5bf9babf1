"""Templates in config fields (``{{ payload.title }}``), with the Rust SDK's semantics: the same
variables, filters, missing-value and printing rules, bounds and error split, held to it by the
shared vectors in ``tests/vectors/templates.json``. The engine is a Jinja2 sandbox shaped like
the Rust SDK's minijinja (see :mod:`._template_env`); its filters are in
:mod:`.template_filters`.

::

    cache = TemplateCache()
    try:
        body = cache.get("/bodyTemplate", config["bodyTemplate"]).render(context_of(ctx))
    except TemplateError as err:
        return err.to_result()      # permanent, naming the field

Variables (:func:`template_context`): ``event`` {id, type, timestamp, deliveryId, attempt},
``subscription`` {id, name}, ``payload``, ``correlation``, and Checkstack's flat names
(``eventId``, ``eventType``, ``deliveryId``, ``timestamp``, ``subscriptionId``,
``subscriptionName``), so its templates render unchanged. A missing value renders empty
(``{{ payload.missing.deeper }}`` too); ``| required`` makes it an error. Objects and lists
render as JSON, keys in sorted order; nothing is HTML-escaped unless a filter says so.

Bounds (:class:`Limits`): source size, output size, fuel (each loop iteration, lookup, call
and filter costs one unit) and the depth of recursive loops. As in Rust, the size of
intermediate values (text captured by ``{% set %}``, a long ``~`` concatenation) is not bounded,
except repetition with ``*`` (100 MB).

Errors (:class:`TemplateError`): a template that does not compile or is too long is a config
problem (:meth:`TemplateError.diagnostic`, at the field's JSON Pointer; refuse it in
``validate_config``); a failure while rendering is a permanent delivery outcome whose text
names the field (:meth:`TemplateError.to_result`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from types import TracebackType
from typing import Any

from jinja2 import TemplateError as JinjaError
from jinja2 import TemplateSyntaxError, UndefinedError

from ._template_env import RenderFailure, SandboxEnvironment, end_fuel, with_fuel
from .lifecycle import cut_chars, headline
from .provider import Correlation, DeliveryContext, Event, Subscription
from .results import DeliveryResult, Diagnostic
from .template_filters import FilterError
from .template_values import data


@dataclass(frozen=True)
class Limits:
    """The bounds every render stays within (the Rust SDK's defaults)."""

    max_source_bytes: int = 64 * 1024
    """The longest template source, in UTF-8 bytes."""
    max_output_bytes: int = 512 * 1024
    """The longest rendered output, in UTF-8 bytes."""
    fuel: int = 100_000
    """Units of work per render (each loop iteration, lookup, call and filter costs one)."""
    max_depth: int = 32
    """The deepest recursion of a recursive loop."""


class TemplateError(Exception):
    """Why a template cannot be used. ``kind`` is ``compile``, ``too_long`` (both config
    problems) or ``render``. The text is the Rust SDK's: ``{path}: the template does not
    compile: …``, ``{path}: the template is N bytes long, more than the M allowed``, ``the
    template in {path} failed to render: …``."""

    def __init__(self, kind: str, path: str, message: str) -> None:
        self.kind = kind
        self.path = path
        self.message = message
        super().__init__(self.text())

    def text(self) -> str:
        if self.kind == "render":
            return f"the template in {self.path} failed to render: {self.message}"
        return f"{self.path}: {self.message}"

    def __str__(self) -> str:
        return self.text()

    @property
    def is_config_problem(self) -> bool:
        """True for a problem of the config itself (it will fail for every event)."""
        return self.kind != "render"

    def diagnostic(self) -> Diagnostic:
        """The error as an in-band diagnostic at the field's path."""
        if self.kind == "render":
            return Diagnostic(self.path, f"the template failed to render: {self.message}")
        return Diagnostic(self.path, self.message)

    def to_result(self) -> DeliveryResult:
        """Permanent: the same template and event fail the same way on every attempt."""
        if self.is_config_problem:
            return DeliveryResult.permanent(f"invalid config: {self}")
        return DeliveryResult.permanent(str(self))


class _Compiled:
    """A compiled source and the limits it renders within."""

    def __init__(self, path: str, source: str, limits: Limits) -> None:
        size = len(source.encode("utf-8"))
        if size > limits.max_source_bytes:
            message = f"the template is {size} bytes long, more than the {limits.max_source_bytes} allowed"
            raise TemplateError("too_long", path, message)
        self.limits = limits
        self.env = SandboxEnvironment(limits.max_depth)
        try:
            self.template = self.env.compile_source(source)
        except TemplateSyntaxError as err:
            raise TemplateError("compile", path, f"the template does not compile: {_syntax(err)}") from None
        except (SyntaxError, RecursionError, MemoryError):
            # Python's own compiler refuses what nests too deeply for it.
            message = "the template does not compile: syntax error: the template nests too deeply"
            raise TemplateError("compile", path, message) from None


def _syntax(err: TemplateSyntaxError) -> str:
    return f"syntax error: {err.message} (line {err.lineno})"


class Template:
    """A template compiled from one config field (its JSON Pointer names every error)."""

    def __init__(self, path: str, compiled: _Compiled) -> None:
        self.path = path
        self._compiled = compiled

    @classmethod
    def compile(cls, path: str, source: str, limits: Limits | None = None) -> Template:
        """Compiles ``source``, the value of the config field at ``path``; raises
        :class:`TemplateError` (``compile`` or ``too_long``)."""
        return cls(path, _Compiled(path, source, limits or Limits()))

    def render(self, context: dict[str, Any]) -> str:
        """Renders with ``context`` (:func:`template_context`, or any JSON-like dict); raises
        :class:`TemplateError` (``render``) when a strict filter fails, the fuel runs out, a
        recursion is too deep or the output exceeds the limit."""
        limit = self._compiled.limits.max_output_bytes
        token = with_fuel(self._compiled.limits.fuel)
        out: list[str] = []
        size = 0
        try:
            stream = self._compiled.template.generate(data(context))
            try:
                for chunk in stream:
                    size += len(chunk.encode("utf-8"))
                    if size > limit:
                        raise self._error(f"the output is longer than {limit} bytes")
                    out.append(chunk)
            finally:
                stream.close()
        except TemplateError:
            raise
        except Exception as err:  # anything the template did is this template's failure
            raise self._error(_describe(err)) from None
        finally:
            end_fuel(token)
        return "".join(out)

    def _error(self, message: str) -> TemplateError:
        return TemplateError("render", self.path, message)


def _describe(err: BaseException) -> str:
    """``invalid operation: a required value is missing (line 2)``, as minijinja words it."""
    if isinstance(err, (RenderFailure, FilterError)):
        what = f"{err.kind}: {err}" if err.kind else str(err)
    elif isinstance(err, RecursionError):
        what = "recursion limit exceeded"
    elif isinstance(err, UndefinedError):
        what = f"undefined value: {err}"
    elif isinstance(err, (JinjaError, TypeError, ValueError, ArithmeticError, LookupError)):
        what = f"invalid operation: {err}"
    else:
        what = f"{type(err).__name__}: {err}"
    line = _template_line(err.__traceback__)
    return f"{what} (line {line})" if line else what


def _template_line(tb: TracebackType | None) -> int | None:
    # Jinja2 rewrites tracebacks so that template frames carry the template's line numbers.
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


class TemplateCache:
    """Compiled templates by their text, at most ``capacity`` (the oldest is dropped first),
    so a plugin compiles a subscription's template once rather than per delivery. The field
    path is not part of the key: each :class:`Template` still names its own field. Compile
    errors are not kept. Thread-safe; share one per provider."""

    DEFAULT_CAPACITY = 256

    def __init__(self, limits: Limits | None = None, capacity: int = DEFAULT_CAPACITY) -> None:
        self.limits = limits or Limits()
        self.capacity = max(1, capacity)
        self._entries: OrderedDict[str, _Compiled] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: str, source: str) -> Template:
        """The template for the field at ``path`` with text ``source``, compiled on first use;
        raises :class:`TemplateError` as :meth:`Template.compile`."""
        with self._lock:
            compiled = self._entries.get(source)
        if compiled is None:
            # Compiled outside the lock: two callers may compile one text once each, which is
            # cheaper than serialising every compile.
            compiled = _Compiled(path, source, self.limits)
            with self._lock:
                self._entries[source] = compiled
                while len(self._entries) > self.capacity:
                    self._entries.popitem(last=False)
        return Template(path, compiled)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def line(self, path: str, source: str | None, ctx: DeliveryContext, limit: int) -> str:
        """The one-line field at config path ``path`` (an alert summary, a message title): the
        template ``source`` rendered, or the event's :func:`~.lifecycle.headline` when
        ``source`` is None; trimmed, never empty (the event type stands in), cut to ``limit``
        characters. Raises :class:`TemplateError` naming ``path``."""
        if source is None:
            text = headline(ctx.event.event_type, ctx.event.payload)
        else:
            text = self.get(path, source).render(context_of(ctx))
        text = text.strip() or ctx.event.event_type
        return cut_chars(text, limit)


# === the context ===


def rfc3339(when: datetime) -> str:
    """``2026-01-02T03:04:05Z`` in UTC, with as many fraction digits as needed (3 or 6), as the
    Rust SDK prints event timestamps."""
    at = when.astimezone(timezone.utc) if when.tzinfo else when.replace(tzinfo=timezone.utc)
    text = at.strftime("%Y-%m-%dT%H:%M:%S")
    micros = at.microsecond
    if micros:
        text += f".{micros // 1000:03d}" if micros % 1000 == 0 else f".{micros:06d}"
    return text + "Z"


def correlation_data(correlation: Correlation | None) -> dict[str, Any] | None:
    """``correlation`` as templates see it: {key, earlier: [{eventType, externalId, state,
    delivered, endedAt, deliveryId}]}, most recent first."""
    if correlation is None:
        return None
    earlier = [
        {
            "eventType": e.event_type,
            "externalId": e.external_id,
            "state": e.state,
            "delivered": e.delivered,
            "endedAt": rfc3339(e.ended_at),
            "deliveryId": e.delivery_id,
        }
        for e in correlation.earlier
    ]
    return {"key": correlation.key, "earlier": earlier}


def template_context(
    event: Event, subscription: Subscription, correlation: Correlation | None = None
) -> dict[str, Any]:
    """The variables of one render (see the module doc)."""
    timestamp = rfc3339(event.timestamp)
    return {
        "event": {
            "id": event.event_id,
            "type": event.event_type,
            "timestamp": timestamp,
            "deliveryId": event.delivery_id,
            "attempt": event.attempt,
        },
        "subscription": {"id": subscription.id, "name": subscription.name},
        "payload": event.payload,
        "correlation": correlation_data(correlation),
        "eventId": event.event_id,
        "eventType": event.event_type,
        "deliveryId": event.delivery_id,
        "timestamp": timestamp,
        "subscriptionId": subscription.id,
        "subscriptionName": subscription.name,
    }


def context_of(ctx: DeliveryContext) -> dict[str, Any]:
    """The context of a delivery: its event, subscription and correlation."""
    return template_context(ctx.event, ctx.subscription, ctx.correlation)


def template_schema(*editor_types: str, **extra: Any) -> dict[str, Any]:
    """The JSON Schema of a template field: a string with ``x-editor-types`` from the host's
    vocabulary (``json`` for a JSON body, ``markdown`` for a message text, ``raw`` for one line
    of plain text), plus any other keywords (``title``, ``description``…)."""
    return {"type": "string", "x-editor-types": list(editor_types), **extra}


__all__ = [
    "Limits",
    "Template",
    "TemplateCache",
    "TemplateError",
    "context_of",
    "correlation_data",
    "rfc3339",
    "template_context",
    "template_schema",
]
