"""The running service: store, connectors, live mappings, pollers and workers, assembled from settings.

::

    service = await Service.start(settings)
    report = await service.sync_once()     # poll everything, then work until nothing is due
    await service.run(stop_event)          # or: keep polling and working until stopped
    await service.aclose()
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bridgeline import metrics
from bridgeline.config import Settings
from bridgeline.connectors.jira import JiraChanges, JiraClient
from bridgeline.connectors.target import TargetConnector
from bridgeline.errors import BridgelineError, RetryableError
from bridgeline.log import get_logger, register_secret
from bridgeline.store import Store
from bridgeline.sync.engine import SyncEngine
from bridgeline.sync.leader import Leadership
from bridgeline.sync.mappings import LiveMappings
from bridgeline.sync.polling import JiraPoller, Poller
from bridgeline.sync.reports import EntityReport
from bridgeline.sync.targets import build_pollers, build_targets
from bridgeline.sync.worker import Worker

log = get_logger("bridgeline.service")
DELIVERY_MEMORY = timedelta(days=7)


@dataclass
class CycleReport:
    """One converged cycle: what the polls found and what the workers did."""

    events: int = 0
    processed: int = 0
    writes: int = 0
    reports: list[EntityReport] = field(default_factory=list)
    pending: int = 0
    dead: int = 0


def register_settings_secrets(settings: Settings) -> None:
    """Teach the log redactor every configured secret."""
    for section in (settings.jira, settings.servicenow, settings.remedy, settings.server):
        if section is None:
            continue
        for name in type(section).model_fields:
            value = getattr(section, name)
            if hasattr(value, "get_secret_value"):
                register_secret(value.get_secret_value())
    if settings.servicenow and settings.servicenow.oauth:
        register_secret(settings.servicenow.oauth.client_secret.get_secret_value())


class Service:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        mappings: LiveMappings,
        jira: JiraClient | None,
        targets: dict[str, TargetConnector],
    ) -> None:
        self.settings = settings
        self.store = store
        self.mappings = mappings
        self.jira = jira
        self.targets = targets
        projects = settings.jira.projects if settings.jira else []
        self.engine = SyncEngine(store, mappings, jira=jira, targets=targets, projects=projects)
        self._reports: list[EntityReport] | None = None
        self.worker = Worker(store, self.engine, settings.worker, on_report=self._collect)
        self.pollers: list[Poller] = []
        if jira is not None and settings.jira is not None:
            changes = JiraChanges(jira, settings.jira.projects, overlap_seconds=settings.jira.poll_overlap)
            self.pollers.append(JiraPoller(store, changes, mappings, interval=settings.jira.poll_interval))
        self.pollers.extend(build_pollers(settings, store, targets))
        self.scheduler: AsyncIOScheduler | None = None
        self.stopping = asyncio.Event()
        self._closing = False  # no new polls once the service winds down
        self._polling = 0  # polls running now
        self._next_prune = 0.0  # monotonic time of the next pruning of old webhook delivery ids
        # only the leader among the replicas polls; a follower checks as often as the pollers run
        campaign = min([5.0, *(p.interval for p in self.pollers)])
        self.leader = Leadership(store, interval=campaign, on_elected=self._poll_soon)

    @classmethod
    async def start(
        cls, settings: Settings, *, transports: dict[str, httpx.AsyncBaseTransport] | None = None
    ) -> Service:
        """Validate mappings, open the store (migrating it), connect to each configured system."""
        register_settings_secrets(settings)
        mappings = LiveMappings(settings.mappings)
        mappings.load()  # an invalid set stops us here, before anything is touched
        transports = transports or {}
        store = await Store.open(settings.database_url, migrate=settings.migrate_on_start)
        jira: JiraClient | None = None
        targets: dict[str, TargetConnector] = {}
        try:
            if settings.jira is not None:
                jira = JiraClient.from_settings(settings.jira, transport=transports.get("jira"))
                try:
                    await jira.detect()
                except RetryableError as exc:
                    # Jira is away: start anyway (unready); the first poll or read asks again
                    log.warning("Jira is unreachable at start; will keep trying", error=str(exc))
            targets = await build_targets(settings, transports)
        except BaseException:
            for t in targets.values():
                await t.aclose()
            if jira is not None:
                await jira.aclose()
            await store.close()
            raise
        needed = {m.target.system for m in mappings.current.mappings}
        missing = sorted(needed - set(targets))
        if missing:
            log.warning(
                "mappings target systems that are not configured; their entities will be dead-lettered",
                systems=missing,
            )
        return cls(settings, store, mappings, jira, targets)

    async def aclose(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.leader.resign()
        for target in self.targets.values():
            await target.aclose()
        if self.jira is not None:
            await self.jira.aclose()
        await self.store.close()

    def _collect(self, report: EntityReport) -> None:
        if self._reports is not None:
            self._reports.append(report)

    # -- one cycle ---------------------------------------------------------------------------

    async def poll_once(self) -> int:
        total = 0
        for poller in self.pollers:
            total += await poller.poll()
        return total

    async def drain(self) -> int:
        """Process until nothing is due (entities backing off after a failure are left for later)."""
        processed = 0
        while True:
            n = await self.worker.run_batch()
            if n == 0:
                return processed
            processed += n

    async def sync_once(self) -> CycleReport:
        """Poll every source once, then work until nothing is due: one converged cycle."""
        self._reports = []
        try:
            report = CycleReport()
            report.events = await self.poll_once()
            report.processed = await self.drain()
            report.reports = self._reports
            report.writes = sum(r.writes for r in self._reports)
            depth = await self.store.queue_depth()
            report.pending, report.dead = depth.get("pending", 0), depth.get("dead", 0)
            return report
        finally:
            self._reports = None

    async def converge(self, *, max_cycles: int = 10) -> CycleReport:
        """Cycles until one finds nothing to do: bridgeline's own writes show up as changes in the next
        poll (an issue transitioned, a change request updated); they settle within a few cycles."""
        total = CycleReport()
        for _ in range(max_cycles):
            report = await self.sync_once()
            total.events += report.events
            total.processed += report.processed
            total.writes += report.writes
            total.reports.extend(report.reports)
            total.pending, total.dead = report.pending, report.dead
            if report.processed == 0:
                break
        return total

    # -- running -----------------------------------------------------------------------------

    async def _poll_job(self, poller: Poller) -> None:
        if not self.leader.is_leader or self._closing:
            return
        self._polling += 1
        try:
            await poller.poll()
        except BridgelineError as exc:
            log.warning(
                "poll failed; will try again at the next interval", connector=poller.name, error=str(exc)
            )
        except Exception:
            log.exception("poll crashed; will try again at the next interval", connector=poller.name)
        finally:
            self._polling -= 1

    async def _housekeeping(self) -> None:
        with contextlib.suppress(BridgelineError):
            self.mappings.reload_if_changed()
            depth = await self.store.queue_depth()
            for state in ("pending", "done", "dead"):
                metrics.QUEUE_DEPTH.labels(state).set(depth.get(state, 0))
            metrics.DEAD_LETTERS.set(depth.get("dead", 0))
            for poller in self.pollers:
                lag = poller.lag()
                if lag is not None:
                    metrics.SYNC_LAG.labels(poller.name).set(lag)
            if self.leader.is_leader and time.monotonic() >= self._next_prune:
                # delivery ids guard against retried webhooks, which come within hours, not weeks
                self._next_prune = time.monotonic() + 3600
                pruned = await self.store.prune_deliveries(DELIVERY_MEMORY)
                if pruned:
                    log.info("forgot old webhook delivery ids", count=pruned)

    def _poll_soon(self) -> None:
        """A newly elected leader polls at once instead of waiting out an interval."""
        if self.scheduler is None:
            return
        for poller in self.pollers:
            with contextlib.suppress(Exception):
                self.scheduler.modify_job(f"poll-{poller.name}", next_run_time=_now())

    def start_scheduler(self) -> AsyncIOScheduler:
        scheduler = AsyncIOScheduler(timezone="UTC")
        for poller in self.pollers:
            scheduler.add_job(
                self._poll_job,
                "interval",
                args=[poller],
                seconds=poller.interval,
                id=f"poll-{poller.name}",
                max_instances=1,
                coalesce=True,
                next_run_time=_now(),
            )
        scheduler.add_job(
            self._housekeeping, "interval", seconds=2.0, id="housekeeping", max_instances=1, coalesce=True
        )
        scheduler.start()
        self.scheduler = scheduler
        return scheduler

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Poll on schedule and work the inbox until ``stop`` is set; in-flight work finishes."""
        stop = stop or self.stopping
        await self.leader.campaign()  # before the first scheduled poll
        self.start_scheduler()
        leading = asyncio.create_task(self.leader.run(stop), name="leader")
        log.info(
            "bridgeline running",
            pollers=[p.name for p in self.pollers],
            targets=sorted(self.targets),
            mappings=[m.name for m in self.mappings.current.mappings],
        )
        try:
            await self.worker.run(stop)
        finally:
            self._closing = True
            if self.scheduler is not None:
                self.scheduler.shutdown(wait=False)
                self.scheduler = None
            await self._polls_finished()
            leading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await leading
            await self.leader.resign()
        log.info("bridgeline stopped")

    async def _polls_finished(self, timeout: float = 30.0) -> None:
        """Let a poll that is running finish (it stores its events and cursor) before the store closes."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._polling and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)

    def reload_mappings(self) -> bool:
        return self.mappings.reload()


def _now() -> datetime:
    return datetime.now(UTC)
