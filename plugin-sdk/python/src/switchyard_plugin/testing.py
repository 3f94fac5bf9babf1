"""A test kit for plugin authors: start a real plugin process the way the host does, and talk to
it over its real Unix socket.

::

    with PluginProcess(["./my-plugin"]) as plugin:
        described = plugin.plugin.Describe(pb.DescribeRequest(), timeout=10)

The process gets the magic cookie, ``PLUGIN_PROTOCOL_VERSIONS`` and a private
``PLUGIN_UNIX_SOCKET_DIR``; its stderr is collected (see :attr:`PluginProcess.stderr_text`).
Leaving the ``with`` block asks it to Shutdown, then terminates and reaps it, and removes the
socket directory, whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2_grpc

from . import handshake
from ._pb import controller_pb2, controller_pb2_grpc, plugin_pb2_grpc

#: Generous: a loaded 2-core CI machine may take seconds to start a Python interpreter.
START_TIMEOUT_S = 30.0


class PluginStartError(RuntimeError):
    """The plugin did not complete the handshake; the message carries its stderr."""


@dataclass(frozen=True)
class Handshake:
    """The parsed first stdout line."""

    core_version: int
    app_version: int
    network: str
    address: str
    protocol: str


def parse_handshake(line: str) -> Handshake:
    """Parses ``1|1|unix|/path|grpc|``; raises ValueError naming what is wrong."""
    parts = line.rstrip("\n").split("|")
    if len(parts) != 6:
        raise ValueError(f"handshake line {line!r} does not have 6 '|'-separated fields")
    core, app, network, address, protocol, _cert = parts
    return Handshake(int(core), int(app), network, address, protocol)


def host_env(socket_dir: str, versions: str = "1", extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a Switchyard host gives a plugin (plus PATH so scripts can find tools)."""
    env = {
        handshake.MAGIC_COOKIE_KEY: handshake.MAGIC_COOKIE_VALUE,
        handshake.PROTOCOL_VERSIONS_ENV: versions,
        handshake.UNIX_SOCKET_DIR_ENV: socket_dir,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    env.update(extra or {})
    return env


class PluginProcess:
    """A running plugin child process with gRPC stubs on its socket."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str] | None = None, versions: str = "1") -> None:
        self.socket_dir = tempfile.mkdtemp(prefix="sy-py-")
        os.chmod(self.socket_dir, 0o700)
        self._env = host_env(self.socket_dir, versions, env)
        self._argv = list(argv)
        self._stderr: list[bytes] = []
        self.stdout_rest = b""
        self.process: subprocess.Popen[bytes] | None = None
        self.channel: grpc.Channel | None = None
        self._drainer: threading.Thread | None = None

    # === lifecycle ===

    def __enter__(self) -> PluginProcess:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def start(self) -> None:
        """Spawns the plugin, reads its handshake line and connects."""
        self.process = subprocess.Popen(
            self._argv, env=self._env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self._drainer = threading.Thread(target=self._drain_stderr, daemon=True)
        self._drainer.start()
        line = self._read_line(START_TIMEOUT_S)
        self.handshake = parse_handshake(line)
        self.channel = grpc.insecure_channel(
            f"unix:{self.handshake.address}", options=[("grpc.default_authority", handshake.AUTHORITY)]
        )
        grpc.channel_ready_future(self.channel).result(timeout=START_TIMEOUT_S)
        self.plugin = plugin_pb2_grpc.ProviderPluginStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)
        self.controller = controller_pb2_grpc.GRPCControllerStub(self.channel)

    def _read_line(self, timeout: float) -> str:
        assert self.process is not None and self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise PluginStartError(f"no handshake line within {timeout}s; stderr: {self.stderr_text()!r}")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    code = self.process.wait(timeout=timeout)
                    raise PluginStartError(
                        f"plugin exited ({code}) before the handshake; stderr: {self.stderr_text()!r}"
                    )
                buf += chunk
        line, _, self.stdout_rest = buf.partition(b"\n")
        return line.decode()

    def _drain_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        fd = self.process.stderr.fileno()
        with contextlib.suppress(OSError):  # the pipe closed under us: nothing more to read
            for chunk in iter(lambda: os.read(fd, 65536), b""):
                self._stderr.append(chunk)

    def stderr_text(self) -> str:
        """Everything the plugin wrote to stderr so far."""
        return b"".join(self._stderr).decode("utf-8", errors="replace")

    def read_stdout_rest(self) -> bytes:
        """Whatever the plugin wrote to stdout after the handshake line (call after it exited)."""
        assert self.process is not None and self.process.stdout is not None
        return self.stdout_rest + self.process.stdout.read()

    def wait(self, timeout: float = START_TIMEOUT_S) -> int:
        """Waits for the process to exit and returns its exit status."""
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def close(self) -> None:
        """Shutdown, then SIGTERM, then SIGKILL; always reaps and removes the socket dir."""
        if self.channel is not None:
            if self.process is not None and self.process.poll() is None:
                with contextlib.suppress(grpc.RpcError):
                    self.controller.Shutdown(controller_pb2.Empty(), timeout=5)
            self.channel.close()
            self.channel = None
        if self.process is not None:
            for sig, grace in ((None, 5.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 30.0)):
                if sig is not None and self.process.poll() is None:
                    self.process.send_signal(sig)
                try:
                    self.process.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
            if self._drainer is not None:
                self._drainer.join(timeout=5)  # EOF once the process (and its children) exited
            for pipe in (self.process.stdout, self.process.stderr):
                if pipe is not None:
                    pipe.close()
        shutil.rmtree(self.socket_dir, ignore_errors=True)
