"""The process around a plugin's gRPC services: handshake, the gRPC server on the Unix socket
(``ProviderPlugin``, ``grpc.health.v1.Health``, ``plugin.GRPCController``), signals, the parent
watch, and a clean exit.

:func:`serve` is the one call a plugin's ``main`` makes. It never returns: the process exits 0
after ``plugin.GRPCController/Shutdown``, SIGTERM, SIGINT or the death of its parent, having
stopped the server (calls in flight get a short grace period) and removed its socket.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from typing import NoReturn

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from . import handshake, hclog, traces
from ._pb import controller_pb2, controller_pb2_grpc, plugin_pb2_grpc
from .provider import Provider
from .service import PluginDefinitionError, ProviderService, validate_definition

log = logging.getLogger("switchyard_plugin")

#: Worker threads serving calls; the host runs up to 32 calls at once per plugin, and health
#: checks and Shutdown must still get a thread while those are busy.
MAX_WORKERS = 64
#: How long calls in flight may still run after a stop was asked for (the host waits 2 s).
STOP_GRACE_S = 1.5
#: How often the parent process is checked.
PARENT_POLL_S = 0.2
#: Largest request accepted (a 1 MiB payload plus config fits comfortably).
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class _Controller(controller_pb2_grpc.GRPCControllerServicer):
    """``plugin.GRPCController``: Shutdown answers at once, then the main thread stops the plugin."""

    def __init__(self, stop: Callable[[str], None]) -> None:
        self._stop = stop

    def Shutdown(self, request: controller_pb2.Empty, context: grpc.ServicerContext) -> controller_pb2.Empty:
        self._stop("Shutdown called")
        return controller_pb2.Empty()


class _Lifecycle:
    """Owns the stop decision: the first reason to stop wins, the main thread acts on it."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def stop(self, reason: str) -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    def wait(self, parent: int) -> str:
        """Blocks until a stop is asked for or the parent process is gone; returns why."""
        while not self._event.wait(PARENT_POLL_S):
            # Polled instead of prctl(PR_SET_PDEATHSIG): that fires when the parent *thread*
            # that spawned us exits, which in a multi-threaded host may be long before the host.
            if parent > 1 and os.getppid() != parent:
                self.stop(f"parent process {parent} exited")
        return self.reason


def _build_server(service: ProviderService, lifecycle: _Lifecycle) -> tuple[grpc.Server, health.HealthServicer]:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="rpc"),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    health_service = health.HealthServicer()
    health_service.set(handshake.HEALTH_SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    health_service.set("", health_pb2.HealthCheckResponse.SERVING)
    plugin_pb2_grpc.add_ProviderPluginServicer_to_server(service, server)
    health_pb2_grpc.add_HealthServicer_to_server(health_service, server)
    controller_pb2_grpc.add_GRPCControllerServicer_to_server(_Controller(lifecycle.stop), server)
    return server, health_service


def _bind(server: grpc.Server, path: str) -> None:
    try:
        bound = server.add_insecure_port(f"unix:{path}")
    except RuntimeError as err:
        raise handshake.HandshakeError(f"cannot listen on unix socket {path}: {err}") from err
    if not bound:
        raise handshake.HandshakeError(f"cannot listen on unix socket {path}")


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        log.warning("could not remove socket", extra={"path": path, "error": str(err)})


def serve(
    plugin_id: str,
    plugin_version: str,
    providers: Sequence[Provider],
    *,
    log_level: int = logging.INFO,
    env: dict[str, str] | None = None,
) -> NoReturn:
    """Runs the plugin: handshake, serve until told to stop, clean up, exit.

    Call it from the plugin's ``main``. It exits 1 with a message on stderr when started without
    the host's cookie, when no protocol version is shared, or when the plugin's own definition
    is invalid (a bad id, a schema that is not JSON Schema 2020-12).
    """
    env = dict(os.environ if env is None else env)
    sys.stdout = sys.stderr  # stray prints must never reach the handshake pipe
    hclog.install(log_level, module=plugin_id)
    traces.install(env)
    parent = os.getppid()
    try:
        handshake.check_cookie(env)
        version = handshake.negotiate(env)
        registered = validate_definition(plugin_id, providers)
        path = handshake.socket_path(env)
    except (handshake.HandshakeError, PluginDefinitionError) as err:
        handshake.refuse(str(err))
    lifecycle = _Lifecycle()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda s, _f: lifecycle.stop(f"signal {signal.Signals(s).name}"))
    server, health_service = _build_server(ProviderService(plugin_id, plugin_version, version, registered), lifecycle)
    try:
        _bind(server, path)
    except handshake.HandshakeError as err:
        handshake.refuse(str(err))
    server.start()
    handshake.announce(version, path)
    log.info("plugin serving", extra={"socket": path, "protocol_version": version, "pid": os.getpid()})
    reason = lifecycle.wait(parent)
    log.info("plugin stopping", extra={"reason": reason})
    health_service.enter_graceful_shutdown()
    server.stop(STOP_GRACE_S).wait(STOP_GRACE_S + 1.0)
    _remove(path)
    traces.shutdown()
    logging.shutdown()
    sys.stderr.flush()
    # os._exit: a provider thread still blocked in I/O must not keep the process alive.
    os._exit(0)
