"""The simulator's clock and Jira's ways of writing time.

Every timestamp the simulator stores is epoch milliseconds taken from :class:`SimClock`, which tests
can freeze, advance or offset so that an issue's ``updated`` lands exactly around a cursor boundary.
Jira writes times as ``2017-11-16T18:28:14.672+0800`` (milliseconds, offset without a colon) in the
time zone of the user who reads them.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTE_MS = 60_000
DAY_MS = 86_400_000
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class SimClock:
    """Wall-clock time, unless frozen; plus a settable offset. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frozen_ms: int | None = None
        self._offset_ms = 0

    def now_ms(self) -> int:
        with self._lock:
            if self._frozen_ms is not None:
                return self._frozen_ms
            return int(time.time() * 1000) + self._offset_ms

    def now(self) -> datetime:
        return from_ms(self.now_ms())

    def freeze(self, at_ms: int | None = None) -> None:
        current = self.now_ms()
        with self._lock:
            self._frozen_ms = current if at_ms is None else int(at_ms)

    def unfreeze(self) -> None:
        """Run on from the frozen instant (kept as an offset), so time never jumps back."""
        with self._lock:
            if self._frozen_ms is not None:
                self._offset_ms = self._frozen_ms - int(time.time() * 1000)
                self._frozen_ms = None

    def advance(self, ms: int) -> None:
        with self._lock:
            if self._frozen_ms is not None:
                self._frozen_ms += int(ms)
            else:
                self._offset_ms += int(ms)

    def set_offset(self, ms: int) -> None:
        with self._lock:
            self._offset_ms = int(ms)

    def status(self) -> dict[str, object]:
        now = self.now_ms()
        with self._lock:
            return {
                "now": format_timestamp(now, "UTC"),
                "nowMillis": now,
                "frozen": self._frozen_ms is not None,
                "offsetMillis": self._offset_ms,
            }

    def reset(self) -> None:
        with self._lock:
            self._frozen_ms = None
            self._offset_ms = 0


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The zone called ``name``; unknown names raise ``ValueError``."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def format_timestamp(ms: int, tz: str) -> str:
    """``2017-11-16T18:28:14.672+0800``: Jira's body timestamp, in the reader's zone."""
    local = from_ms(ms).astimezone(zone(tz))
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}" + local.strftime("%z")


def parse_timestamp(text: str) -> int:
    """Epoch ms from an ISO-8601 string (with or without colon in the offset) or a number."""
    text = text.strip()
    if text.lstrip("-").isdecimal():
        return int(text)
    value = text.replace("Z", "+00:00")
    if len(value) >= 5 and value[-5] in "+-" and value[-3] != ":":
        value = value[:-2] + ":" + value[-2:]
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return to_ms(moment)


def local_date(ms: int, tz: str) -> date:
    return from_ms(ms).astimezone(zone(tz)).date()


def user_date(iso_date: str | None) -> str | None:
    """``2020-09-09`` -> ``09/Sep/20``: the instance-formatted date of ``userReleaseDate``."""
    if not iso_date:
        return None
    day = date.fromisoformat(iso_date)
    return f"{day.day:02d}/{MONTHS[day.month - 1]}/{day.year % 100:02d}"


def day_offset(ms: int, days: int) -> str:
    return (from_ms(ms).date() + timedelta(days=days)).isoformat()
