"""Simulator state on disk: atomic JSON writes so a killed process never leaves half a file."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any


def save_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file and a rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, separators=(",", ":"))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_json(path: str | os.PathLike[str]) -> Any | None:
    """The JSON in ``path``, or ``None`` when there is no such file."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None


class StateWriter:
    """When a simulator writes its state file: after every change (``delay`` 0), or at most once per
    ``delay`` seconds (the demo: a big state rewritten per request would cost more than the request).

    ``flush()`` writes what is pending at once (shutdown).
    """

    def __init__(self, write: Callable[[], None], delay: float = 0.0) -> None:
        self._write = write
        self.delay = delay
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def changed(self) -> None:
        if self.delay <= 0:
            self._write()
            return
        with self._lock:
            if self._timer is None:
                self._timer = threading.Timer(self.delay, self._fire)
                self._timer.daemon = True
                self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            self._timer = None
        self._write()

    def cancel(self) -> None:
        """Drop a pending write (the caller writes itself)."""
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def flush(self) -> None:
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            self._write()
