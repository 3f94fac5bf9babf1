"""Fixtures of the platform-API client tests: the coordinator's gRPC stubs generated from the
repository's ``proto/`` into a temporary directory, and a real ``switchyard serve`` (the debug
build, with the real webhook plugin) on a private temporary data dir and Unix socket.

Run after ``cargo build --workspace --bins`` and ``plugin-sdk/python/scripts/setup.sh`` (whose
virtualenv has the pinned grpcio and grpcio-tools), e.g. through ``scripts/test.sh``.
"""

from __future__ import annotations

import importlib
import importlib.resources
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug"
PROTOS = ("provider", "event_type", "event", "delivery")

#: Bounds, not expectations: a loaded 2-core machine must not make the tests flaky.
START_TIMEOUT = 60.0
CALL_TIMEOUT = 20.0


@dataclass
class Api:
    """The generated modules: ``api.pb("event")`` is ``event_pb2``, ``api.grpc("event")``
    is ``event_pb2_grpc``."""

    modules: dict[str, ModuleType]

    def pb(self, name: str) -> ModuleType:
        return self.modules[f"{name}_pb2"]

    def grpc(self, name: str) -> ModuleType:
        return self.modules[f"{name}_pb2_grpc"]


@pytest.fixture(scope="session")
def api() -> Iterator[Api]:
    """Stubs of ``switchyard.coordinator.v1``, generated with grpcio-tools' bundled protoc."""
    from grpc_tools import protoc

    with tempfile.TemporaryDirectory(prefix="sy-pyclient-stubs-") as out:
        well_known = importlib.resources.files("grpc_tools") / "_proto"
        files = [f"switchyard/coordinator/v1/{p}.proto" for p in PROTOS]
        args = ["protoc", f"-I{ROOT / 'proto'}", f"-I{well_known}", f"--python_out={out}", f"--grpc_python_out={out}"]
        assert protoc.main([*args, *files]) == 0, "protoc failed on the coordinator's protos"
        sys.path.insert(0, out)
        try:
            modules = {
                f"{p}{suffix}": importlib.import_module(f"switchyard.coordinator.v1.{p}{suffix}")
                for p in PROTOS
                for suffix in ("_pb2", "_pb2_grpc")
            }
            yield Api(modules)
        finally:
            sys.path.remove(out)


@dataclass
class Coordinator:
    """A running ``switchyard serve``."""

    process: subprocess.Popen[bytes]
    socket: Path
    log: Path

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture()
def coordinator() -> Iterator[Coordinator]:
    """Starts the coordinator and waits until its socket exists (it is bound only after the
    plugins started); stops it with SIGTERM and removes its directory afterwards."""
    binary, webhook = TARGET / "switchyard", TARGET / "switchyard-plugin-webhook"
    for path in (binary, webhook):
        assert path.is_file(), f"{path} is missing: run `cargo build --workspace --bins` first"
    with tempfile.TemporaryDirectory(prefix="sy-pyclient-") as tmp:
        socket, log = Path(tmp) / "api.sock", Path(tmp) / "stderr.log"
        config = Path(tmp) / "switchyard.toml"
        config.write_text(
            f'data_dir = "{Path(tmp) / "data"}"\n'
            f'[api]\nsocket = "{socket}"\ntcp_listen = ""\n'
            f'[plugins]\ndiscover_next_to_binary = false\nstart_timeout = "30s"\n'
            f'[[plugins.extra]]\ncommand = "{webhook}"\n'
        )
        env = {k: v for k, v in os.environ.items() if k != "RUST_LOG"}
        with log.open("wb") as err:
            process = subprocess.Popen(
                [str(binary), "serve", "--config", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=env,
            )
        coord = Coordinator(process, socket, log)
        try:
            _wait_for_socket(coord)
            yield coord
        finally:
            _stop(process)


def _wait_for_socket(coord: Coordinator) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not coord.socket.exists():
        if coord.process.poll() is not None:
            pytest.fail(f"switchyard serve exited ({coord.process.returncode}):\n{coord.stderr()}")
        if time.monotonic() > deadline:
            pytest.fail(f"switchyard serve did not listen within {START_TIMEOUT} s:\n{coord.stderr()}")
        time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
