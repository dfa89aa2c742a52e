"""A chaos run: ``bridgeline run`` replicas as real processes, killed with SIGKILL at random moments
while they sync a world of faulty simulators, then left to converge and checked.

The tests run it small; ``scripts/chaos_report.py`` runs it full size and writes the figures into
``docs/reliability.md``. Imported by path (see ``tests/chaos/conftest.py``).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from bridgeline.store import Store


def load_sibling(name: str) -> Any:
    """A module of this folder by path (the tests folders are not packages)."""
    module_name = f"bridgeline_chaos_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, Path(__file__).parent / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


_world = load_sibling("world")
World, Findings, wait = _world.World, _world.Findings, _world.wait


@dataclass
class ChaosPlan:
    releases: int = 40
    issues: int = 400
    projects: int = 3
    kills: int = 10
    replicas: int = 1
    poison: int = 2  # releases the target refuses for good
    cab_share: float = 0.6  # share of change requests the CAB answers while the run goes on
    edits_per_round: int = 1  # issues renamed every half second while the run goes on
    uptime: tuple[float, float] = (0.5, 3.0)  # seconds a replica works before it may be killed
    seed: int = 7
    faults: bool = True
    concurrency: int = 16  # worker.concurrency of each replica
    quiet: float = 60.0  # seconds with an empty inbox and unchanged findings before giving up
    deadline: float = 240.0  # seconds to converge after the last kill


@dataclass
class ChaosReport:
    plan: dict[str, Any]
    database: str
    kills: int = 0
    leader_kills: int = 0
    leaders: int = 0  # terms of leadership seen in the logs
    events: int = 0  # events the pollers stored in the inbox
    writes: dict[str, int] = field(default_factory=dict)  # audit rows by action
    faults: dict[str, int] = field(default_factory=dict)
    findings: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    converged: bool = False
    clean_exits: bool = False
    pending_after_stop: int = 0  # stored by polls that ended during the stop, for the next start

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def pg_schema(base: str) -> Iterator[str]:
    """A URL whose search_path is a fresh PostgreSQL schema, dropped afterwards: runs in parallel
    share one database without seeing each other."""
    import psycopg

    url = sa.engine.make_url(base)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield url.set(query={**url.query, "options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


class ChaosFailure(AssertionError):
    """The run did not converge; ``report`` holds what it found."""

    def __init__(self, report: ChaosReport, message: str) -> None:
        super().__init__(message)
        self.report = report


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Replica:
    """One ``bridgeline run`` process, restarted after every kill, logging JSON lines to one file."""

    def __init__(self, name: str, config: Path, log: Path) -> None:
        self.name = name
        self.config = config
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self._offset = 0  # where the current process's lines start in the log

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("BRIDGELINE_")}
        self._offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bridgeline.cli", "run", "--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def lines(self, *, current: bool = False) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        with self.log.open("rb") as fh:
            if current:
                fh.seek(self._offset)
            raw = fh.read().decode("utf-8", "replace")
        out = []
        for line in raw.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"event": line})
        return out

    def running(self) -> bool:
        """Started and working the inbox (its loop said so)."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
        return any(line.get("event") == "bridgeline running" for line in self.lines(current=True))

    def leading(self) -> bool:
        state = False
        for line in self.lines(current=True):
            event = str(line.get("event", ""))
            if event.startswith("leading:"):
                state = True
            elif event.startswith(("leadership lost", "stepped down")):
                state = False
        return state

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        """SIGTERM: drain and exit; the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                return -9
        return self.proc.returncode

    def exited(self, timeout: float = 30) -> int:
        """The exit code once the process ends by itself (after a signal already sent); -9 if it
        does not within ``timeout``. A second SIGTERM would mean "stop now", so none is sent."""
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            return -9

    def ensure_dead(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-chars:] if self.log.exists() else ""


async def inbox_state(database_url: str) -> dict[str, Any]:
    """Pending count, dead letters with their last errors, audit rows by action."""
    store = await Store.open(database_url, migrate=False)
    try:
        depth = await store.queue_depth()
        dead = {r.entity: r.last_error or "" for r in await store.inbox_rows(state="dead", limit=100_000)}
        audit = sa.table("audit", sa.column("action"))
        async with store.engine.connect() as conn:
            rows = (
                await conn.execute(sa.select(audit.c.action, sa.func.count()).group_by(audit.c.action))
            ).all()
        return {"pending": depth.get("pending", 0), "dead": dead, "writes": {a: int(n) for a, n in rows}}
    finally:
        await store.close()


def run_chaos(plan: ChaosPlan, database_url: str, workdir: Path) -> tuple[ChaosReport, Any]:
    """Sync ``plan`` with kills; returns the report and the invariants' findings."""
    started = time.monotonic()
    rng = random.Random(plan.seed)
    report = ChaosReport(
        plan={k: v for k, v in asdict(plan).items()},
        database=sa.engine.make_url(database_url).get_backend_name(),
    )
    with World(
        releases=plan.releases,
        issues=plan.issues,
        projects=plan.projects,
        poison=plan.poison,
        seed=plan.seed,
        faults=plan.faults,
    ) as world:
        replicas = []
        for n in range(plan.replicas):
            config = workdir / f"replica-{n}.yaml"
            values = world.settings(database_url, free_port(), concurrency=plan.concurrency)
            config.write_text(yaml.safe_dump(values), encoding="utf-8")
            replicas.append(Replica(f"replica-{n}", config, workdir / f"replica-{n}.log"))
        failure: ChaosFailure | None = None
        try:
            for replica in replicas:
                replica.start()
            converged: Any = None
            try:
                converged = _kill_and_converge(plan, world, replicas, rng, report, database_url)
            except ChaosFailure as exc:
                failure = exc  # still stop, count and report what was found
            report.clean_exits = all(r.stop() == 0 for r in replicas)
        finally:
            for replica in replicas:
                replica.ensure_dead()
        state = asyncio.run(inbox_state(database_url))
        findings = world.check(state)
        if converged is not None:
            # A poll that ends during the stop stores what it found for the next start (durably, in
            # the inbox): "nothing pending" is a property of the converged run, not of the stop.
            report.pending_after_stop = findings.pending
            findings.pending = converged.pending
        report.writes = state["writes"]
        report.faults = world.faults_injected()
        report.findings = asdict(findings)
        for replica in replicas:
            for line in replica.lines():
                event = str(line.get("event", ""))
                if event == "poll found changes":
                    report.events += int(line.get("events", 0))
                elif event.startswith("leading:"):
                    report.leaders += 1
    report.seconds = round(time.monotonic() - started, 1)
    if failure is not None:
        raise failure
    return report, findings


