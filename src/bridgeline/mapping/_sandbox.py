"""The sandbox templates run in: Jinja's immutable sandbox, with every costly step under the render's budget.

Jinja evaluates constant expressions while it compiles (``{{ 9**(9**9) }}`` never finishes loading)
and lets a template loop, repeat and pad without bound. Here:

- nothing is folded at compile time: the optimizer is off, every arithmetic operator is intercepted
  (:meth:`MappingEnvironment.call_binop`) and every filter takes the context, which Jinja never folds;
- operators, filters, calls (``'a'.center(n)``, ``'{:>9}'.format(x)``), ``range``, ``~`` and every
  loop iteration go through the budget (``_budget.py``), which refuses a value before it is made when
  it would not fit and reads the CPU time every few thousand steps;
- every ``{{ }}`` output is charged by the ``finalize`` hook.

:func:`budgeted` rewrites a parsed template so that loops and ``~`` reach the budget too.
"""

from __future__ import annotations

import builtins
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date
from typing import Any

from jinja2 import StrictUndefined, nodes, pass_context
from jinja2.exceptions import SecurityError
from jinja2.filters import make_attrgetter
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from jinja2.utils import _PassArg
from jinja2.visitor import NodeTransformer
from markupsafe import EscapeFormatter, Markup

from bridgeline.mapping import _filters
from bridgeline.mapping._budget import (
    MAX_RANGE,
    Budget,
    BudgetExceeded,
    check_binop,
    current,
    format_spec_size,
    percent_size,
    show,
    size_of,
)

ITERATE = "bridgeline_iterate"
CONCAT = "bridgeline_concat"


class _Formatter(SandboxedFormatter):
    """``str.format`` in templates: each replacement field is checked and charged as it is formatted."""

    def format_field(self, value: Any, format_spec: str) -> Any:
        budget = current()
        budget.tick()
        budget.allow(format_spec_size(value, format_spec), f"the format {format_spec!r}")
        text = super().format_field(value, format_spec)
        budget.charge(text)
        return text


class _EscapeFormatter(_Formatter, EscapeFormatter):
    pass


class MappingEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, with every operator, call and loop under the render's budget."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = current()
        budget.tick()
        check_binop(budget, operator, left, right)
        result = self.binop_table[operator](left, right)
        budget.charge(result)
        return result

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = current()
        budget.tick()
        if not self.is_safe_callable(obj):
            raise SecurityError(f"{obj!r} is not safely callable")
        # str.format / format_map reach attributes through their replacement fields: always the
        # sandbox's formatter, however the method was obtained (attribute, |attr, a variable)
        obj = self.wrap_str_format(obj) or obj
        args = _check_call(budget, obj, args, kwargs)
        result = context.call(obj, *args, **kwargs)
        budget.charge(result)
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if not isinstance(value, types.MethodType | types.BuiltinMethodType) or value.__name__ not in (
            "format",
            "format_map",
        ):
            return None
        owner: Any = value.__self__
        if not isinstance(owner, str):
            return None
        formatter = (
            _EscapeFormatter(self, escape=owner.escape) if isinstance(owner, Markup) else _Formatter(self)
        )
        kind = type(owner)
        is_map = value.__name__ == "format_map"

        def format_(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                return kind(formatter.vformat(owner, (), args[0]))
            return kind(formatter.vformat(owner, args, kwargs))

        return format_

    # helpers the rewritten templates call (see `budgeted`) -------------------------------------
    def bridgeline_iterate(self, iterable: Any, literal_chars: int) -> Iterator[Any]:
        """A loop's iterable, ticking the budget per iteration and charging the loop body's own text."""
        return _iterate(current(), iterable, literal_chars)

    def bridgeline_concat(self, *parts: Any) -> str:
        """``a ~ b``: checked before the texts are joined."""
        texts = [part if type(part) is str else str(part) for part in parts]
        current().allow(sum(map(len, texts)), "joining texts with ~")
        return "".join(texts)


def _iterate(budget: Budget, iterable: Any, literal_chars: int) -> Iterator[Any]:
    for item in iterable:
        budget.tick()
        if literal_chars:
            budget.allow(literal_chars, "the loop")
            budget.characters += literal_chars
        yield item


_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


def _check_call(budget: Budget, obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Methods of texts that can make much more than they are given, checked before they run."""
    owner = getattr(obj, "__self__", None)
    if not isinstance(obj, types.BuiltinMethodType):
        return args
    name = obj.__name__
    if isinstance(owner, date) and name == "strftime" and args and isinstance(args[0], str):
        budget.allow(len(args[0]) * 12, "strftime()")
        return args
    if not isinstance(owner, str | bytes):
        return args
    if name in _WIDTH_METHODS:
        width = args[0] if args else kwargs.get("width")
        if isinstance(width, int):
            budget.allow(max(width, len(owner)), f"{name}({show(width)})")
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int):
            tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
            budget.allow(len(owner) + tabs * max(size, 0), f"expandtabs({show(size)})")
    elif name == "replace" and len(args) >= 2:
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        budget.allow(replaced_size(owner, args[0], args[1], count), "replace()")
    elif name == "join" and args:
        items = list(args[0])
        budget.tick(len(items))
        parts = sum(len(i) for i in items if isinstance(i, str | bytes))
        budget.allow(parts + len(owner) * max(len(items) - 1, 0), f"join() of {len(items):,} items")
        return (items, *args[1:])
    elif name == "translate" and args and isinstance(args[0], Mapping):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str | bytes)), default=1)
        budget.allow(len(owner) * max(longest, 1), "translate()")
    return args


def replaced_size(text: Any, old: Any, new: Any, count: Any) -> int:
    """The length of ``text.replace(old, new, count)``, counted without replacing."""
    if not isinstance(text, str | bytes) or type(old) is not type(text) or type(new) is not type(text):
        return size_of(text)
    found = text.count(old) if old else len(text) + 1  # type: ignore[arg-type]
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * max(len(new) - len(old), 0)


def bounded_range(*args: int) -> range:
    """``range()`` of at most 100,000 numbers."""
    numbers = range(*args)
    try:
        length = len(numbers)
    except OverflowError:
        length = MAX_RANGE + 1
    if length > MAX_RANGE:
        raise BudgetExceeded(
            f"range too big: range({', '.join(show(a) for a in args)}) holds {length:,} numbers; "
            f"ranges may hold at most {MAX_RANGE:,}",
            "range",
        )
    return numbers


@pass_context
def finalize(context: Context, value: Any) -> Any:
    """Every ``{{ }}`` output: ``None`` is an empty string (not the word None), and the text is charged."""
    if value is None:
        return ""
    text = value if type(value) is str else str(value)
    budget = current()
    budget.tick()
    budget.charge(text)
    return text


# --- filters ---------------------------------------------------------------------------------------

Check = Callable[[Budget, Any, tuple[Any, ...], dict[str, Any]], Any]


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any = None) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _center(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    width = _arg(args, kwargs, 0, "width", 80)
    if isinstance(width, int):
        budget.allow(max(width, size_of(value)), f"center({show(width)})")
    return value


def _indent(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    width = _arg(args, kwargs, 0, "width", 4)
    pad = len(width) if isinstance(width, str) else max(width, 0) if isinstance(width, int) else 0
    text = value if isinstance(value, str) else str(value)
    budget.allow(len(text) + (text.count("\n") + 1) * pad, f"indent({show(width)})")
    return value


def _format(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    text = value if isinstance(value, str) else str(value)
    budget.allow(percent_size(text, kwargs or args), "format()")
    return value


def _batch(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    size, fill = _arg(args, kwargs, 0, "linecount"), _arg(args, kwargs, 1, "fill_with")
    if fill is not None and isinstance(size, int):
        budget.allow(size, f"batch({show(size)}) with a filler", "items")
    return value


def _slice(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    slices = _arg(args, kwargs, 0, "slices")
    if isinstance(slices, int):
        budget.allow(slices, f"slice({show(slices)})", "items")
    return value


def _replace(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    old, new = _arg(args, kwargs, 0, "old"), _arg(args, kwargs, 1, "new")
    count = _arg(args, kwargs, 2, "count")
    text = value if isinstance(value, str) else str(value)
    budget.allow(replaced_size(text, old, new, -1 if count is None else count), "replace()")
    return value


def _list(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if hasattr(value, "__len__") and not isinstance(value, Undefined):
        budget.allow(len(value), "list()", "items")
    return value


def _bullets(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    items = [] if value is None or isinstance(value, Undefined) else _materialize(value)
    prefix = _arg(args, kwargs, 0, "prefix", "- ")
    texts = sum(len(str(i)) for i in items) if isinstance(items, list) else size_of(items)
    count = len(items) if isinstance(items, list) else 1
    budget.allow(texts + count * (len(str(prefix)) + 1), "bullet_list()")
    return items


def _materialize(value: Any) -> Any:
    return value if isinstance(value, str | bytes | Mapping) else list(value)


_CHECKS: dict[str, Check] = {
    "center": _center,
    "indent": _indent,
    "format": _format,
    "batch": _batch,
    "slice": _slice,
    "replace": _replace,
    "list": _list,
    "bullet_list": _bullets,
}


def _budgeted_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    check = _CHECKS.get(name)
    passes = _PassArg.from_obj(func)

    @pass_context
    def budgeted(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        budget = current()
        budget.tick(1 + size_of(value))
        if check is not None:
            value = check(budget, value, args, kwargs)
        if passes is _PassArg.context:
            result = func(context, value, *args, **kwargs)
        elif passes is _PassArg.eval_context:
            result = func(context.eval_ctx, value, *args, **kwargs)
        elif passes is _PassArg.environment:
            result = func(context.environment, value, *args, **kwargs)
        else:
            result = func(value, *args, **kwargs)
        budget.charge(result)
        return result

    budgeted.__name__ = budgeted.__qualname__ = name
    budgeted.__doc__ = func.__doc__
    return budgeted


@pass_context
def join(context: Context, value: Iterable[Any], d: str = "", attribute: str | int | None = None) -> str:
    """Jinja's ``join``, with the size of the result known before it is made."""
    budget = current()
    items = list(value)
    if attribute is not None:
        getter = make_attrgetter(context.environment, attribute)
        items = [getter(item) for item in items]
    texts = [item if type(item) is str else str(item) for item in items]
    separator = str(d)
    budget.tick(1 + len(texts))
    size = sum(map(len, texts)) + len(separator) * max(len(texts) - 1, 0)
    budget.allow(size, f"join() of {len(texts):,} items")
    result = separator.join(texts)
    budget.charge(result)
    return result


@pass_context
def sum_(
    context: Context, iterable: Iterable[Any], attribute: str | int | None = None, start: Any = 0
) -> Any:
    """Jinja's ``sum``; lists are joined in one pass (``sum()`` copies the growing list at every step)."""
    budget = current()
    items = list(iterable)
    if attribute is not None:
        getter = make_attrgetter(context.environment, attribute)
        items = [getter(item) for item in items]
    budget.tick(1 + len(items))
    if isinstance(start, list | tuple) and all(isinstance(i, list | tuple) for i in items):
        budget.allow(len(start) + sum(map(len, items)), f"sum() of {len(items):,} lists", "items")
        joined = list(start)
        for item in items:
            joined.extend(item)
        result: Any = tuple(joined) if isinstance(start, tuple) else joined
    else:
        result = builtins.sum(items, start)
    budget.charge(result)
    return result


_REPLACED: dict[str, Callable[..., Any]] = {"join": join, "sum": sum_}


def filters_for(builtin: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """The filters templates may use, each under the budget (Jinja's kept built-ins, then ours)."""
    table = {k: v for k, v in builtin.items() if k in _filters.KEPT_BUILTIN_FILTERS}
    table.update(_filters.FILTERS)
    out: dict[str, Callable[..., Any]] = {}
    for name, func in table.items():
        out[name] = _REPLACED.get(name) or _budgeted_filter(name, func)
    return out


def make_environment() -> MappingEnvironment:
    """A fresh sandbox with bridgeline's filters; no state is shared between mapping sets."""
    env = MappingEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        finalize=finalize,
        auto_reload=False,
        cache_size=0,
        optimized=False,  # the optimizer folds constant expressions while compiling
    )
    env.filters = filters_for(env.filters)
    env.tests = {k: v for k, v in env.tests.items() if k in _filters.KEPT_BUILTIN_TESTS}
    env.globals.clear()
    env.globals.update({"range": bounded_range, "dict": dict, **_filters.GLOBALS})
    return env


# --- rewriting parsed templates ----------------------------------------------------------------------


class _Budgeting(NodeTransformer):
    def visit_For(self, node: nodes.For) -> nodes.Node:
        node = self.generic_visit(node)  # type: ignore[assignment]
        helper = nodes.EnvironmentAttribute(ITERATE, lineno=node.lineno)
        chars = nodes.Const(_literal_chars(node.body), lineno=node.lineno)
        node.iter = nodes.Call(helper, [node.iter, chars], [], None, None, lineno=node.iter.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        node = self.generic_visit(node)  # type: ignore[assignment]
        helper = nodes.EnvironmentAttribute(CONCAT, lineno=node.lineno)
        return nodes.Call(helper, list(node.nodes), [], None, None, lineno=node.lineno)


def budgeted(ast: nodes.Template, env: MappingEnvironment) -> nodes.Template:
    """``ast`` with every loop's iterable and every ``~`` routed through the budget (in place)."""
    _Budgeting().visit(ast)
    ast.set_environment(env)
    return ast


def _literal_chars(body: list[nodes.Node]) -> int:
    """The text written as is in a loop body, outside its inner loops (they charge their own)."""
    total = 0
    stack: list[nodes.Node] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, nodes.TemplateData):
            total += len(node.data)
        elif not isinstance(node, nodes.For | nodes.Macro | nodes.CallBlock):
            stack.extend(node.iter_child_nodes())
    return total


__all__ = ["MappingEnvironment", "budgeted", "make_environment"]
