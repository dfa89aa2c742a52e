"""``bridgeline demo``: Jira and ServiceNow simulators on loopback, the real daemon between them.

The story it tells: releases become change requests, and release train 2026.12 of PAY and WEB one
parent change with a child change per project; the CAB approves one release and rejects another and
Jira hears of it; then a pipeline asks the deployment gate (awaiting), the CAB approves, the gate
allows, the deployment's reports close the change and the Jira version is released.

Everything the demo keeps - the SQLite file and the simulators' data - lives in one folder
(``.demo`` by default), so a second run resumes where the first stopped and writes nothing new.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
from rich import box
from rich.console import Console
from rich.table import Table

from bridgeline.config import settings_from_values
from bridgeline.errors import BridgelineError
from bridgeline.log import configure_logging
from bridgeline.model import AuditEntry, Link
from bridgeline.sim import ServedApp, remove_endpoints, write_endpoints
from bridgeline.sim.jira import INTEGRATION_CLOUD, JiraScale, JiraSimulator
from bridgeline.sim.remedy import INTEGRATION as REMEDY_INTEGRATION
from bridgeline.sim.remedy import RemedySimulator
from bridgeline.sim.servicenow import INTEGRATION as SERVICENOW_INTEGRATION
from bridgeline.sim.servicenow import ServiceNowSimulator
from bridgeline.sync.service import CycleReport, Service

DEMO_PROJECTS = ["PAY", "WEB", "OPS"]
# a release train of PAY and WEB, on versions of that name which no other mapping takes
DEMO_TRAIN = "2026.12"
# the simulators' integration accounts (docs/simulators/*.md)
JIRA_ACCOUNT = INTEGRATION_CLOUD
SERVICENOW_ACCOUNT = SERVICENOW_INTEGRATION
REMEDY_ACCOUNT = REMEDY_INTEGRATION
SERVICENOW_ADMIN = ("admin", "admin")
DEMO_ADMIN_TOKEN = "demo-admin-token"
DEMO_PIPELINE = "demo_pipeline"
DEMO_PIPELINE_TOKEN = "demo-pipeline-token"
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
    """``mappings/`` of the checkout when run from one, else the copy inside the package (an
    editable install has none: there, the checkout's own folder beside ``src/``)."""
    local = Path("mappings")
    if local.is_dir() and any(local.glob("*.y*ml")):
        return local
    packaged = Path(str(resources.files("bridgeline") / "_mappings"))
    source = Path(__file__).resolve().parents[2] / "mappings"
    return source if not packaged.is_dir() and source.is_dir() else packaged


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
        "server": {"admin_token": DEMO_ADMIN_TOKEN},  # the status page needs one; this is a laptop
        "pipelines": {DEMO_PIPELINE: {"token": DEMO_PIPELINE_TOKEN, "projects": DEMO_PROJECTS}},
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
    # PAY's and WEB's versions DEMO_TRAIN ship together (mappings/servicenow-release-train.yaml); the
    # CAB round trip and the pipeline loop use other releases
    jira_sim = JiraSimulator(state_path=folder / "jira.json", scale=JiraScale(train=DEMO_TRAIN))
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
        _published(
            folder,
            {
                "jira": jira_sim.endpoint(jira.url),
                "servicenow": snow_sim.endpoint(snow.url),
                "remedy": remedy_sim.endpoint(remedy.url),
            },
        ) as simulators,
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
            if not resumed and report.dead == 0:
                report = await pipeline_loop(console, service, snow_sim, snow.url)
            if serve:
                await _serve(console, service, port, simulators)
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
    answered = {approve.target.number, reject.target.number, *(k.target.number for k in remedy[:1])}
    rows = [r for r in await change_rows(service) if r[1] in answered]
    console.print(changes_table("The changes the CAB answered", rows))
    await print_jira_effects(console, service, since=last)
    return report


async def pipeline_loop(console: Console, service: Service, snow_sim: Any, snow_url: str) -> CycleReport:
    """A pipeline asks the gate and waits, the CAB approves, the gate allows, the deployment's
    reports close the change and the Jira version is released."""
    from bridgeline.server.app import create_app

    links = sorted(
        await service.store.list_links(limit=1000, top_level=True),
        key=lambda k: str(k.extra.get("label", "")),
    )
    releases = [k for k in links if k.target.system == "servicenow" and k.mapping == "servicenow-release"]
    if len(releases) < 3:
        return CycleReport()
    link = releases[2]
    label = str(link.extra.get("label") or "")
    project, _, version = label.partition(" ")
    console.print(f"\n[bold]A pipeline deploys {label} to production[/]")
    now = time.time()
    with httpx.Client(base_url=snow_url, auth=SERVICENOW_ADMIN, timeout=10) as api:
        # the change manager plans the window around now and asks the CAB
        api.patch(
            f"/api/now/table/change_request/{link.target.id}",
            json={
                "state": "-4",
                "start_date": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now - 600)),
                "end_date": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now + 4 * 3600)),
            },
        ).raise_for_status()
    steps: list[tuple[str, str]] = []
    transport = httpx.ASGITransport(app=create_app(service))
    headers = {"Authorization": f"Bearer {DEMO_PIPELINE_TOKEN}"}
    question = {"project": project, "version": version, "environment": "production"}
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", headers=headers) as http:

        async def ask() -> None:
            answer = (await http.post("/api/gate", json=question)).json()
            steps.append(
                ("bridgeline gate", f"{answer.get('decision')}: " + "; ".join(answer.get("reasons") or ()))
            )

        await ask()
        snow_sim.approve(link.target.number, comment="Approved for tonight's window")
        steps.append(("CAB (ServiceNow)", f"{link.target.number} approved"))
        await ask()
        run = {"id": "4711", "url": "https://ci.example.com/pay/runs/4711"}
        for state in ("started", "succeeded"):
            report = {"release": {"project": project, "version": version}, "environment": "production",
                      "state": state, "run": run, "commit": "9fceb02"}  # fmt: skip
            await http.post("/webhooks/deployments", json=report)
            result = await service.converge()
            record = await service.targets["servicenow"].read(link.target)
            close = f", {record.get('close_code')}" if record.get("close_code") else ""
            steps.append((f"deployment {state}", f"{link.target.number} is {record.get('state')}{close}"))
    assert service.jira is not None
    released = (await service.jira.version(link.source.id)).get("released")
    steps.append(("Jira", f"{label} {'released' if released else 'not released yet'}"))
    table = Table(
        title="The pipeline, the gate and the change", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False
    )
    table.add_column("step", no_wrap=True)
    table.add_column("what bridgeline says", overflow="fold")
    for step in steps:
        table.add_row(*step)
    console.print(table)
    return result


