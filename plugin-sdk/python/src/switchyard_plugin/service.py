"""``switchyard.plugin.v1.ProviderPlugin`` over a set of :class:`~switchyard_plugin.Provider`
objects: checks the plugin's definition once at start, then answers each RPC.

Status codes follow ``plugin.proto``: NOT_FOUND for an unknown provider or resolver,
UNIMPLEMENTED for an undeclared capability, INVALID_ARGUMENT for a malformed request (missing
message, a JSON field that is not JSON), INTERNAL for a provider that raised. A config that does
not match its schema is answered in-band with diagnostics, never with a status.

Every answer is scrubbed of the call's secrets (the values its schemas mark ``x-secret``, and
their usual encodings; see :mod:`.scrub`) before it leaves, and the scrubber stays active while
the provider runs, so log lines and HTTP error excerpts hide them too. Provider authors do
nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timezone
from typing import Any, NoReturn

import grpc

from . import scrub, traces
from ._pb import plugin_pb2 as pb
from ._pb import plugin_pb2_grpc
from .config import ConfigError, ConfigValidator, check_schema, parse_json, resolver_names
from .provider import (
    EVENT_RE,
    ID_RE,
    CallInfo,
    ConfigKind,
    ConnectionOptionsContext,
    CorrelatedDelivery,
    Correlation,
    DeliveryContext,
    Event,
    MigrationError,
    OptionsError,
    Provider,
    Subscription,
    TestConnectionContext,
    UnknownResolver,
    ValidateConfigContext,
    VersionedSchema,
)
from .results import DeliveryResult, Diagnostic, RenderedRequest, TestConnectionResult

log = logging.getLogger("switchyard_plugin")


class PluginDefinitionError(ValueError):
    """The plugin's own definition is wrong (bad id, invalid schema…): a bug for its author."""


@dataclass
class _Registered:
    provider: Provider
    config: ConfigValidator
    connection: ConfigValidator | None
    resolvers: frozenset[str]


def validate_definition(plugin_id: str, providers: Sequence[Provider]) -> dict[str, _Registered]:
    """Checks what a plugin author declared, before the handshake, so that a mistake stops the
    plugin with a message naming the provider instead of reaching the host.

    Raises :class:`PluginDefinitionError`.
    """
    if not ID_RE.match(plugin_id):
        raise PluginDefinitionError(f"plugin id {plugin_id!r} must match {ID_RE.pattern}")
    if not providers:
        raise PluginDefinitionError(f"plugin {plugin_id!r} serves no provider")
    registered: dict[str, _Registered] = {}
    for p in providers:
        where = f"provider {p.id!r} ({type(p).__name__})"
        if not ID_RE.match(p.id or ""):
            raise PluginDefinitionError(f"{where}: id must match {ID_RE.pattern}")
        if p.id in registered:
            raise PluginDefinitionError(f"{where}: id is used twice")
        if not p.display_name.strip():
            raise PluginDefinitionError(f"{where}: display_name is required")
        if not isinstance(getattr(p, "config_schema", None), VersionedSchema):
            raise PluginDefinitionError(f"{where}: config_schema must be a VersionedSchema")
        _check_descriptive(where, p)
        schemas = {"config_schema": p.config_schema, "connection_schema": p.connection_schema}
        for name, versioned in schemas.items():
            if versioned is None:
                continue
            if versioned.version < 1:
                raise PluginDefinitionError(f"{where}: {name}.version must be 1 or more")
            try:
                check_schema(versioned.schema)
            except Exception as err:  # noqa: BLE001 - reported as the author's bug
                raise PluginDefinitionError(f"{where}: {name} is not valid JSON Schema 2020-12: {err}") from err
        conn = p.connection_schema
        registered[p.id] = _Registered(
            provider=p,
            config=ConfigValidator(p.config_schema.schema),
            connection=ConfigValidator(conn.schema) if conn else None,
            resolvers=frozenset(resolver_names(p.config_schema.schema) | resolver_names(conn.schema if conn else {})),
        )
    return registered


def _check_descriptive(where: str, p: Provider) -> None:
    for event in p.supported_events:
        if not EVENT_RE.match(event):
            raise PluginDefinitionError(f"{where}: supported event {event!r} must look like incident.incident.created")
    example = p.documentation.example_payload
    if isinstance(example, str) and example:
        try:
            json.loads(example)
        except ValueError as err:
            raise PluginDefinitionError(f"{where}: documentation.example_payload is not JSON: {err}") from err


def _provider_to_proto(p: Provider) -> pb.Provider:
    caps = p.capabilities()
    doc = p.documentation
    example = doc.example_payload
    if example is not None and not isinstance(example, str):
        example = json.dumps(example, indent=2)
    msg = pb.Provider(
        id=p.id,
        display_name=p.display_name,
        description=p.description,
        icon=p.icon,
        config_schema=pb.VersionedSchema(
            version=p.config_schema.version, json_schema=json.dumps(p.config_schema.schema)
        ),
        supported_events=list(p.supported_events),
        documentation=pb.Documentation(
            setup_guide=doc.setup_guide,
            example_payload=example or "",
            headers=[pb.HeaderDoc(name=h.name, description=h.description) for h in doc.headers],
            external_docs_url=doc.external_docs_url,
        ),
        capabilities=pb.Capabilities(
            test_connection=caps.test_connection,
            connection_options=caps.connection_options,
            migrate_config=caps.migrate_config,
            validate_config=caps.validate_config,
            preview=caps.preview,
        ),
    )
    if p.connection_schema is not None:
        msg.connection_schema.CopyFrom(
            pb.VersionedSchema(version=p.connection_schema.version, json_schema=json.dumps(p.connection_schema.schema))
        )
    return msg


def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
    context.abort(code, message)
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover


