"""The live mapping set, replaced only by a valid one (hot reload on SIGHUP and on file change).

Loading compiles every template and tries what reads nothing from the entity under the render
budget, which can take a couple of seconds for a hostile file: the daemon loads in a worker thread
(``aload``, ``areload``, ``areload_if_changed``), so the event loop keeps serving meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bridgeline import metrics
from bridgeline.errors import ConfigError
from bridgeline.log import get_logger
from bridgeline.mapping import MappingSet, MappingSetError, load_mapping_set
from bridgeline.model import utcnow

log = get_logger("bridgeline.mappings")


@dataclass(frozen=True)
class ReloadStatus:
    ok: bool
    at: datetime
    fingerprint: str | None
    error: str | None = None


def file_fingerprint(paths: Sequence[Path]) -> str:
    """A cheap signature of the mapping files (names, sizes, mtimes) to notice edits."""
    parts: list[str] = []
    for root in paths:
        files = sorted(root.rglob("*.y*ml")) if root.is_dir() else [root]
        for f in files:
            try:
                st = f.stat()
            except OSError:
                continue
            parts.append(f"{f}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


class LiveMappings:
    """Holds the current :class:`MappingSet`; an invalid edit keeps the previous set live."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = [Path(p) for p in paths]
        self._set: MappingSet | None = None
        self._files = ""
        self.last: ReloadStatus | None = None
        self._loading: asyncio.Lock | None = None  # one load at a time (SIGHUP and the file watch)

    @property
    def current(self) -> MappingSet:
        if self._set is None:
            raise ConfigError("no mappings loaded")
        return self._set

    def load(self) -> MappingSet:
        """First load: an invalid set is a :class:`ConfigError` (the daemon refuses to start)."""
        files = file_fingerprint(self.paths)
        try:
            new = load_mapping_set(self.paths)
        except MappingSetError as exc:
            self.last = ReloadStatus(False, utcnow(), None, str(exc))
            raise ConfigError(f"the mapping set is invalid; nothing runs until it is fixed:\n{exc}") from None
        self._install(new, files)
        return new

    def reload(self) -> bool:
        """Load again; on failure keep the live set and report. True when a new set went live."""
        files = file_fingerprint(self.paths)
        try:
            new = load_mapping_set(self.paths)
        except MappingSetError as exc:
            self._files = files  # do not retry the same broken files on every tick
            self.last = ReloadStatus(False, utcnow(), self._set.fingerprint if self._set else None, str(exc))
            metrics.MAPPING_RELOAD_FAILURES.inc()
            log.error("mapping reload refused; the previous mappings stay live", problems=str(exc))
            return False
        changed = self._set is None or new.fingerprint != self._set.fingerprint
        self._install(new, files)
        if changed:
            log.info(
                "mappings reloaded", mappings=[m.name for m in new.mappings], fingerprint=new.fingerprint
            )
        return changed

    def reload_if_changed(self) -> bool:
        if file_fingerprint(self.paths) == self._files:
            return False
        return self.reload()

    # the same, off the event loop -----------------------------------------------------------------
    async def aload(self) -> MappingSet:
        async with self._lock():
            return await asyncio.to_thread(self.load)

    async def areload(self) -> bool:
        async with self._lock():
            return await asyncio.to_thread(self.reload)

    async def areload_if_changed(self) -> bool:
        if file_fingerprint(self.paths) == self._files:
            return False
        async with self._lock():
            return await asyncio.to_thread(self.reload_if_changed)

    def _lock(self) -> asyncio.Lock:
        if self._loading is None:
            self._loading = asyncio.Lock()
        return self._loading

    def _install(self, new: MappingSet, files: str) -> None:
        self._set = new
        self._files = files
        self.last = ReloadStatus(True, utcnow(), new.fingerprint)
        metrics.MAPPINGS_LOADED.set(len(new.mappings))
