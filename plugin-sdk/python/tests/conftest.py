"""Shared fixtures: a real local HTTP sink, and real plugin processes started the way a host
starts them (the example plugin through its executable wrapper, and an SDK fixture plugin)."""

from __future__ import annotations

import json
import queue
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from switchyard_plugin._pb import plugin_pb2 as pb
from switchyard_plugin.net_policy import ALLOW_ENV
from switchyard_plugin.testing import PluginProcess

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "switchyard-plugin-pyexample"
SDK_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "sdk_fixture.py"

#: Generous per-call deadline: a loaded 2-core machine must not make a test flaky.
CALL_TIMEOUT = 20.0
#: What the host would hand a plugin whose receivers run on this machine (the sinks below).
LOOPBACK_ALLOWED = {ALLOW_ENV: "127.0.0.0/8"}


@dataclass
class Received:
    """One request the sink received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    """What the sink answers with."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"id": "ext-1"}'


class _Server(ThreadingHTTPServer):
    # The default listen backlog of 5 refuses connections when 32 deliveries arrive at once.
    request_queue_size = 128


class Sink:
    """A real HTTP server on 127.0.0.1 that records requests and answers with ``reply`` — or, when
    ``echo_status`` is set, with that status and a body repeating the request (request line,
    headers sorted by name, body), as receivers that quote what they got in their error answers do."""

    def __init__(self) -> None:
        self.received: queue.Queue[Received] = queue.Queue()
        self.reply = Reply()
        self.echo_status: int | None = None
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                sink.received.put(
                    Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                reply = sink.reply
                if sink.echo_status is not None:
                    lines = [f"you sent: {self.requestline}", *(f"{k}: {v}" for k, v in sorted(self.headers.items()))]
                    reply = Reply(sink.echo_status, {}, "\n".join(lines).encode() + b"\n" + body)
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(reply.body)

            do_POST = do_GET = do_HEAD = do_PUT = _handle

            def log_message(self, *_: object) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def next(self, timeout: float = CALL_TIMEOUT) -> Received:
        return self.received.get(timeout=timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def example() -> Iterator[PluginProcess]:
    with PluginProcess([str(EXAMPLE)], env=LOOPBACK_ALLOWED) as plugin:
        yield plugin


@pytest.fixture
def fixture_plugin() -> Iterator[PluginProcess]:
    with PluginProcess([sys.executable, str(SDK_FIXTURE)]) as plugin:
        yield plugin


def deliver_request(
    config: dict, provider_id: str = "http-post", payload: object = None, **event: object
) -> pb.DeliverRequest:
    """A DeliverRequest with a fixed event, for ``provider_id`` and ``config``."""
    ts = Timestamp()
    ts.FromJsonString("2026-11-27T09:30:00.123Z")
    return pb.DeliverRequest(
        provider_id=provider_id,
        event=pb.Event(
            event_type=str(event.get("event_type", "incident.incident.created")),
            payload_json=json.dumps({"incidentId": "inc-7", "title": "API down"} if payload is None else payload),
            timestamp=ts,
            delivery_id=str(event.get("delivery_id", "del-1")),
            attempt=int(event.get("attempt", 1)),  # type: ignore[call-overload]
        ),
        subscription=pb.Subscription(id="sub-42", name="On-call webhook"),
        config_json=json.dumps(config),
    )
