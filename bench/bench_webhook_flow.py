"""Webhooks end to end: how many deliveries ``bridgeline run`` accepts, and how soon each becomes a
change request, on SQLite and on PostgreSQL.

The simulators (Jira, ServiceNow; 20 ms per call) and the daemon run as separate processes. Once
the daemon has synced the project it starts with, new releases are created in Jira and their
``jira:version_created`` deliveries (signed, as Jira sends them) are played at a steady rate:
the latency of each is from the moment its delivery was sent to the moment the daemon recorded
the new change request (its audit row, written right after ServiceNow answered the create).
Then issue deliveries are sent as fast as a set of kept-alive connections allows, to find the
rate the endpoint sustains while the workers process what it accepts. The Jira poller is set an
hour apart so that only the webhooks drive the work.

    python -m bench.bench_webhook_flow [--events 3000] [--rate 100] [--database sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench._db import Database, each_database
from bench._harness import (
    JIRA_ADMIN,
    WEBHOOK_SECRET,
    Background,
    JiraData,
    Simulators,
    bridgeline_argv,
    cpu_seconds,
    profile_dir,
    profiler,
    release_mapping,
    simulators,
    write_config,
)
from bench._loadgen import Pool, prepare
from bridgeline.connectors.jira.webhooks import sign

TARGET_P99_MS = 300.0


@dataclass
class Size:
    events: int = 3000  # new releases announced at ``rate``
    rate: float = 100.0  # deliveries per second
    blast_seconds: float = 20.0  # sending issue deliveries as fast as possible
    blast_connections: int = 16
    versions: int = 12  # releases the project starts with
    issues: int = 300
    slower_rates: tuple[float, ...] = (10.0, 20.0, 30.0, 40.0)  # around what one daemon sustains
    slower_events: int = 300


QUICK = Size(
    events=20, rate=100.0, blast_seconds=0.5, blast_connections=4, versions=3, issues=20,
    slower_rates=(), slower_events=0,
)  # fmt: skip


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _delivery(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {
        "X-Hub-Signature": sign(WEBHOOK_SECRET, body),
        "X-Atlassian-Webhook-Identifier": str(uuid.uuid4()),
    }


def _wait(predicate: Any, timeout: float, what: str, daemon: Background) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if not daemon.alive():
            raise RuntimeError(f"bridgeline run exited while waiting for {what}:\n{daemon.tail()}")
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}:\n{daemon.tail()}")


def _in_weeks(weeks: int) -> str:
    """A release date as releases have them: a few weeks ahead."""
    return (datetime.now(UTC) + timedelta(weeks=weeks)).date().isoformat()


def _new_versions(sims: Simulators, count: int) -> list[dict[str, Any]]:
    """Releases created in Jira now (no latency while setting up), not yet announced to bridgeline."""
    made: list[dict[str, Any]] = []
    sims.set_latency(0)
    try:
        with httpx.Client(base_url=sims.jira_url + "/rest/api/3", auth=JIRA_ADMIN, timeout=30) as api:
            project = api.get("/project/PAY").json()
            stamp = uuid.uuid4().hex[:6]
            for n in range(count):
                body = {
                    "projectId": int(project["id"]),
                    "name": f"bench-{stamp}-{n}",
                    "description": "Announced by webhook",
                    "releaseDate": _in_weeks(3),
                }
                response = api.post("/version", json=body)
                response.raise_for_status()
                made.append(response.json())
    finally:
        sims.set_latency(sims.latency_ms)
    return made


def _issue_payloads(sims: Simulators) -> list[dict[str, Any]]:
    """The project's issues as a webhook carries them (REST v2 representation)."""
    with httpx.Client(base_url=sims.jira_url + "/rest/api/2", auth=JIRA_ADMIN, timeout=60) as api:
        page = api.get(
            "/search/jql",
            params={"jql": "project = PAY ORDER BY key", "maxResults": 100, "fields": "*navigable"},
        ).json()
    return list(page["issues"])


