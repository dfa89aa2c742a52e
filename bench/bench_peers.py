"""bridgeline beside the floor: a bare forwarder (``bench._forwarder``) and ``bridgeline run`` fed the
same signed ``jira:version_created`` deliveries by the same load generator, against the same
simulators, in alternating rounds, so every result is also a ratio to the forwarder measured in the
same run (a busy machine moves both).

Each measurement announces ``events`` new releases over ``concurrency`` kept-alive connections, each
sending its next delivery as soon as the last was answered (closed loop). It ends when ServiceNow
has answered as many change request creates (its call log) and, for bridgeline, when its inbox is
empty (the way back of each new change included). Events per second are end to end, from the first
delivery sent to the last change request created; CPU is the system's own process over the same
span; calls are counted by the simulators. The mapping is the shipped ``servicenow-release``
without its change tasks (one change request per release; its reverse rules kept).

    python -m bench.bench_peers [--events 2000] [--concurrency 32 --concurrency 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench._db import Database, postgres_server
from bench._harness import (
    JIRA_ADMIN,
    SNOW_USER,
    WEBHOOK_SECRET,
    Background,
    JiraData,
    Simulators,
    bridgeline_argv,
    free_port,
    release_mapping,
    simulators,
    write_config,
)
from bench._loadgen import Pool, prepare
from bridgeline.connectors.jira.webhooks import sign

CREATE_ROUTE = "POST /api/now/table/change_request"


@dataclass
class Size:
    events: int = 2000
    concurrencies: tuple[int, ...] = (32, 8)
    rounds: int = 2
    databases: tuple[str, ...] = ("sqlite", "postgres")
    worker_concurrency: int = 16


QUICK = Size(events=20, concurrencies=(4,), rounds=1, databases=("sqlite",))


def _peer_mapping(folder: Path) -> Path:
    """The benchmark's release mapping, one change request per release and no tasks."""
    release_mapping(folder, ["PAY"])
    path = folder / "release.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc.pop("children", None)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return folder


def _new_versions(sims: Simulators, count: int) -> list[dict[str, Any]]:
    made: list[dict[str, Any]] = []
    sims.set_latency(0)
    try:
        with httpx.Client(base_url=sims.jira_url + "/rest/api/3", auth=JIRA_ADMIN, timeout=30) as api:
            project = api.get("/project/PAY").json()
            stamp = uuid.uuid4().hex[:6]
            soon = (datetime.now(UTC) + timedelta(weeks=3)).date().isoformat()
            for n in range(count):
                body = {"projectId": int(project["id"]), "name": f"peer-{stamp}-{n}", "releaseDate": soon}
                response = api.post("/version", json=body)
                response.raise_for_status()
                made.append(response.json())
    finally:
        sims.set_latency(sims.latency_ms)
    return made


def _creates(sims: Simulators) -> int:
    calls = httpx.get(sims.servicenow_url + "/_sim/calls", params={"limit": 0}, timeout=30).json()
    return int(calls["by_route"].get(CREATE_ROUTE, 0))


async def _send(port: int, versions: list[dict[str, Any]], concurrency: int) -> tuple[float, int]:
    """Every delivery, ``concurrency`` at a time, each as soon as a connection is free: when the first
    was sent, and how many were not accepted."""
    prepared = []
    for version in versions:
        body = json.dumps(
            {"timestamp": int(time.time() * 1000), "webhookEvent": "jira:version_created", "version": version}
        ).encode()
        headers = {
            "X-Hub-Signature": sign(WEBHOOK_SECRET, body),
            "X-Atlassian-Webhook-Identifier": str(uuid.uuid4()),
        }
        prepared.append(prepare("127.0.0.1", port, "/webhooks/jira", body, headers))
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for raw in prepared:
        queue.put_nowait(raw)
    pool = Pool("127.0.0.1", port, concurrency)
    refused = 0

    async def sender() -> None:
        nonlocal refused
        while not queue.empty():
            raw = queue.get_nowait()
            if await pool.send(raw) not in (200, 202):
                refused += 1

    started = time.time()
    try:
        await asyncio.gather(*(sender() for _ in range(concurrency)))
    finally:
        await pool.close()
    return started, refused


@contextlib.contextmanager
def _forwarder(workdir: Path, sims: Simulators) -> Iterator[tuple[Background, int, None]]:
    port = free_port()
    proc = Background(
        [
            sys.executable, "-m", "bench._forwarder", "--port", str(port),
            "--servicenow", sims.servicenow_url, "--user", SNOW_USER[0], "--password", SNOW_USER[1],
            "--secret", WEBHOOK_SECRET, "--connections", "16",
        ],
        log=workdir / "forwarder.log",
    )  # fmt: skip
    try:
        proc.wait_http(f"http://127.0.0.1:{port}/healthz")
        yield proc, port, None
    finally:
        proc.stop()


