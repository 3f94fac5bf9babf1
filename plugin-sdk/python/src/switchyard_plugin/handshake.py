"""The go-plugin handshake, plugin side, exactly as hashicorp/go-plugin speaks it.

1. The host sets the magic cookie ``SWITCHYARD_PLUGIN_MAGIC_COOKIE``. Without it the plugin was
   started by hand: it explains that on stderr, prints nothing on stdout and exits 1.
2. ``PLUGIN_PROTOCOL_VERSIONS`` lists the app protocol versions the host speaks; the plugin
   picks the highest one it speaks too. None in common → a message naming both sides, exit 1.
3. The plugin listens on a Unix socket inside ``PLUGIN_UNIX_SOCKET_DIR``.
4. Its first stdout line is ``1|<version>|unix|<socket path>|grpc|``. Nothing else may ever
   appear on stdout, so afterwards stdout is pointed at stderr (both Python's ``sys.stdout``
   and file descriptor 1, while the original pipe is kept open so the host sees no EOF).

The constants mirror ``proto/src/lib.rs`` (module ``handshake``); the two must not drift apart.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import NoReturn

MAGIC_COOKIE_KEY = "SWITCHYARD_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "3f6b2c1e9a8d4e7fb5c0d2a1e4f7b9c8-switchyard"
PROTOCOL_VERSIONS_ENV = "PLUGIN_PROTOCOL_VERSIONS"
UNIX_SOCKET_DIR_ENV = "PLUGIN_UNIX_SOCKET_DIR"
CORE_PROTOCOL_VERSION = 1
HEALTH_SERVICE_NAME = "plugin"
AUTHORITY = "localhost"

#: The app protocol versions of the plugin protocol this SDK speaks, oldest first.
SUPPORTED_PROTOCOL_VERSIONS: tuple[int, ...] = (1,)

#: ``sun_path`` holds 108 bytes on Linux, the last one a NUL.
MAX_SOCKET_PATH_BYTES = 107

NOT_A_PROGRAM_MESSAGE = f"""\
This binary is a Switchyard plugin. It is not meant to be executed directly.
Start the program that uses this plugin (the Switchyard coordinator) instead: it starts
plugins itself. To check this plugin, run the conformance harness on it:

    switchyard-conformance path/to/this-plugin

(Technically: the environment variable {MAGIC_COOKIE_KEY} is not set to the expected value.)
"""


class HandshakeError(Exception):
    """The handshake cannot go ahead; the message is meant for a human reading stderr."""


def refuse(message: str) -> NoReturn:
    """Prints ``message`` on stderr and exits 1, writing nothing on stdout."""
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.stderr.flush()
    raise SystemExit(1)


def check_cookie(env: Mapping[str, str]) -> None:
    """Raises :class:`HandshakeError` unless the host's magic cookie is present."""
    if env.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        raise HandshakeError(NOT_A_PROGRAM_MESSAGE)


def negotiate(env: Mapping[str, str], ours: Sequence[int] = SUPPORTED_PROTOCOL_VERSIONS) -> int:
    """The highest app protocol version both sides speak.

    Like go-plugin, a host that sets no ``PLUGIN_PROTOCOL_VERSIONS`` gets our newest version.
    """
    raw = env.get(PROTOCOL_VERSIONS_ENV, "").strip()
    if not raw:
        return max(ours)
    theirs: list[int] = []
    for item in raw.split(","):
        try:
            theirs.append(int(item.strip()))
        except ValueError:
            raise HandshakeError(
                f"{PROTOCOL_VERSIONS_ENV}={raw!r} is not a comma-separated list of integers "
                f"(bad entry {item.strip()!r}); this plugin speaks {_list(ours)}"
            ) from None
    common = set(theirs) & set(ours)
    if not common:
        raise HandshakeError(
            f"Incompatible plugin protocol versions: the host speaks {_list(theirs)} "
            f"({PROTOCOL_VERSIONS_ENV}={raw}), this plugin speaks {_list(ours)}. "
            "Upgrade whichever side is older."
        )
    return max(common)


def socket_path(env: Mapping[str, str]) -> str:
    """A fresh socket path inside ``PLUGIN_UNIX_SOCKET_DIR`` (the system temp dir if unset)."""
    directory = env.get(UNIX_SOCKET_DIR_ENV) or tempfile.gettempdir()
    if not os.path.isdir(directory):
        raise HandshakeError(f"{UNIX_SOCKET_DIR_ENV}={directory!r} is not an existing directory")
    path = os.path.join(os.path.abspath(directory), f"plugin{secrets.token_hex(4)}.sock")
    if len(os.fsencode(path)) > MAX_SOCKET_PATH_BYTES:
        raise HandshakeError(
            f"socket path {path!r} is {len(os.fsencode(path))} bytes, over the "
            f"{MAX_SOCKET_PATH_BYTES}-byte sun_path limit; use a shorter {UNIX_SOCKET_DIR_ENV}"
        )
    return path


def handshake_line(version: int, path: str) -> str:
    """``1|<version>|unix|<path>|grpc|`` (without the newline)."""
    return f"{CORE_PROTOCOL_VERSION}|{version}|unix|{path}|grpc|"


def announce(version: int, path: str) -> None:
    """Writes the handshake line to the real stdout, then points stdout at stderr for good."""
    line = (handshake_line(version, path) + "\n").encode()
    os.write(1, line)
    # Keep the pipe to the host open (a closed stdout could read as "plugin gone"), but send
    # any later write to fd 1 — from C code or a child process too — to stderr instead.
    keep = os.dup(1)
    os.set_inheritable(keep, False)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _KEPT_FDS.append(keep)


_KEPT_FDS: list[int] = []


def _list(versions: Sequence[int]) -> str:
    return ", ".join(str(v) for v in sorted(set(versions))) or "none"
