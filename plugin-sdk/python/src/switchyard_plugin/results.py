"""What a provider answers: the result of a delivery attempt, of a connection test, the choices of
a resolver field, a previewed request (:class:`RenderedRequest`), and the in-band problem report
(:class:`Diagnostic`) used for bad user input.

These are plain dataclasses; the server turns them into protocol messages.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field, replace
from typing import Any

from ._pb import plugin_pb2 as pb

#: The text that stands for a secret in a preview (the host uses the same marker).
REDACTED = "[REDACTED]"

#: Delay used for a rate-limited answer that carried no usable Retry-After.
DEFAULT_RATE_LIMIT_DELAY_S = 60.0


class Outcome(enum.Enum):
    """How a delivery attempt ended; the coordinator's retry logic acts on it."""

    DELIVERED = pb.OUTCOME_DELIVERED
    """The external system accepted the event."""
    RETRYABLE = pb.OUTCOME_RETRYABLE
    """A transient failure (network error, 5xx, timeout): retry on the normal schedule."""
    RATE_LIMITED = pb.OUTCOME_RATE_LIMITED
    """The external system asked us to slow down: retry after ``retry_after``."""
    PERMANENT = pb.OUTCOME_PERMANENT
    """Retrying cannot help (4xx, deleted endpoint, invalid config)."""


@dataclass(frozen=True)
class Diagnostic:
    """One problem with user input, located by an RFC 6901 JSON Pointer ("" = the whole document)."""

    json_path: str
    message: str

    def to_proto(self) -> pb.Diagnostic:
        return pb.Diagnostic(json_path=self.json_path, message=self.message)


@dataclass(frozen=True)
class DeliveryResult:
    """The result of one delivery attempt. Build it with the class methods, not the constructor."""

    outcome: Outcome
    external_id: str = ""
    error: str = ""
    retry_after: float | None = None
    """Seconds the external system asked us to wait (rate-limited; optional when retryable)."""
    status_code: int = 0
    """HTTP status (or the like) the external system answered with; 0 when none was received."""
    diagnostics: tuple[Diagnostic, ...] = ()
    state: str = ""
    """Small state (at most 4,096 bytes, no secrets) for later deliveries of the same correlation
    key, which find it in ``ctx.correlation.earlier``; kept only when delivered."""
    response_excerpt: str = ""
    """The first bytes of the external system's answer, for the attempt log."""

    def with_state(self, state: str) -> DeliveryResult:
        """This result, keeping ``state`` for the later deliveries of the correlation key."""
        return replace(self, state=state)

    def with_response_excerpt(self, excerpt: str) -> DeliveryResult:
        """This result, with the first bytes of the external system's answer."""
        return replace(self, response_excerpt=excerpt)

    @classmethod
    def delivered(cls, external_id: str | None = None, status_code: int = 0) -> DeliveryResult:
        """The event was delivered; ``external_id`` is the id of the created record, if any."""
        return cls(Outcome.DELIVERED, external_id=external_id or "", status_code=status_code)

    @classmethod
    def retryable(cls, error: str, retry_after: float | None = None, status_code: int = 0) -> DeliveryResult:
        """A transient failure, retried on the coordinator's normal schedule."""
        return cls(Outcome.RETRYABLE, error=error, retry_after=retry_after, status_code=status_code)

    @classmethod
    def rate_limited(cls, error: str, retry_after: float | None = None, status_code: int = 0) -> DeliveryResult:
        """The external system asked to slow down; retry after ``retry_after`` seconds."""
        delay = DEFAULT_RATE_LIMIT_DELAY_S if retry_after is None else retry_after
        return cls(Outcome.RATE_LIMITED, error=error, retry_after=delay, status_code=status_code)

    @classmethod
    def permanent(cls, error: str, status_code: int = 0) -> DeliveryResult:
        """A failure that retrying cannot fix."""
        return cls(Outcome.PERMANENT, error=error, status_code=status_code)

    @classmethod
    def invalid_config(cls, diagnostics: list[Diagnostic]) -> DeliveryResult:
        """The config (or connection config) does not match its schema; nothing was sent."""
        summary = "; ".join(f"{d.json_path or '/'}: {d.message}" for d in diagnostics[:3])
        return cls(Outcome.PERMANENT, error=f"invalid config: {summary}", diagnostics=tuple(diagnostics))

    @property
    def success(self) -> bool:
        """True exactly when the event was delivered."""
        return self.outcome is Outcome.DELIVERED

    def to_proto(self) -> pb.DeliverResponse:
        msg = pb.DeliverResponse(
            success=self.success,
            external_id=self.external_id if self.success else "",
            error="" if self.success else self.error,
            outcome=self.outcome.value,
            status_code=max(0, int(self.status_code)),
            diagnostics=[d.to_proto() for d in self.diagnostics],
            state=self.state if self.success else "",
            response_excerpt=self.response_excerpt,
        )
        if self.retry_after is not None and self.outcome in (Outcome.RETRYABLE, Outcome.RATE_LIMITED):
            msg.retry_after_ms = max(0, round(self.retry_after * 1000))
        return msg


@dataclass(frozen=True)
class TestConnectionResult:
    """The verdict of a connection test."""

    __test__ = False  # not a pytest test class, despite the name

    success: bool
    message: str
    details: Any = None
    """Optional JSON-serialisable details (e.g. the account name)."""
    diagnostics: tuple[Diagnostic, ...] = ()

    def to_proto(self) -> pb.TestConnectionResponse:
        details = "" if self.details is None else json.dumps(self.details)
        return pb.TestConnectionResponse(
            success=self.success and not self.diagnostics,
            message=self.message,
            details_json=details,
            diagnostics=[d.to_proto() for d in self.diagnostics],
        )


@dataclass(frozen=True)
class ConnectionOption:
    """One choice in a dropdown filled by a resolver."""

    value: str
    label: str
    description: str = ""

    def to_proto(self) -> pb.ConnectionOption:
        return pb.ConnectionOption(value=self.value, label=self.label, description=self.description)


@dataclass(frozen=True)
class RenderedRequest:
    """The request a delivery would send, as :meth:`Provider.preview` renders it. Every secret
    (a token, a password, a signature made from one) must be replaced by :data:`REDACTED`."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    """``(name, value)`` pairs in the order they are sent; a name may repeat."""
    body: str = ""

    def to_proto(self) -> pb.RenderedRequest:
        return pb.RenderedRequest(
            method=self.method,
            url=self.url,
            headers=[pb.RenderedHeader(name=n, value=v) for n, v in self.headers],
            body=self.body,
        )


@dataclass
class MigratedConfig:
    """A config upgraded by :meth:`Provider.migrate_config`, or the reasons it could not be."""

    config: dict[str, Any] | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
