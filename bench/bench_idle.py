"""Idle: what ``bridgeline run`` costs while it watches 50 projects, polling every 60 s, with nothing
to do.

The simulators (separate processes) hold 50 projects; the daemon first syncs them all and waits
out the echoes of that sync (the CAB side polled back, the reverse rules' remote links in Jira),
until nothing happened for a whole poll interval. Then it is watched for a few intervals: CPU time
used (as a share of one core), resident memory, and the calls its polls make (Jira: one per project
plus the issue search; ServiceNow: change requests and tasks).

    python -m bench.bench_idle [--seconds 180] [--projects 50]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench._db import Database
from bench._harness import (
    JIRA_ADMIN,
    Background,
    JiraData,
    Simulators,
    bridgeline_argv,
    release_mapping,
    simulators,
    write_config,
)
from bridgeline.config import JiraSettings

OVERLAP = float(JiraSettings.model_fields["poll_overlap"].default)


@dataclass
class Size:
    projects: int = 50
    versions: int = 100  # two per project
    issues: int = 1000
    seconds: float = 120.0  # watched once settled (two polls)
    poll_interval: float = 60.0
    settle: bool = True  # wait until nothing happened for a poll interval before watching


QUICK = Size(projects=3, versions=3, issues=6, seconds=1.0, poll_interval=60.0, settle=False)


def run(workdir: Path, size: Size, shared: Simulators | None = None) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    with (
        simulators(workdir, JiraData(size.projects, size.versions, size.issues), shared) as sims,
        Database.sqlite(workdir) as db,
    ):
        with httpx.Client(base_url=sims.jira_url + "/rest/api/3", auth=JIRA_ADMIN, timeout=30) as api:
            keys = [p["key"] for p in api.get("/project").json()]
        mappings = release_mapping(workdir / "mappings", keys)
        config = write_config(
            workdir,
            sims,
            database_url=db.url,
            mappings=mappings,
            projects=keys,
            poll_interval=size.poll_interval,
        )
        port = int(yaml.safe_load(config.read_text())["server"]["port"])
        launched = time.monotonic()
        daemon = Background(bridgeline_argv("run", "--config", str(config)), log=workdir / "daemon.log")
        try:
            daemon.wait_http(f"http://127.0.0.1:{port}/healthz", timeout=120)
            deadline = time.monotonic() + 1200
            while True:  # the first sync: every release of every project
                states = db.inbox_states()
                if states.get("done", 0) >= size.versions and not states.get("pending"):
                    break
                if time.monotonic() > deadline or not daemon.alive():
                    raise RuntimeError(f"the first sync did not finish:\n{daemon.tail()}")
                time.sleep(0.1)
            synced = time.monotonic()
            # Then quiet: the first sync's echoes (the CAB side polled back, remote links written to
            # Jira by the reverse rules) must be over, and the issue poll's overlap must have passed
            # them (it re-reads what changed in its last poll_overlap seconds), before watching.
            quiet_for = size.poll_interval + OVERLAP + 5 if size.settle else 0.0
            last, since = (db.count_audit(), db.inbox_states().get("pending", 0)), time.monotonic()
            while time.monotonic() - since < quiet_for:
                if time.monotonic() > deadline or not daemon.alive():
                    raise RuntimeError(f"the daemon did not settle:\n{daemon.tail()}")
                time.sleep(1.0)
                now = (db.count_audit(), db.inbox_states().get("pending", 0))
                if now != last:
                    last, since = now, time.monotonic()
            settled = time.monotonic()
            jira_before, snow_before = sims.jira_calls()["total"], sims.servicenow_calls().get("total", 0)
            endpoints_before = _calls_by_endpoint(port)
            cpu_before = daemon.cpu_seconds()
            samples: list[float] = []
            started = time.monotonic()
            while time.monotonic() - started < size.seconds:
                samples.append(daemon.memory_mb()[0])
                time.sleep(min(1.0, size.seconds / 4))
            elapsed = time.monotonic() - started
            cpu = daemon.cpu_seconds() - cpu_before
            jira_calls = sims.jira_calls()["total"] - jira_before
            snow_calls = sims.servicenow_calls().get("total", 0) - snow_before
            peak = daemon.memory_mb()[1]
            endpoints = {
                k: v - endpoints_before.get(k, 0.0)
                for k, v in _calls_by_endpoint(port).items()
                if v - endpoints_before.get(k, 0.0) > 0
            }
            pending = db.inbox_states().get("pending", 0)
        finally:
            daemon.stop()
    minutes = elapsed / 60
    return {
        "projects": len(keys),
        "releases": size.versions,
        "poll_interval_seconds": size.poll_interval,
        "first_sync_seconds": round(synced - launched, 1),
        "settled_after_seconds": round(settled - launched, 1),
        "watched_seconds": round(elapsed, 1),
        "cpu_percent": round(100 * cpu / elapsed, 2),
        "cpu_seconds_per_minute": round(cpu / minutes, 2),
        "rss_mb_mean": round(statistics.fmean(samples), 1) if samples else None,
        "rss_mb_max": round(max(samples), 1) if samples else None,
        "peak_rss_mb": round(peak, 1),
        "jira_calls_per_minute": round(jira_calls / minutes, 1),
        "servicenow_calls_per_minute": round(snow_calls / minutes, 1),
        "calls_per_minute_by_endpoint": {
            k: round(v / minutes, 1) for k, v in sorted(endpoints.items(), key=lambda kv: -kv[1])
        },
        "events_pending_at_end": pending,
    }


def _calls_by_endpoint(port: int) -> dict[str, float]:
    """The daemon's own count of its API calls (``/metrics``), by system and endpoint."""
    counts: dict[str, float] = {}
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    for line in text.splitlines():
        if not line.startswith("bridgeline_api_calls_total{"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
        key = f"{labels.get('system')} {labels.get('method')} {labels.get('endpoint')}"
        counts[key] = counts.get(key, 0.0) + float(line.rsplit(" ", 1)[1])
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=Size.seconds)
    parser.add_argument("--projects", type=int, default=Size.projects)
    args = parser.parse_args(argv)
    size = Size(projects=args.projects, versions=2 * args.projects, seconds=args.seconds)
    with tempfile.TemporaryDirectory(prefix="bridgeline-bench-") as tmp:
        result = run(Path(tmp), size)
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
