"""The filters, tests and globals templates get, the same set as the Rust SDK's (minijinja's
built-ins plus the SDK's own) with the same output, so a template renders alike in both SDKs
(``tests/vectors/templates.json`` holds them to it).

The SDK's filters:

============================  ===========================================================
``json_escape``               the text escaped for inside a JSON string (without quotes)
``mrkdwn_escape``             Slack mrkdwn: ``&``, ``<``, ``>`` as entities
``markdown_escape``           CommonMark: a backslash before every markup character
``html_escape``               ``&``, ``<``, ``>``, ``"``, ``'`` as entities
``date(format)``              an RFC 3339 timestamp or Unix seconds in chrono's ``strftime``
                              (default ``%Y-%m-%dT%H:%M:%SZ``), in UTC
``truncate(n, end="…")``      at most ``n`` characters, ending in ``end`` when cut
``required``                  the value, or a render error when it is missing or null
============================  ===========================================================

Jinja2's built-ins that minijinja lacks (``urlencode``, ``wordcount``, ``center``, ``lipsum``,
``cycler``…) are left out, minijinja's that Jinja2 lacks (``split``, ``lines``, ``bool``,
``chain``, ``zip``) are added, and those whose output differs (``round``, ``escape``,
``tojson``, ``length``) are replaced (``round``, ``escape``, ``tojson``, ``length``, ``title``, ``int``, ``first``,
``min``, ``attr``…; ``pprint`` prints Rust's debug form). A filter or test that does not exist
fails when the template renders, as in Rust.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from jinja2 import Undefined, defaults, pass_environment
from jinja2.utils import Namespace

from . import _strftime
from .template_values import Map, Seq, plain, pretty, rust_float, text_of

__all__ = [
    "DEFAULT_DATE_FORMAT",
    "TRUNCATION_MARK",
    "FilterError",
    "Map",
    "Seq",
    "filters",
    "globals_",
    "tests",
    "text_of",
]

#: The format ``date`` uses without an argument: RFC 3339 in UTC, to the second.
DEFAULT_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
#: What ``truncate`` appends to a cut text unless told otherwise.
TRUNCATION_MARK = "…"


class FilterError(Exception):
    """A filter refused its input; ``kind`` is minijinja's word for the error."""

    def __init__(self, message: str, kind: str = "invalid operation") -> None:
        super().__init__(message)
        self.kind = kind


# === the SDK's filters ===


def json_escape(value: Any) -> str:
    """The value's text escaped for use inside a JSON string literal (without the quotes)."""
    return json.dumps(text_of(value), ensure_ascii=False)[1:-1]


def _replace_chars(text: str, table: Mapping[str, str]) -> str:
    return "".join(table.get(c, c) for c in text)


_MRKDWN = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_HTML = {**_MRKDWN, '"': "&quot;", "'": "&#39;"}
_MINIJINJA_ESCAPE = {**_MRKDWN, '"': "&quot;", "'": "&#x27;", "/": "&#x2f;"}
_MARKDOWN_SPECIAL = set("\\`*_{}[]()<>#+-.!|~")


def mrkdwn_escape(value: Any) -> str:
    """Slack's mrkdwn escaping: ``&``, ``<`` and ``>`` become entities."""
    return _replace_chars(text_of(value), _MRKDWN)


def markdown_escape(value: Any) -> str:
    """CommonMark escaping: a backslash before every character that could start markup."""
    return "".join("\\" + c if c in _MARKDOWN_SPECIAL else c for c in text_of(value))


def html_escape(value: Any) -> str:
    """HTML escaping of ``&``, ``<``, ``>``, ``"`` and ``'``."""
    return _replace_chars(text_of(value), _HTML)


def date(value: Any, format: str | None = None) -> str:  # noqa: A002 - the filter's argument name
    """Formats an RFC 3339 timestamp or Unix seconds with a chrono ``strftime`` format (UTC)."""
    fmt = DEFAULT_DATE_FORMAT if format is None else format
    try:
        parts = _strftime.compile_format(fmt)
    except _strftime.FormatError:
        raise FilterError(f"date: {_rust_debug(fmt)} is not a valid strftime format") from None
    return _strftime.format_instant(_instant_of(value), parts)


