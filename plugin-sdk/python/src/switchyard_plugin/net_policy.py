"""The network policy every HTTP provider obeys, the same as the Rust SDK's ``net_policy``:
outgoing connections go to public addresses only, unless the operator allowed a subnet. The
coordinator hands the policy to every plugin it starts in :data:`ALLOW_ENV` (comma-separated
CIDRs); nothing in a subscription or connection config can loosen it, because plugins read it
only from their environment.

What is refused (:func:`classify`): loopback, private, link-local, CGNAT, unique-local,
multicast, unspecified and reserved addresses, the cloud metadata addresses, and the IPv6 forms
that carry one of those (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo), judged by the
IPv4 address they carry. A refusal (:class:`Refusal`) names the address, why, and the setting
that allows it; its text is the Rust SDK's word for word (``tests/vectors/net_policy.json``
holds both to it). Pure functions: :mod:`.http`'s ``PolicyClient`` enforces them on sockets.
"""

from __future__ import annotations

import enum
import ipaddress
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

#: The environment variable carrying the operator's allowed subnets, e.g.
#: ``SWITCHYARD_NETWORK_ALLOW=127.0.0.0/8,10.20.0.0/16``. Entries are CIDRs (a bare address means
#: that one address), separated by commas; spaces and empty entries are ignored. Unset or empty:
#: only public addresses are reachable.
ALLOW_ENV = "SWITCHYARD_NETWORK_ALLOW"

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Category(enum.Enum):
    """Why an address is not public; the value is the text refusals use."""

    LOOPBACK = "a loopback address (127.0.0.0/8, ::1)"
    PRIVATE = "a private address (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)"
    LINK_LOCAL = "a link-local address (169.254.0.0/16, fe80::/10)"
    CGNAT = "a carrier-grade NAT address (100.64.0.0/10)"
    UNIQUE_LOCAL = "an IPv6 unique-local address (fc00::/7)"
    MULTICAST = "a multicast address (224.0.0.0/4, ff00::/8)"
    UNSPECIFIED = "an unspecified address (0.0.0.0/8, ::)"
    METADATA = "a cloud metadata address (169.254.169.254, fd00:ec2::254)"
    RESERVED = "a reserved address that is not routable on the internet"

    def describe(self) -> str:
        """What the category is, for error texts."""
        return self.value


class Embedding(enum.Enum):
    """An IPv6 form that carries an IPv4 address; the value is the text refusals use."""

    IPV4_MAPPED = "an IPv4-mapped"
    """``::ffff:a.b.c.d``."""
    IPV4_COMPATIBLE = "an IPv4-compatible"
    """``::a.b.c.d`` (deprecated, still routed by some stacks)."""
    NAT64 = "a NAT64"
    """``64:ff9b::a.b.c.d`` (RFC 6052)."""
    SIX_TO_FOUR = "a 6to4"
    """``2002:AABB:CCDD::/48``."""
    TEREDO = "a Teredo"
    """``2001:0::/32`` with the client address inverted in the last 32 bits."""


@dataclass(frozen=True)
class Verdict:
    """Why an address is refused: its own category, or that of the IPv4 address it carries."""

    category: Category
    embedded: tuple[Embedding, ipaddress.IPv4Address] | None = None


METADATA_V4 = ipaddress.IPv4Address("169.254.169.254")
METADATA_V6 = ipaddress.IPv6Address("fd00:ec2::254")


def classify(ip: IpAddress) -> Verdict | None:
    """The verdict on a non-public address, or None for a public one."""
    if isinstance(ip, ipaddress.IPv4Address):
        category = _classify_v4(ip)
        return None if category is None else Verdict(category)
    return _classify_v6(ip)