def _guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    """Turns an exception escaping provider code into INTERNAL (the host retries those)."""

    def wrapper(self: ProviderService, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except grpc.RpcError:
            raise
        except Exception as err:  # noqa: BLE001 - the plugin must answer, not die
            if context.code() is not None:  # already aborted with a chosen status
                raise
            log.exception("%s failed: provider raised %s", method.__name__, type(err).__name__)
            # The status names only the type: an exception's text may quote config values.
            context.abort(grpc.StatusCode.INTERNAL, f"provider raised {type(err).__name__} (see the plugin's log)")

    wrapper.__name__ = method.__name__
    return wrapper


class ProviderService(plugin_pb2_grpc.ProviderPluginServicer):
    """``switchyard.plugin.v1.ProviderPlugin`` over a set of :class:`Provider` objects."""

    def __init__(self, plugin_id: str, plugin_version: str, version: int, registered: dict[str, _Registered]):
        self._registered = registered
        self._describe = pb.DescribeResponse(
            plugin_id=plugin_id,
            plugin_version=plugin_version,
            protocol_version=version,
            providers=[_provider_to_proto(r.provider) for r in registered.values()],
        )

    def _lookup(self, provider_id: str, context: grpc.ServicerContext) -> _Registered:
        found = self._registered.get(provider_id)
        if found is None:
            served = ", ".join(sorted(self._registered)) or "none"
            _abort(
                context, grpc.StatusCode.NOT_FOUND, f"unknown provider {provider_id!r}; this plugin serves: {served}"
            )
        return found

    def _call_info(self, provider_id: str, context: grpc.ServicerContext) -> CallInfo:
        return CallInfo(
            logger=logging.getLogger(f"provider.{provider_id}"),
            time_remaining=context.time_remaining,
            is_active=context.is_active,
        )

    def Describe(self, request: pb.DescribeRequest, context: grpc.ServicerContext) -> pb.DescribeResponse:
        return self._describe

    def _require(self, reg: _Registered, name: str, context: grpc.ServicerContext) -> None:
        """UNIMPLEMENTED unless the provider declares the capability ``name``."""
        if not getattr(reg.provider.capabilities(), name):
            _abort(context, grpc.StatusCode.UNIMPLEMENTED, f"provider {reg.provider.id!r} does not declare {name}")

    def _delivery_context(
        self, reg: _Registered, request: pb.DeliverRequest, context: grpc.ServicerContext
    ) -> DeliveryContext | list[Diagnostic]:
        """The context of a Deliver (or Preview) request, or the config's problems."""
        if not request.HasField("event") or not request.HasField("subscription"):
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "DeliverRequest needs both event and subscription")
        payload = _parse(request.event.payload_json, "event.payload_json", context)
        config, diags = _checked(reg.config, _parse(request.config_json, "config_json", context))
        connection = None
        if reg.connection is not None and request.connection_json.strip():
            connection, conn_diags = _checked(
                reg.connection, _parse(request.connection_json, "connection_json", context)
            )
            diags += [Diagnostic(d.json_path, f"connection: {d.message}") for d in conn_diags]
        if diags:
            return diags
        ev = request.event
        return DeliveryContext(
            event=Event(
                event_type=ev.event_type,
                payload=payload,
                timestamp=ev.timestamp.ToDatetime(tzinfo=timezone.utc),
                delivery_id=ev.delivery_id,
                attempt=ev.attempt,
                event_id=ev.event_id,
            ),
            subscription=Subscription(request.subscription.id, request.subscription.name),
            config=config,
            connection=connection,
            call=self._call_info(reg.provider.id, context),
            correlation=_correlation(request),
        )

    @_guarded
    def Deliver(self, request: pb.DeliverRequest, context: grpc.ServicerContext) -> pb.DeliverResponse:
        reg = self._lookup(request.provider_id, context)
        ctx = self._delivery_context(reg, request, context)
        if isinstance(ctx, list):
            return DeliveryResult.invalid_config(ctx).to_proto()
        secrets = _secrets(reg, ConfigKind.PROVIDER, request.config_json, request.connection_json)
        supported = reg.provider.supported_events
        if supported and ctx.event.event_type not in supported:
            return DeliveryResult.permanent(
                f"provider {reg.provider.id!r} does not handle {ctx.event.event_type!r}"
            ).to_proto()
        metadata = context.invocation_metadata() if traces.enabled() else None
        with traces.deliver_span(metadata, reg.provider.id, ctx.event.delivery_id, ctx.event.attempt) as span:
            with scrub.active(secrets):
                result = reg.provider.deliver(ctx)
            if not isinstance(result, DeliveryResult):
                raise TypeError(f"deliver() returned {type(result).__name__}, not DeliveryResult")
            answer = result.to_proto()
            answer.error = secrets.scrub(answer.error)
            answer.external_id = secrets.scrub(answer.external_id)
            answer.response_excerpt = secrets.scrub(answer.response_excerpt)
            answer.state = secrets.scrub(answer.state)
            _scrub_diagnostics(secrets, answer.diagnostics)
            traces.end_deliver(span, pb.Outcome.Name(answer.outcome), answer.error)
        return answer

    def _checked_config(
        self,
        reg: _Registered,
        request: pb.TestConnectionRequest | pb.ValidateConfigRequest,
        context: grpc.ServicerContext,
    ) -> tuple[ConfigKind, Any, list[Diagnostic]]:
        """The kind of a TestConnection or ValidateConfig request and its config, checked
        against that kind's schema (INVALID_ARGUMENT when the provider has no such schema)."""
        kind = _kind(request.kind, context)
        validator = reg.config if kind is ConfigKind.PROVIDER else reg.connection
        if validator is None:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"provider {reg.provider.id!r} has no connection schema")
        config, diags = _checked(validator, _parse(request.config_json, "config_json", context))
        return kind, config, diags

    @_guarded
    def TestConnection(
        self, request: pb.TestConnectionRequest, context: grpc.ServicerContext
    ) -> pb.TestConnectionResponse:
        reg = self._lookup(request.provider_id, context)
        self._require(reg, "test_connection", context)
        kind, config, diags = self._checked_config(reg, request, context)
        if diags:
            return TestConnectionResult(False, "the config is invalid", diagnostics=tuple(diags)).to_proto()
        connection = None
        if reg.connection is not None and request.connection_json.strip():
            connection = _parse(request.connection_json, "connection_json", context)
        ctx = TestConnectionContext(kind, config, connection, self._call_info(reg.provider.id, context))
        secrets = _secrets(reg, kind, request.config_json, request.connection_json)
        with scrub.active(secrets):
            answer = reg.provider.test_connection(ctx).to_proto()
        answer.message = secrets.scrub(answer.message)
        answer.details_json = secrets.scrub(answer.details_json)
        _scrub_diagnostics(secrets, answer.diagnostics)
        return answer

    @_guarded
    def GetConnectionOptions(
        self, request: pb.GetConnectionOptionsRequest, context: grpc.ServicerContext
    ) -> pb.GetConnectionOptionsResponse:
        reg = self._lookup(request.provider_id, context)
        self._require(reg, "connection_options", context)
        if request.resolver_name not in reg.resolvers:
            known = ", ".join(sorted(reg.resolvers)) or "none"
            _abort(context, grpc.StatusCode.NOT_FOUND, f"unknown resolver {request.resolver_name!r}; known: {known}")
        connection: Any = None
        diags: list[Diagnostic] = []
        if reg.connection is not None:
            connection, diags = _checked(reg.connection, _parse(request.connection_json, "connection_json", context))
        if diags:
            return pb.GetConnectionOptionsResponse(diagnostics=[d.to_proto() for d in diags])
        form = _parse(request.context_json, "context_json", context)
        ctx = ConnectionOptionsContext(
            request.resolver_name,
            connection,
            form if isinstance(form, dict) else {},
            self._call_info(reg.provider.id, context),
        )
        secrets = _secrets(reg, ConfigKind.CONNECTION, request.connection_json, "")
        try:
            with scrub.active(secrets):
                options = reg.provider.get_connection_options(ctx)
        except UnknownResolver as err:
            _abort(context, grpc.StatusCode.NOT_FOUND, f"unknown resolver {request.resolver_name!r}: {err}")
        except OptionsError as err:
            answer = pb.GetConnectionOptionsResponse(diagnostics=[err.diagnostic.to_proto()])
        else:
            answer = pb.GetConnectionOptionsResponse(options=[o.to_proto() for o in options])
        for option in answer.options:
            option.value = secrets.scrub(option.value)
            option.label = secrets.scrub(option.label)
            option.description = secrets.scrub(option.description)
        _scrub_diagnostics(secrets, answer.diagnostics)
        return answer

    @_guarded
    def MigrateConfig(
        self, request: pb.MigrateConfigRequest, context: grpc.ServicerContext
    ) -> pb.MigrateConfigResponse:
        reg = self._lookup(request.provider_id, context)
        self._require(reg, "migrate_config", context)
        kind = _kind(request.kind, context)
        schema = reg.provider.schema_for(kind)
        validator = reg.config if kind is ConfigKind.PROVIDER else reg.connection
        if schema is None or validator is None:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"provider {reg.provider.id!r} has no connection schema")
        config = _parse(request.config_json, "config_json", context)
        diags = _version_problems(request.from_version, schema.version)
        if not diags and request.from_version < schema.version:
            try:
                config = reg.provider.migrate_config(kind, request.from_version, config)
            except MigrationError as err:
                diags = [err.diagnostic]
        if not diags:
            diags = validator.validate(config)
        if diags:
            return pb.MigrateConfigResponse(version=request.from_version, diagnostics=[d.to_proto() for d in diags])
        return pb.MigrateConfigResponse(version=schema.version, config_json=json.dumps(config))

    @_guarded
    def ValidateConfig(
        self, request: pb.ValidateConfigRequest, context: grpc.ServicerContext
    ) -> pb.ValidateConfigResponse:
        reg = self._lookup(request.provider_id, context)
        self._require(reg, "validate_config", context)
        kind, config, diags = self._checked_config(reg, request, context)
        if diags:
            return pb.ValidateConfigResponse(diagnostics=[d.to_proto() for d in diags])
        connection = None
        if kind is ConfigKind.PROVIDER and reg.connection is not None and request.connection_json.strip():
            connection = _parse(request.connection_json, "connection_json", context)
        ctx = ValidateConfigContext(kind, config, connection, self._call_info(reg.provider.id, context))
        found = reg.provider.validate_config(ctx)
        return pb.ValidateConfigResponse(diagnostics=[d.to_proto() for d in found])

    @_guarded
    def Preview(self, request: pb.PreviewRequest, context: grpc.ServicerContext) -> pb.PreviewResponse:
        if not request.HasField("delivery"):
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "PreviewRequest.delivery is required")
        reg = self._lookup(request.delivery.provider_id, context)
        self._require(reg, "preview", context)
        ctx = self._delivery_context(reg, request.delivery, context)
        if isinstance(ctx, list):
            return pb.PreviewResponse(diagnostics=[d.to_proto() for d in ctx])
        secrets = _secrets(reg, ConfigKind.PROVIDER, request.delivery.config_json, request.delivery.connection_json)
        with scrub.active(secrets):
            rendered = reg.provider.preview(ctx)
        if not isinstance(rendered, RenderedRequest):
            raise TypeError(f"preview() returned {type(rendered).__name__}, not RenderedRequest")
        answer = rendered.to_proto()
        # A provider that forgot to mask a secret does not leak it through here.
        answer.method, answer.url, answer.body = (secrets.scrub(t) for t in (answer.method, answer.url, answer.body))
        for header in answer.headers:
            header.value = secrets.scrub(header.value)
        return pb.PreviewResponse(request=answer)


