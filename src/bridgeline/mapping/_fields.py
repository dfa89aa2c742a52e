"""One target field: render, map, default, coerce, cut to length, check required, format for the target.

Coercion lives here, in the mapping engine, so that the desired record is exactly what the target
will read back and the engine's snapshot diff compares like with like:

* ServiceNow: every value is a string in the end (``3`` -> ``"3"``, ``true`` -> ``"true"``,
  ``null`` -> ``""``, a datetime -> ``YYYY-MM-DD HH:MM:SS`` in UTC).
* Remedy: JSON values as typed (``int`` stays a number), datetimes ``2019-01-28T11:19:29.000+0000``.
* Jira (reverse ``field`` actions): JSON values as typed, datetimes ``2017-11-16T18:28:14.672+0000``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bridgeline.mapping import _dates
from bridgeline.mapping._budget import BudgetExceeded
from bridgeline.mapping._filters import truncate
from bridgeline.mapping._templates import Text

Scalar = str | int | float | bool | None

_TRUE = frozenset({"true", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "no", "n", "0", "off"})


class FieldFailure(Exception):
    """A field could not be produced; the message is the reason shown in the RenderError."""


@dataclass(slots=True)
class CompiledField:
    name: str
    path: str  # "fields.risk", "children.tasks.fields.short_description"
    origin: str  # "mappings/servicenow-release.yaml:40"
    value: Text | None  # None: the constant below
    constant: Scalar = None
    table: dict[str, Scalar] | None = None
    table_name: str | None = None
    default: Scalar = None
    required: bool = False
    type: str | None = None
    tz: str | None = None
    max_length: int | None = None
    conflict: str | None = None
    after: str | None = None  # the field of the same record this one must come after
    write: str = "always"  # always | once | until_approved: when reconcile sends it

    @property
    def simple(self) -> bool:
        """A plain template or constant with nothing else to apply."""
        return (
            self.table is None
            and self.default is None
            and not self.required
            and self.type is None
            and self.max_length is None
        )

    def produce(self, scope: dict[str, Any], system: str) -> tuple[Any, str]:
        """(value in the target's format, provenance)."""
        notes: list[str] = []
        value: Any = self.value.render(scope) if self.value is not None else self.constant
        if self.simple:
            return _format(value, system), self._provenance(notes)
        if self.table is not None:
            if _empty(value):
                value = self.default
                if value is not None:
                    notes.append("empty -> default")
            else:
                key = str(value).strip()
                if key in self.table:
                    notes.append(f"map{self._table_label()} {key!r} -> {self.table[key]!r}")
                    value = self.table[key]
                elif self.default is not None:
                    notes.append(f"map{self._table_label()} has no {key!r} -> default")
                    value = self.default
                else:
                    known = ", ".join(repr(k) for k in self.table)
                    raise FieldFailure(
                        f"no entry for {key!r} in map{self._table_label()} and no default (map has {known})"
                    )
        elif _empty(value) and self.default is not None:
            value = self.default
            notes.append("empty -> default")
        if self.type is not None and not _empty(value):
            value = _coerce(value, self.type, self.tz)
        if self.max_length is not None and isinstance(value, str) and len(value) > self.max_length:
            value = truncate(value, self.max_length)
            notes.append(f"cut to {self.max_length}")
        if self.required and _empty(value):
            raise FieldFailure("required, but the value is empty")
        return _format(value, system, self.tz), self._provenance(notes)

    def _table_label(self) -> str:
        return f" {self.table_name}" if self.table_name else ""

    def _provenance(self, notes: list[str]) -> str:
        head = f"{self.path} ({self.origin})"
        return f"{head}: {'; '.join(notes)}" if notes else head


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _coerce(value: Any, kind: str, tz: str | None) -> Any:
    text = value.strip() if isinstance(value, str) else value
    try:
        if kind == "string":
            return "" if text is None else str(text)
        if kind == "int":
            if isinstance(text, bool):
                return int(text)
            if isinstance(text, float):
                if not text.is_integer():
                    raise ValueError
                return int(text)
            if isinstance(text, int):
                return text
            number = float(str(text))
            if not number.is_integer():
                raise ValueError
            return int(number)
        if kind == "float":
            return float(text)
        if kind == "bool":
            if isinstance(text, bool):
                return text
            lowered = str(text).lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError
        if kind == "datetime":
            return _dates.to_datetime(text, tz)
        if kind == "date":
            return _dates.to_date(text, tz)
    except (ValueError, TypeError, OverflowError):
        pass
    raise FieldFailure(f"{value!r} is not a valid {kind}")


def _format(value: Any, system: str, tz: str | None = None) -> Any:
    if system == "servicenow":
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, datetime):
            return _dates.snow_datetime(value)
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)
    if isinstance(value, datetime):
        return _dates.remedy_datetime(value) if system == "remedy" else _dates.jira_datetime(value, tz)
    if isinstance(value, date):
        return value.isoformat()
    return value


def produce_all(
    fields: list[CompiledField], scope: dict[str, Any], system: str, on_fail: Any
) -> tuple[dict[str, Any], dict[str, str]]:
    """All fields of one record; ``on_fail(field, reason)`` raises the caller's RenderError."""
    values: dict[str, Any] = {}
    provenance: dict[str, str] = {}
    for f in fields:
        try:
            values[f.name], provenance[f.name] = f.produce(scope, system)
        except FieldFailure as exc:
            on_fail(f.path, str(exc))
        except Exception as exc:  # a template failing on this entity: undefined, sandbox, filter error
            on_fail(f.path, describe(exc))
    for f, reason in out_of_order(fields, values):
        on_fail(f.path, reason)
    return values, provenance


def out_of_order(fields: list[CompiledField], values: dict[str, Any]) -> list[tuple[CompiledField, str]]:
    """Fields whose value does not come after the field they name in ``after`` (empty values pass)."""
    found: list[tuple[CompiledField, str]] = []
    for f in fields:
        if f.after is None or _empty(values.get(f.name)) or _empty(values.get(f.after)):
            continue
        later, earlier = values[f.name], values[f.after]
        try:
            wrong = _dates.to_datetime(later, f.tz) <= _dates.to_datetime(earlier, f.tz)
        except ValueError as exc:
            found.append((f, f"must come after {f.after}, but {exc}"))
            continue
        if wrong:
            how = "ends when it starts" if later == earlier else "would end before it starts"
            found.append((f, f"{f.name} {later!r} is not after {f.after} {earlier!r}: the record {how}"))
    return found


def describe(exc: BaseException) -> str:
    """A one-line reason for a failure inside a template."""
    kind = type(exc).__name__
    text = str(exc) or kind
    if isinstance(exc, BudgetExceeded):
        return text
    if kind == "SecurityError":
        return f"refused by the sandbox: {text}"
    if kind == "UndefinedError":
        return f"undefined value: {text}"
    return text if kind in ("ValueError", "FieldFailure") else f"{kind}: {text}"