def _instant_of(value: Any) -> _strftime.Instant:
    if isinstance(value, str):
        instant = _strftime.parse_rfc3339(value)
        if instant is None:
            raise FilterError("date: the value is not an RFC 3339 timestamp")
        return instant
    # Integers only (a bool counts as one, as in minijinja); floats are not Unix seconds.
    if isinstance(value, int) and not isinstance(value, Undefined):
        found = _strftime.from_unix_seconds(int(value))
        if found is not None:
            return found
    raise FilterError("date: the value is neither a timestamp nor Unix seconds")


def truncate(value: Any, length: int, **kwargs: Any) -> str:
    """At most ``length`` characters: a longer text is cut and ends in ``end`` (default ``…``)."""
    end = kwargs.pop("end", None)
    if kwargs:
        raise FilterError(f"too many arguments: {', '.join(sorted(kwargs))}", "too many arguments")
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise FilterError("truncate: the length must be a whole number", "invalid operation")
    mark = TRUNCATION_MARK if end is None else str(end)
    text = text_of(value)
    if len(text) <= length:
        return text
    return text[: max(0, length - len(mark))] + mark


def required(value: Any) -> Any:
    """The value itself, or an error when it is missing or null."""
    if value is None or isinstance(value, Undefined):
        raise FilterError("a required value is missing")
    return value


# === minijinja's built-ins where Jinja2's differ or are missing ===


def escape(value: Any) -> str:
    """minijinja's HTML escaping (``/`` and ``'`` as hex entities)."""
    return _replace_chars(text_of(value), _MINIJINJA_ESCAPE)