async def print_jira_effects(console: Console, service: Service, *, since: int) -> None:
    entries = [e for e in await service.store.recent_audit(limit=5000) if (e.id or 0) > since]
    by_change: dict[str, dict[str, set[str]]] = {}
    for e in entries:
        if e.action in JIRA_ACTIONS and e.outcome == "ok":
            issues = by_change.setdefault(e.target_number or "?", {}).setdefault(e.action, set())
            issues.add(e.entity.rsplit(":", 1)[-1])
    table = Table(
        title="What the CAB's answers did in Jira", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False
    )
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


@contextlib.contextmanager
def _published(folder: Path, endpoints: dict[str, dict[str, Any]]) -> Iterator[dict[str, dict[str, Any]]]:
    """The simulators' URLs and accounts in ``<folder>/simulators.json`` while the demo runs: the
    file ``bridgeline sim <system> <action>`` reads to find them (docs/simulators/)."""
    write_endpoints(folder, endpoints)
    try:
        yield endpoints
    finally:
        remove_endpoints(folder)


def _served(app: Any, port: int | None) -> ServedApp:
    """Serve on the port of the previous run when it is free: record URLs stay the same."""
    if port:
        with contextlib.suppress(OSError):
            return ServedApp(app, port=port)
    return ServedApp(app)


async def change_rows(service: Service) -> list[tuple[str, ...]]:
    """One row per top-level record: release, train or hotfix, its change, type, state and approval;
    under a release train's change, a row per child change (its member project's release)."""
    groups = []
    for link in await service.store.list_links(limit=1000, top_level=True):
        children = await service.store.children_of(link.id or 0)
        active = [c for c in children if c.state == "active"]
        label = str(link.extra.get("label") or link.source)
        row = await _change_row(service, link, label, str(len(active)))
        changes = [c for c in children if c.target.kind == "change_request"]
        under = [await _change_row(service, c, f"└ {c.extra.get('label') or c.source}", "") for c in changes]
        groups.append([row, *sorted(under)])
    return [row for group in sorted(groups) for row in group]


async def _change_row(service: Service, link: Link, label: str, tasks: str) -> tuple[str, ...]:
    target = service.targets.get(link.target.system)
    state, kind, approval = "?", "", ""
    if target is not None:
        with contextlib.suppress(BridgelineError):
            record = await target.read(link.target)
            state = str(record.get("state") or "?")
            approval = str(record.get("approval") or "")
            raw = record.get("fields") or {}
            kind = str(raw.get("type") or raw.get("Change Type") or "").lower()
    if link.state != "active":
        state = f"{state} (left)"
    asked = approval and approval not in ("not requested", "not yet requested")
    shown = f"{state}\n{approval}" if asked else state
    # a child change shows no mapping: it is its parent's
    return (
        label,
        link.target.number or link.target.id,
        kind,
        shown,
        tasks,
        "" if label.startswith("└") else link.mapping,
    )


