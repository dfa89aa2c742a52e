"""What rendering one record may cost: CPU time and characters, checked while the templates run.

Every render runs under a :class:`Budget`. The sandbox's operators, filters, calls, loops and
outputs tick it and charge what they make; an operation that would make a value larger than what is
left of the budget is refused *before* it runs (``'a' * 10**9``, ``9 ** 9 ** 9``,
``'%999999999s' % x``, ``center(999999999)``), so no single step can hang the process or fill its
memory, and the CPU time is read every few thousand steps, so no loop can run on.

Characters count every string a template makes (an item of a list counts as one), not only the
final text: a template that builds and throws away a huge text pays for it. CPU time is the render
thread's own (``time.thread_time``), so a busy machine does not make a render fail.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

# Python itself refuses to turn longer integers into text (sys.get_int_max_str_digits).
MAX_DIGITS = 4300
# The sandbox's historic bound on range(); kept so templates behave as documented.
MAX_RANGE = 100_000
_CHECK_EVERY = 4096  # steps between two readings of the CPU clock (one reading costs ~0.5 µs)


@dataclass(frozen=True, slots=True)
class Limits:
    """The budget of one record's render. The defaults leave a release of 10,000 issues room to spare."""

    cpu_seconds: float = 2.0
    characters: int = 20_000_000


class BudgetExceeded(Exception):
    """A render (or a literal expression at load) would go over its budget; the message says which limit."""

    def __init__(self, message: str, limit: str) -> None:
        super().__init__(message)
        self.limit = limit  # "cpu_seconds", "characters", "digits" or "range"


class Budget:
    """What one render has used so far."""

    __slots__ = ("_steps", "characters", "limits", "started")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.started = time.thread_time()
        self.characters = 0
        self._steps = _CHECK_EVERY

    def tick(self, steps: int = 1) -> None:
        """Count work; every few thousand steps, compare the CPU time used with the limit."""
        self._steps -= steps
        if self._steps <= 0:
            self._steps = _CHECK_EVERY
            self.check_time()

    def check_time(self) -> None:
        used = time.thread_time() - self.started
        if used > self.limits.cpu_seconds:
            raise BudgetExceeded(
                f"the render took more than {self.limits.cpu_seconds:g} s of CPU time, "
                "the limit of one record's render",
                "cpu_seconds",
            )

    def allow(self, size: int, what: str, unit: str = "characters") -> None:
        """Refuse to make ``what`` (``size`` characters, or items) when it would go over the limit."""
        if self.characters + size <= self.limits.characters:
            return
        limit = self.limits.characters
        if size > limit:
            message = f"{what} would make {size:,} {unit}; one record's render may make {limit:,} characters"
        else:
            message = (
                f"{what} would take the render past its limit of {limit:,} characters "
                f"({self.characters:,} made so far)"
            )
        raise BudgetExceeded(message, "characters")

    def charge(self, value: Any) -> None:
        """Count a value the template made (text by its characters, a collection by its items)."""
        size = len(value) if type(value) in _SIZED else size_of(value)
        if size:
            self.characters += size
            if self.characters > self.limits.characters:
                self.characters -= size
                self.allow(size, "the result")


_CURRENT: ContextVar[Budget | None] = ContextVar("bridgeline_render_budget", default=None)


def current() -> Budget:
    """The budget of the render running in this thread (or a fresh one, when none was opened)."""
    budget = _CURRENT.get()
    return budget if budget is not None else Budget(Limits())


def active() -> Budget | None:
    return _CURRENT.get()


@contextmanager
def opened(limits: Limits) -> Iterator[Budget]:
    """A fresh budget for everything rendered inside the block (one record)."""
    budget = Budget(limits)
    token = _CURRENT.set(budget)
    try:
        yield budget
    finally:
        _CURRENT.reset(token)


def enter(limits: Limits) -> Any:
    """Open a budget unless one is open already; pass the result to :func:`leave`."""
    if _CURRENT.get() is not None:
        return None
    return _CURRENT.set(Budget(limits))


def leave(token: Any) -> None:
    if token is not None:
        _CURRENT.reset(token)


_SIZED = frozenset({str, list, tuple, dict, bytes, set, frozenset})


def size_of(value: Any) -> int:
    if type(value) in _SIZED or isinstance(value, str | bytes | list | tuple | dict | set | frozenset):
        return len(value)
    return 0


