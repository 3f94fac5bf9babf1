"""Hiding secret values in the texts a plugin returns: the same rules as the Rust crate
``switchyard-scrub`` (``plugin-sdk/scrub``), checked against the same ``vectors.json``.

A :class:`Scrubber` is built once per call from the secrets of a config (the values its schema
marks ``x-secret``; a non-string value counts as its JSON text, plus the strings inside it) and
the config's other strings. It hides these forms of each secret, longest first, as ``[REDACTED]``:

- the value itself;
- JSON-string-escaped, with non-ASCII kept and with non-ASCII as ``\\uXXXX``;
- percent-encoded (every byte but ``A-Z a-z 0-9 - . _ ~``) with upper- and lower-case hex;
  form-urlencoded (space as ``+``) keeping ``~`` (``quote_plus``) and keeping ``*`` (WHATWG);
- base64 (standard and URL-safe, with and without padding) of the value and of ``x:value`` and
  ``value:x`` for every other string ``x`` of the config (basic auth);
- for an ``http(s)`` URL: its userinfo password, its path with the query, and each path segment
  and query value of at least :data:`MIN_URL_PART_CHARS` characters.

Values shorter than :data:`MIN_SECRET_CHARS` characters are not hidden: replacing every short
string in a text would shred it without protecting anything.

:func:`active` / :func:`scrub_active` keep the scrubbers of the calls in flight, so the log
handler hides secrets in any line written while a call runs, whichever thread writes it.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

#: What every hidden occurrence becomes.
REDACTED = "[REDACTED]"
#: Secrets shorter than this (in characters) are not hidden.
MIN_SECRET_CHARS = 4
#: Path segments and query values of a secret URL shorter than this are not hidden on their own.
MIN_URL_PART_CHARS = 12

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_FORM_BASE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._")


def json_escaped(text: str, ascii_only: bool) -> str:
    """The content of the JSON string for ``text`` (without quotes)."""
    return json.dumps(text, ensure_ascii=ascii_only)[1:-1]


def _percent(text: str, upper: bool) -> str:
    fmt = "%{:02X}" if upper else "%{:02x}"
    return "".join(chr(b) if b in _UNRESERVED else fmt.format(b) for b in text.encode("utf-8"))


def _form(text: str, kept: int) -> str:
    out = []
    for b in text.encode("utf-8"):
        if b in _FORM_BASE or b == kept:
            out.append(chr(b))
        elif b == 0x20:
            out.append("+")
        else:
            out.append(f"%{b:02X}")
    return "".join(out)


def _base64_all(data: bytes) -> list[str]:
    std = base64.b64encode(data).decode("ascii")
    url = base64.urlsafe_b64encode(data).decode("ascii")
    return [std, std.rstrip("="), url, url.rstrip("=")]


def _url_parts(value: str) -> list[str]:
    lower = value.lower()
    scheme = next((s for s in ("http://", "https://") if lower.startswith(s)), None)
    if scheme is None:
        return []
    rest = value[len(scheme) :]
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    parts = []
    if "@" in authority:
        userinfo = authority.rsplit("@", 1)[0]
        if ":" in userinfo:
            parts.append(userinfo.split(":", 1)[1])
    tail = tail.split("#", 1)[0]
    parts.append(tail)
    path, _, query = tail.partition("?")
    parts += [seg for seg in path.split("/") if len(seg) >= MIN_URL_PART_CHARS]
    values = (pair.split("=", 1)[1] if "=" in pair else pair for pair in query.split("&"))
    parts += [v for v in values if len(v) >= MIN_URL_PART_CHARS]
    return [p for p in parts if len(p) >= MIN_SECRET_CHARS]


def forms_of(secret: str, others: Sequence[str]) -> set[str]:
    """Every form of ``secret`` to hide; empty when it is too short."""
    if len(secret) < MIN_SECRET_CHARS:
        return set()
    out = {
        secret,
        json_escaped(secret, False),
        json_escaped(secret, True),
        _percent(secret, True),
        _percent(secret, False),
        _form(secret, ord("~")),
        _form(secret, ord("*")),
        *_base64_all(secret.encode("utf-8")),
    }
    for other in others:
        out.update(_base64_all(f"{other}:{secret}".encode()))
        out.update(_base64_all(f"{secret}:{other}".encode()))
    out.update(_url_parts(secret))
    out.discard("")
    return out


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def _secret_texts(secret: Any) -> list[str]:
    if secret is None:
        return []
    if isinstance(secret, str):
        return [secret]
    # The JSON text as serde_json writes it: compact, keys in their order.
    return [json.dumps(secret, separators=(",", ":"), ensure_ascii=False), *_strings(secret)]


class Scrubber:
    """Replaces the secrets of one config (and their encodings) in texts."""

    def __init__(self, secrets: Iterable[Any], others: Iterable[str] = ()) -> None:
        other_list = list(others)
        forms: set[str] = set()
        for secret in secrets:
            for text in _secret_texts(secret):
                forms |= forms_of(text, other_list)
        # Longest first: Python's alternation takes the first alternative that matches at the
        # leftmost position, so this is leftmost-longest, as the Rust crate's automaton.
        ordered = sorted(forms, key=lambda f: (-len(f), f))
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __repr__(self) -> str:  # never the forms: they are the secrets
        return "Scrubber(...)"

    @property
    def empty(self) -> bool:
        """True when this scrubber changes nothing."""
        return self._pattern is None

    def scrub(self, text: str) -> str:
        """``text`` with every form of every secret replaced by ``[REDACTED]``."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(REDACTED, text)