def embedded_v4(ip: ipaddress.IPv6Address) -> tuple[Embedding, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 address carries, and in which form."""
    value = int(ip)
    s = [(value >> (112 - 16 * i)) & 0xFFFF for i in range(8)]
    low = value & 0xFFFFFFFF
    if s[:6] == [0, 0, 0, 0, 0, 0xFFFF]:
        return Embedding.IPV4_MAPPED, ipaddress.IPv4Address(low)
    # `::` and `::1` are their own categories, not IPv4-compatible forms.
    if s[:6] == [0] * 6 and low > 1:
        return Embedding.IPV4_COMPATIBLE, ipaddress.IPv4Address(low)
    if s[:6] == [0x64, 0xFF9B, 0, 0, 0, 0]:
        return Embedding.NAT64, ipaddress.IPv4Address(low)
    if s[0] == 0x2002:
        return Embedding.SIX_TO_FOUR, ipaddress.IPv4Address((s[1] << 16) | s[2])
    if s[0] == 0x2001 and s[1] == 0:
        return Embedding.TEREDO, ipaddress.IPv4Address(low ^ 0xFFFFFFFF)
    return None


def _classify_v4(ip: ipaddress.IPv4Address) -> Category | None:
    a, b, c, _ = ip.packed
    if ip == METADATA_V4:
        return Category.METADATA
    if a == 0:
        return Category.UNSPECIFIED
    if a == 127:
        return Category.LOOPBACK
    if a == 10 or (a, b) == (192, 168) or (a == 172 and 16 <= b <= 31):
        return Category.PRIVATE
    if (a, b) == (169, 254):
        return Category.LINK_LOCAL
    if a == 100 and 64 <= b <= 127:
        return Category.CGNAT
    if 224 <= a <= 239:
        return Category.MULTICAST
    if a >= 240 or (a, b, c) in ((192, 0, 0), (192, 0, 2), (198, 51, 100), (203, 0, 113)) or (a, b) in _BENCHMARK:
        return Category.RESERVED
    return None


_BENCHMARK = ((198, 18), (198, 19))


def _classify_v6(ip: ipaddress.IPv6Address) -> Verdict | None:
    value = int(ip)
    if value == 0:
        return Verdict(Category.UNSPECIFIED)
    if value == 1:
        return Verdict(Category.LOOPBACK)
    if ip == METADATA_V6:
        return Verdict(Category.METADATA)
    embedded = embedded_v4(ip)
    if embedded is not None:
        category = _classify_v4(embedded[1])
        return None if category is None else Verdict(category, embedded)
    s0, s1, s2, s3 = ((value >> (112 - 16 * i)) & 0xFFFF for i in range(4))
    if 0xFE80 <= s0 <= 0xFEBF:
        return Verdict(Category.LINK_LOCAL)
    if 0xFEC0 <= s0 <= 0xFEFF:
        return Verdict(Category.RESERVED)
    if 0xFC00 <= s0 <= 0xFDFF:
        return Verdict(Category.UNIQUE_LOCAL)
    if s0 >= 0xFF00:
        return Verdict(Category.MULTICAST)
    reserved = (
        (s0 == 0x0100 and (s1, s2, s3) == (0, 0, 0))
        or (s0 == 0x2001 and s1 == 0x0DB8)
        or (s0 == 0x0064 and s1 == 0xFF9B and s2 == 1)
    )
    return Verdict(Category.RESERVED) if reserved else None


class PolicyError(ValueError):
    """An allow-list that cannot be read. A plugin reports it and delivers nothing over HTTP, so
    that a typo never silently narrows or widens what it may reach."""

    def __init__(self, position: int, entry: str) -> None:
        super().__init__(
            f"{ALLOW_ENV}: entry {position} ({_rust_debug(entry)}) is not a subnet; write CIDRs such as "
            "127.0.0.0/8 or fd00::/8, separated by commas"
        )
        self.position = position
        self.entry = entry


class Refusal(Exception):
    """A connection the policy refused: which address, why, and what would allow it."""

    def __init__(self, address: IpAddress, verdict: Verdict, host: str | None = None) -> None:
        self.address = address
        self.verdict = verdict
        self.host = host
        super().__init__(self.text())

    def with_host(self, host: str) -> Refusal:
        """The same refusal, for an address that ``host`` resolved to."""
        return Refusal(self.address, self.verdict, host)

    def allowing_subnet(self) -> IpNetwork:
        """The narrowest subnet that would allow the address (the embedded IPv4 address, when
        that is what was judged)."""
        target = self.verdict.embedded[1] if self.verdict.embedded else self.address
        return ipaddress.ip_network(target)

    def text(self) -> str:
        """The Rust SDK's ``Refusal`` text, word for word."""
        shown = show_address(self.address)
        target = f"{self.host} (resolved to {shown})" if self.host else shown
        if self.verdict.embedded:
            form, v4 = self.verdict.embedded
            why = f"it is {form.value} form of {v4}, "
        else:
            why = "it is "
        return (
            f"the network policy refused {target}: {why}{self.verdict.category.describe()}. Only public "
            f"addresses are allowed unless the operator adds the subnet (e.g. {self.allowing_subnet()}) to "
            f"the coordinator's `[plugins] network_allow`, which plugins receive in {ALLOW_ENV}"
        )

    def __str__(self) -> str:
        return self.text()


@dataclass(frozen=True)
class NetworkPolicy:
    """Public addresses, plus the subnets in ``allow``."""

    allow: tuple[IpNetwork, ...] = ()

    @classmethod
    def public_only(cls) -> NetworkPolicy:
        return cls()

    @classmethod
    def allowing(cls, allow: Iterable[IpNetwork]) -> NetworkPolicy:
        return cls(tuple(allow))

    @classmethod
    def from_env(cls) -> NetworkPolicy:
        """The policy the coordinator set in :data:`ALLOW_ENV`; unset means public only.

        Raises :class:`PolicyError` when an entry is not a subnet."""
        return cls.parse(os.environ.get(ALLOW_ENV, ""))

    @classmethod
    def parse(cls, text: str) -> NetworkPolicy:
        """Parses an allow-list in the format of :data:`ALLOW_ENV`; raises :class:`PolicyError`."""
        allow = []
        for index, raw in enumerate(text.split(",")):
            entry = raw.strip()
            if not entry:
                continue
            network = _parse_entry(entry)
            if network is None:
                raise PolicyError(index + 1, entry)
            allow.append(network)
        return cls(tuple(allow))

    def check(self, address: IpAddress) -> None:
        """Returns when ``address`` may be reached; raises :class:`Refusal` (without a host name)
        for a non-public address outside the allow-list."""
        verdict = classify(address)
        if verdict is None or self._allows(address, verdict):
            return
        raise Refusal(address, verdict)

    def _allows(self, address: IpAddress, verdict: Verdict) -> bool:
        # An allowed subnet holds the address itself or the IPv4 address it carries.
        embedded = verdict.embedded[1] if verdict.embedded else None
        return any(_contains(net, address) or (embedded is not None and _contains(net, embedded)) for net in self.allow)


def show_address(address: IpAddress) -> str:
    """The address as Rust prints it: IPv4-mapped ones as ``::ffff:a.b.c.d`` (Python before 3.13
    prints them in hex)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def parse_address(text: str) -> IpAddress | None:
    """An IP address in the notation Rust's ``IpAddr`` parser accepts (no zone id, no
    leading zeros), or None."""
    if "%" in text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


_ENTRY_RE = re.compile(r"^([^/]+)(?:/([0-9]{1,3}))?$")


def _parse_entry(entry: str) -> IpNetwork | None:
    # As Rust's `ipnet`: `address/prefix` (host bits may be set) or a bare address; no
    # netmask notation (`/255.0.0.0`), which Python alone would accept.
    match = _ENTRY_RE.match(entry)
    if match is None:
        return None
    address = parse_address(match.group(1))
    if address is None:
        return None
    prefix = address.max_prefixlen if match.group(2) is None else int(match.group(2))
    if prefix > address.max_prefixlen:
        return None
    return ipaddress.ip_network((address, prefix), strict=False)


def _contains(network: IpNetwork, address: IpAddress) -> bool:
    return network.version == address.version and address in network


def _rust_debug(text: str) -> str:
    # Rust's `{:?}` of a string, for the characters an allow-list entry may hold.
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t")
    return f'"{escaped}"'


__all__ = [
    "ALLOW_ENV",
    "Category",
    "Embedding",
    "NetworkPolicy",
    "PolicyError",
    "Refusal",
    "Verdict",
    "classify",
    "embedded_v4",
    "parse_address",
    "show_address",
]
