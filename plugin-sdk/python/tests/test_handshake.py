"""The go-plugin handshake, against the real example plugin process."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2

from switchyard_plugin import handshake
from switchyard_plugin.testing import PluginProcess, host_env, parse_handshake

from .conftest import CALL_TIMEOUT, EXAMPLE


def run_once(env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(EXAMPLE)], env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)


def test_first_stdout_line_is_the_handshake_line_with_a_socket_in_the_given_dir(example: PluginProcess) -> None:
    h = example.handshake
    assert (h.core_version, h.app_version, h.network, h.protocol) == (1, 1, "unix", "grpc")
    assert os.path.dirname(h.address) == os.path.abspath(example.socket_dir)
    assert stat.S_ISSOCK(os.stat(h.address).st_mode)
    assert example.stdout_rest == b""


def test_health_reports_plugin_serving(example: PluginProcess) -> None:
    answer = example.health.Check(health_pb2.HealthCheckRequest(service="plugin"), timeout=CALL_TIMEOUT)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_without_the_cookie_it_explains_on_stderr_and_exits_1(tmp_path) -> None:
    env = host_env(str(tmp_path))
    del env[handshake.MAGIC_COOKIE_KEY]
    done = run_once(env)
    assert done.returncode == 1
    assert done.stdout == b""
    assert b"not meant to be executed directly" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_wrong_cookie_value_is_refused_too(tmp_path) -> None:
    done = run_once(host_env(str(tmp_path), extra={handshake.MAGIC_COOKIE_KEY: "nope"}))
    assert (done.returncode, done.stdout) == (1, b"")


def test_no_common_version_is_refused_naming_both_sides(tmp_path) -> None:
    done = run_once(host_env(str(tmp_path), versions="2,3"))
    assert done.returncode == 1
    assert done.stdout == b""
    message = done.stderr.decode()
    assert "host speaks 2, 3" in message and "plugin speaks 1" in message


def test_the_highest_common_version_is_chosen() -> None:
    env = {handshake.PROTOCOL_VERSIONS_ENV: "3,1,2"}
    assert handshake.negotiate(env, ours=(1, 2)) == 2
    assert handshake.negotiate({}, ours=(1, 2)) == 2
    with pytest.raises(handshake.HandshakeError, match="bad entry 'x'"):
        handshake.negotiate({handshake.PROTOCOL_VERSIONS_ENV: "1,x"})


def test_a_socket_dir_too_long_for_sun_path_is_refused_clearly(tmp_path) -> None:
    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    done = run_once(host_env(str(deep)))
    assert done.returncode == 1 and done.stdout == b""
    assert b"sun_path" in done.stderr


def test_the_host_authority_localhost_is_accepted(example: PluginProcess) -> None:
    # PluginProcess dials with :authority localhost, as the host does; a second channel with an
    # odd authority must work as well (grpcio servers do not police it).
    with grpc.insecure_channel(f"unix:{example.handshake.address}", options=[("grpc.default_authority", "x.y")]) as ch:
        grpc.channel_ready_future(ch).result(timeout=CALL_TIMEOUT)


def test_parse_handshake_rejects_a_short_line() -> None:
    assert parse_handshake("1|1|unix|/s|grpc|").address == "/s"
    with pytest.raises(ValueError):
        parse_handshake("1|1|unix|/s|grpc")


def test_constants_match_the_rust_definitions() -> None:
    # proto/src/lib.rs is the single source of the handshake values; this SDK mirrors them.
    lib = (Path(__file__).resolve().parents[3] / "proto" / "src" / "lib.rs").read_text(encoding="utf-8")
    consts = dict(re.findall(r'pub const (\w+): &str = "([^"]*)";', lib))
    assert consts["MAGIC_COOKIE_KEY"] == handshake.MAGIC_COOKIE_KEY
    assert consts["MAGIC_COOKIE_VALUE"] == handshake.MAGIC_COOKIE_VALUE
    assert consts["PROTOCOL_VERSIONS_ENV"] == handshake.PROTOCOL_VERSIONS_ENV
    assert consts["UNIX_SOCKET_DIR_ENV"] == handshake.UNIX_SOCKET_DIR_ENV
    assert consts["HEALTH_SERVICE_NAME"] == handshake.HEALTH_SERVICE_NAME
    assert consts["AUTHORITY"] == handshake.AUTHORITY
    versions = re.search(r"PLUGIN_PROTOCOL_VERSIONS: &\[u32\] = &\[([0-9, ]*)\]", lib)
    assert versions is not None
    assert tuple(int(v) for v in versions.group(1).split(",") if v.strip()) == handshake.SUPPORTED_PROTOCOL_VERSIONS
