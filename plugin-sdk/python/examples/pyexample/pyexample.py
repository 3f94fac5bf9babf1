"""``pyexample``: an example Switchyard plugin written in Python with ``switchyard_plugin``.

It serves two providers. Every HTTP call goes through the SDK's helpers, which hold it to the
operator's network policy (``switchyard_plugin.http``: a loopback, private or metadata address
is refused unless ``SWITCHYARD_NETWORK_ALLOW`` allows it, redirects are not followed, proxies
ignored); only the standard library is used:

- ``http-post`` POSTs each event as JSON to a configured URL, in the seed's body shape
  ``{id, eventType, timestamp, subscription: {id, name}, data}``, with an optional bearer token.
  Beyond ``deliver`` it implements ``test_connection`` (is the endpoint reachable, is the token
  accepted?) and ``migrate_config`` (version 1 named its fields ``endpoint``/``bearerToken``/
  ``timeoutMs``).
- ``channel-post`` shows a connection-based provider: shared credentials in a connection
  (``baseUrl`` + secret ``apiToken``), a config whose ``channel`` and ``mention`` fields are
  dropdowns filled by ``get_connection_options`` (``mention`` depends on ``channel``), a list
  of supported events, and an optional message template (``textTemplate``, the SDK's
  templates) that ``validate_config`` checks at save time; ``test_connection`` lists the
  channels, and ``preview`` renders the message it would post (the token masked).

Run it through the wrapper ``plugin-sdk/python/switchyard-plugin-pyexample``, which uses the
SDK's virtualenv; started by hand it only explains that it is a plugin.
"""

from __future__ import annotations

import json
import math
import urllib.parse
from datetime import datetime, timezone
from typing import Any

from switchyard_plugin import (
    ConfigKind,
    ConnectionOption,
    ConnectionOptionsContext,
    DeliveryContext,
    DeliveryResult,
    Diagnostic,
    Documentation,
    HeaderDoc,
    MigrationError,
    OptionsError,
    Provider,
    RenderedRequest,
    TestConnectionContext,
    TestConnectionResult,
    ValidateConfigContext,
    VersionedSchema,
    deliver_json,
    serve,
)
from switchyard_plugin.http import InvalidRequest, NetworkError, request
from switchyard_plugin.net_policy import PolicyError, Refusal
from switchyard_plugin.results import REDACTED
from switchyard_plugin.templates import TemplateCache, TemplateError, context_of, template_schema

#: What a call can fail with before any answer: the policy's refusal, an unreadable allow-list,
#: no answer at all, a URL that cannot be used.
UNREACHABLE = (Refusal, PolicyError, NetworkError, InvalidRequest)

PLUGIN_ID = "pyexample"
PLUGIN_VERSION = "0.1.0"
USER_AGENT = f"switchyard-plugin-{PLUGIN_ID}/{PLUGIN_VERSION}"

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "HTTP POST",
    "type": "object",
    "properties": {
        "url": {
            "type": "string",
            "format": "uri",
            "title": "URL",
            "description": "The endpoint that receives every event as an HTTP POST of JSON.",
            "examples": ["http://127.0.0.1:8080/hook"],
        },
        "token": {
            "type": "string",
            "minLength": 1,
            "title": "Bearer token",
            "description": "Optional; sent as `Authorization: Bearer <token>`.",
            "x-secret": True,
        },
        "timeoutSeconds": {
            "type": "integer",
            "minimum": 1,
            "maximum": 60,
            "default": 10,
            "title": "Timeout (seconds)",
            "description": "How long to wait for the endpoint to answer.",
        },
    },
    "required": ["url"],
    "additionalProperties": False,
}

EXAMPLE_BODY = {
    "id": "0193a5c4-5e1f-7c3a-9d2b-4f6e8a1b2c3d",
    "eventType": "incident.incident.created",
    "timestamp": "2026-11-27T09:30:00.000Z",
    "subscription": {"id": "sub-42", "name": "On-call webhook"},
    "data": {"incidentId": "inc-7", "systemIds": ["sys-1"], "title": "API down", "severity": "critical"},
}