def show(value: Any) -> str:
    """A short picture of a value for messages (huge values are never written out)."""
    if isinstance(value, int) and not isinstance(value, bool):
        digits = digits_of(value)
        return repr(value) if digits <= 30 else f"a number of {digits:,} digits"
    if isinstance(value, str):
        return repr(value) if len(value) <= 30 else f"a text of {len(value):,} characters"
    if isinstance(value, list | tuple):
        if len(value) <= 5 and len(text := repr(value)) <= 30:
            return text
        return f"a list of {len(value):,} items"
    return type(value).__name__


def digits_of(number: int) -> int:
    """Decimal digits of ``number``, estimated from its bits (never turns it into text)."""
    bits = abs(number).bit_length()
    return max(1, math.ceil(bits * math.log10(2)))


def _is_int(value: Any) -> bool:
    return isinstance(value, int)


def _is_sequence(value: Any) -> bool:
    return isinstance(value, str | bytes | list | tuple)


def _unit(value: Any) -> str:
    return "items" if isinstance(value, list | tuple) else "characters"


def _too_many_digits(digits: float, what: str) -> BudgetExceeded:
    return BudgetExceeded(
        f"{what} would make a number of about {digits:,.0f} digits; numbers may have at most {MAX_DIGITS:,}",
        "digits",
    )


def check_binop(budget: Budget, operator: str, left: Any, right: Any) -> None:
    """Refuse an operator whose result would go over the budget, before it is computed."""
    if operator == "**":
        if _is_int(left) and _is_int(right) and right > 1 and abs(left) > 1:
            digits = right * math.log10(abs(left))
            if digits > MAX_DIGITS:
                raise _too_many_digits(digits, f"{show(left)} ** {show(right)}")
    elif operator == "*":
        if _is_sequence(left) and _is_int(right):
            budget.allow(len(left) * max(right, 0), f"{show(left)} * {show(right)}", _unit(left))
        elif _is_int(left) and _is_sequence(right):
            budget.allow(len(right) * max(left, 0), f"{show(left)} * {show(right)}", _unit(right))
        elif _is_int(left) and _is_int(right):
            digits = digits_of(left) + digits_of(right)
            if digits > MAX_DIGITS + 1:
                raise _too_many_digits(digits, f"{show(left)} * {show(right)}")
    elif operator == "+":
        if _is_sequence(left) and _is_sequence(right):
            budget.allow(len(left) + len(right), f"{show(left)} + {show(right)}", _unit(left))
    elif operator == "%" and isinstance(left, str):
        budget.allow(percent_size(left, right), f"{show(left)} % ...")


# printf-style conversions: %(key)-08.3f, %*d, %%
_PERCENT = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d*))?[hlL]?(?P<type>.)",
    re.DOTALL,
)
_FLOAT_TEXT = 330  # the longest plain text of a float ('%f' % 1e308)


def percent_size(template: str, args: Any) -> int:
    """An upper bound of the length of ``template % args``, without formatting it."""
    values = args if isinstance(args, tuple) else (args,)
    named = args if isinstance(args, Mapping) else None
    index = 0
    size = len(template)

    def take() -> Any:
        nonlocal index
        value = values[index] if index < len(values) else None
        index += 1
        return value

    for match in _PERCENT.finditer(template):
        kind = match["type"]
        if kind == "%":
            continue
        width = take() if match["width"] == "*" else match["width"]
        precision = take() if match["precision"] == "*" else match["precision"]
        value = named.get(match["key"]) if named is not None and match["key"] is not None else take()
        size += _number(width) + _number(precision) + _text_size(value, kind)
    return size


def _number(value: Any) -> int:
    if isinstance(value, int):
        return abs(value)
    if isinstance(value, str) and value.isdecimal():
        return int(value)
    return 0


def _text_size(value: Any, kind: str) -> int:
    if isinstance(value, str):
        return len(value) * (4 if kind in "ra" else 1) + 2
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return digits_of(value) + 1
    if isinstance(value, float):
        return _FLOAT_TEXT
    if value is None:
        return 4
    return size_of(value) * 8 + 16


# the format specification mini-language: [[fill]align][sign][z][#][0][width][grouping][.precision][type]
_SPEC = re.compile(
    r"(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d*)[,_]?(?:\.(?P<precision>\d*))?[a-zA-Z%]?", re.DOTALL
)


def format_spec_size(value: Any, spec: str) -> int:
    """An upper bound of the length of ``format(value, spec)``."""
    match = _SPEC.fullmatch(spec)
    if match is None:
        return len(spec) + _text_size(value, "s")
    return _number(match["width"]) + _number(match["precision"]) + _text_size(value, "s")