async def _announce(port: int, versions: list[dict[str, Any]], rate: float) -> tuple[dict[str, float], int]:
    """Send one ``jira:version_created`` delivery per release, ``rate`` per second, open loop:
    a slow answer never delays the next delivery. Returns each entity's send time and refusals."""
    pool = Pool("127.0.0.1", port, 64)
    sent: dict[str, float] = {}
    refused = 0
    started = time.monotonic()

    async def one(version: dict[str, Any], at: float) -> None:
        nonlocal refused
        body, headers = _delivery(
            {"timestamp": int(time.time() * 1000), "webhookEvent": "jira:version_created", "version": version}
        )
        raw = prepare("127.0.0.1", port, "/webhooks/jira", body, headers)
        await asyncio.sleep(max(0.0, at - (time.monotonic() - started)))
        sent[f"jira:version:{version['id']}"] = time.time()
        if await pool.send(raw) != 202:
            refused += 1

    try:
        await asyncio.gather(*(one(v, i / rate) for i, v in enumerate(versions)))
    finally:
        await pool.close()
    return sent, refused


async def _blast(port: int, issues: list[dict[str, Any]], seconds: float, connections: int) -> dict[str, Any]:
    """Issue deliveries as fast as ``connections`` kept-alive connections allow, for ``seconds``."""
    prepared = []
    for n in range(max(200, connections * 20)):
        payload = {
            "timestamp": int(time.time() * 1000),
            "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_generic",
            "user": {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Priya Raman"},
            "issue": issues[n % len(issues)],
        }
        body, headers = _delivery(payload)
        prepared.append((body, headers))
    pool = Pool("127.0.0.1", port, connections)
    statuses: dict[int, int] = {}
    times: list[float] = []
    deadline = time.monotonic() + seconds

    async def sender(k: int) -> None:
        n = k
        while time.monotonic() < deadline:
            body, headers = prepared[n % len(prepared)]
            headers = {**headers, "X-Atlassian-Webhook-Identifier": str(uuid.uuid4())}
            raw = prepare("127.0.0.1", port, "/webhooks/jira", body, headers)
            began = time.perf_counter()
            status = await pool.send(raw)
            times.append((time.perf_counter() - began) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
            n += connections

    began = time.monotonic()
    try:
        await asyncio.gather(*(sender(k) for k in range(connections)))
    finally:
        await pool.close()
    elapsed = time.monotonic() - began
    accepted = statuses.get(202, 0) + statuses.get(200, 0)
    ordered = sorted(times)
    return {
        "seconds": round(elapsed, 2),
        "connections": connections,
        "deliveries": len(times),
        "accepted": accepted,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "accepted_per_second": round(accepted / elapsed, 1),
        "answer_p50_ms": round(_percentile(ordered, 0.50), 1),
        "answer_p99_ms": round(_percentile(ordered, 0.99), 1),
    }


def _latency(
    sims: Simulators, db: Database, daemon: Background, port: int, events: int, rate: float
) -> dict[str, Any]:
    """``events`` new releases announced at ``rate`` per second: how soon each became a change request."""
    versions = _new_versions(sims, events)
    entities = [f"jira:version:{v['id']}" for v in versions]
    cpu_announced = daemon.cpu_seconds()
    others_announced = _simulators_cpu(sims), _own_cpu()
    sent, refused = asyncio.run(_announce(port, versions, rate))
    _wait(
        lambda: (
            len(db.first_writes("create", entities)) >= len(entities) or db.inbox_states().get("dead", 0) > 0
        ),
        600,
        "the change requests",
        daemon,
    )
    created = db.first_writes("create", entities)
    # The reverse rules' reads of each new change come after its create: the work an announcement
    # causes is over only once the inbox is empty, and the next measurement must not inherit it.
    _wait(lambda: not db.inbox_states().get("pending"), 600, "the inbox to drain", daemon)
    cpu_per_event = 1000 * (daemon.cpu_seconds() - cpu_announced) / max(len(entities), 1)
    simulators_per_event = 1000 * (_simulators_cpu(sims) - others_announced[0]) / max(len(entities), 1)
    bench_per_event = 1000 * (_own_cpu() - others_announced[1]) / max(len(entities), 1)
    latencies = sorted(
        (created[e].timestamp() - sent[e]) * 1000 for e in entities if e in created and e in sent
    )
    return {
        "events": len(entities),
        "rate_per_second": rate,
        "refused": refused,
        "change_requests": len(created),
        "latency_p50_ms": round(_percentile(latencies, 0.50), 1),
        "latency_p90_ms": round(_percentile(latencies, 0.90), 1),
        "latency_p99_ms": round(_percentile(latencies, 0.99), 1),
        "latency_max_ms": round(latencies[-1], 1) if latencies else None,
        "latency_mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        "daemon_cpu_ms_per_event": round(cpu_per_event, 2),
        # the same machine's other work for each release: Jira and ServiceNow answering its calls,
        # and this process sending the deliveries and watching the database
        "simulators_cpu_ms_per_event": round(simulators_per_event, 2),
        "bench_cpu_ms_per_event": round(bench_per_event, 2),
    }


def _simulators_cpu(sims: Simulators) -> float:
    return sum(sim.cpu_seconds() for sim in (sims.jira, sims.servicenow) if sim is not None)


def _own_cpu() -> float:
    return cpu_seconds(os.getpid())


def run_one(
    workdir: Path, database: str, size: Size, *, postgres: str | None = None, shared: Simulators | None = None
) -> dict[str, Any]:
    """One database: the latency at ``size.rate`` and the sustained acceptance rate."""
    workdir.mkdir(parents=True, exist_ok=True)
    dbs = Database.postgres(postgres) if database == "postgres" and postgres else Database.sqlite(workdir)
    with (
        simulators(workdir, JiraData(1, size.versions, size.issues), shared) as sims,
        dbs as db,
    ):
        mappings = release_mapping(workdir / "mappings", ["PAY"])
        config = write_config(
            workdir,
            sims,
            database_url=db.url,
            mappings=mappings,
            projects=["PAY"],
            concurrency=16,
            poll_interval=3600.0,
        )
        port = _port_of(config)
        daemon = Background(bridgeline_argv("run", "--config", str(config)), log=workdir / "daemon.log")
        try:
            daemon.wait_http(f"http://127.0.0.1:{port}/healthz", timeout=120)
            _wait(
                lambda: (s := db.inbox_states()).get("done", 0) >= size.versions and not s.get("pending"),
                600,
                "the first sync",
                daemon,
            )
            issues = _issue_payloads(sims)
            profiles = profile_dir()
            spy = (
                Background(
                    profiler(
                        profiles / f"webhooks-{database}.txt", pid=daemon.pid, seconds=size.events / size.rate
                    ),
                    log=workdir / "py-spy.log",
                )
                if profiles is not None
                else None
            )
            main = _latency(sims, db, daemon, port, size.events, size.rate)
            if spy is not None:
                spy.proc.wait(60)
            below = [_latency(sims, db, daemon, port, size.slower_events, rate) for rate in size.slower_rates]
            cpu_before = daemon.cpu_seconds()
            blast = asyncio.run(_blast(port, issues, size.blast_seconds, size.blast_connections))
            blast["daemon_cpu_percent"] = round(
                100 * (daemon.cpu_seconds() - cpu_before) / max(blast["seconds"], 1e-9), 1
            )
            drained = time.monotonic()
            _wait(lambda: not db.inbox_states().get("pending"), 600, "the inbox to drain", daemon)
            blast["drain_seconds"] = round(time.monotonic() - drained, 1)
            rss, peak = daemon.memory_mb()
            dead = db.inbox_states().get("dead", 0)
        finally:
            daemon.stop()
    return {
        "database": db.dialect,
        **main,
        "dead_letters": dead,
        "target_p99_ms": TARGET_P99_MS,
        "slower": below,
        "sustained": blast,
        "daemon_rss_mb": round(rss, 1),
        "daemon_peak_rss_mb": round(peak, 1),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _port_of(config: Path) -> int:
    import yaml

    return int(yaml.safe_load(config.read_text())["server"]["port"])


def run(workdir: Path, size: Size, databases: list[str], shared: Simulators | None = None) -> dict[str, Any]:
    """Every asked-for database in turn; PostgreSQL is skipped (and said so) when none answers."""
    return each_database(
        databases, lambda name, server: run_one(workdir / name, name, size, postgres=server, shared=shared)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=Size.events)
    parser.add_argument("--rate", type=float, default=Size.rate)
    parser.add_argument("--blast-seconds", type=float, default=Size.blast_seconds)
    parser.add_argument("--database", action="append", choices=("sqlite", "postgres"))
    args = parser.parse_args(argv)
    size = Size(events=args.events, rate=args.rate, blast_seconds=args.blast_seconds)
    with tempfile.TemporaryDirectory(prefix="bridgeline-bench-") as tmp:
        result = run(Path(tmp), size, args.database or ["sqlite", "postgres"])
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