SETUP_GUIDE = """\
1. Give the URL of an endpoint that accepts `POST` requests with a JSON body.
2. If it requires authentication, give a bearer token; it is stored encrypted.
3. Use **Test connection** to check that the endpoint answers and accepts the token.

A 2xx answer counts as delivered (the external id is taken from the answer's `id`,
`externalId` or `messageId`); 429 and 503 are retried after `Retry-After`; other 5xx and
network errors are retried; 410 and other 4xx stop the delivery.
"""


def iso_timestamp(when: datetime) -> str:
    """``2026-11-27T09:30:00.000Z``: the seed's ISO timestamp, in UTC with milliseconds."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


class HttpPost(Provider):
    """POSTs each event as JSON to a URL."""

    id = "http-post"
    display_name = "HTTP POST (Python example)"
    description = "Sends each event as a JSON POST to a URL, optionally with a bearer token."
    icon = "send"
    config_schema = VersionedSchema(2, CONFIG_SCHEMA)
    documentation = Documentation(
        setup_guide=SETUP_GUIDE,
        example_payload=EXAMPLE_BODY,
        headers=(
            HeaderDoc("Content-Type", "Always `application/json`."),
            HeaderDoc("User-Agent", f"`{USER_AGENT}`."),
            HeaderDoc("X-Delivery-Id", "The delivery id, the same for every attempt: dedupe on it."),
            HeaderDoc("X-Event-Type", "The event type, e.g. `incident.incident.created`."),
            HeaderDoc("Authorization", "`Bearer <token>` when a token is configured."),
        ),
    )

    def deliver(self, ctx: DeliveryContext) -> DeliveryResult:
        body = {
            "id": ctx.event.delivery_id,
            "eventType": ctx.event.event_type,
            "timestamp": iso_timestamp(ctx.event.timestamp),
            "subscription": {"id": ctx.subscription.id, "name": ctx.subscription.name},
            "data": ctx.event.payload,
        }
        headers = {
            "User-Agent": USER_AGENT,
            "X-Delivery-Id": ctx.event.delivery_id,
            "X-Event-Type": ctx.event.event_type,
            **_auth(ctx.config),
        }
        result = deliver_json(ctx.config["url"], body, headers, timeout=ctx.call.timeout(ctx.config["timeoutSeconds"]))
        ctx.logger.info(
            "delivery attempt done",
            extra={
                "delivery_id": ctx.event.delivery_id,
                "attempt": ctx.event.attempt,
                "outcome": result.outcome.name,
                "status": result.status_code,
            },
        )
        return result

    def test_connection(self, ctx: TestConnectionContext) -> TestConnectionResult:
        headers = {"User-Agent": USER_AGENT, **_auth(ctx.config)}
        try:
            answer = request("HEAD", ctx.config["url"], None, headers, ctx.call.timeout(ctx.config["timeoutSeconds"]))
        except UNREACHABLE as err:
            return TestConnectionResult(False, f"the endpoint cannot be reached: {err}")
        details = {"status": answer.status}
        if answer.status in (401, 403):
            return TestConnectionResult(False, f"HTTP {answer.status}: the endpoint refused the token", details)
        if answer.status >= 500:
            return TestConnectionResult(False, f"HTTP {answer.status}: the endpoint is failing", details)
        return TestConnectionResult(True, f"the endpoint answered HTTP {answer.status}", details)

    def migrate_config(self, kind: ConfigKind, from_version: int, config: dict[str, Any]) -> dict[str, Any]:
        # Version 1: {"endpoint": ..., "bearerToken"?: ..., "timeoutMs"?: ...}.
        if from_version != 1 or not isinstance(config, dict):
            raise MigrationError(f"cannot migrate a version {from_version} config")
        if "endpoint" not in config:
            raise MigrationError("a version 1 config needs 'endpoint'", "/endpoint")
        upgraded: dict[str, Any] = {"url": config["endpoint"]}
        if config.get("bearerToken"):
            upgraded["token"] = config["bearerToken"]
        if "timeoutMs" in config:
            millis = config["timeoutMs"]
            if not isinstance(millis, (int, float)) or isinstance(millis, bool):
                raise MigrationError("'timeoutMs' must be a number", "/timeoutMs")
            upgraded["timeoutSeconds"] = min(60, max(1, math.ceil(millis / 1000)))
        return upgraded


def _auth(config: dict[str, Any]) -> dict[str, str]:
    token = config.get("token")
    return {"Authorization": f"Bearer {token}"} if token else {}


CONNECTION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "baseUrl": {
            "type": "string",
            "format": "uri",
            "title": "API base URL",
            "examples": ["http://127.0.0.1:8080/api"],
        },
        "apiToken": {"type": "string", "minLength": 1, "title": "API token", "x-secret": True},
    },
    "required": ["baseUrl", "apiToken"],
    "additionalProperties": False,
}

CHANNEL_CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "connectionId": {"type": "string", "x-hidden": True},
        "channel": {"type": "string", "minLength": 1, "title": "Channel", "x-options-resolver": "channels"},
        "mention": {
            "type": "string",
            "title": "Mention (optional)",
            "x-options-resolver": "members",
            "x-depends-on": ["channel"],
            "x-searchable": True,
        },
        "textTemplate": template_schema(
            "markdown",
            title="Message (optional)",
            description="A template for the message text, e.g. `{{ payload.title }} is {{ payload.status }}`; "
            "by default `[event type] title`.",
            maxLength=4000,
        ),
    },
    "required": ["connectionId", "channel"],
    "additionalProperties": False,
}


class ChannelPost(Provider):
    """Posts a one-line message per event to a channel of a chat-like API (a connection-based provider).

    The API: ``GET {baseUrl}/channels`` and ``GET {baseUrl}/channels/{id}/members`` list
    ``[{"id", "name"}]``; ``POST {baseUrl}/channels/{id}/messages`` takes ``{text, mention?, event}``.
    """

    id = "channel-post"
    display_name = "Channel message (Python example)"
    description = "Posts a short message per event to a channel, using a shared API connection."
    icon = "message-square"
    config_schema = VersionedSchema(1, CHANNEL_CONFIG_SCHEMA)
    connection_schema = VersionedSchema(1, CONNECTION_SCHEMA)
    supported_events = ("incident.incident.created", "incident.incident.resolved", "maintenance.maintenance.created")
    documentation = Documentation(
        setup_guide="Create a connection with the API's base URL and a token, then pick a channel.",
        example_payload={"text": "[incident.incident.created] API down", "mention": "alice", "event": EXAMPLE_BODY},
        headers=(HeaderDoc("X-Delivery-Id", "The delivery id, the same for every attempt."),),
    )

    #: Compiled message templates, shared by every delivery.
    templates = TemplateCache()

    def deliver(self, ctx: DeliveryContext) -> DeliveryResult:
        if ctx.connection is None:
            return DeliveryResult.permanent("no connection is configured for this subscription")
        try:
            url, message, headers = self._request(ctx, ctx.connection)
        except TemplateError as err:
            return err.to_result()  # permanent, naming /textTemplate; nothing is sent
        return deliver_json(url, message, {**headers, **_bearer(ctx.connection)}, timeout=ctx.call.timeout(10))

    def preview(self, ctx: DeliveryContext) -> RenderedRequest:
        """The request :meth:`deliver` would send, the token masked (the same builder)."""
        if ctx.connection is None:
            raise ValueError("no connection is configured for this subscription")
        url, message, headers = self._request(ctx, ctx.connection)
        sent = {"Content-Type": "application/json", **headers, "Authorization": f"Bearer {REDACTED}"}
        return RenderedRequest("POST", url, tuple(sent.items()), json.dumps(message))

    def test_connection(self, ctx: TestConnectionContext) -> TestConnectionResult:
        """Lists the channels: the base URL answers and the token is accepted. A provider config
        is tested through the connection it uses."""
        credentials = ctx.config if ctx.kind is ConfigKind.CONNECTION else ctx.connection
        if credentials is None:
            return TestConnectionResult(False, "no connection is configured: choose one to test")
        url = _api(credentials, "channels")
        headers = {"User-Agent": USER_AGENT, **_bearer(credentials)}
        try:
            answer = request("GET", url, None, headers, ctx.call.timeout(10))
        except UNREACHABLE as err:
            return TestConnectionResult(False, f"the API cannot be reached: {err}")
        if answer.status in (401, 403):
            refused = f"HTTP {answer.status}: the API refused the token"
            return TestConnectionResult(False, refused, {"status": answer.status})
        items = json.loads(answer.body) if answer.status == 200 and _is_json(answer.body) else None
        if not isinstance(items, list):
            return TestConnectionResult(False, f"GET {url} answered HTTP {answer.status} without a JSON list")
        return TestConnectionResult(True, f"connected: {len(items)} channels visible", {"channels": len(items)})

    def _request(self, ctx: DeliveryContext, connection: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, str]]:
        """The URL, body and headers (but the token) of a delivery; raises TemplateError."""
        message: dict[str, Any] = {
            "text": self._text(ctx),
            "event": {"id": ctx.event.delivery_id, "eventType": ctx.event.event_type, "data": ctx.event.payload},
        }
        if ctx.config.get("mention"):
            message["mention"] = ctx.config["mention"]
        url = _api(connection, "channels", ctx.config["channel"], "messages")
        return url, message, {"User-Agent": USER_AGENT, "X-Delivery-Id": ctx.event.delivery_id}

    def validate_config(self, ctx: ValidateConfigContext) -> list[Diagnostic]:
        source = ctx.config.get("textTemplate")
        if source is None:
            return []
        try:
            self.templates.get("/textTemplate", source)
        except TemplateError as err:
            return [err.diagnostic()]
        return []

    def _text(self, ctx: DeliveryContext) -> str:
        source = ctx.config.get("textTemplate")
        if source is not None:
            return self.templates.get("/textTemplate", source).render(context_of(ctx))
        payload = ctx.event.payload if isinstance(ctx.event.payload, dict) else {}
        title = payload.get("title") or payload.get("systemName") or ""
        return f"[{ctx.event.event_type}] {title}".strip()

    def get_connection_options(self, ctx: ConnectionOptionsContext) -> list[ConnectionOption]:
        assert ctx.connection is not None  # the SDK validated it against CONNECTION_SCHEMA
        if ctx.resolver_name == "channels":
            url = _api(ctx.connection, "channels")
        else:  # "members": the SDK answers NOT_FOUND for names no schema declares
            channel = ctx.form.get("channel")
            if not channel:
                return []
            url = _api(ctx.connection, "channels", str(channel), "members")
        headers = {"User-Agent": USER_AGENT, **_bearer(ctx.connection)}
        try:
            answer = request("GET", url, None, headers, ctx.call.timeout(10))
        except UNREACHABLE as err:
            raise OptionsError(f"the API cannot be reached: {err}", "/baseUrl") from err
        if answer.status in (401, 403):
            raise OptionsError(f"the API refused the token (HTTP {answer.status})", "/apiToken")
        items = json.loads(answer.body) if answer.status == 200 and _is_json(answer.body) else None
        if not isinstance(items, list):
            raise OptionsError(f"GET {url} answered HTTP {answer.status} without a JSON list", "/baseUrl")
        return [
            ConnectionOption(str(i["id"]), str(i.get("name", i["id"])))
            for i in items
            if isinstance(i, dict) and "id" in i
        ]


def _api(connection: dict[str, Any], *parts: str) -> str:
    return "/".join([connection["baseUrl"].rstrip("/"), *(urllib.parse.quote(p, safe="") for p in parts)])


def _bearer(connection: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {connection['apiToken']}"}


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def main() -> None:
    serve(PLUGIN_ID, PLUGIN_VERSION, [HttpPost(), ChannelPost()])


if __name__ == "__main__":
    main()