def _secrets(reg: _Registered, kind: ConfigKind, config_json: str, connection_json: str) -> scrub.Scrubber:
    """The scrubber of one call: the secrets of its config (of ``kind``) and of its connection."""
    provider = reg.provider
    pairs = [(provider.schema_for(kind), config_json)]
    if provider.connection_schema is not None:
        pairs.append((provider.connection_schema, connection_json))
    secrets: list[Any] = []
    others: list[str] = []
    for versioned, text in pairs:
        try:
            config = json.loads(text) if versioned is not None and text.strip() else None
        except ValueError:
            continue
        if versioned is not None and config is not None:
            found, rest = scrub.collect(versioned.schema, config)
            secrets += found
            others += rest
    return scrub.Scrubber(secrets, others)


def _scrub_diagnostics(secrets: scrub.Scrubber, diagnostics: Any) -> None:
    for d in diagnostics:
        d.message = secrets.scrub(d.message)


def _version_problems(from_version: int, current: int) -> list[Diagnostic]:
    if from_version < 1:
        return [Diagnostic("", f"from_version {from_version} is not a version (versions start at 1)")]
    if from_version > current:
        return [Diagnostic("", f"version {from_version} is newer than this provider's current version {current}")]
    return []


def _parse(text: str, what: str, context: grpc.ServicerContext) -> Any:
    try:
        return parse_json(text, what)
    except ConfigError as err:
        _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(err))


def _checked(validator: ConfigValidator, config: Any) -> tuple[Any, list[Diagnostic]]:
    diags = validator.validate(config)
    return (None, diags) if diags else (validator.with_defaults(config), [])


def _kind(value: int, context: grpc.ServicerContext) -> ConfigKind:
    try:
        return ConfigKind(value)
    except ValueError:
        _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "kind must be CONFIG_KIND_PROVIDER or CONFIG_KIND_CONNECTION")


def _correlation(request: pb.DeliverRequest) -> Correlation | None:
    """The request's correlation, if the host sent one."""
    if not request.HasField("correlation"):
        return None
    c = request.correlation
    earlier = tuple(
        CorrelatedDelivery(
            event_type=e.event_type,
            external_id=e.external_id or None,
            state=e.state or None,
            delivered=e.delivered,
            ended_at=e.ended_at.ToDatetime(tzinfo=timezone.utc),
            delivery_id=e.delivery_id,
        )
        for e in c.earlier
    )
    return Correlation(key=c.key, earlier=earlier)