@contextlib.contextmanager
def _bridgeline(
    workdir: Path, sims: Simulators, database: str, size: Size
) -> Iterator[tuple[Background, int, Database]]:
    dbs = Database.postgres(postgres_server() or "") if database == "postgres" else Database.sqlite(workdir)
    with dbs as db:
        config = write_config(
            workdir,
            sims,
            database_url=db.url,
            mappings=_peer_mapping(workdir / "mappings"),
            projects=["PAY"],
            concurrency=size.worker_concurrency,
            poll_interval=3600.0,
        )
        port = int(yaml.safe_load(config.read_text())["server"]["port"])
        proc = Background(bridgeline_argv("run", "--config", str(config)), log=workdir / "daemon.log")
        try:
            proc.wait_http(f"http://127.0.0.1:{port}/healthz", timeout=120)
            deadline = time.monotonic() + 600
            while (s := db.inbox_states()).get("pending") or not s.get("done"):  # the first sync
                if time.monotonic() > deadline or not proc.alive():
                    raise RuntimeError(f"bridgeline's first sync did not finish:\n{proc.tail()}")
                time.sleep(0.2)
            yield proc, port, db
        finally:
            proc.stop()


def measure(system: str, workdir: Path, sims: Simulators, size: Size, concurrency: int) -> dict[str, Any]:
    """One measurement of ``system`` (``forwarder``, ``sqlite``, ``postgres``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    starting = (
        _forwarder(workdir, sims) if system == "forwarder" else _bridgeline(workdir, sims, system, size)
    )
    with starting as (proc, port, db):
        versions = _new_versions(sims, size.events)
        creates, snow, jira = _creates(sims), sims.servicenow_calls()["total"], sims.jira_calls()["total"]
        cpu = proc.cpu_seconds()
        started, refused = asyncio.run(_send(port, versions, concurrency))
        deadline = time.monotonic() + 900
        while _creates(sims) - creates < size.events - refused:
            if time.monotonic() > deadline or not proc.alive() or (db and db.inbox_states().get("dead")):
                raise RuntimeError(f"{system}: the change requests did not all come:\n{proc.tail()}")
            time.sleep(0.05)
        finished = time.time()
        while db is not None and db.inbox_states().get("pending"):  # the way back, too
            if time.monotonic() > deadline:
                raise RuntimeError(f"{system}: the inbox did not drain:\n{proc.tail()}")
            time.sleep(0.1)
        cpu = proc.cpu_seconds() - cpu
        events = size.events
        return {
            "system": system,
            "concurrency": concurrency,
            "events": events,
            "refused": refused,
            "events_per_second": round(events / max(finished - started, 1e-9), 1),
            "cpu_ms_per_event": round(1000 * cpu / events, 2),
            "servicenow_calls_per_event": round((sims.servicenow_calls()["total"] - snow) / events, 2),
            "jira_calls_per_event": round((sims.jira_calls()["total"] - jira) / events, 2),
        }


def _with_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each result also as a ratio to the forwarder of the same round and concurrency."""
    floor = {(r["round"], r["concurrency"]): r for r in rows if r["system"] == "forwarder"}
    for r in rows:
        base = floor.get((r["round"], r["concurrency"]))
        if base is None:
            continue
        r["events_per_second_ratio"] = round(r["events_per_second"] / max(base["events_per_second"], 1e-9), 2)
        r["cpu_ratio"] = round(r["cpu_ms_per_event"] / max(base["cpu_ms_per_event"], 1e-9), 2)
    return rows


def run(workdir: Path, size: Size, shared: Simulators | None = None) -> dict[str, Any]:
    systems = ["forwarder", *(d for d in size.databases if d != "postgres" or postgres_server())]
    skipped = [d for d in size.databases if d == "postgres" and not postgres_server()]
    rows: list[dict[str, Any]] = []
    with simulators(workdir / "sims", JiraData(1, 3, 30), shared) as sims:
        for round_ in range(size.rounds):
            for concurrency in size.concurrencies:
                order = systems if round_ % 2 == 0 else list(reversed(systems))  # alternate who goes first
                for system in order:
                    where = workdir / f"r{round_}-c{concurrency}-{system}"
                    result = measure(system, where, sims, size, concurrency)
                    rows.append({"round": round_ + 1, **result})
    return {
        "events": size.events,
        "concurrencies": list(size.concurrencies),
        "rounds": size.rounds,
        "skipped": skipped,
        "results": _with_ratios(rows),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=Size.events)
    parser.add_argument("--concurrency", type=int, action="append")
    parser.add_argument("--rounds", type=int, default=Size.rounds)
    parser.add_argument("--database", action="append", choices=("sqlite", "postgres"))
    args = parser.parse_args(argv)
    size = Size(
        events=args.events,
        concurrencies=tuple(args.concurrency or Size.concurrencies),
        rounds=args.rounds,
        databases=tuple(args.database or Size.databases),
    )
    with tempfile.TemporaryDirectory(prefix="bridgeline-bench-") as tmp:
        result = run(Path(tmp), size)
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