def _kill_and_converge(
    plan: ChaosPlan,
    world: Any,
    replicas: list[Replica],
    rng: random.Random,
    report: ChaosReport,
    database_url: str,
) -> Any:
    def up() -> bool:
        return all(r.running() for r in replicas)

    with world.people(cab_share=plan.cab_share, edits_per_round=plan.edits_per_round):
        while report.kills < plan.kills:
            if not wait(up, 60, every=0.05):
                raise AssertionError("a replica did not start:\n" + "\n".join(r.tail() for r in replicas))
            time.sleep(rng.uniform(*plan.uptime))
            leaders = [r for r in replicas if r.leading()]
            # with several replicas every other kill takes the leader: a follower must take over
            victim = leaders[0] if leaders and report.kills % 2 == 0 else rng.choice(replicas)
            victim.kill()
            report.kills += 1
            report.leader_kills += victim in leaders
            victim.start()
        # the CAB and developers keep going until every release has its change request
        wait(lambda: _all_requested(world), plan.deadline, every=0.5)

    last: list[Any] = []
    quiet_since: list[float] = []  # when the inbox last became empty with the same findings

    def settled() -> bool:
        state = asyncio.run(inbox_state(database_url))
        found = world.check(state)
        if found.ok:
            last[:] = [found]
            return True
        same = bool(last) and last[0].summary() == found.summary()
        last[:] = [found]
        if state["pending"] == 0 and same:
            quiet_since[:] = quiet_since or [time.monotonic()]
        else:
            quiet_since.clear()
        return False

    def settled_or_stuck() -> bool:
        # nothing left to do and nothing changing for a while: waiting longer cannot help
        return settled() or bool(quiet_since and time.monotonic() - quiet_since[0] > plan.quiet)

    wait(settled_or_stuck, plan.deadline, every=1.0)
    report.converged = bool(last and last[0].ok)
    if not report.converged:
        report.findings = asdict(last[0]) if last else {}
        raise ChaosFailure(
            report,
            f"no convergence: {last[0].summary() if last else '?'}\n"
            + "\n".join(r.tail(2000) for r in replicas),
        )
    return last[0]


def _all_requested(world: Any) -> bool:
    rows = world.snow.state.records("change_request", "correlation_idSTARTSWITHchaos:")
    return len({r["correlation_id"] for r in rows}) >= len(world.releases) - len(world.poisoned)
