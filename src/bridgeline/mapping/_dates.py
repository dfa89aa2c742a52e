"""Dates as the three systems write them, and business-day arithmetic for planned windows.

Jira: ``2017-11-16T18:28:14.672+0800`` (timestamps) and ``2024-05-01`` (version dates).
ServiceNow: ``2024-05-01 10:00:00``, always UTC. Remedy: ``2019-01-28T11:19:29.000+0000``.
A value without a time zone (a Jira date, a ServiceNow date-time) is read in ``tz`` (UTC unless given).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_OFFSET_NO_COLON = re.compile(r"([+-]\d{2})(\d{2})$")
_TIME_OF_DAY = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


@lru_cache(maxsize=64)
def zone(name: str | None) -> tzinfo:
    """A time zone by IANA name (``Europe/Berlin``); ``None``/``UTC``/``Z`` is UTC."""
    if name is None or name in ("UTC", "Z", "utc"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def to_datetime(value: Any, tz: str | None = None) -> datetime:
    """An aware datetime from a Jira/ServiceNow/Remedy/ISO string, epoch millis, date or datetime."""
    where = zone(tz)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=where)
    if isinstance(value, date):
        return datetime.combine(value, time(0, 0), tzinfo=where)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"not a date or date-time: {value!r}")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    text = _OFFSET_NO_COLON.sub(r"\1:\2", text) if "T" in text or " " in text else text
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date or date-time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=where)


def to_date(value: Any, tz: str | None = None) -> date:
    """The calendar date of ``value`` in ``tz``."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return to_datetime(value, tz).astimezone(zone(tz)).date()


def snow_datetime(value: Any, tz: str | None = None) -> str:
    """ServiceNow's ``YYYY-MM-DD HH:MM:SS`` in UTC; empty in, empty out."""
    if value is None or value == "":
        return ""
    return to_datetime(value, tz).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def remedy_datetime(value: Any, tz: str | None = None) -> str:
    """Remedy's ``2019-01-28T11:19:29.000+0000`` in UTC; empty in, empty out."""
    if value is None or value == "":
        return ""
    moment = to_datetime(value, tz).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def jira_date(value: Any, tz: str | None = None) -> str:
    """Jira's version date ``YYYY-MM-DD`` (the calendar day in ``tz``); empty in, empty out."""
    if value is None or value == "":
        return ""
    return to_date(value, tz).isoformat()


def jira_datetime(value: Any, tz: str | None = None) -> str:
    """Jira's timestamp ``2017-11-16T18:28:14.672+0800`` (in ``tz``); empty in, empty out."""
    if value is None or value == "":
        return ""
    moment = to_datetime(value, tz).astimezone(zone(tz))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}" + moment.strftime("%z")


def parse_time_of_day(text: str) -> time:
    match = _TIME_OF_DAY.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"not a time of day: {text!r} (expected HH:MM)")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"not a time of day: {text!r}")
    return time(hour, minute, second)


def _holiday_set(holidays: Iterable[Any] | None) -> frozenset[date]:
    if not holidays:
        return frozenset()
    if isinstance(holidays, str):
        holidays = [holidays]
    return frozenset(to_date(h) for h in holidays)


def is_business_day(day: date, holidays: frozenset[date], weekend: frozenset[int]) -> bool:
    return day.weekday() not in weekend and day not in holidays


def add_business_days(
    value: Any,
    days: int,
    at: str | None = None,
    holidays: Iterable[Any] | None = None,
    tz: str | None = None,
    weekend: Iterable[int] = (5, 6),
) -> datetime:
    """``value`` moved by ``days`` business days (weekends and ``holidays`` skipped), in ``tz``.

    A value on a weekend or holiday first rolls forward to the next business day; then ``days``
    business days are counted from there (backwards when negative). So ``0`` is the day itself, or the
    next business day; ``1`` the business day after that: from a Friday 0 is Friday and 1 Monday,
    from a Saturday 0 is Monday and 1 Tuesday, and ``-1`` from a Saturday is Friday. A larger ``days``
    is always a later day, so a window from ``0`` to ``1`` can never end before it starts.
    ``at="22:00"`` sets the time of day in ``tz``; without it the value's own time of day (in ``tz``)
    is kept, midnight for a date.
    ``add_business_days("2024-05-04", 1, at="09:00")`` is Tuesday 2024-05-07 09:00 UTC.
    """
    if isinstance(days, bool) or not isinstance(days, int):
        raise ValueError(f"days must be a whole number, not {days!r}")
    where = zone(tz)
    start = to_datetime(value, tz).astimezone(where)
    off = _holiday_set(holidays)
    rest = frozenset(int(d) for d in weekend)
    if len(rest) >= 7:
        raise ValueError("weekend cannot cover the whole week")
    day = start.date()
    step = 1 if days >= 0 else -1
    remaining = abs(days)
    while not is_business_day(day, off, rest):  # a weekend or holiday counts from the next business day
        day += timedelta(days=1)
    while remaining:
        day += timedelta(days=step)
        if is_business_day(day, off, rest):
            remaining -= 1
    moment = parse_time_of_day(at) if at else start.timetz().replace(tzinfo=None)
    return datetime.combine(day, moment, tzinfo=where)


def business_days_between(
    start: Any, end: Any, holidays: Iterable[Any] | None = None, tz: str | None = None
) -> int:
    """Business days from ``start`` (exclusive) to ``end`` (inclusive); negative when ``end`` is earlier."""
    first, last = to_date(start, tz), to_date(end, tz)
    off = _holiday_set(holidays)
    sign = 1
    if last < first:
        first, last, sign = last, first, -1
    count = 0
    day = first
    while day < last:
        day += timedelta(days=1)
        if is_business_day(day, off, frozenset((5, 6))):
            count += 1
    return sign * count


def at_time(value: Any, at: str, tz: str | None = None) -> datetime:
    """The same calendar day (in ``tz``) at the time of day ``at``."""
    where = zone(tz)
    day = to_datetime(value, tz).astimezone(where).date()
    return datetime.combine(day, parse_time_of_day(at), tzinfo=where)


def add_hours(value: Any, hours: float, tz: str | None = None) -> datetime:
    return to_datetime(value, tz) + timedelta(hours=hours)


def add_days(value: Any, days: float, tz: str | None = None) -> datetime:
    return to_datetime(value, tz) + timedelta(days=days)
