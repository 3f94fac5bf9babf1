"""How a plugin ends: Shutdown, SIGTERM, and the death of its parent — always exiting 0,
removing its socket, and writing nothing to stdout after the handshake line."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time

from switchyard_plugin._pb import controller_pb2
from switchyard_plugin.testing import PluginProcess, host_env, parse_handshake

from .conftest import CALL_TIMEOUT, EXAMPLE


def test_shutdown_answers_then_exits_0_and_removes_the_socket(example: PluginProcess) -> None:
    socket = example.handshake.address
    example.controller.Shutdown(controller_pb2.Empty(), timeout=CALL_TIMEOUT)
    assert example.wait(timeout=CALL_TIMEOUT) == 0
    assert not os.path.exists(socket)
    assert example.read_stdout_rest() == b""


def test_sigterm_exits_0_and_removes_the_socket(example: PluginProcess) -> None:
    socket = example.handshake.address
    assert example.process is not None
    example.process.send_signal(signal.SIGTERM)
    assert example.wait(timeout=CALL_TIMEOUT) == 0
    assert not os.path.exists(socket)


def test_logs_are_hclog_json_lines_on_stderr(example: PluginProcess) -> None:
    example.controller.Shutdown(controller_pb2.Empty(), timeout=CALL_TIMEOUT)
    example.wait(timeout=CALL_TIMEOUT)
    assert example._drainer is not None
    example._drainer.join(timeout=CALL_TIMEOUT)
    lines = [json.loads(line) for line in example.stderr_text().splitlines() if line.strip()]
    messages = [line["@message"] for line in lines]
    assert "plugin serving" in messages and "plugin stopping" in messages
    for line in lines:
        assert {"@level", "@message", "@timestamp"} <= line.keys()
        assert line["@timestamp"].endswith("Z")
    stopping = next(line for line in lines if line["@message"] == "plugin stopping")
    assert stopping["@level"] == "info" and stopping["reason"] == "Shutdown called"


def test_the_plugin_exits_when_its_parent_dies(tmp_path) -> None:
    # sh starts the plugin in the background and waits; killing sh orphans the plugin.
    shell = subprocess.Popen(
        ["/bin/sh", "-c", '"$@" & echo "$!" >&2; wait', "sh", str(EXAMPLE)],
        env=host_env(str(tmp_path)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert shell.stdout is not None and shell.stderr is not None
        plugin_pid = int(shell.stderr.readline())
        line = shell.stdout.readline().decode()
        socket = parse_handshake(line).address
        shell.kill()
        shell.wait(timeout=CALL_TIMEOUT)
        # The plugin is not our child, so there is no exit event to wait on: poll /proc.
        deadline = time.monotonic() + CALL_TIMEOUT
        while _alive(plugin_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(plugin_pid), "plugin outlived its parent"
        assert not os.path.exists(socket)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGKILL)
        shell.wait(timeout=CALL_TIMEOUT)
        for pipe in (shell.stdout, shell.stderr):
            if pipe is not None:
                pipe.close()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")
