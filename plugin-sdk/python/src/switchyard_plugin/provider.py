"""The provider interface a plugin author implements, close to the seed's ``IntegrationProvider``.

Subclass :class:`Provider`, set its descriptive attributes, implement :meth:`Provider.deliver`,
and override any of the optional methods (:meth:`~Provider.test_connection`,
:meth:`~Provider.get_connection_options`, :meth:`~Provider.migrate_config`,
:meth:`~Provider.validate_config`, :meth:`~Provider.preview`). The capabilities
announced in ``Describe`` are derived from which optional methods a subclass overrides; calls
to the others are answered UNIMPLEMENTED by the SDK.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._pb import plugin_pb2 as pb
from .results import ConnectionOption, DeliveryResult, Diagnostic, RenderedRequest, TestConnectionResult

#: Plugin and provider ids: lowercase letters, digits and ``-``, starting with a letter.
ID_RE = re.compile(r"^[a-z][a-z0-9-]*$")
#: Event types: at least three lowercase dot-separated segments, e.g. ``incident.incident.created``.
EVENT_RE = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*){2,}$")


@dataclass(frozen=True)
class VersionedSchema:
    """A JSON Schema (draft 2020-12, as a dict) with the version of the config shape it describes."""

    version: int
    schema: dict[str, Any]


@dataclass(frozen=True)
class HeaderDoc:
    """One HTTP header a provider sends, for receivers to rely on."""

    name: str
    description: str


@dataclass(frozen=True)
class Documentation:
    """User-facing help for a provider."""

    setup_guide: str = ""
    """Setup guide in Markdown."""
    example_payload: Any = None
    """An example of what the provider sends: a JSON-serialisable value (or JSON text)."""
    headers: Sequence[HeaderDoc] = ()
    external_docs_url: str = ""


class ConfigKind(enum.Enum):
    """Which of a provider's two schemas a config follows."""

    PROVIDER = pb.CONFIG_KIND_PROVIDER
    CONNECTION = pb.CONFIG_KIND_CONNECTION


@dataclass(frozen=True)
class Event:
    """One platform event as a provider sees it in one delivery attempt."""

    event_type: str
    """Fully qualified, e.g. ``incident.incident.created``."""
    payload: Any
    """The payload, parsed from JSON (normally a dict)."""
    timestamp: datetime
    """When the event happened (UTC)."""
    delivery_id: str
    """The same for every attempt of one delivery: receivers dedupe on it."""
    attempt: int
    event_id: str = ""
    """The same in the deliveries of this event to every subscription (empty from older hosts)."""


@dataclass(frozen=True)
class CorrelatedDelivery:
    """One earlier delivery of the same subscription and correlation key."""

    event_type: str
    external_id: str | None
    """What its successful attempt returned as external id."""
    state: str | None
    """What its successful attempt returned with :meth:`DeliveryResult.with_state`."""
    delivered: bool
    """False when it failed."""
    ended_at: datetime
    delivery_id: str


@dataclass(frozen=True)
class Correlation:
    """The events of one thing on the platform (an incident's created, updated, resolved) for
    one subscription, tied by the event type's correlation path. The host attempts them in
    publish order, so a "resolved" finds what its "created" left behind."""

    key: str
    earlier: tuple[CorrelatedDelivery, ...] = ()
    """Most recent first, at most 20; only deliveries that succeeded or failed."""

    def origin(self) -> CorrelatedDelivery | None:
        """The oldest earlier delivery that was delivered (typically the "created")."""
        return next((e for e in reversed(self.earlier) if e.delivered), None)

    def latest(self) -> CorrelatedDelivery | None:
        """The most recent earlier delivery that was delivered."""
        return next((e for e in self.earlier if e.delivered), None)


@dataclass(frozen=True)
class Subscription:
    """The subscription a delivery belongs to."""

    id: str
    name: str


@dataclass(frozen=True)
class CallInfo:
    """What every call's context carries: a logger and the caller's deadline."""

    logger: logging.Logger
    time_remaining: Callable[[], float | None] = lambda: None
    is_active: Callable[[], bool] = lambda: True

    def timeout(self, wanted: float, margin: float = 0.25) -> float:
        """``wanted`` seconds, shortened so that the answer still arrives before the deadline."""
        remaining = self.time_remaining()
        if remaining is None:
            return wanted
        return max(0.05, min(wanted, remaining - margin))

    def cancelled(self) -> bool:
        """True once the host has given up on this call (cancelled or deadline passed)."""
        return not self.is_active()


@dataclass(frozen=True)
class DeliveryContext:
    """Everything :meth:`Provider.deliver` gets."""

    event: Event
    subscription: Subscription
    config: dict[str, Any]
    """The provider config: validated against the schema, defaults filled in, secrets decrypted."""
    connection: dict[str, Any] | None
    """The resolved connection config, when the provider has a connection schema."""
    call: CallInfo
    correlation: Correlation | None = None
    """The event's correlation, when its event type declares one and the payload has a key."""

    @property
    def logger(self) -> logging.Logger:
        return self.call.logger


@dataclass(frozen=True)
class TestConnectionContext:
    """Everything :meth:`Provider.test_connection` gets."""

    __test__ = False  # not a pytest test class, despite the name

    kind: ConfigKind
    config: dict[str, Any]
    """The config to test (validated, defaults filled in), following the schema of ``kind``."""
    connection: dict[str, Any] | None
    call: CallInfo


