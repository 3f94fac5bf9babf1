"""How values look to templates and in what they print, as in the Rust SDK's minijinja: JSON
objects as :class:`Map` (keys sorted, as the Rust SDK keeps them) and arrays as :class:`Seq`,
printed by ``~`` and ``string`` in Rust's debug form; :func:`text_of`, what ``{{ value }}``
prints (nothing for missing or null values, objects and lists as compact JSON, floats as Rust
prints them); :func:`pretty`, what ``pprint`` prints.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from jinja2 import Undefined


class Map(dict):  # type: ignore[type-arg]
    """A JSON object in a template context: keys in sorted order (as the Rust SDK's maps, which
    keep them sorted), printed by ``~`` and ``string`` the way minijinja prints them."""

    def __str__(self) -> str:
        return "{" + ", ".join(f"{_debug(k)}: {_debug(v)}" for k, v in self.items()) + "}"


class Seq(list):  # type: ignore[type-arg]
    """A JSON array in a template context, printed as minijinja prints one."""

    def __str__(self) -> str:
        return "[" + ", ".join(_debug(v) for v in self) + "]"


def data(value: Any) -> Any:
    """JSON data as templates see it: objects as :class:`Map`, arrays as :class:`Seq`."""
    if isinstance(value, Mapping):
        return Map((k, data(value[k])) for k in sorted(value, key=str))
    if isinstance(value, (list, tuple)):
        return Seq(data(v) for v in value)
    return value


def _debug(value: Any) -> str:
    # minijinja prints the items of a list or map in Rust's debug form: strings quoted.
    if isinstance(value, str):
        return rust_debug_str(value)
    if isinstance(value, (Map, Seq)):
        return str(value)
    if isinstance(value, Mapping):
        return str(Map(value))
    if isinstance(value, (list, tuple)):
        return str(Seq(value))
    return "None" if value is None else text_of(value)


_DEBUG_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}


def rust_debug_str(text: str) -> str:
    """A string as Rust's ``{:?}`` prints it: quoted, with backslash escapes."""
    out = []
    for c in text:
        if c in _DEBUG_ESCAPES:
            out.append(_DEBUG_ESCAPES[c])
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{{{ord(c):x}}}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def pretty(value: Any, indent: str = "") -> str:
    """Rust's ``{:#?}`` of a value, which minijinja's ``pprint`` prints."""
    inner = indent + "    "
    if isinstance(value, Mapping) and value:
        items = "".join(f"{inner}{_debug(k)}: {pretty(v, inner)},\n" for k, v in value.items())
        return "{\n" + items + indent + "}"
    if isinstance(value, (list, tuple)) and value:
        items = "".join(f"{inner}{pretty(v, inner)},\n" for v in value)
        return "[\n" + items + indent + "]"
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, (list, tuple)):
        return "[]"
    return _debug(value)


def rust_float(value: float) -> str:
    """A float as Rust prints it: never in exponent form, integral values with ``.0``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text if "." in text else text + ".0"


def to_json(value: Any) -> str:
    """Compact JSON, keys sorted, non-ASCII kept (as serde_json writes it)."""
    return json.dumps(plain(value), ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def plain(value: Any) -> Any:
    """``value`` as plain JSON data (missing values as null, anything else as its text)."""
    if isinstance(value, Undefined):
        return None
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (str, int, float)) or value is None:
        return value
    return str(value)


def text_of(value: Any) -> str:
    """The text of a value as the template prints it: nothing for missing or null values,
    objects and lists as JSON, floats as Rust prints them."""
    if value is None or isinstance(value, Undefined):
        return ""
    if isinstance(value, (Mapping, list, tuple)):
        return to_json(value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return rust_float(value)
    return str(value)
