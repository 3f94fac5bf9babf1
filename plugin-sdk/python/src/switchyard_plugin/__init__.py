"""Switchyard plugin SDK for Python.

Write a provider by subclassing :class:`Provider` and hand it to :func:`serve`::

    from switchyard_plugin import DeliveryResult, Provider, VersionedSchema, serve

    class Hello(Provider):
        id = "hello"
        display_name = "Hello"
        config_schema = VersionedSchema(1, {"type": "object"})

        def deliver(self, ctx):
            ctx.logger.info("got event", extra={"event_type": ctx.event.event_type})
            return DeliveryResult.delivered()

    if __name__ == "__main__":
        serve("hello", "0.1.0", [Hello()])

:func:`serve` speaks the go-plugin handshake, serves ``switchyard.plugin.v1.ProviderPlugin``,
``grpc.health.v1.Health`` and ``plugin.GRPCController`` on a Unix socket, logs JSON lines on
stderr, validates configs against the provider's schema (answering problems in-band with JSON
Pointer paths) and exits on Shutdown, SIGTERM or the death of its parent.

Modules: :mod:`.provider` (the interface), :mod:`.results` (what providers answer),
:mod:`.http` (send JSON held to the network policy, Retry-After, status classification),
:mod:`.net_policy` (which addresses the operator's policy refuses, and why),
:mod:`.templates` (sandboxed templates in config fields, as in the Rust SDK; filters in
:mod:`.template_filters`; import it where used, it loads Jinja2), :mod:`.lifecycle` (headlines), :mod:`.config` (schema
validation), :mod:`.handshake`, :mod:`.hclog`, :mod:`.server`, :mod:`.testing` (start a plugin
from tests), :mod:`.gen` (stub generation).
"""

from .http import PolicyClient, classify, classify_status, deliver_json, parse_retry_after, policy_client, post_json
from .net_policy import NetworkPolicy, PolicyError, Refusal
from .provider import (
    CallInfo,
    Capabilities,
    ConfigKind,
    ConnectionOptionsContext,
    CorrelatedDelivery,
    Correlation,
    DeliveryContext,
    Documentation,
    Event,
    HeaderDoc,
    MigrationError,
    OptionsError,
    Provider,
    Subscription,
    TestConnectionContext,
    UnknownResolver,
    ValidateConfigContext,
    VersionedSchema,
)
from .results import (
    REDACTED,
    ConnectionOption,
    DeliveryResult,
    Diagnostic,
    Outcome,
    RenderedRequest,
    TestConnectionResult,
)
from .server import serve
from .service import PluginDefinitionError

__version__ = "0.1.0"

__all__ = [
    "CallInfo",
    "Capabilities",
    "ConfigKind",
    "ConnectionOption",
    "ConnectionOptionsContext",
    "CorrelatedDelivery",
    "Correlation",
    "DeliveryContext",
    "DeliveryResult",
    "Diagnostic",
    "Documentation",
    "Event",
    "HeaderDoc",
    "MigrationError",
    "NetworkPolicy",
    "OptionsError",
    "Outcome",
    "PluginDefinitionError",
    "PolicyClient",
    "PolicyError",
    "Provider",
    "REDACTED",
    "Refusal",
    "RenderedRequest",
    "Subscription",
    "TestConnectionContext",
    "TestConnectionResult",
    "UnknownResolver",
    "ValidateConfigContext",
    "VersionedSchema",
    "classify",
    "classify_status",
    "deliver_json",
    "parse_retry_after",
    "policy_client",
    "post_json",
    "serve",
]
