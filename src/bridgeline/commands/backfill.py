"""``bridgeline backfill --project KEY [--since DATE]``: the first sync of a large project, watched.

It lists the project's releases - and, when issue mappings exist, its issues updated since DATE
(all of them without ``--since``) - then feeds them to the inbox a batch at a time and works each
batch off with the real service (the same engine, the same links: a release synced twice is
written once). A progress bar shows how far it got and an estimate of the time left.

It is resumable: the list and the position reached are cursors in the store
(``backfill:KEY:entities`` and ``backfill:KEY``), advanced after each batch is worked off. Ctrl-C
finishes the work in flight and stops; the same command continues where it stopped (at most one
batch is read again, which writes nothing new). ``--restart`` plans afresh. It can run beside the
daemon: both take work from the same inbox and never process one entity twice at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bridgeline.errors import ConfigError
from bridgeline.log import get_logger
from bridgeline.model import EntityRef, Event, utcnow

log = get_logger("bridgeline.backfill")

ProgressHook = Callable[[int, int], None]  # (entities worked off, total)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "backfill",
        help="sync a project's releases (and issues) once, with progress; resumable",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument("--config", "-c", type=Path, default=None, help="YAML configuration file")
    parser.add_argument("--project", required=True, help="Jira project key, e.g. PAY")
    parser.add_argument(
        "--since", type=_date, default=None, help="issues updated on or after this day (YYYY-MM-DD, UTC)"
    )
    parser.add_argument("--batch", type=int, default=50, help="entities fed to the inbox at a time")
    parser.add_argument("--restart", action="store_true", help="forget an earlier run and plan afresh")
    parser.set_defaults(func=cmd_backfill)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


@dataclass
class BackfillState:
    """Where a backfill stands; stored as JSON in the ``backfill:KEY`` cursor."""

    project: str
    since: str | None
    total: int
    position: int = 0
    started_at: str = field(default_factory=lambda: utcnow().isoformat())
    finished_at: str | None = None
    dead: int = 0  # entities that became dead letters
    retrying: int = 0  # entities left backing off for the daemon to finish

    @property
    def finished(self) -> bool:
        return self.finished_at is not None


@dataclass
class BackfillResult:
    state: BackfillState
    resumed_at: int = 0  # position an earlier run had reached
    interrupted: bool = False
    already_done: bool = False


def state_cursor(project: str) -> str:
    return f"backfill:{project}"


def entities_cursor(project: str) -> str:
    return f"backfill:{project}:entities"


async def load_state(service: Any, project: str) -> BackfillState | None:
    raw = await service.store.get_cursor(state_cursor(project))
    return BackfillState(**json.loads(raw)) if raw else None


async def plan(service: Any, project: str, since: date | None) -> list[str]:
    """The entities to sync: every release of ``project``, then its issues when issue mappings exist."""
    jira = service.jira
    versions = await jira.project_versions(project)
    entities = [str(EntityRef("jira", "version", str(v["id"]))) for v in sorted(versions, key=_numeric_id)]
    if service.mappings.current.for_source(system="jira", entity="issue"):
        bound = ""
        if since is not None:
            millis = int(datetime(since.year, since.month, since.day, tzinfo=UTC).timestamp() * 1000)
            bound = f" AND updated >= {millis}"  # epoch ms: the searching user's time zone does not matter
        jql = f'project = "{project}"{bound} ORDER BY key ASC'
        async for issue in jira.search(jql, fields=["updated"], page_size=500):
            entities.append(str(EntityRef("jira", "issue", str(issue["id"]))))
    return list(dict.fromkeys(entities))


def _numeric_id(version: dict[str, Any]) -> tuple[int, str]:
    ident = str(version.get("id", ""))
    return (int(ident), ident) if ident.isdecimal() else (0, ident)


async def _save(service: Any, state: BackfillState) -> None:
    await service.store.set_cursor(state_cursor(state.project), json.dumps(asdict(state)))


async def run_backfill(
    service: Any,
    project: str,
    since: date | None = None,
    *,
    batch: int = 50,
    restart: bool = False,
    stop: asyncio.Event | None = None,
    progress: ProgressHook | None = None,
    planned: Callable[[BackfillState], None] | None = None,
) -> BackfillResult:
    """Plan (or resume), then feed and work off the entities a batch at a time until done or ``stop``."""
    from bridgeline.sync.polling import count_received

    if service.jira is None:
        raise ConfigError("backfill reads Jira: add a 'jira:' section to the configuration")
    stop = stop or asyncio.Event()
    store = service.store
    since_text = since.isoformat() if since else None
    state = await load_state(service, project)
    if state is not None and not restart:
        if state.finished:
            return BackfillResult(state, state.position, already_done=True)
        if state.since != since_text:
            raise ConfigError(
                f"an unfinished backfill of {project} since {state.since or 'the beginning'} is in the "
                "store; run it again with the same --since to resume it, or add --restart"
            )
        entities: list[str] = json.loads(await store.get_cursor(entities_cursor(project)) or "[]")
        if len(entities) != state.total:
            raise ConfigError(
                f"the stored plan of the {project} backfill is damaged; run again with --restart"
            )
    else:
        entities = await plan(service, project, since)
        state = BackfillState(project, since_text, len(entities))
        await store.set_cursor(entities_cursor(project), json.dumps(entities))
        await _save(service, state)
    if planned is not None:
        planned(state)
    result = BackfillResult(state, resumed_at=state.position)
    log.info("backfill", project=project, since=since_text, total=state.total, position=state.position)
    while state.position < state.total and not stop.is_set():
        chunk = entities[state.position : state.position + batch]
        events = [Event(EntityRef.parse(e), source="backfill") for e in chunk]
        await store.enqueue(events)
        count_received(events)
        worked = 0
        while not stop.is_set():
            n = await service.worker.run_batch()  # whatever is due, the batch's entities among it
            if n == 0:
                break
            worked += n
            if progress is not None:
                progress(state.position + min(worked, len(chunk) - 1), state.total)
        if stop.is_set() and worked < len(chunk):
            break  # the batch is fed again on resume; what was synced is not written twice
        for entity in chunk:
            row = await store.inbox_row(entity)
            if row is not None and row.state == "dead":
                state.dead += 1
            elif row is not None and row.state == "pending":
                state.retrying += 1
        state.position += len(chunk)
        await _save(service, state)
        if progress is not None:
            progress(state.position, state.total)
    if state.position >= state.total:
        state.finished_at = utcnow().isoformat()
        await _save(service, state)
        await store.set_cursor(entities_cursor(project), "[]")  # the plan is not needed any more
    else:
        result.interrupted = True
    return result


# -- the command -----------------------------------------------------------------------------------


def cmd_backfill(args: argparse.Namespace) -> int:
    from bridgeline.config import load_settings
    from bridgeline.daemon import run_loop

    settings = load_settings(args.config)
    if args.batch < 1:
        raise ConfigError("--batch must be at least 1")
    return run_loop(backfill_main(settings, args.project, args.since, batch=args.batch, restart=args.restart))


async def backfill_main(
    settings: Any,
    project: str,
    since: date | None,
    *,
    batch: int = 50,
    restart: bool = False,
    console: Console | None = None,
) -> int:
    from bridgeline.daemon import protect_secrets
    from bridgeline.log import configure_logging
    from bridgeline.sync.service import Service

    console = console or Console()
    configure_logging("warning" if settings.log_level == "info" else settings.log_level, settings.log_format)
    protect_secrets(settings)
    service = await Service.start(settings, strict=True)
    if since is not None and not service.mappings.current.for_source(system="jira", entity="issue"):
        console.print(
            "No issue mapping is live: --since has no effect; every release of the project is synced."
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_interrupt() -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        console.print("[yellow]stopping after the work in flight; run the same command to resume[/]")
        stop.set()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, on_interrupt)
            installed.append(sig)
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task(f"planning {project}", total=None)

            def planned(state: BackfillState) -> None:
                bar.update(
                    task, description=f"backfill {project}", total=state.total, completed=state.position
                )

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = await run_backfill(
                service,
                project,
                since,
                batch=batch,
                restart=restart,
                stop=stop,
                progress=advance,
                planned=planned,
            )
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await service.aclose()
    return report(console, result)


def report(console: Console, result: BackfillResult) -> int:
    state = result.state
    since = f" since {state.since}" if state.since else ""
    if result.already_done:
        console.print(
            f"The backfill of {state.project}{since} finished at {state.finished_at}; "
            "the daemon keeps it in step. Use --restart to run it again."
        )
        return 0
    if result.interrupted:
        console.print(
            f"Interrupted at {state.position} of {state.total}; run the same command again to resume."
        )
        return 130
    resumed = f" (resumed at {result.resumed_at})" if result.resumed_at else ""
    console.print(f"Backfill of {state.project}{since}: {state.total} entities synced{resumed}.")
    if state.retrying:
        console.print(f"{state.retrying} are backing off after a passing failure; the daemon retries them.")
    if state.dead:
        console.print(
            f"[red]{state.dead} became dead letters[/]: see `bridgeline dlq list` or the status page."
        )
        return 1
    return 0