def changes_table(title: str, rows: list[tuple[str, ...]]) -> Table:
    # No cell is cut at 80 columns: the approval goes under the state, a long release name wraps, and
    # two spaces between columns leave room for "scheduled" beside "servicenow-release".
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
    for col in ("Jira", "change request", "type", "state", "tasks", "mapping"):
        table.add_column(col, no_wrap=col != "Jira", overflow="fold", min_width=10 if col == "Jira" else None)
    for row in rows:
        table.add_row(*row)
    return table


async def print_summary(console: Console, service: Service, report: CycleReport, *, seconds: float) -> None:
    links = await service.store.list_links(limit=1000, top_level=True)
    console.print(
        changes_table("Jira releases, trains and hotfixes -> change requests", await change_rows(service))
    )
    if links and links[0].target.url:
        console.print(f"Open a change request: {links[0].target.url}")
    if report.writes:
        entities = (await service.store.queue_depth()).get("done", 0)
        # events name entities; several events of one entity are synced in one pass
        console.print(
            f"{report.events} change(s) detected, in {entities} release(s), issue(s) and change(s); "
            f"{report.processed} sync pass(es), {report.writes} write(s) in {seconds:.1f}s."
        )
    else:
        console.print(f"Everything was already in sync: nothing needed to be written ({seconds:.1f}s).")
    if report.dead:
        console.print(
            f"[red]{report.dead} dead letter(s)[/]: see `bridgeline dlq list` with the demo's database."
        )


async def _serve(
    console: Console, service: Service, port: int, simulators: dict[str, dict[str, Any]]
) -> None:
    from bridgeline.daemon import listen, serve_service

    last = await service.store.last_audit_id()
    host = "127.0.0.1"
    sock = listen(host, port)  # bound here, so the page's address is known before it is printed
    url = f"http://{host}:{sock.getsockname()[1]}"

    async def feed() -> None:
        nonlocal last
        while True:
            await asyncio.sleep(1.0)
            entries = [e for e in await service.store.recent_audit(limit=50) if (e.id or 0) > last]
            for e in reversed(entries):
                console.print(_describe(e))
            if entries:
                last = max(e.id or 0 for e in entries)

    listening = asyncio.Event()

    async def announce() -> None:
        await listening.wait()  # says where the pages are once they answer, not before
        console.print("\n[bold]Serving until Ctrl-C[/]")
        for line in serve_lines(url, simulators):
            console.print(line, highlight=False, soft_wrap=True)
        await feed()

    task = asyncio.create_task(announce())
    try:
        await serve_service(service, host, port, sock=sock, on_listening=listening)
    finally:
        task.cancel()


def serve_lines(url: str, simulators: dict[str, dict[str, Any]]) -> list[str]:
    """Where everything ``demo --serve`` serves is, and how a person signs in to each."""
    jira, snow, remedy = simulators["jira"], simulators["servicenow"], simulators["remedy"]
    jira_admin = jira["accounts"].get("admin", {})
    return [
        f"  bridgeline status page  {url}/status  (sign in with the admin token {DEMO_ADMIN_TOKEN})",
        f"    API and metrics       {url}/api/status, {url}/metrics  "
        f"(Authorization: Bearer {DEMO_ADMIN_TOKEN})",
        f"    webhooks              {url}/webhooks/jira, {url}/webhooks/servicenow",
        f"    pipelines             {url}/api/gate, {url}/webhooks/deployments  "
        f"(Authorization: Bearer {DEMO_PIPELINE_TOKEN}; or BRIDGELINE_URL={url} "
        f"BRIDGELINE_PIPELINE_TOKEN={DEMO_PIPELINE_TOKEN} bridgeline gate --project PAY --version ... "
        "--environment production)",
        f"  Jira simulator          {jira['url']}/  (REST as {jira_admin.get('email')} / API token "
        f"{jira_admin.get('api_token')})",
        f"  ServiceNow simulator    {snow['url']}/change_request_list.do  (REST as admin / "
        f"{snow['accounts']['admin']['password']}; the change manager beth.anguiano / "
        f"{snow['accounts']['beth.anguiano']['password']})",
        f"  Remedy simulator        {remedy['url']}/  "
        f"(REST as Demo / {remedy['accounts']['Demo']['password']})",
        "  Act as a person: bridgeline sim jira edit KEY ..., bridgeline sim servicenow assess|approve|"
        "reject|close CHG..., bridgeline sim remedy move|approve|close CRQ... (README: Try it by hand)",
    ]


def _describe(e: AuditEntry) -> str:
    fields = f" {sorted(e.fields)}" if e.fields else ""
    target = f" -> {e.target_number or e.target_id}" if (e.target_number or e.target_id) else ""
    return f"{e.at:%H:%M:%S} {e.action:<10} {e.entity}{target}{fields} {e.detail or ''}".rstrip()
