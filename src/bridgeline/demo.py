"""``bridgeline demo``: Jira and ServiceNow simulators on loopback, the real daemon between them.

Everything the demo keeps - the SQLite file and the simulators' data - lives in one folder
(``.demo`` by default), so a second run resumes where the first stopped and writes nothing new.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from bridgeline.config import settings_from_values
from bridgeline.errors import BridgelineError
from bridgeline.log import configure_logging
from bridgeline.model import AuditEntry
from bridgeline.sim import ServedApp
from bridgeline.sim.jira import JiraSimulator
from bridgeline.sim.remedy import RemedySimulator
from bridgeline.sim.servicenow import ServiceNowSimulator
from bridgeline.sync.service import CycleReport, Service

DEMO_PROJECTS = ["PAY", "WEB", "OPS"]
JIRA_ACCOUNT = ("bridgeline@example.com", "bridgeline-token")
SERVICENOW_ACCOUNT = ("bridgeline.integration", "bridgeline")
REMEDY_ACCOUNT = ("bridgeline", "bridgeline")
SERVICENOW_ADMIN = ("admin", "admin")
# Reverse actions, as the audit log names them.
JIRA_ACTIONS = (
    "transition",
    "comment",
    "label",
    "remote_link",
    "field",
    "release_version",
    "version_description",
    "issue_property",
    "version_property",
)


def shipped_mappings() -> Path:
    """``mappings/`` of the checkout when run from one, else the copy inside the package."""
    local = Path("mappings")
    if local.is_dir() and any(local.glob("*.y*ml")):
        return local
    return Path(str(resources.files("bridgeline") / "_mappings"))


def demo_settings(
    folder: Path,
    jira_url: str,
    servicenow_url: str,
    remedy_url: str | None = None,
    *,
    mappings: Path | None = None,
) -> Any:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{(folder / 'bridgeline.db').resolve()}",
        "mappings": [mappings or shipped_mappings()],
        "jira": {
            "url": jira_url,
            "email": JIRA_ACCOUNT[0],
            "api_token": JIRA_ACCOUNT[1],
            "projects": DEMO_PROJECTS,
            "poll_interval": 5,
        },
        "servicenow": {
            "url": servicenow_url,
            "username": SERVICENOW_ACCOUNT[0],
            "password": SERVICENOW_ACCOUNT[1],
            "poll_interval": 5,
        },
        "worker": {"concurrency": 4, "poll_idle": 0.5},
        "log_level": "warning",
    }
    if remedy_url:
        values["remedy"] = {
            "url": remedy_url,
            "username": REMEDY_ACCOUNT[0],
            "password": REMEDY_ACCOUNT[1],
            "poll_interval": 5,
        }
    return settings_from_values(values)


async def run_demo(folder: Path, *, fresh: bool = False, serve: bool = False, port: int = 0) -> int:
    console = Console()
    if fresh and folder.exists():
        shutil.rmtree(folder)
    resumed = (folder / "bridgeline.db").exists()
    folder.mkdir(parents=True, exist_ok=True)
    configure_logging("warning", "console")
    jira_sim = JiraSimulator(state_path=folder / "jira.json")
    snow_sim = ServiceNowSimulator(state_path=folder / "servicenow.json")
    # one CAB gate, as most Remedy shops run it (the simulator can ask for three)
    remedy_sim = RemedySimulator(
        state_path=folder / "remedy.json", approval_statuses=("Scheduled For Approval",)
    )
    started = time.perf_counter()
    ports = _load_ports(folder)
    with (
        _served(jira_sim.app, ports.get("jira")) as jira,
        _served(snow_sim.app, ports.get("servicenow")) as snow,
        _served(remedy_sim.app, ports.get("remedy")) as remedy,
    ):
        _save_ports(folder, {"jira": jira.port, "servicenow": snow.port, "remedy": remedy.port})
        console.print(f"[bold]bridgeline demo[/] - state in {folder}/ ({'resumed' if resumed else 'new'})")
        console.print(f"  Jira simulator:       {jira.url}/")
        console.print(f"  ServiceNow simulator: {snow.url}/change_request_list.do")
        console.print(f"  Remedy simulator:     {remedy.url}/")
        settings = demo_settings(folder, jira.url, snow.url, remedy.url)
        service = await Service.start(settings)
        try:
            report = await service.converge()
            await print_summary(console, service, report, seconds=time.perf_counter() - started)
            if not resumed and report.dead == 0:
                report = await cab_round_trip(console, service, snow_sim, snow.url, remedy_sim)
            if serve:
                await _serve(console, service, port)
        finally:
            await service.aclose()
            jira_sim.save()
            snow_sim.save()
            remedy_sim.save()
    return 0 if report.dead == 0 else 1


async def cab_round_trip(
    console: Console, service: Service, snow_sim: Any, snow_url: str, remedy_sim: Any
) -> CycleReport:
    """The CAB approves one change and rejects another; bridgeline brings the answers back to Jira."""
    links = sorted(
        await service.store.list_links(limit=1000, top_level=True),
        key=lambda k: str(k.extra.get("label", "")),
    )
    releases = [k for k in links if k.target.system == "servicenow" and k.mapping == "servicenow-release"]
    remedy = [k for k in links if k.target.system == "remedy"]
    if len(releases) < 2:
        return CycleReport()
    approve, reject = releases[0], releases[1]
    last = await service.store.last_audit_id()
    console.print("\n[bold]The CAB meets[/]")
    with httpx.Client(base_url=snow_url, auth=SERVICENOW_ADMIN, timeout=10) as api:
        for link in (approve, reject):  # the change manager asks the CAB for approval
            api.patch(
                f"/api/now/table/change_request/{link.target.id}", json={"state": "-4"}
            ).raise_for_status()
    snow_sim.approve(approve.target.number, comment="Approved at the weekly CAB")
    console.print(f"  ServiceNow: {approve.target.number} ({approve.extra.get('label')}) approved")
    snow_sim.reject(reject.target.number, reason="No rollback plan for the database migration")
    console.print(f"  ServiceNow: {reject.target.number} ({reject.extra.get('label')}) rejected")
    for link in remedy[:1]:
        remedy_sim.advance(link.target.number, "Scheduled For Approval")
        remedy_sim.approve(link.target.number, comment="Approved by the infrastructure CAB")
        console.print(f"  Remedy:     {link.target.number} ({link.extra.get('label')}) approved")
    report = await service.converge()
    await print_jira_effects(console, service, since=last)
    return report


async def print_jira_effects(console: Console, service: Service, *, since: int) -> None:
    entries = [e for e in await service.store.recent_audit(limit=5000) if (e.id or 0) > since]
    by_change: dict[str, dict[str, set[str]]] = {}
    for e in entries:
        if e.action in JIRA_ACTIONS and e.outcome == "ok":
            issues = by_change.setdefault(e.target_number or "?", {}).setdefault(e.action, set())
            issues.add(e.entity.rsplit(":", 1)[-1])
    table = Table(title="What the CAB's answers did in Jira")
    for col in ("change request", "Jira writes", "issues"):
        table.add_column(col)
    for number in sorted(by_change):
        for action, keys in sorted(by_change[number].items()):
            shown = ", ".join(sorted(keys)[:6]) + (f" and {len(keys) - 6} more" if len(keys) > 6 else "")
            table.add_row(number, action.replace("_", " "), shown)
    console.print(table)
    if by_change:
        console.print("Open an issue in the Jira simulator to see the comments, links and new status.")


def _load_ports(folder: Path) -> dict[str, int]:
    try:
        return {k: int(v) for k, v in json.loads((folder / "ports.json").read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def _save_ports(folder: Path, ports: dict[str, int]) -> None:
    (folder / "ports.json").write_text(json.dumps(ports))


def _served(app: Any, port: int | None) -> ServedApp:
    """Serve on the port of the previous run when it is free: record URLs stay the same."""
    if port:
        with contextlib.suppress(OSError):
            return ServedApp(app, port=port)
    return ServedApp(app)


async def print_summary(console: Console, service: Service, report: CycleReport, *, seconds: float) -> None:
    links = await service.store.list_links(limit=1000, top_level=True)
    table = Table(title="Jira releases and hotfixes -> change requests")
    for col in ("Jira", "change request", "type", "state", "tasks", "mapping"):
        table.add_column(col, no_wrap=True)
    rows = []
    for link in links:
        target = service.targets.get(link.target.system)
        state, kind = "?", ""
        if target is not None:
            with contextlib.suppress(BridgelineError):
                record = await target.read(link.target)
                state = str(record.get("state") or "?")
                raw = record.get("fields") or {}
                kind = str(raw.get("type") or raw.get("Change Type") or "").lower()
        children = await service.store.children_of(link.id or 0)
        active = sum(1 for c in children if c.state == "active")
        rows.append(
            (
                str(link.extra.get("label") or link.source),
                link.target.number or link.target.id,
                kind,
                state,
                str(active),
                link.mapping,
            )
        )
    for row in sorted(rows):
        table.add_row(*row)
    console.print(table)
    if links and links[0].target.url:
        console.print(f"Open a change request: {links[0].target.url}")
    if report.writes:
        console.print(
            f"{report.events} change(s) detected, {report.processed} processed, "
            f"{report.writes} write(s) in {seconds:.1f}s."
        )
    else:
        console.print(f"Everything was already in sync: nothing needed to be written ({seconds:.1f}s).")
    if report.dead:
        console.print(
            f"[red]{report.dead} dead letter(s)[/]: see `bridgeline dlq list` with the demo's database."
        )


async def _serve(console: Console, service: Service, port: int) -> None:
    from bridgeline.daemon import serve_service

    last = await service.store.last_audit_id()
    host = "127.0.0.1"

    async def feed() -> None:
        nonlocal last
        while True:
            await asyncio.sleep(1.0)
            entries = [e for e in await service.store.recent_audit(limit=50) if (e.id or 0) > last]
            for e in reversed(entries):
                console.print(_describe(e))
            if entries:
                last = max(e.id or 0 for e in entries)

    console.print(
        f"\nServing until Ctrl-C: bridgeline at http://{host}:{port or '<free port>'}; change things in the "
        "simulators and watch them flow."
    )
    task = asyncio.create_task(feed())
    try:
        await serve_service(service, host, port)
    finally:
        task.cancel()


def _describe(e: AuditEntry) -> str:
    fields = f" {sorted(e.fields)}" if e.fields else ""
    target = f" -> {e.target_number or e.target_id}" if (e.target_number or e.target_id) else ""
    return f"{e.at:%H:%M:%S} {e.action:<10} {e.entity}{target}{fields} {e.detail or ''}".rstrip()
