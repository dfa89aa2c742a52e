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
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bridgeline import metrics
from bridgeline.config import Settings
from bridgeline.connectors.jira import JiraChanges, JiraClient
from bridgeline.connectors.target import TargetConnector
from bridgeline.errors import BridgelineError, ConfigError, RetryableError
from bridgeline.log import get_logger, register_secret
from bridgeline.mapping import MappingSet
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


class _OverlappingRuns(logging.Filter):
    """A poll still running when its next turn comes is skipped by design (one at a time per
    poller): APScheduler's warning about it is not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


logging.getLogger("apscheduler.scheduler").addFilter(_OverlappingRuns())
logging.getLogger("apscheduler.executors.default").addFilter(_OverlappingRuns())


class _FinishingExecutor(AsyncIOExecutor):  # type: ignore[misc]  # apscheduler has no types
    """APScheduler's asyncio executor, except that a stop lets the jobs it started finish: its own
    shutdown cancels them, also one submitted a moment before that has not begun to run, in the
    middle of a database transaction (a poll storing its events and cursor)."""

    async def finish(self, timeout: float) -> None:
        running = [f for f in self._pending_futures if not f.done()]
        if running:
            await asyncio.wait(running, timeout=timeout)


def register_settings_secrets(settings: Settings) -> None:
    """Teach the log redactor every configured secret."""
    sections = (
        settings.jira, settings.servicenow, settings.remedy, settings.server, settings.deployments,
        *settings.pipelines.values(),
    )  # fmt: skip
    for section in sections:
        if section is None:
            continue
        for name in type(section).model_fields:
            value = getattr(section, name)
            if hasattr(value, "get_secret_value"):
                register_secret(value.get_secret_value())
    if settings.servicenow and settings.servicenow.oauth:
        register_secret(settings.servicenow.oauth.client_secret.get_secret_value())


def mapping_problems(settings: Settings, mappings: MappingSet) -> list[str]:
    """What makes a valid mapping set unusable with these settings (``config check`` says the same):
    no mapping at all, or a mapping that writes to a system the settings do not configure."""
    if len(mappings) == 0:
        where = ", ".join(str(p) for p in settings.mappings)
        return [f"no mapping found in {where}: nothing would be synced"]
    configured = {s for s in ("servicenow", "remedy") if getattr(settings, s) is not None}
    return [
        f"mapping {m.name!r} ({m.file}:{m.line}) writes to {m.target.system}, "
        f"which has no '{m.target.system}:' section in the settings"
        for m in mappings.mappings
        if m.target.system not in configured
    ]


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
        blackouts = settings.servicenow.blackout_schedules if settings.servicenow else []
        self.engine = SyncEngine(
            store, mappings, jira=jira, targets=targets, projects=projects, blackout_schedules=blackouts
        )
        self.gate = self.engine.gate
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
        self._executor = _FinishingExecutor()  # runs the scheduler's jobs
        self._next_prune = 0.0  # monotonic time of the next pruning of old webhook delivery ids
        # only the leader among the replicas polls; a follower checks as often as the pollers run
        campaign = min([5.0, *(p.interval for p in self.pollers)])
        self.leader = Leadership(store, interval=campaign, on_elected=self._poll_soon)

    @classmethod
    async def start(
        cls,
        settings: Settings,
        *,
        transports: dict[str, httpx.AsyncBaseTransport] | None = None,
        strict: bool = False,
    ) -> Service:
        """Validate mappings, open the store (migrating it), connect to each configured system.

        ``strict`` (``bridgeline run``, ``backfill``): refuse to start with mappings that cannot
        sync anything here (none at all, or one for a system the settings lack), as ``config check``
        does; otherwise those are warned about."""
        register_settings_secrets(settings)
        mappings = LiveMappings(settings.mappings)
        await mappings.aload()  # an invalid set stops us here, before anything is touched
        problems = mapping_problems(settings, mappings.current)
        if problems and strict:
            raise ConfigError(
                "the mappings do not fit the settings; nothing runs until fixed:\n" + "\n".join(problems)
            )
        for problem in problems:
            log.warning("the mappings do not fit the settings", problem=problem)
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
            await self.mappings.areload_if_changed()
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
        scheduler = AsyncIOScheduler(timezone="UTC", executors={"default": self._executor})
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
                # No new runs, but a poll in flight finishes: shutting the scheduler down now would
                # cancel it in the middle of its database transaction.
                self.scheduler.pause()
            await self._polls_finished()
            if self.scheduler is not None:
                await self._executor.finish(timeout=30.0)
                self.scheduler.shutdown(wait=False)
                self.scheduler = None
            await self._leader_stopped(leading, stop)
            await self.leader.resign()
        log.info("bridgeline stopped")

    async def _leader_stopped(self, leading: asyncio.Task[None], stop: asyncio.Event) -> None:
        """The campaign ends by itself once ``stop`` is set, stepping down on its way out; cancelling
        it instead could cut its unlock short. It is cancelled only if it does not end in time."""
        if stop.is_set():
            await asyncio.wait({leading}, timeout=15.0)  # each of its statements is bounded (5 s)
        if not leading.done():
            leading.cancel()
        try:
            await leading
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("stepping down failed; the lock goes with the database session")

    async def _polls_finished(self, timeout: float = 30.0) -> None:
        """Let a poll that is running finish (it stores its events and cursor) before the store closes."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._polling and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)

    async def reload_mappings(self) -> bool:
        return await self.mappings.areload()


def _now() -> datetime:
    return datetime.now(UTC)
