"""The ``date`` filter's two halves, made to match the Rust SDK (chrono) exactly rather than the C
library's ``strftime``: RFC 3339 parsing as chrono's ``parse_from_rfc3339`` does it, and
formatting with chrono's specifier set, padding modifiers (``%-d``, ``%_H``, ``%0e``) and
fraction forms (``%.3f``, ``%f``). A format chrono refuses (``%Q``, a lone ``%``) is refused
here too, where the C library would print it through. Time zones: timestamps are in UTC, as the
Rust SDK formats them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


class FormatError(ValueError):
    """The format is not one chrono accepts."""


@dataclass(frozen=True)
class Instant:
    """A UTC time to the nanosecond (``datetime`` holds microseconds only)."""

    at: datetime
    """Whole seconds, in UTC."""
    nanos: int = 0


def parse_rfc3339(text: str) -> Instant | None:
    """The instant an RFC 3339 timestamp names, or None when it is not one."""
    m = _RFC3339.match(text)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction = m.group(7) or ""
    nanos = int((fraction + "000000000")[:9]) if fraction else 0
    try:
        local = datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    except ValueError:
        return None
    if m.group(9):
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            return None
        offset = timedelta(hours=oh, minutes=om)
        local = local - offset if m.group(9) == "+" else local + offset
    return Instant(local, nanos)


def from_unix_seconds(seconds: int) -> Instant | None:
    """The instant ``seconds`` after the Unix epoch, or None outside what can be represented."""
    try:
        return Instant(_EPOCH + timedelta(seconds=seconds))
    except OverflowError:
        return None


# === formatting ===

_Part = Callable[[Instant], str]


def _num(value: Callable[[Instant], int], width: int, pad: str) -> Callable[[str | None], _Part]:
    """A numeric item: its default padding (``0``, space or none) and width; a modifier
    replaces the padding."""

    def build(override: str | None) -> _Part:
        how = pad if override is None else override

        def part(t: Instant) -> str:
            n = value(t)
            if how == "-":
                return str(n)
            return str(n).rjust(width, "0" if how == "0" else " ")

        return part

    return build


def _week_from(t: Instant, first_day: int) -> int:
    # Weeks starting on `first_day` (0 = Monday, 6 = Sunday); days before the first one are week 0.
    yday = t.at.timetuple().tm_yday - 1
    offset = (t.at.weekday() - first_day) % 7
    return (yday - offset + 7) // 7


def _hour12(t: Instant) -> int:
    return (t.at.hour + 11) % 12 + 1


_NUMERIC: dict[str, Callable[[str | None], _Part]] = {
    "Y": _num(lambda t: t.at.year, 4, "0"),
    "C": _num(lambda t: t.at.year // 100, 2, "0"),
    "y": _num(lambda t: t.at.year % 100, 2, "0"),
    "G": _num(lambda t: t.at.isocalendar()[0], 4, "0"),
    "g": _num(lambda t: t.at.isocalendar()[0] % 100, 2, "0"),
    "m": _num(lambda t: t.at.month, 2, "0"),
    "d": _num(lambda t: t.at.day, 2, "0"),
    "e": _num(lambda t: t.at.day, 2, " "),
    "U": _num(lambda t: _week_from(t, 6), 2, "0"),
    "W": _num(lambda t: _week_from(t, 0), 2, "0"),
    "V": _num(lambda t: t.at.isocalendar()[1], 2, "0"),
    "w": _num(lambda t: (t.at.weekday() + 1) % 7, 1, "-"),
    "u": _num(lambda t: t.at.weekday() + 1, 1, "-"),
    "j": _num(lambda t: t.at.timetuple().tm_yday, 3, "0"),
    "H": _num(lambda t: t.at.hour, 2, "0"),
    "k": _num(lambda t: t.at.hour, 2, " "),
    "I": _num(_hour12, 2, "0"),
    "l": _num(_hour12, 2, " "),
    "M": _num(lambda t: t.at.minute, 2, "0"),
    "S": _num(lambda t: t.at.second, 2, "0"),
    "f": _num(lambda t: t.nanos, 9, "0"),
    "s": _num(lambda t: int((t.at - _EPOCH).total_seconds()), 1, "-"),
    "q": _num(lambda t: (t.at.month - 1) // 3 + 1, 1, "-"),
}


def _auto_fraction(t: Instant) -> str:
    # chrono's `%.f`: nothing for whole seconds, else 3, 6 or 9 digits, whichever is exact.
    if t.nanos == 0:
        return ""
    if t.nanos % 1_000_000 == 0:
        return f".{t.nanos // 1_000_000:03d}"
    if t.nanos % 1_000 == 0:
        return f".{t.nanos // 1_000:06d}"
    return f".{t.nanos:09d}"


_FIXED: dict[str, _Part] = {
    "A": lambda t: _DAYS[t.at.weekday()],
    "a": lambda t: _DAYS[t.at.weekday()][:3],
    "B": lambda t: _MONTHS[t.at.month - 1],
    "b": lambda t: _MONTHS[t.at.month - 1][:3],
    "h": lambda t: _MONTHS[t.at.month - 1][:3],
    "p": lambda t: "AM" if t.at.hour < 12 else "PM",
    "P": lambda t: "am" if t.at.hour < 12 else "pm",
    "Z": lambda t: "UTC",
    "z": lambda t: "+0000",
    ":z": lambda t: "+00:00",
    "::z": lambda t: "+00:00:00",
    ":::z": lambda t: "+00",
    ".f": _auto_fraction,
    ".3f": lambda t: f".{t.nanos // 1_000_000:03d}",
    ".6f": lambda t: f".{t.nanos // 1_000:06d}",
    ".9f": lambda t: f".{t.nanos:09d}",
    "3f": lambda t: f"{t.nanos // 1_000_000:03d}",
    "6f": lambda t: f"{t.nanos // 1_000:06d}",
    "9f": lambda t: f"{t.nanos:09d}",
    "n": lambda t: "\n",
    "t": lambda t: "\t",
    "%": lambda t: "%",
}

#: Specifiers made of several items (no padding modifier allowed on them).
_COMPOSITE = {
    "D": "%m/%d/%y",
    "x": "%m/%d/%y",
    "F": "%Y-%m-%d",
    "v": "%e-%b-%Y",
    "R": "%H:%M",
    "T": "%H:%M:%S",
    "X": "%H:%M:%S",
    "r": "%I:%M:%S %p",
    "c": "%a %b %e %H:%M:%S %Y",
    "+": "%Y-%m-%dT%H:%M:%S%.f%:z",
}

_SPEC = re.compile(r"%([-_0])?(:{1,3}z|\.[369]?f|[369]f|.)?", re.DOTALL)


def compile_format(fmt: str) -> list[_Part]:
    """The parts that print ``fmt``; raises :class:`FormatError` where chrono would."""
    parts: list[_Part] = []
    pos = 0
    for m in _SPEC.finditer(fmt):
        if m.start() > pos:
            parts.append(_literal(fmt[pos : m.start()]))
        pos = m.end()
        parts.extend(_spec_parts(m.group(1), m.group(2)))
    if pos < len(fmt):
        parts.append(_literal(fmt[pos:]))
    return parts


def _spec_parts(pad: str | None, spec: str | None) -> list[_Part]:
    if spec is None:
        raise FormatError("a lone % ends the format")
    if spec in _NUMERIC:
        return [_NUMERIC[spec](pad)]
    if pad is not None:
        raise FormatError(f"%{pad}{spec}: padding applies to numbers only")
    if spec in _FIXED:
        return [_FIXED[spec]]
    if spec in _COMPOSITE:
        return compile_format(_COMPOSITE[spec])
    raise FormatError(f"%{spec} is not a specifier")


def _literal(text: str) -> _Part:
    return lambda _t: text


def format_instant(t: Instant, parts: list[_Part]) -> str:
    return "".join(part(t) for part in parts)
