"""The filters and functions mapping templates may use, beyond Jinja's safe built-ins.

Every filter is a plain function, documented in docs/mappings.md, and tested on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jinja2.runtime import Undefined

from bridgeline.mapping import _budget, _dates, _text

ELLIPSIS = "…"

# Jira's default scheme first, then the older Blocker..Trivial one; lower rank = more urgent.
PRIORITY_RANK: dict[str, int] = {
    "highest": 1,
    "blocker": 1,
    "critical": 1,
    "high": 2,
    "major": 2,
    "medium": 3,
    "normal": 3,
    "low": 4,
    "minor": 4,
    "lowest": 5,
    "trivial": 5,
}
_UNRANKED = 99


def priority_rank(value: Any, ranks: Mapping[str, int] | None = None) -> int:
    """Rank of a priority name (``Highest`` = 1 .. ``Lowest`` = 5); an issue dict is read by its priority."""
    if isinstance(value, Mapping):
        value = value.get("priority")
    if value is None or isinstance(value, Undefined):
        return _UNRANKED
    name = str(value).strip().lower()
    if ranks:
        lowered = {str(k).lower(): int(v) for k, v in ranks.items()}
        if name in lowered:
            return lowered[name]
    return PRIORITY_RANK.get(name, _UNRANKED)


def sort_by_priority(issues: Iterable[Any], ranks: Mapping[str, int] | None = None) -> list[Any]:
    """Issues most urgent first; equal priorities keep their order."""
    return sorted(_items(issues), key=lambda issue: priority_rank(issue, ranks))


def max_priority(
    issues: Iterable[Any], default: str | None = None, ranks: Mapping[str, int] | None = None
) -> Any:
    """The most urgent priority name among ``issues`` (or ``default`` when none has one)."""
    best: Any = None
    best_rank = _UNRANKED + 1
    for issue in _items(issues):
        name = issue.get("priority") if isinstance(issue, Mapping) else issue
        if name is None:
            continue
        rank = priority_rank(name, ranks)
        if rank < best_rank:
            best, best_rank = name, rank
    return default if best is None else best


def count_by(items: Iterable[Any], attribute: str) -> dict[Any, int]:
    """How many items have each value of ``attribute``; list values (components, labels) count each entry."""
    counts: dict[Any, int] = {}
    for item in _items(items):
        value = _dig(item, attribute)
        for one in value if isinstance(value, list) else [value]:
            key = one if isinstance(one, str | int | float | bool) or one is None else str(one)
            counts[key] = counts.get(key, 0) + 1
    return counts


def pluck(items: Iterable[Any], attribute: str) -> list[Any]:
    """The value of ``attribute`` (dotted paths allowed) of every item."""
    return [_dig(item, attribute) for item in _items(items)]


def flatten(items: Iterable[Any]) -> list[Any]:
    """One level of nesting removed: ``[[a, b], [c]]`` -> ``[a, b, c]``."""
    out: list[Any] = []
    for item in _items(items):
        if isinstance(item, list | tuple):
            out.extend(item)
        else:
            out.append(item)
    return out


def unique_values(items: Iterable[Any]) -> list[Any]:
    """Items without repeats, first occurrence kept (unlike Jinja's ``unique``, works on dicts too)."""
    seen: set[Any] = set()
    unhashable: list[Any] = []  # dicts and lists: searched one by one, each search counted
    out: list[Any] = []
    for item in _items(items):
        try:
            if item in seen:
                continue
            seen.add(item)
        except TypeError:
            _budget.current().tick(1 + len(unhashable))
            if item in unhashable:
                continue
            unhashable.append(item)
        out.append(item)
    return out


def truncate(value: Any, length: int = 255, end: str = ELLIPSIS) -> str:
    """``value`` cut so that it is at most ``length`` characters, ``end`` included.

    Unlike Jinja's own ``truncate`` there is no leeway: the result always fits a column of ``length``.
    """
    text = "" if value is None or isinstance(value, Undefined) else str(value)
    if length < 0:
        raise ValueError("length must not be negative")
    if len(text) <= length:
        return text
    if len(end) >= length:
        return text[:length]
    return text[: length - len(end)].rstrip() + end


def map_value(value: Any, table: Mapping[Any, Any], default: Any = None) -> Any:
    """``table[value]`` (keys compared as text), else ``default``."""
    if not isinstance(table, Mapping):
        raise ValueError("map_value needs a mapping of values")
    key = "" if value is None else str(value)
    for k, v in table.items():
        if str(k) == key:
            return v
    return default


def default(value: Any, fallback: Any = "", empty: bool = False) -> Any:
    """``fallback`` when ``value`` is undefined or null (and, with ``empty=true``, when it is empty)."""
    if isinstance(value, Undefined) or value is None:
        return fallback
    if empty and not value and value is not False and value != 0:
        return fallback
    return value


def bullet_list(items: Iterable[Any], prefix: str = "- ") -> str:
    """One line per item, each starting with ``prefix``."""
    return "\n".join(f"{prefix}{item}" for item in _items(items))


def _items(value: Any) -> list[Any]:
    if value is None or isinstance(value, Undefined):
        return []
    if isinstance(value, str | bytes | Mapping):
        return [value]
    return list(value)


def _dig(item: Any, path: str) -> Any:
    current = item
    for part in str(path).split("."):
        if isinstance(current, Mapping):
            current = current.get(part)
        else:
            return None
    return current


FILTERS: dict[str, Callable[..., Any]] = {
    # rich text
    "adf_text": _text.adf_to_text,
    "adf_markdown": _text.adf_to_markdown,
    "wiki_text": _text.wiki_to_text,
    "plain_text": _text.rich_to_text,
    # dates
    "to_datetime": _dates.to_datetime,
    "to_date": _dates.to_date,
    "snow_datetime": _dates.snow_datetime,
    "remedy_datetime": _dates.remedy_datetime,
    "jira_date": _dates.jira_date,
    "jira_datetime": _dates.jira_datetime,
    "add_business_days": _dates.add_business_days,
    "business_days_between": _dates.business_days_between,
    "at_time": _dates.at_time,
    "add_hours": _dates.add_hours,
    "add_days": _dates.add_days,
    # text
    "truncate": truncate,
    "default": default,
    "d": default,
    "map_value": map_value,
    "bullet_list": bullet_list,
    # collections
    "priority_rank": priority_rank,
    "sort_by_priority": sort_by_priority,
    "max_priority": max_priority,
    "count_by": count_by,
    "pluck": pluck,
    "flatten": flatten,
    "unique_values": unique_values,
}

# Jinja's built-ins that stay available; the rest (e.g. xmlattr, urlize, wordwrap) are removed.
KEPT_BUILTIN_FILTERS = frozenset(
    {
        "abs", "attr", "batch", "capitalize", "center", "count", "dictsort", "escape", "e", "first",
        "float", "format", "groupby", "indent", "int", "items", "join", "last", "length", "list",
        "lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse", "round",
        "select", "selectattr", "slice", "sort", "string", "striptags", "sum", "title", "tojson",
        "trim", "unique", "upper", "urlencode", "wordcount",
    }
)  # fmt: skip

KEPT_BUILTIN_TESTS = frozenset(
    {
        "boolean", "defined", "divisibleby", "eq", "equalto", "even", "false", "float", "ge", "gt",
        "greaterthan", "in", "integer", "iterable", "le", "lower", "lt", "lessthan", "mapping", "ne",
        "none", "number", "odd", "sameas", "sequence", "string", "true", "undefined", "upper",
    }
)  # fmt: skip

# Added to the sandbox's own ``range`` (bounded) and ``dict``; Jinja's other globals are removed.
GLOBALS: dict[str, Any] = {
    "priority_rank": priority_rank,
    "add_business_days": _dates.add_business_days,
    "to_datetime": _dates.to_datetime,
}