@dataclass(frozen=True)
class ValidateConfigContext:
    """Everything :meth:`Provider.validate_config` gets."""

    kind: ConfigKind
    config: dict[str, Any]
    """The config being saved (validated against its schema, defaults filled in, secrets
    decrypted), following the schema of ``kind``."""
    connection: dict[str, Any] | None
    """With ``ConfigKind.PROVIDER`` on a connection-based provider: the resolved connection."""
    call: CallInfo


@dataclass(frozen=True)
class ConnectionOptionsContext:
    """Everything :meth:`Provider.get_connection_options` gets."""

    resolver_name: str
    connection: dict[str, Any] | None
    form: dict[str, Any]
    """The form's current values (the fields named in ``x-depends-on`` among them)."""
    call: CallInfo


class UnknownResolver(LookupError):
    """Raise from :meth:`Provider.get_connection_options` for a resolver name it does not serve."""


class OptionsError(Exception):
    """Raise from :meth:`Provider.get_connection_options` when the options cannot be listed
    because of the user's input (a rejected token, an unknown project…); it is answered in-band
    as a diagnostic, located by ``json_path`` in the connection config or the form."""

    def __init__(self, message: str, json_path: str = "") -> None:
        super().__init__(message)
        self.diagnostic = Diagnostic(json_path, message)


class MigrationError(ValueError):
    """Raise from :meth:`Provider.migrate_config` when a stored config cannot be upgraded."""

    def __init__(self, message: str, json_path: str = "") -> None:
        super().__init__(message)
        self.diagnostic = Diagnostic(json_path, message)


@dataclass(frozen=True)
class Capabilities:
    """Optional RPCs a provider implements, derived from what it overrides."""

    test_connection: bool = False
    connection_options: bool = False
    migrate_config: bool = False
    validate_config: bool = False
    preview: bool = False


class Provider:
    """Base class of a provider. Subclasses set the attributes and implement :meth:`deliver`."""

    id: str = ""
    """Local id, unique within the plugin: lowercase letters, digits and ``-``."""
    display_name: str = ""
    description: str = ""
    icon: str = ""
    """A Lucide icon name, e.g. ``send``."""
    config_schema: VersionedSchema
    """Per-subscription configuration schema. Required."""
    connection_schema: VersionedSchema | None = None
    """Optional site-wide connection schema (shared credentials)."""
    supported_events: Sequence[str] = ()
    """Event types this provider handles; empty means all."""
    documentation: Documentation = Documentation()

    def deliver(self, ctx: DeliveryContext) -> DeliveryResult:
        """Delivers one event. Must not raise for expected failures: return a result instead."""
        raise NotImplementedError

    def test_connection(self, ctx: TestConnectionContext) -> TestConnectionResult:
        """Optional: checks a config against the external system without delivering anything."""
        raise NotImplementedError

    def get_connection_options(self, ctx: ConnectionOptionsContext) -> list[ConnectionOption]:
        """Optional: the choices of a field that carries ``x-options-resolver``.

        Raise :class:`OptionsError` when the input does not allow listing them.
        """
        raise NotImplementedError

    def migrate_config(self, kind: ConfigKind, from_version: int, config: dict[str, Any]) -> dict[str, Any]:
        """Optional: upgrades a config stored at ``from_version`` to the current version.

        Raise :class:`MigrationError` for a config that cannot be upgraded.
        """
        raise NotImplementedError

    def validate_config(self, ctx: ValidateConfigContext) -> list[Diagnostic]:
        """Optional: checks a config being saved for what its schema cannot express (a URL that
        does not parse, settings that clash, a template that does not compile). The host calls it
        after the schema check and refuses the save when this returns any diagnostic (each with
        the JSON Pointer of the offending value). It must contact nothing."""
        raise NotImplementedError

    def preview(self, ctx: DeliveryContext) -> RenderedRequest:
        """Optional: renders exactly the request :meth:`deliver` would send for ``ctx``, and sends
        nothing. Replace every secret by :data:`~switchyard_plugin.results.REDACTED`; share the
        code that builds the request with :meth:`deliver` so the two cannot drift."""
        raise NotImplementedError

    def capabilities(self) -> Capabilities:
        """Which optional methods this provider overrides."""
        cls = type(self)
        return Capabilities(
            test_connection=cls.test_connection is not Provider.test_connection,
            connection_options=cls.get_connection_options is not Provider.get_connection_options,
            migrate_config=cls.migrate_config is not Provider.migrate_config,
            validate_config=cls.validate_config is not Provider.validate_config,
            preview=cls.preview is not Provider.preview,
        )

    def schema_for(self, kind: ConfigKind) -> VersionedSchema | None:
        """The schema a config of ``kind`` follows (None: no connection schema)."""
        return self.config_schema if kind is ConfigKind.PROVIDER else self.connection_schema


__all__ = [
    "Capabilities",
    "CallInfo",
    "ConfigKind",
    "ConnectionOptionsContext",
    "CorrelatedDelivery",
    "Correlation",
    "DeliveryContext",
    "Documentation",
    "Event",
    "HeaderDoc",
    "EVENT_RE",
    "ID_RE",
    "MigrationError",
    "OptionsError",
    "Provider",
    "Subscription",
    "TestConnectionContext",
    "UnknownResolver",
    "ValidateConfigContext",
    "VersionedSchema",
]
