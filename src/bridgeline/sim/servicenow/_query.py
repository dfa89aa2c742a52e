"""ServiceNow encoded queries (``sysparm_query``): parsing, compiling against a table, matching.

``active=true^stateIN-4,-3^ORassigned_toISEMPTY^NQnumber=CHG0030001^ORDERBYDESCsys_updated_on``
reads as ``(active AND (state in (-4,-3) OR assigned_to empty)) OR (number = CHG0030001)``,
newest first. As on a real instance, a part naming an unknown field or an unknown operator is
ignored rather than refused, text comparisons ignore case, and date-time literals are UTC.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bridgeline.sim.servicenow._clock import parse_sn_datetime, sn_datetime
from bridgeline.sim.servicenow._schema import Field, TableDef

if TYPE_CHECKING:
    from bridgeline.sim.servicenow._store import Store

Row = dict[str, str]

# Longest first, so NOT LIKE wins over LIKE and >= over >.
OPERATORS = (
    "NOT LIKE",
    "NOT IN",
    "ISNOTEMPTY",
    "ISEMPTY",
    "EMPTYSTRING",
    "ANYTHING",
    "STARTSWITH",
    "ENDSWITH",
    "BETWEEN",
    "NSAMEAS",
    "SAMEAS",
    "LIKE",
    "IN",
    "!=",
    ">=",
    "<=",
    "=",
    ">",
    "<",
)
_CONDITION = re.compile(r"^([a-z0-9_]+(?:\.[a-z0-9_]+)?)(.*)$", re.DOTALL)
_JAVASCRIPT = re.compile(r"^javascript:\s*gs\.(\w+)\(([^)]*)\)\s*;?\s*$")
_RANGE_OPS = frozenset({">", ">=", "<", "<=", "BETWEEN"})


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    op: str
    value: str


@dataclass(slots=True)
class EncodedQuery:
    """Parsed form: ``parts`` (joined by NQ) of AND-ed terms, each a list of OR-ed conditions."""

    parts: list[list[list[Condition]]] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)


def parse(text: str | None) -> EncodedQuery:
    query = EncodedQuery()
    if not text:
        return query
    part: list[list[Condition]] = []
    query.parts.append(part)
    for raw in text.replace("^^", "\x00").split("^"):
        token = raw.replace("\x00", "^").strip()
        if not token or token == "EQ" or token.startswith(("GROUPBY", "RLQUERY", "ENDRLQUERY", "JOIN")):
            continue
        if token.startswith("ORDERBYDESC"):
            query.order.append((token[len("ORDERBYDESC") :], True))
            continue
        if token.startswith("ORDERBY"):
            query.order.append((token[len("ORDERBY") :], False))
            continue
        if token.startswith("NQ"):
            part = []
            query.parts.append(part)
            token = token[2:]
            if not token:
                continue
        alternative = token.startswith("OR")
        condition = _parse_condition(token[2:] if alternative else token)
        if condition is None:
            continue
        if alternative and part:
            part[-1].append(condition)
        else:
            part.append([condition])
    return query


def _parse_condition(token: str) -> Condition | None:
    match = _CONDITION.match(token)
    if not match:
        return None
    name, rest = match.groups()
    for op in OPERATORS:
        if rest.startswith(op):
            return Condition(name, op, rest[len(op) :])
    return None


@dataclass(slots=True)
class EvalContext:
    """What ``javascript:gs.…()`` literals may refer to."""

    now: datetime
    user_sys_id: str = ""
    user_name: str = ""


def _javascript(value: str, ctx: EvalContext) -> str | None:
    match = _JAVASCRIPT.match(value)
    if not match:
        return None
    name, raw_args = match.groups()
    args = [a.strip().strip("'\"") for a in raw_args.split(",") if a.strip()]
    number = float(args[0]) if args and re.fullmatch(r"-?\d+(\.\d+)?", args[0]) else 0.0
    now = ctx.now
    start_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if name == "dateGenerate" and args:
        clock = args[1] if len(args) > 1 else "start"
        clock = {"start": "00:00:00", "end": "23:59:59"}.get(clock, clock)
        return f"{args[0]} {clock}"
    moments: dict[str, Callable[[], datetime]] = {
        "daysAgo": lambda: now - timedelta(days=number),
        "daysAgoStart": lambda: start_of_day - timedelta(days=number),
        "daysAgoEnd": lambda: start_of_day - timedelta(days=number - 1, seconds=1),
        "hoursAgo": lambda: now - timedelta(hours=number),
        "hoursAgoStart": lambda: (now - timedelta(hours=number)).replace(minute=0, second=0),
        "minutesAgo": lambda: now - timedelta(minutes=number),
        "minutesAgoStart": lambda: (now - timedelta(minutes=number)).replace(second=0),
        "beginningOfToday": lambda: start_of_day,
        "endOfToday": lambda: start_of_day + timedelta(days=1, seconds=-1),
        "now": lambda: now,
        "nowDateTime": lambda: now,
    }
    if name in moments:
        return sn_datetime(moments[name]())
    if name == "getUserID":
        return ctx.user_sys_id
    if name == "getUserName":
        return ctx.user_name
    return None


def _literal(fdef: Field, value: str) -> str:
    """A query literal in the form stored values take, so plain string comparison works."""
    if fdef.type == "glide_date_time":
        moment = parse_sn_datetime(value)
        return sn_datetime(moment) if moment else value
    return fdef.norm(value)


def _sort_key(fdef: Field, value: str) -> tuple[int, float | str]:
    if not value:
        return (0, "")
    if fdef.type == "integer":
        try:
            return (1, float(value))
        except ValueError:
            return (2, value.lower())
    return (1, fdef.norm(value)) if fdef.type != "glide_date_time" else (1, value)


def _compare_key(fdef: Field, value: str) -> float | str:
    return _sort_key(fdef, value)[1]


@dataclass(slots=True)
class CompiledCondition:
    test: Callable[[Row], bool]
    index_field: str | None = None  # a direct field the planner may look up
    keys: frozenset[str] | None = None  # for = and IN
    low: tuple[str, bool] | None = None  # (bound, inclusive) for range planning
    high: tuple[str, bool] | None = None


@dataclass(slots=True)
class CompiledQuery:
    parts: list[list[list[CompiledCondition]]]
    order: list[tuple[Callable[[Row], tuple[int, float | str]], bool]]

    def matches(self, part: list[list[CompiledCondition]], row: Row) -> bool:
        return all(any(c.test(row) for c in term) for term in part)


class _Getter:
    """Reads a field of a row, following one reference for dot-walked names."""

    def __init__(self, store: Store, table: TableDef, name: str) -> None:
        self.store = store
        head, _, tail = name.partition(".")
        fdef = table.fields.get(head)
        self.head = head
        self.ok = fdef is not None
        self.target: str | None = None
        self.field = fdef
        if fdef is not None and tail:
            target = store.defs.get(fdef.reference or "")
            self.field = target.fields.get(tail) if target else None
            self.ok = fdef.type == "reference" and self.field is not None
            self.target = target.name if target else None
            self.tail = tail

    def __call__(self, row: Row) -> str:
        value = row.get(self.head, "")
        if self.target is None:
            return value
        if not value:
            return ""
        referenced = self.store.get(self.target, value)
        return referenced.get(self.tail, "") if referenced else ""


def compile_query(query: EncodedQuery, table: TableDef, store: Store, ctx: EvalContext) -> CompiledQuery:
    parts: list[list[list[CompiledCondition]]] = []
    for part in query.parts:
        terms = []
        for term in part:
            compiled = [c for c in (_compile(cond, table, store, ctx) for cond in term) if c is not None]
            if compiled:
                terms.append(compiled)
        parts.append(terms)
    order = []
    for name, descending in query.order:
        getter = _Getter(store, table, name)
        if getter.ok and getter.field is not None:
            order.append((_order_key(getter, getter.field), descending))
    return CompiledQuery(parts, order)


def _order_key(getter: _Getter, fdef: Field) -> Callable[[Row], tuple[int, float | str]]:
    return lambda row: _sort_key(fdef, getter(row))


def _compile(cond: Condition, table: TableDef, store: Store, ctx: EvalContext) -> CompiledCondition | None:
    getter = _Getter(store, table, cond.field)
    if not getter.ok or getter.field is None:
        return None
    fdef = getter.field
    raw = cond.value
    if raw.startswith("javascript:"):
        resolved = _javascript(raw, ctx)
        if resolved is None:
            return None
        raw = resolved
    direct = cond.field if "." not in cond.field else None
    op = cond.op
    if op in ("ISEMPTY", "EMPTYSTRING"):
        return CompiledCondition(lambda row: getter(row) == "")
    if op == "ISNOTEMPTY":
        return CompiledCondition(lambda row: getter(row) != "")
    if op == "ANYTHING":
        return CompiledCondition(lambda row: True)
    if op in ("=", "!="):
        key = _literal(fdef, raw)
        if op == "=":
            return CompiledCondition(lambda row: _literal(fdef, getter(row)) == key, direct, frozenset({key}))
        return CompiledCondition(lambda row: _literal(fdef, getter(row)) != key)
    if op in ("IN", "NOT IN"):
        keys = frozenset(_literal(fdef, v) for v in raw.split(","))
        if op == "IN":
            return CompiledCondition(lambda row: _literal(fdef, getter(row)) in keys, direct, keys)
        return CompiledCondition(lambda row: _literal(fdef, getter(row)) not in keys)
    needle = raw.lower()
    text_tests: dict[str, Callable[[str], bool]] = {
        "LIKE": lambda v: needle in v.lower(),
        "NOT LIKE": lambda v: needle not in v.lower(),
        "STARTSWITH": lambda v: v.lower().startswith(needle),
        "ENDSWITH": lambda v: v.lower().endswith(needle),
    }
    if op in text_tests:
        check = text_tests[op]
        return CompiledCondition(lambda row: check(getter(row)))
    if op in _RANGE_OPS:
        return _compile_range(op, raw, fdef, getter, direct)
    return None  # SAMEAS/NSAMEAS and the rest: ignored like an invalid part


def _compile_range(
    op: str, raw: str, fdef: Field, getter: _Getter, direct: str | None
) -> CompiledCondition | None:
    if op == "BETWEEN":
        low_raw, sep, high_raw = raw.partition("@")
        if not sep:
            return None
        low, high = _literal(fdef, low_raw), _literal(fdef, high_raw)
        lo_key, hi_key = _compare_key(fdef, low), _compare_key(fdef, high)

        def between(row: Row) -> bool:
            value = getter(row)
            return (
                value != ""
                and _same_kind(lo_key, _compare_key(fdef, value))
                and (
                    lo_key <= _compare_key(fdef, value) <= hi_key  # type: ignore[operator]
                )
            )

        return CompiledCondition(between, direct, None, (low, True), (high, True))
    bound = _literal(fdef, raw)
    key = _compare_key(fdef, bound)
    checks: dict[str, Callable[[float | str], bool]] = {
        ">": lambda v: v > key,  # type: ignore[operator]
        ">=": lambda v: v >= key,  # type: ignore[operator]
        "<": lambda v: v < key,  # type: ignore[operator]
        "<=": lambda v: v <= key,  # type: ignore[operator]
    }
    check = checks[op]

    def compare(row: Row) -> bool:
        value = getter(row)
        if value == "":
            return False
        mine = _compare_key(fdef, value)
        return _same_kind(mine, key) and check(mine)

    lower = (bound, op == ">=") if op in (">", ">=") else None
    upper = (bound, op == "<=") if op in ("<", "<=") else None
    return CompiledCondition(compare, direct, None, lower, upper)


def _same_kind(a: float | str, b: float | str) -> bool:
    return isinstance(a, str) == isinstance(b, str)
