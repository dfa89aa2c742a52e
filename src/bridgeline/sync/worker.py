"""Workers take entities from the inbox, run the engine, and settle each claim.

Errors decide the fate of a claim (see :mod:`bridgeline.errors`): a passing failure backs off
and retries, a permanent one - or too many attempts - makes the entity a dead letter holding its
last error. One poisoned entity never blocks the others: each claim is settled on its own.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bridgeline import metrics
from bridgeline.config import WorkerSettings
from bridgeline.errors import BridgelineError, ConfigError, NotFound, PermanentError, RetryableError
from bridgeline.log import get_logger, shorten
from bridgeline.model import AuditEntry
from bridgeline.store import Claim, Store
from bridgeline.sync.engine import SyncEngine
from bridgeline.sync.reports import EntityReport

log = get_logger("bridgeline.worker")

ReportSink = Callable[[EntityReport], Awaitable[None] | None]


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    def __init__(
        self,
        store: Store,
        engine: SyncEngine,
        settings: WorkerSettings,
        *,
        worker_id: str | None = None,
        on_report: ReportSink | None = None,
    ) -> None:
        self.store = store
        self.engine = engine
        self.settings = settings
        self.worker_id = worker_id or default_worker_id()
        self.on_report = on_report
        self.in_flight = 0
        self._due = asyncio.Event()  # set when this process stored events: an idle worker starts at once
        store.on_enqueue(self._due.set)

    async def run_batch(self) -> int:
        """Claim what is due (up to the concurrency), process it all; the number of claims."""
        claims = await self.store.claim(
            self.worker_id, limit=self.settings.concurrency, lease_seconds=self.settings.lease_seconds
        )
        if claims:
            await asyncio.gather(*(self.handle(c) for c in claims))
        return len(claims)

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set: keep up to ``concurrency`` entities in work, claiming the next as
        soon as one is done or events arrive - a slow entity never holds back the others, and a
        webhook's events are taken at once. In-flight work always finishes."""
        running: set[asyncio.Task[str]] = set()
        stopping = asyncio.ensure_future(stop.wait())
        woken = asyncio.ensure_future(self._due.wait())
        more = True  # the last claim took all it asked for: more may be due
        looked = float("-inf")

        def settled(task: asyncio.Task[str]) -> None:
            running.discard(task)
            if not task.cancelled() and task.exception() is not None:
                log.warning(
                    "a claim could not be settled; it returns when its lease ends",
                    error=str(task.exception()),
                )

        try:
            while not stop.is_set():
                free = self.settings.concurrency - len(running)
                idle_over = time.monotonic() - looked >= self.settings.poll_idle
                if free > 0 and (more or self._due.is_set() or idle_over):
                    self._due.clear()
                    looked = time.monotonic()
                    try:
                        claims = await self.store.claim(
                            self.worker_id, limit=free, lease_seconds=self.settings.lease_seconds
                        )
                    except RetryableError as exc:  # the database is away: wait, do not crash
                        log.warning("inbox unavailable", error=str(exc))
                        claims = []
                    for claim in claims:
                        task = asyncio.create_task(self.handle(claim), name=f"claim {claim.ref}")
                        running.add(task)
                        task.add_done_callback(settled)
                    more = len(claims) == free
                if woken.done():
                    woken = asyncio.ensure_future(self._due.wait())
                full = len(running) >= self.settings.concurrency
                # full: wait for a slot; else for events, a slot, or the next look (retries come due)
                waiters: set[asyncio.Future[Any]] = (
                    {stopping, *running} if full else {stopping, woken, *running}
                )
                timeout = None if full else max(0.0, looked + self.settings.poll_idle - time.monotonic())
                await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            woken.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    async def handle(self, claim: Claim) -> str:
        """Process one claim and settle it: ``done``, ``pending`` (retry later) or ``dead`` - or
        ``lost`` when the lease ran out and another worker took the entity over."""
        self.in_flight += 1
        started = time.perf_counter()
        work = asyncio.create_task(self.engine.process(claim.ref, claim), name=f"sync {claim.ref}")
        heartbeat = asyncio.create_task(self._keep_lease(claim, work))
        kind = claim.ref.kind
        try:
            try:
                report = await work
            finally:
                heartbeat.cancel()  # settling the claim below ends the lease anyway
        except asyncio.CancelledError:
            if not (work.cancelled() and heartbeat.done() and not heartbeat.cancelled()):
                raise  # we are being stopped, not the lease lost
            # Another worker holds the entity now: stop writing and leave it to that one.
            state = "lost"
        except (PermanentError, ConfigError, NotFound) as exc:
            state = await self._fail(claim, exc, permanent=True)
        except RetryableError as exc:
            state = await self._fail(claim, exc, permanent=False, retry_after=exc.retry_after)
        except Exception as exc:  # a bug must not stop the others; it is retried, then dead-lettered
            log.exception("unexpected error", entity=str(claim.ref))
            state = await self._fail(claim, exc, permanent=False)
        else:
            done = await self.store.complete(claim)
            state = "done" if done else "pending"
            if self.on_report is not None:
                maybe = self.on_report(report)
                if maybe is not None:
                    await maybe
            log.debug(
                "processed",
                entity=str(claim.ref),
                writes=report.writes,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
        finally:
            work.cancel()
            self.in_flight -= 1
        metrics.EVENTS_PROCESSED.labels(claim.ref.system, kind, state).inc()
        return state

    async def _fail(
        self, claim: Claim, exc: BaseException, *, permanent: bool, retry_after: float | None = None
    ) -> str:
        message = str(exc) if isinstance(exc, BridgelineError) else f"{type(exc).__name__}: {exc}"
        message = shorten(message, 4000)  # redacted before it is stored: a cut leaves no part of a secret
        metrics.FAILURES.labels(claim.ref.system, claim.ref.kind, _error_class(exc)).inc()
        state = await self.store.fail(
            claim,
            message,
            permanent=permanent,
            max_attempts=self.settings.max_attempts,
            backoff_initial=self.settings.backoff_initial,
            backoff_max=self.settings.backoff_max,
            retry_after=retry_after,
        )
        if state == "dead":
            log.error("dead letter", entity=str(claim.ref), attempts=claim.attempts + 1, error=message)
            await self.store.audit(
                [AuditEntry(action="dead_letter", entity=str(claim.ref), outcome="error", detail=message)]
            )
        else:
            log.warning("will retry", entity=str(claim.ref), attempts=claim.attempts + 1, error=message)
        return state

    async def _keep_lease(self, claim: Claim, work: asyncio.Task[EntityReport]) -> None:
        """Renew the lease while the work runs; once it is lost (this replica stalled longer than the
        lease and another took the entity over), cancel the work so two workers never write at once."""
        interval = self.settings.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            try:
                held = await self.store.extend(claim, self.settings.lease_seconds)
            except RetryableError:
                continue  # the database is away; the lease may still hold when it is back
            if not held:
                log.warning("lease lost: another worker took the entity over", entity=str(claim.ref))
                work.cancel()
                return


def _error_class(exc: BaseException) -> str:
    """A small, fixed set of label values for the failures metric."""
    if isinstance(exc, ConfigError):
        return "config"
    if isinstance(exc, NotFound):
        return "not_found"
    if isinstance(exc, PermanentError):
        return "permanent"
    if isinstance(exc, RetryableError):
        return "retryable"
    return "bug"