def round_(value: Any, precision: int = 0) -> Any:
    """Rounds half away from zero (Python's ``round`` rounds half to even); integers stay."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    scaled = Decimal(repr(float(value))).scaleb(precision)
    whole = scaled.to_integral_value(rounding="ROUND_HALF_UP")
    return float(whole.scaleb(-precision))


def length(value: Any) -> int:
    if isinstance(value, Undefined) or value is None or not hasattr(value, "__len__"):
        kind = "undefined" if isinstance(value, Undefined) else _type_name(value)
        raise FilterError(f"cannot calculate length of value of type {kind}")
    return len(value)


def tojson(value: Any, indent: int | None = None) -> str:
    """JSON safe to embed in HTML (``<``, ``>``, ``&``, ``'`` as ``\\u`` escapes), as minijinja."""
    doc = plain(value)
    if indent is None:
        text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    else:
        text = json.dumps(doc, ensure_ascii=False, indent=indent, sort_keys=True)
    for c, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(c, escaped)
    return text


def split(value: Any, sep: str | None = None, maxsplits: int | None = None) -> Seq:
    text = text_of(value)
    return Seq(text.split(sep, -1 if maxsplits is None else maxsplits))


def lines(value: Any) -> Seq:
    # Rust's `str::lines`: `\n` or `\r\n` ends a line; a final line break adds no empty line.
    parts = text_of(value).split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    return Seq(p[:-1] if p.endswith("\r") else p for p in parts)


def bool_(value: Any) -> bool:
    return bool(value)


def chain(*values: Iterable[Any]) -> Seq:
    return Seq(itertools.chain.from_iterable(v for v in values if not isinstance(v, Undefined)))


def zip_(*values: Iterable[Any]) -> Seq:
    return Seq(Seq(t) for t in zip(*values, strict=False))


@pass_environment
def string(_env: Any, value: Any) -> str:
    return rust_float(value) if isinstance(value, float) else str(value)


def title(value: Any) -> str:
    """Upper case after every character that is not a letter or digit ("O'Neil")."""
    out, after_word = [], False
    for c in text_of(value):
        out.append(c.lower() if after_word else c.upper())
        after_word = c.isalnum()
    return "".join(out)


def replace(value: Any, old: str, new: str) -> str:
    return text_of(value).replace(str(old), str(new))


def int_(value: Any) -> int:
    """As minijinja: numbers truncated, text parsed as an integer or else a float."""
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
        try:
            return int(float(value.strip()))
        except ValueError:
            raise FilterError("invalid float literal") from None
    raise FilterError(f"cannot convert {_type_name(value)} to integer")


def _item(value: Any, which: str) -> Any:
    if isinstance(value, Undefined) or value is None or isinstance(value, (int, float)):
        raise FilterError(f"cannot get {which} item from value")
    items = list(value)
    if not items:
        return Undefined()
    return items[0] if which == "first" else items[-1]


def first(value: Any) -> Any:
    return _item(value, "first")


def last(value: Any) -> Any:
    return _item(value, "last")


def min_(value: Any) -> Any:
    items = list(value)
    return min(items) if items else Undefined()


def max_(value: Any) -> Any:
    items = list(value)
    return max(items) if items else Undefined()


def sum_(value: Any) -> Any:
    return sum(value)


@pass_environment
def attr(env: Any, value: Any, name: str) -> Any:
    return env.getattr(value, name)


def pprint(value: Any) -> str:
    return pretty(value)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "none" if value is None else type(value).__name__


def _rust_debug(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


# === the registry ===

#: minijinja's built-in filter names (feature `builtins` and `json`), which Jinja2 provides
#: with the same behaviour unless replaced below.
_SHARED_FILTERS = (
    "safe",
    "abs",
    "batch",
    "capitalize",
    "default",
    "d",
    "dictsort",
    "float",
    "groupby",
    "indent",
    "items",
    "join",
    "list",
    "lower",
    "map",
    "reject",
    "rejectattr",
    "reverse",
    "select",
    "selectattr",
    "slice",
    "sort",
    "trim",
    "unique",
    "upper",
    "format",
)

_OWN_FILTERS: dict[str, Callable[..., Any]] = {
    "json_escape": json_escape,
    "mrkdwn_escape": mrkdwn_escape,
    "markdown_escape": markdown_escape,
    "html_escape": html_escape,
    "date": date,
    "truncate": truncate,
    "required": required,
    "escape": escape,
    "e": escape,
    "round": round_,
    "length": length,
    "count": length,
    "tojson": tojson,
    "split": split,
    "lines": lines,
    "bool": bool_,
    "chain": chain,
    "zip": zip_,
    "string": string,
    "title": title,
    "replace": replace,
    "int": int_,
    "first": first,
    "last": last,
    "min": min_,
    "max": max_,
    "sum": sum_,
    "attr": attr,
    "pprint": pprint,
}

_SHARED_TESTS = (
    "defined",
    "undefined",
    "none",
    "boolean",
    "odd",
    "even",
    "divisibleby",
    "number",
    "integer",
    "float",
    "string",
    "sequence",
    "iterable",
    "mapping",
    "lower",
    "upper",
    "sameas",
    "eq",
    "equalto",
    "==",
    "ne",
    "!=",
    "lt",
    "lessthan",
    "<",
    "le",
    "<=",
    "gt",
    "greaterthan",
    ">",
    "ge",
    ">=",
    "in",
    "true",
    "false",
    "filter",
    "test",
    "escaped",
)


def _starting_with(value: Any, prefix: str) -> bool:
    return isinstance(value, str) and value.startswith(prefix)


def _ending_with(value: Any, suffix: str) -> bool:
    return isinstance(value, str) and value.endswith(suffix)


_JINJA_TESTS: dict[str, Any] = defaults.DEFAULT_TESTS

_OWN_TESTS: dict[str, Callable[..., Any]] = {
    "int": _JINJA_TESTS["integer"],
    "safe": _JINJA_TESTS["escaped"],
    "startingwith": _starting_with,
    "endingwith": _ending_with,
}


def filters() -> dict[str, Callable[..., Any]]:
    """Every filter by name."""
    shared: dict[str, Any] = defaults.DEFAULT_FILTERS
    table: dict[str, Callable[..., Any]] = {name: shared[name] for name in _SHARED_FILTERS}
    table.update(_OWN_FILTERS)
    return table


def tests() -> dict[str, Callable[..., Any]]:
    """Every test by name."""
    shared: dict[str, Any] = defaults.DEFAULT_TESTS
    table: dict[str, Callable[..., Any]] = {name: shared[name] for name in _SHARED_TESTS}
    table.update(_OWN_TESTS)
    return table


def globals_(safe_range: Callable[..., Any]) -> dict[str, Any]:
    """The functions templates can call: minijinja's ``range``, ``dict`` and ``namespace``."""
    return {"range": safe_range, "dict": dict, "namespace": Namespace}
