"""Connections held to the network policy: a host name is resolved once, every address it
resolves to is vetted (one refused address refuses the name, so a connection cannot fall back
to it), and the connection goes to a vetted address only — pinned, with no second lookup that
DNS rebinding could answer differently. Each connected socket's peer is checked once more
(fail closed). For https, TLS is set up over that socket with the URL's host name as SNI and
for certificate verification, so pinning changes nothing a certificate vouches for.

``http.client`` is used directly: it reads no proxy variable and follows no redirect.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from typing import Any

from .net_policy import IpAddress, NetworkPolicy, Refusal, parse_address

#: Turns a host name into addresses (tests pass their own to make a name resolve as they choose).
Lookup = Callable[[str, int], Sequence[str]]


class NoAddress(OSError):
    """A host name resolved to no address."""


def system_lookup(host: str, port: int) -> list[str]:
    """Every address the operating system's resolver gives ``host``, in its order."""
    found: list[str] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(sockaddr[0])
        if address not in found:
            found.append(address)
    return found


def bounded_lookup(lookup: Lookup, host: str, port: int, timeout: float) -> Sequence[str]:
    """``lookup(host, port)``, given up after ``timeout`` seconds (the resolver has no deadline
    of its own). It runs in a daemon thread, so a resolver that never answers cannot hold up
    the plugin's exit either."""
    outcome: list[Any] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append(("ok", lookup(host, port)))
        except BaseException as err:  # handed to the caller's thread
            outcome.append(("error", err))
        finally:
            done.set()

    threading.Thread(target=run, name=f"resolve {host}", daemon=True).start()
    if not done.wait(timeout):
        raise TimeoutError(f"resolving {host} took longer than {timeout:g} s")
    kind, value = outcome[0]
    if kind == "error":
        raise value
    return value  # type: ignore[no-any-return]


def vetted_addresses(policy: NetworkPolicy, host: str, port: int, lookup: Lookup, timeout: float) -> list[IpAddress]:
    """The addresses to connect to for ``host``: the literal address itself, or every address
    the name resolves to (within ``timeout``); raises :class:`~.net_policy.Refusal` (naming
    ``host`` for a name) when any is refused, :class:`NoAddress` when there is none."""
    literal = parse_address(host)
    if literal is not None:
        policy.check(literal)
        return [literal]
    addresses = []
    for text in bounded_lookup(lookup, host, port, timeout):
        # A scoped IPv6 answer (`fe80::1%eth0`) is judged by its address.
        address = parse_address(text.split("%", 1)[0])
        if address is None:
            raise NoAddress(f"{host} resolved to {text!r}, which is not an address")
        addresses.append(address)
    if not addresses:
        raise NoAddress(f"{host} resolved to no address")
    for address in addresses:
        try:
            policy.check(address)
        except Refusal as refusal:
            raise refusal.with_host(host) from None
    return addresses


def _connect_first(addresses: Sequence[IpAddress], port: int, timeout: float, policy: NetworkPolicy) -> socket.socket:
    last: OSError | None = None
    for address in addresses:
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect((str(address), port))
            _check_peer(sock, policy)
            return sock
        except OSError as err:
            sock.close()
            last = err
        except BaseException:
            sock.close()
            raise
    raise last or NoAddress("no address to connect to")


def _check_peer(sock: socket.socket, policy: NetworkPolicy) -> None:
    peer = parse_address(str(sock.getpeername()[0]).split("%", 1)[0])
    if peer is None:
        raise ConnectionError("the network policy cannot tell the peer address of a connection")
    policy.check(peer)


class PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to ``host`` that connects to ``addresses`` only."""

    def __init__(self, host: str, port: int, addresses: Sequence[IpAddress], policy: NetworkPolicy, **kw: Any) -> None:
        super().__init__(host, port, **kw)
        self._addresses = addresses
        self._policy = policy

    def connect(self) -> None:
        timeout = self.timeout if isinstance(self.timeout, (int, float)) else 30.0
        self.sock = _connect_first(self._addresses, self.port, timeout, self._policy)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to ``host`` over a socket to one of ``addresses``; the certificate
    is verified for ``host`` (and SNI names it)."""

    def __init__(
        self,
        host: str,
        port: int,
        addresses: Sequence[IpAddress],
        policy: NetworkPolicy,
        context: ssl.SSLContext,
        **kw: Any,
    ) -> None:
        super().__init__(host, port, context=context, **kw)
        self._addresses = addresses
        self._policy = policy
        self._tls = context

    def connect(self) -> None:
        timeout = self.timeout if isinstance(self.timeout, (int, float)) else 30.0
        raw = _connect_first(self._addresses, self.port, timeout, self._policy)
        try:
            self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise
