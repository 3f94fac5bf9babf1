"""The Jinja2 environment templates run in, shaped to behave as the Rust SDK's minijinja one:

- a sandbox (``ImmutableSandboxedEnvironment``) without loader, and without the statements
  minijinja is built without here (``include``, ``extends``, ``import``, ``from``, ``macro``,
  ``call``, ``block``): they are syntax errors, so a template cannot reach another;
- lookups reach data only: ``payload.items`` is the payload's ``items`` key, never a Python
  method, and no attribute of a Python object other than Jinja2's own loop, namespace and
  group objects is reachable;
- chainable undefined values (``payload.missing.deeper`` renders empty) and the Rust SDK's
  printing rules (:func:`.template_filters.text_of`), never HTML-escaped;
- work bounded by fuel (each loop iteration, lookup, call and filter costs one unit), recursive
  loops bounded by depth, repetition (``*``) and powers bounded in size.

Jinja2 has no fuel of its own: loops are metered by rewriting each ``for`` statement's iterable
into a call of :meth:`SandboxEnvironment.meter` on the parsed tree, before it is compiled.
"""

from __future__ import annotations

import contextvars
import operator
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from jinja2 import ChainableUndefined, nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment, safe_range

from . import template_filters
from .template_filters import FilterError
from .template_values import Map, Seq, text_of

#: The longest value a repetition (``"x" * n``) may make, as minijinja caps it.
MAX_REPEAT_BYTES = 100 * 1024 * 1024
#: The largest exponent of ``**`` on integers (a bigger one makes a number no output can hold).
MAX_EXPONENT = 10_000

#: Statements the Rust SDK's engine does not have: they could reach other templates.
_REFUSED = {
    nodes.Include: "include",
    nodes.Extends: "extends",
    nodes.Import: "import",
    nodes.FromImport: "from",
    nodes.Macro: "macro",
    nodes.CallBlock: "call",
    nodes.Block: "block",
}


class RenderFailure(Exception):
    """The render stopped: out of fuel, too deep, a value too large. ``kind`` is minijinja's
    word for it."""

    def __init__(self, message: str, kind: str = "invalid operation") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class _Budget:
    fuel: int


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("switchyard_template_budget", default=None)


def with_fuel(fuel: int) -> contextvars.Token[_Budget | None]:
    """Starts a render's budget (undo with :func:`end_fuel`)."""
    return _budget.set(_Budget(fuel))


def end_fuel(token: contextvars.Token[_Budget | None]) -> None:
    _budget.reset(token)


def charge(units: int = 1) -> None:
    budget = _budget.get()
    if budget is None:
        return
    budget.fuel -= units
    if budget.fuel < 0:
        raise RenderFailure("the template does too much work (out of fuel)", "")


class _Registry(dict):  # type: ignore[type-arg]
    """Filters or tests by name. An unknown name compiles (``get`` answers a placeholder) and
    fails when it is applied, as minijinja resolves filters at render time."""

    def __init__(self, kind: str, table: dict[str, Any]) -> None:
        super().__init__({name: _metered(f) for name, f in table.items()})
        self.kind = kind

    def get(self, key: Any, default: Any = None) -> Any:
        found = super().get(key)
        return found if found is not None else self._unknown(str(key))

    def __missing__(self, key: Any) -> Any:
        return self._unknown(str(key))

    def _unknown(self, name: str) -> Any:
        kind = self.kind

        def unknown(*_args: Any, **_kwargs: Any) -> Any:
            raise RenderFailure(f"{kind} {name} is unknown", f"unknown {kind}")

        return unknown


def _metered(function: Any) -> Any:
    def metered(*args: Any, **kwargs: Any) -> Any:
        charge()
        return function(*args, **kwargs)

    # Keeps Jinja2's pass_context / pass_environment marker and the name.
    metered.__dict__.update(getattr(function, "__dict__", {}))
    metered.__name__ = getattr(function, "__name__", "filter")
    return metered


_DATA_MAPS = (dict, Map)
_DATA_SEQS = (list, tuple, Seq)
_SCALARS = (str, int, float, bool, type(None))


class SandboxEnvironment(ImmutableSandboxedEnvironment):
    """One per compiled template's limits; see the module doc."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, max_depth: int) -> None:
        super().__init__(
            undefined=ChainableUndefined,
            autoescape=False,
            finalize=text_of,
            keep_trailing_newline=False,
            extensions=(),
        )
        self.max_depth = max_depth
        self.filters = _Registry("filter", template_filters.filters())
        self.tests = _Registry("test", template_filters.tests())
        self.globals = template_filters.globals_(safe_range)

    # === compile ===

    def compile_source(self, source: str) -> Any:
        """The template of ``source``; raises ``TemplateSyntaxError`` for what does not compile
        or uses a refused statement."""
        tree = self.parse(source)
        for node in tree.find_all(tuple(_REFUSED)):
            raise TemplateSyntaxError(f"unknown statement {_REFUSED[type(node)]}", node.lineno)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Call(nodes.EnvironmentAttribute("meter"), [loop.iter], [], None, None)
            loop.iter.set_lineno(loop.lineno)
        for scope in tree.find_all(nodes.ScopedEvalContextModifier):
            # The Rust SDK never escapes output (escaping is the template's choice of filter).
            scope.options = [o for o in scope.options if o.key != "autoescape"]
        return self.from_string(tree)

    # === render-time checks ===

    def meter(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """Iterates ``iterable``, one unit of fuel per item."""
        for item in iterable:
            charge()
            yield item

    def getattr(self, obj: Any, attribute: str) -> Any:
        charge()
        if type(obj) in _DATA_MAPS:
            return obj[attribute] if attribute in obj else self.undefined(obj=obj, name=attribute)
        if type(obj) in _DATA_SEQS or isinstance(obj, _SCALARS):
            return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        charge()
        if type(obj) in _DATA_MAPS:
            try:
                return obj[argument] if argument in obj else self.undefined(obj=obj, name=str(argument))
            except TypeError:  # an unhashable key
                return self.undefined(obj=obj, name=str(argument))
        if type(obj) in _DATA_SEQS or isinstance(obj, str):
            try:
                return obj[argument]
            except (IndexError, TypeError):
                return self.undefined(obj=obj, name=str(argument))
        if isinstance(obj, _SCALARS):
            return self.undefined(obj=obj, name=str(argument))
        return super().getitem(obj, argument)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        charge()
        if isinstance(__obj, LoopContext) and args:
            # `loop(children)` in a recursive loop: bounded depth, and its items metered too.
            if __obj.depth >= __self.max_depth:
                raise RenderFailure("recursion limit exceeded", "")
            args = (__self.meter(args[0]), *args[1:])
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        charge()
        if operator_ == "*":
            _check_repeat(left, right)
            return operator.mul(left, right)
        if operator_ == "%":
            # minijinja's `%` is the remainder of numbers only, never string formatting.
            if isinstance(left, str) or isinstance(right, str):
                raise RenderFailure("tried to use % operator on unsupported types")
            return operator.mod(left, right)
        if isinstance(left, int) and isinstance(right, int) and abs(right) > MAX_EXPONENT:
            raise RenderFailure(f"the exponent {right} is larger than {MAX_EXPONENT}")
        return operator.pow(left, right)


def _check_repeat(left: Any, right: Any) -> None:
    for seq, times in ((left, right), (right, left)):
        repeated = isinstance(seq, (str, list, tuple)) and isinstance(times, int)
        if repeated and len(seq) * max(times, 0) > MAX_REPEAT_BYTES:
            raise RenderFailure(f"a repetition would be longer than {MAX_REPEAT_BYTES} bytes")


__all__ = ["FilterError", "RenderFailure", "SandboxEnvironment", "charge", "end_fuel", "with_fuel"]
