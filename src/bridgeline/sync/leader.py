"""Which replica runs the pollers: the one holding the store's ``pollers`` lock.

Every replica works the inbox; only the leader polls, so N replicas do not ask Jira and the
ITSM tools the same questions N times. On PostgreSQL the lock is an advisory lock on a
connection of its own: a leader that dies, or whose connection breaks, loses it with the session,
and a follower takes over at its next attempt. On SQLite one process on the database file leads.

Leadership saves calls; it is not what keeps writes single. Two pollers for a moment (an old
leader that has not yet noticed its broken connection) only store the same events twice, which
coalesce in the inbox. ::

    leader = Leadership(store, interval=5.0, on_elected=poll_now)
    asyncio.create_task(leader.run(stop))
    ...
    if leader.is_leader:
        await poller.poll()
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from bridgeline.log import get_logger
from bridgeline.store import ProcessLock, Store

log = get_logger("bridgeline.leader")

LOCK_NAME = "pollers"


class Leadership:
    """Campaigns for the lock every ``interval`` seconds and checks that it still holds it."""

    def __init__(
        self,
        store: Store,
        *,
        interval: float = 5.0,
        on_elected: Callable[[], None] | None = None,
        lock: ProcessLock | None = None,
    ) -> None:
        self.store = store
        self.interval = interval
        self.on_elected = on_elected
        self.lock = lock or store.lock(LOCK_NAME)
        self._leading = False
        self.terms = 0  # times this replica became the leader

    @property
    def is_leader(self) -> bool:
        return self._leading

    async def campaign(self) -> bool:
        """One attempt: keep the lock if held, else try to take it. Whether this replica leads."""
        if self._leading:
            if await self.lock.held():
                return True
            self._leading = False
            log.warning("leadership lost: the database connection holding the lock broke; pollers pause")
        if await self.lock.acquire():
            self._leading = True
            self.terms += 1
            log.info(
                "leading: this replica runs the pollers", lock=self.lock.name, dialect=self.store.dialect
            )
            if self.on_elected is not None:
                self.on_elected()
        return self._leading

    async def run(self, stop: asyncio.Event) -> None:
        """Campaign until ``stop`` is set, then step down."""
        try:
            while not stop.is_set():
                try:
                    await self.campaign()
                except Exception:  # a surprise must not end the campaign: followers would never lead
                    log.exception("leader election failed; trying again", lock=self.lock.name)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.interval)
        finally:
            await self.resign()

    async def resign(self) -> None:
        """Let another replica lead (on a clean stop; a crash lets go by itself)."""
        was = self._leading
        self._leading = False
        await self.lock.release()
        if was:
            log.info("stepped down: another replica may run the pollers")
