"""Checks a config against its provider's JSON Schema and reports every problem in-band.

A config that does not match the schema is user input, not a protocol error: each problem
becomes a :class:`~switchyard_plugin.results.Diagnostic` with the RFC 6901 JSON Pointer of the
offending value. Values of ``x-secret`` fields are never quoted in a message. Schema defaults
are filled in before the provider sees the config, so provider code can index them directly.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from jsonschema.exceptions import SchemaError

from .results import Diagnostic

_URI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]*$")

#: Keys this module reads; validators ignore unknown ``x-`` keys anyway.
SECRET_KEY = "x-secret"
RESOLVER_KEY = "x-options-resolver"

_FORMATS = FormatChecker()


@_FORMATS.checks("uri")
def _is_uri(value: object) -> bool:
    # jsonschema checks "uri" only with an optional extra package; this keeps the check built in.
    return not isinstance(value, str) or bool(_URI_RE.match(value))


class ConfigError(ValueError):
    """A config text is not a JSON value at all (a protocol error, not a schema violation)."""


def json_pointer(parts: Iterable[object]) -> str:
    """Builds an RFC 6901 JSON Pointer: ``["a/b", 0]`` → ``/a~1b/0``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def check_schema(schema: dict[str, Any]) -> None:
    """Raises :class:`jsonschema.exceptions.SchemaError` if ``schema`` is not valid 2020-12."""
    Draft202012Validator.check_schema(schema)


def parse_json(text: str, what: str) -> Any:
    """Parses a JSON field of a request; an empty string means an empty object."""
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{what} is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from err
    except RecursionError as err:
        raise ConfigError(f"{what} is nested too deeply to be parsed") from err


class ConfigValidator:
    """Validates configs against one schema (compiled once, used from many threads)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self._schema = schema
        self._validator = Draft202012Validator(schema, format_checker=_FORMATS)

    def validate(self, config: Any) -> list[Diagnostic]:
        """Every problem with ``config``, sorted by path; empty when it is valid."""
        found: list[Diagnostic] = []
        for error in self._validator.iter_errors(config):
            found.extend(_diagnostics_for(error))
        return sorted(set(found), key=lambda d: (d.json_path, d.message))

    def with_defaults(self, config: Any) -> Any:
        """A copy of ``config`` with the schema's ``default`` values filled in where missing."""
        return _fill_defaults(self._schema, copy.deepcopy(config))


def _diagnostics_for(error: ValidationError) -> list[Diagnostic]:
    path = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [p for p in error.validator_value if p not in error.instance]
        name = next((p for p in missing if error.message.startswith(repr(p))), None)
        if name is not None:
            return [Diagnostic(json_pointer([*path, name]), f"{name!r} is required")]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        extras = _unexpected_keys(error.schema, error.instance)
        if extras:
            return [Diagnostic(json_pointer([*path, k]), f"{k!r} is not an allowed property") for k in extras]
    return [Diagnostic(json_pointer(path), _message(error))]


def _unexpected_keys(schema: dict[str, Any], instance: dict[str, Any]) -> list[str]:
    known = schema.get("properties", {})
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    return sorted(k for k in instance if k not in known and not any(p.search(k) for p in patterns))


def _message(error: ValidationError) -> str:
    if isinstance(error.schema, dict) and error.schema.get(SECRET_KEY):
        # jsonschema quotes the offending value; for a secret that would leak it.
        return f"the value does not satisfy {error.validator!r} (value hidden: it is a secret)"
    if isinstance(error.instance, (dict, list)):
        # An object or array may hold secrets further down: describe the rule, not the value.
        if error.validator == "type":
            return f"must be of type {error.validator_value!r}"
        return f"does not satisfy {error.validator!r}: {json.dumps(error.validator_value)[:200]}"
    return error.message


def _fill_defaults(schema: Any, value: Any) -> Any:
    if not isinstance(schema, dict) or not isinstance(value, dict):
        return value
    for name, sub in schema.get("properties", {}).items():
        if not isinstance(sub, dict):
            continue
        if name not in value and "default" in sub:
            value[name] = copy.deepcopy(sub["default"])
        if name in value:
            value[name] = _fill_defaults(sub, value[name])
    return value


def resolver_names(schema: Any) -> set[str]:
    """Every ``x-options-resolver`` name used anywhere in ``schema``."""
    names: set[str] = set()
    if isinstance(schema, dict):
        if isinstance(schema.get(RESOLVER_KEY), str):
            names.add(schema[RESOLVER_KEY])
        for sub in schema.values():
            names |= resolver_names(sub)
    elif isinstance(schema, list):
        for sub in schema:
            names |= resolver_names(sub)
    return names


__all__ = [
    "ConfigError",
    "ConfigValidator",
    "SchemaError",
    "check_schema",
    "json_pointer",
    "parse_json",
    "resolver_names",
]