def secret_pointers(schema: Any, instance: Any) -> list[tuple[str | int, ...]]:
    """Paths (tuples of keys and indexes) of every non-null value of ``instance`` that ``schema``
    marks ``x-secret``: through ``properties``, ``additionalProperties``, ``items``,
    ``prefixItems``, local ``$ref``, ``allOf``/``anyOf``/``oneOf`` and ``then``/``else``."""
    found: set[tuple[str | int, ...]] = set()
    _walk(schema, schema, instance, (), found, 0)
    return sorted(found, key=repr)


def _walk(root: Any, schema: Any, inst: Any, path: tuple, out: set, depth: int) -> None:
    if not isinstance(schema, dict) or inst is None or depth > 48:
        return
    if schema.get("x-secret") is True:
        out.add(path)
        return
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(target, dict) else None
        _walk(root, target, inst, path, out, depth + 1)
    for kw in ("allOf", "anyOf", "oneOf"):
        for branch in schema.get(kw) or []:
            _walk(root, branch, inst, path, out, depth + 1)
    for kw in ("then", "else"):
        _walk(root, schema.get(kw), inst, path, out, depth + 1)
    if isinstance(inst, dict):
        props = schema.get("properties") or {}
        for key, value in inst.items():
            sub = props.get(key, schema.get("additionalProperties"))
            _walk(root, sub, value, (*path, key), out, depth + 1)
    elif isinstance(inst, list):
        prefix = schema.get("prefixItems") or []
        for i, value in enumerate(inst):
            sub = prefix[i] if i < len(prefix) else schema.get("items")
            _walk(root, sub, value, (*path, i), out, depth + 1)


def for_config(schema: Any, config: Any) -> Scrubber:
    """The scrubber for one config and its schema."""
    secrets, others = collect(schema, config)
    return Scrubber(secrets, others)


def collect(schema: Any, config: Any) -> tuple[list[Any], list[str]]:
    """The secret values of ``config`` per ``schema``, and its other strings."""
    paths = secret_pointers(schema, config)
    secrets = [_get(config, p) for p in paths]
    others: list[str] = []
    _others(config, (), set(paths), others)
    return secrets, others


def _get(value: Any, path: tuple) -> Any:
    for part in path:
        value = value[part]
    return value


def _others(value: Any, path: tuple, secret: set, out: list[str]) -> None:
    if path in secret:
        return
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _others(item, (*path, i), secret, out)
    elif isinstance(value, dict):
        for key, item in value.items():
            _others(item, (*path, key), secret, out)


_active: list[Scrubber] = []
_active_lock = threading.Lock()


@contextmanager
def active(scrubber: Scrubber) -> Iterator[Scrubber]:
    """Registers ``scrubber`` for the log handler while a call runs."""
    if scrubber.empty:
        yield scrubber
        return
    with _active_lock:
        _active.append(scrubber)
    try:
        yield scrubber
    finally:
        with _active_lock:
            _active.remove(scrubber)


def scrub_active(text: str) -> str:
    """``text`` scrubbed with the scrubbers of every call in flight."""
    with _active_lock:
        scrubbers = list(_active)
    for s in scrubbers:
        text = s.scrub(text)
    return text
