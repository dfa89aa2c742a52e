"""Workers take entities from the inbox, run the engine, and settle each claim.

Errors decide the fate of a claim (see :mod:`bridgeline.errors`): a passing failure backs off
and retries, a permanent one - or too many attempts - makes the entity a dead letter holding its
last error. One poisoned entity never blocks the others: each claim is settled on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Awaitable, Callable

from bridgeline import metrics
from bridgeline.config import WorkerSettings
from bridgeline.errors import BridgelineError, ConfigError, NotFound, PermanentError, RetryableError
from bridgeline.log import get_logger
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

    async def run_batch(self) -> int:
        """Claim what is due (up to the concurrency), process it all; the number of claims."""
        claims = await self.store.claim(
            self.worker_id, limit=self.settings.concurrency, lease_seconds=self.settings.lease_seconds
        )
        if claims:
            await asyncio.gather(*(self.handle(c) for c in claims))
        return len(claims)

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set: claim and process. In-flight work always finishes."""
        while not stop.is_set():
            try:
                n = await self.run_batch()
            except RetryableError as exc:  # the database is away: wait, do not crash
                log.warning("inbox unavailable", error=str(exc))
                n = 0
            if n == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.poll_idle)

    async def handle(self, claim: Claim) -> str:
        """Process one claim and settle it: ``done``, ``pending`` (retry later) or ``dead`` - or
        ``lost`` when the lease ran out and another worker took the entity over."""
        self.in_flight += 1
        started = time.perf_counter()
        work = asyncio.create_task(self.engine.process(claim.ref), name=f"sync {claim.ref}")
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
