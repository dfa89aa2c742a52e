"""The simulator's clock and AR System's way of writing date-times.

AR System keeps date-times to the second (epoch seconds in the database) and the REST API writes
them as ``2019-01-28T11:19:29.000+0000``. Input is read more generously, as the server does:
ISO-8601 with or without milliseconds and offset, a plain date, or epoch seconds.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)
_US = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?$")


class SimClock:
    """Wall-clock time plus a settable offset; can be frozen. Thread-safe, second resolution."""

    def __init__(self, offset_seconds: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._offset = offset_seconds
        self._frozen: float | None = None

    def now(self) -> float:
        with self._lock:
            return self._frozen if self._frozen is not None else time.time() + self._offset

    def now_s(self) -> int:
        return int(self.now())

    @property
    def offset_seconds(self) -> float:
        with self._lock:
            return self._offset

    @property
    def frozen(self) -> bool:
        with self._lock:
            return self._frozen is not None

    def advance(self, seconds: float) -> None:
        with self._lock:
            if self._frozen is not None:
                self._frozen += seconds
            else:
                self._offset += seconds

    def set_offset(self, seconds: float) -> None:
        with self._lock:
            self._offset = seconds

    def set_now(self, epoch_seconds: float) -> None:
        with self._lock:
            if self._frozen is not None:
                self._frozen = epoch_seconds
            else:
                self._offset = epoch_seconds - time.time()

    def freeze(self) -> None:
        current = self.now()
        with self._lock:
            self._frozen = current

    def unfreeze(self) -> None:
        """Run on from the frozen instant, so time never jumps back."""
        with self._lock:
            if self._frozen is not None:
                self._offset = self._frozen - time.time()
                self._frozen = None


def format_ar(epoch_seconds: int | None) -> str | None:
    """``1548674369`` -> ``"2019-01-28T11:19:29.000+0000"``."""
    if epoch_seconds is None:
        return None
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def parse_ar(value: object) -> int:
    """Epoch seconds from what a client may send; :class:`ValueError` if it is not a date-time.

    Times without an offset are read as UTC (the simulator's server time zone).
    """
    if isinstance(value, bool):
        raise ValueError("not a date-time")
    if isinstance(value, int | float):
        return int(value)
    if not isinstance(value, str):
        raise ValueError("not a date-time")
    text = value.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    match = _ISO.match(text)
    if match:
        year, month, day, hour, minute, second, _fraction, zone = match.groups()
        tz: timezone = UTC
        if zone and zone != "Z":
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        moment = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), tzinfo=tz
        )
        return int(moment.timestamp())
    match = _US.match(text)
    if match:
        month, day, year, hour, minute, second, ampm = match.groups()
        h = int(hour or 0)
        if ampm:
            h = h % 12 + (12 if ampm.lower() == "pm" else 0)
        moment = datetime(int(year), int(month), int(day), h, int(minute or 0), int(second or 0), tzinfo=UTC)
        return int(moment.timestamp())
    raise ValueError(f"{value!r} is not a date-time")
