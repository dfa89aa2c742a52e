"""JQL against the simulator's data: compiling clauses, date literals, and candidates from indexes.

Date literals follow Jira: ``"yyyy-MM-dd HH:mm"``, ``"yyyy/MM/dd"`` and periods like ``-5d`` are read
in the **searching user's time zone** and compared at **minute precision** (an issue updated at
10:00:37 is not ``> "10:00"``); an unquoted number is epoch milliseconds, compared exactly.

``project``, ``fixVersion``, ``key`` and ``updated``/``created`` ranges are answered from indexes;
the remaining clauses filter those candidates, so a poll over 20,000 issues stays cheap.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bridgeline.sim.jira import _catalog as cat
from bridgeline.sim.jira._adf import adf_to_text
from bridgeline.sim.jira._clock import DAY_MS, MINUTE_MS, to_ms, zone
from bridgeline.sim.jira._errors import JiraError
from bridgeline.sim.jira._jql_fields import (
    FIELD_KINDS,
    FieldKind,
    SearchContext,
    key_number,
    no_such_field,
    resolve_values,
    unsupported_operator,
    values_getter,
)
from bridgeline.sim.jira._jql_order import order
from bridgeline.sim.jira._jql_parse import And, Clause, Node, Not, Operand, Or, Query
from bridgeline.sim.jira._model import Issue

DATE_FORMATS_TEXT = (
    "Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', "
    "or a period format e.g. '-5d', '4w 2d'."
)
_DATE_LITERAL = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?$")
_PERIOD = re.compile(r"^([-+]?)\s*((?:\d+\s*[wdhm]\s*)+)$")
_PERIOD_PART = re.compile(r"(\d+)\s*([wdhm])")
_PERIOD_MS = {"w": 7 * DAY_MS, "d": DAY_MS, "h": 3_600_000, "m": MINUTE_MS}


@dataclass(frozen=True)
class DateBound:
    """A date operand as a half-open millisecond range ``[start, start + width)``."""

    start: int
    width: int  # 1 for an exact epoch-ms literal, 60,000 for minute-precision literals


class Evaluator:
    """Compiles a parsed query into predicates and candidate sets for one search."""

    def __init__(self, ctx: SearchContext) -> None:
        self.ctx = ctx
        self.state = ctx.state
        self.now_ms = ctx.state.clock.now_ms()

    # -- errors and warnings ----------------------------------------------------------------------

    def _unknown_value(self, message: str) -> None:
        if self.ctx.validate == "strict":
            raise JiraError(400, message)
        if self.ctx.validate == "warn":
            self.ctx.warnings.append(message)

    # -- compile -------------------------------------------------------------------------------------

    def compile(self, node: Node) -> Callable[[Issue], bool]:
        if isinstance(node, And):
            parts = [self.compile(c) for c in node.children]
            return lambda issue: all(p(issue) for p in parts)
        if isinstance(node, Or):
            parts = [self.compile(c) for c in node.children]
            return lambda issue: any(p(issue) for p in parts)
        if isinstance(node, Not):
            inner = self.compile(node.child)
            return lambda issue: not inner(issue)
        return self._clause(node)

    def _kind(self, clause: Clause) -> FieldKind:
        kind = FIELD_KINDS.get(clause.field.lower())
        if kind is None:
            raise no_such_field(clause.field)
        if clause.op not in kind.ops:
            raise unsupported_operator(clause.op, clause.field)
        return kind

    def _operands(self, clause: Clause) -> list[Operand]:
        operand = clause.operand
        return list(operand.items) if operand.kind == "list" else [operand]

    def _clause(self, clause: Clause) -> Callable[[Issue], bool]:
        kind = self._kind(clause)
        op = clause.op
        if op in ("is", "is not"):
            if clause.operand.kind != "empty":
                message = f"The operator '{op}' only supports the values 'EMPTY' and 'NULL'."
                raise JiraError(400, f"Error in the JQL Query: {message}")
            empty = self._empty_test(kind)
            return empty if op == "is" else (lambda issue: not empty(issue))
        if kind.kind == "date":
            return self._date_clause(kind, clause)
        if kind.kind == "text":
            return self._text_clause(kind, clause)
        if kind.kind == "number":
            return self._number_clause(clause)
        if kind.name == "priority" and op in (">", ">=", "<", "<="):
            return self._priority_order_clause(clause)
        if kind.kind == "key" and op in (">", ">=", "<", "<="):
            return self._key_order_clause(clause)
        wanted: set[str] = set()
        match_empty = False
        for operand in self._operands(clause):
            unresolved = (
                kind.name == "resolution" and operand.kind == "value" and operand.text.lower() == "unresolved"
            )
            if operand.kind == "empty" or unresolved:
                match_empty = True
                continue
            wanted |= resolve_values(self.ctx, kind, operand, self._unknown_value)
        values_of = values_getter(self.state, kind)

        def positive(issue: Issue) -> bool:
            values = values_of(issue)
            if not values:
                return match_empty
            return not wanted.isdisjoint(values)

        if op in ("=", "in"):
            return positive

        def negative(issue: Issue) -> bool:
            values = values_of(issue)
            # Jira's != and NOT IN never match an empty field
            return bool(values) and wanted.isdisjoint(values)

        return negative

    # -- field values (each issue value as a set of lowercase identities) -------------------------

    def _empty_test(self, kind: FieldKind) -> Callable[[Issue], bool]:
        if kind.kind == "date":
            getter = self._date_getter(kind)
            return lambda issue: getter(issue) is None
        if kind.kind == "text":
            text_of = self._text_getter(kind)
            return lambda issue: not text_of(issue)
        if kind.kind == "number":
            return lambda issue: issue.custom.get(cat.STORY_POINTS) is None
        values_of = values_getter(self.state, kind)
        return lambda issue: not values_of(issue)

    # -- resolving operands -----------------------------------------------------------------------

    # -- dates -------------------------------------------------------------------------------------

    def _date_getter(self, kind: FieldKind) -> Callable[[Issue], int | None]:
        if kind.name == "created":
            return lambda issue: issue.created
        if kind.name == "updated":
            return lambda issue: issue.updated
        if kind.name == "resolved":
            return lambda issue: issue.resolution_date
        tz = self.ctx.time_zone

        def due(issue: Issue) -> int | None:
            if not issue.duedate:
                return None
            day = datetime.fromisoformat(issue.duedate).replace(tzinfo=zone(tz))
            return to_ms(day)

        return due

    def date_bound(self, kind: FieldKind, operand: Operand) -> DateBound:
        """When a date operand starts, and how wide it is (1 ms exact, or a whole minute)."""
        tz = zone(self.ctx.time_zone)
        if operand.kind == "function":
            name = operand.text.lower()
            local_now = datetime.fromtimestamp(self.now_ms / 1000, tz)
            if name == "now":
                return DateBound(self.now_ms, 1)
            if name in ("startofday", "endofday"):
                start = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
                if name == "endofday":
                    start = start + timedelta(days=1) - timedelta(minutes=1)
                return DateBound(to_ms(start), MINUTE_MS)
            raise JiraError(400, f"Error in the JQL Query: Unable to find JQL function '{operand.text}()'.")
        text = operand.text.strip()
        if not operand.quoted and text.isdecimal():
            return DateBound(int(text), 1)
        literal = _DATE_LITERAL.match(text)
        if literal:
            year, month, day, hour, minute = literal.groups()
            try:
                local = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), tzinfo=tz)
            except ValueError:
                raise self._bad_date(kind, text) from None
            return DateBound(to_ms(local), MINUTE_MS)
        period = _PERIOD.match(text)
        if period:
            sign = -1 if period.group(1) == "-" else 1
            total = sum(int(n) * _PERIOD_MS[u] for n, u in _PERIOD_PART.findall(period.group(2)))
            moment = self.now_ms + sign * total
            return DateBound(moment - moment % MINUTE_MS, MINUTE_MS)
        raise self._bad_date(kind, text)

    def _bad_date(self, kind: FieldKind, text: str) -> JiraError:
        return JiraError(400, f"Date value '{text}' for field '{kind.name}' is invalid. {DATE_FORMATS_TEXT}")

    def date_range(self, op: str, bound: DateBound) -> tuple[int | None, int | None]:
        """The half-open ``[low, high)`` range of issue times ``op bound`` selects."""
        start, end = bound.start, bound.start + bound.width
        if bound.width == MINUTE_MS:
            start -= start % MINUTE_MS
            end = start + MINUTE_MS
        return {
            "=": (start, end),
            ">": (end, None),
            ">=": (start, None),
            "<": (None, start),
            "<=": (None, end),
        }[op]

    def _date_clause(self, kind: FieldKind, clause: Clause) -> Callable[[Issue], bool]:
        getter = self._date_getter(kind)
        op = clause.op
        operands = self._operands(clause)
        if op in ("in", "not in", "!="):
            ranges = [self.date_range("=", self.date_bound(kind, o)) for o in operands if o.kind != "empty"]

            def inside(issue: Issue) -> bool:
                value = getter(issue)
                return value is not None and any(
                    lo is not None and hi is not None and lo <= value < hi for lo, hi in ranges
                )

            if op == "in":
                return inside
            return lambda issue: getter(issue) is not None and not inside(issue)
        low, high = self.date_range(op, self.date_bound(kind, operands[0]))

        def compare(issue: Issue) -> bool:
            value = getter(issue)
            if value is None:
                return False
            return (low is None or value >= low) and (high is None or value < high)

        return compare

    # -- text, numbers, ordered refs -------------------------------------------------------------

    def _text_getter(self, kind: FieldKind) -> Callable[[Issue], str]:
        if kind.name == "summary":
            return lambda issue: issue.summary
        if kind.name == "description":
            return lambda issue: adf_to_text(issue.description)
        if kind.name == "comment":
            return lambda issue: " ".join(adf_to_text(c.body) for c in issue.comments)
        return lambda issue: " ".join(
            [issue.summary, adf_to_text(issue.description), *(adf_to_text(c.body) for c in issue.comments)]
        )

    def _text_clause(self, kind: FieldKind, clause: Clause) -> Callable[[Issue], bool]:
        words = [w.lower().rstrip("*") for w in re.findall(r"[\w*.-]+", clause.operand.text)]
        text_of = self._text_getter(kind)

        def contains(issue: Issue) -> bool:
            haystack = text_of(issue).lower()
            return all(w in haystack for w in words)

        return contains if clause.op == "~" else (lambda issue: not contains(issue))

    def _number_clause(self, clause: Clause) -> Callable[[Issue], bool]:
        try:
            target = float(clause.operand.text)
        except ValueError:
            raise JiraError(
                400, f"The value '{clause.operand.text}' is not a valid number for field '{clause.field}'."
            ) from None
        compare: dict[str, Callable[[float, float], bool]] = {
            "=": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
        }
        if clause.op not in compare:
            raise unsupported_operator(clause.op, clause.field)
        test = compare[clause.op]

        def matches(issue: Issue) -> bool:
            value = issue.custom.get(cat.STORY_POINTS)
            return value is not None and test(float(value), target)

        return matches

    def _priority_order_clause(self, clause: Clause) -> Callable[[Issue], bool]:
        values = resolve_values(self.ctx, FIELD_KINDS["priority"], clause.operand, self._unknown_value)
        ranks = [cat.PRIORITY_RANK[p.name] for p in cat.PRIORITIES if p.name.lower() in values]
        if not ranks:
            return lambda issue: False
        target = ranks[0]
        test = _ORDER_TESTS[clause.op]
        return lambda issue: test(cat.PRIORITY_RANK.get(issue.priority, 0), target)

    def _key_order_clause(self, clause: Clause) -> Callable[[Issue], bool]:
        target = self.state.issue(clause.operand.text)
        if target is None:
            self._unknown_value(f"An issue with key '{clause.operand.text}' does not exist for field 'key'.")
            return lambda issue: False
        number = key_number(target.key)
        test = _ORDER_TESTS[clause.op]
        return lambda issue: issue.project_id == target.project_id and test(key_number(issue.key), number)

    # -- candidates from indexes ------------------------------------------------------------------

    def candidates(self, node: Node) -> set[int] | None:
        """Issue ids that may match (a superset), or None when no index helps."""
        if isinstance(node, And):
            sets = [s for s in (self.candidates(c) for c in node.children) if s is not None]
            if not sets:
                return None
            sets.sort(key=len)
            result = set(sets[0])
            for other in sets[1:]:
                result &= other
            return result
        if isinstance(node, Or):
            union: set[int] = set()
            for child in node.children:
                found = self.candidates(child)
                if found is None:
                    return None
                union |= found
            return union
        if isinstance(node, Not):
            return None
        return self._clause_candidates(node)

    def _clause_candidates(self, clause: Clause) -> set[int] | None:
        kind = FIELD_KINDS.get(clause.field.lower())
        if kind is None or clause.op not in ("=", "in", ">", ">=", "<", "<="):
            return None
        state = self.state
        if kind.kind == "date" and kind.name in ("updated", "created") and clause.op != "in":
            index = state.updated_index if kind.name == "updated" else state.created_index
            low, high = self.date_range(clause.op, self.date_bound(kind, clause.operand))
            return index.between(low, high)
        if clause.op not in ("=", "in"):
            return None
        operands = [o for o in self._operands(clause) if o.kind == "value"]
        if len(operands) != len(self._operands(clause)):
            return None
        found: set[int] = set()
        if kind.name == "project":
            for operand in operands:
                project = state.project(operand.text)
                if project:
                    found |= state.by_project.get(project.id, set())
            return found
        if kind.name == "fixVersion":
            for operand in operands:
                text = operand.text.lower()
                for version in state.versions.values():
                    if str(version.id) == text or version.name.lower() == text:
                        found |= state.by_fix_version.get(version.id, set())
            return found
        if kind.name == "key":
            for operand in operands:
                issue = state.issue(operand.text)
                if issue:
                    found.add(issue.id)
            return found
        return None


_ORDER_TESTS: dict[str, Callable[[int, int], bool]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


def run(ctx: SearchContext, query: Query) -> list[Issue]:
    """The issues ``query`` selects, in order; searches lagging behind writes when configured."""
    state = ctx.state
    evaluator = Evaluator(ctx)
    shadows = state.live_shadows()
    if query.where is None:
        predicate: Callable[[Issue], bool] = lambda issue: True  # noqa: E731
        candidate_ids: set[int] | None = None
    else:
        predicate = evaluator.compile(query.where)
        candidate_ids = evaluator.candidates(query.where)
    if candidate_ids is None:
        ids: set[int] = set(state.issues)
    else:
        ids = set(candidate_ids)
    ids |= shadows.keys()
    matched: list[Issue] = []
    for issue_id in ids:
        if issue_id in shadows:
            seen = shadows[issue_id]
            if seen is None:
                continue
            issue: Issue = seen
        else:
            current = state.issues.get(issue_id)
            if current is None:
                continue
            issue = current
        if predicate(issue):
            matched.append(issue)
    return order(state, matched, query.order_by)


def matches(ctx: SearchContext, query: Query, issue: Issue) -> bool:
    """Whether one issue satisfies ``query`` (webhook filters)."""
    if query.where is None:
        return True
    return Evaluator(ctx).compile(query.where)(issue)
