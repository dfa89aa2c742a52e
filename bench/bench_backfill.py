"""Backfill: a Jira project of 1,000 releases and 20,000 issues becomes change requests and tasks.

``bridgeline backfill`` runs as its own process against the Jira and ServiceNow simulators
(separate processes, 20 ms per call), once per worker concurrency, each time into an empty
ServiceNow and a fresh database. Measured: wall time, CPU and peak RSS of the backfill process
(``wait4``), and the API calls each simulator answered, per entity. At the reference concurrency
the backfill is then run again (``--restart``) over the synced project: nothing changed, so
nothing may be written. Last, a smaller project is backfilled against a ServiceNow rate limit
rule of 100 calls per second: every 429 must be absorbed (waited out), none may fail an entity.

    python -m bench.bench_backfill [--releases 1000] [--issues 20000] [--concurrency 1 4 16 64]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench._db import Database
from bench._harness import (
    Finished,
    JiraData,
    Simulators,
    release_mapping,
    run_command,
    simulators,
    write_config,
)

TARGET_ISSUES_PER_READ = 50
TARGET_PEAK_RSS_MB = 200


@dataclass
class Size:
    releases: int = 1000
    issues: int = 20000
    concurrencies: tuple[int, ...] = (1, 4, 16, 64)
    reference: int = 16  # the run whose re-run is measured
    limited_releases: int = 100  # the rate-limited run
    limited_issues: int = 2000
    limited_concurrency: int = 64
    rate_limit: int = 100
    latency_ms: float = 20.0


QUICK = Size(
    releases=4, issues=40, concurrencies=(4,), reference=4, limited_releases=2, limited_issues=10,
    limited_concurrency=4,
)  # fmt: skip


def _releases_and_issues(sims: Simulators) -> tuple[int, int]:
    """How many releases the project has, and how many (release, issue) pairs: the change tasks due."""
    with httpx.Client(
        base_url=sims.jira_url + "/rest/api/3", auth=("admin@example.com", "admin-token")
    ) as api:
        versions = api.get("/project/PAY/versions", timeout=60).json()
        pairs = 0
        token = None
        while True:
            params = {"jql": "project = PAY ORDER BY key", "fields": "fixVersions", "maxResults": 5000}
            if token:
                params["nextPageToken"] = token
            page = api.get("/search/jql", params=params, timeout=120).json()
            pairs += sum(len(i["fields"].get("fixVersions") or []) for i in page["issues"])
            token = page.get("nextPageToken")
            if not token:
                break
    return len(versions), pairs


def _backfill(
    workdir: Path, sims: Simulators, concurrency: int, db: Database, *, restart: bool = False, tag: str = ""
) -> tuple[Finished, dict[str, Any]]:
    mappings = release_mapping(workdir / "mappings", ["PAY"])
    config = write_config(
        workdir, sims, database_url=db.url, mappings=mappings, projects=["PAY"], concurrency=concurrency
    )
    jira_before, snow_before = sims.jira_calls(), sims.servicenow_calls()
    args = ["backfill", "--project", "PAY", "--config", str(config), "--batch", str(max(50, 2 * concurrency))]
    if restart:
        args.append("--restart")
    finished = run_command(args, log=workdir / f"backfill-{concurrency}{tag}.log")
    if finished.returncode != 0:
        raise RuntimeError(f"bridgeline backfill failed ({finished.returncode}):\n{finished.output[-3000:]}")
    snow_after = sims.servicenow_calls()
    jira_after = sims.jira_calls()
    calls = {
        "jira": {k: v - jira_before.get(k, 0) for k, v in jira_after.items() if v - jira_before.get(k, 0)},
        "servicenow": {
            k: v - snow_before.get(k, 0) for k, v in snow_after.items() if v - snow_before.get(k, 0)
        },
    }
    return finished, calls


def _one_level(
    workdir: Path, sims: Simulators, concurrency: int, releases: int, pairs: int
) -> tuple[dict[str, Any], Database]:
    """A backfill at one concurrency into an empty ServiceNow and a fresh database."""
    httpx.post(sims.servicenow_url + "/_sim/reset", timeout=60).raise_for_status()
    folder = workdir / f"c{concurrency}"
    folder.mkdir(parents=True, exist_ok=True)
    with Database.sqlite(folder) as db:
        finished, calls = _backfill(folder, sims, concurrency, db)
        records = db.count_links()
    snow = calls["servicenow"]
    writes = sum(v for k, v in snow.items() if k in ("POST", "PATCH", "PUT", "DELETE"))
    result = {
        "concurrency": concurrency,
        "wall_seconds": round(finished.wall_seconds, 1),
        "cpu_seconds": round(finished.cpu_seconds, 1),
        "peak_rss_mb": round(finished.peak_rss_mb, 1),
        "records": records,
        "records_per_second": round(records / finished.wall_seconds, 1),
        "releases_per_second": round(releases / finished.wall_seconds, 2),
        "cpu_ms_per_record": round(1000 * finished.cpu_seconds / max(records, 1), 2),
        "jira_calls": calls["jira"],
        "jira_reads": calls["jira"].get("GET", 0),
        "jira_writes": calls["jira"].get("total", 0) - calls["jira"].get("GET", 0),
        "servicenow_calls": snow,
        "issues_per_jira_read": round(pairs / max(calls["jira"].get("GET", 0), 1), 1),
        "servicenow_reads_per_record": round(snow.get("GET", 0) / max(records, 1), 3),
        "servicenow_writes_per_record": round(writes / max(records, 1), 3),
    }
    return result, db


def _rerun(workdir: Path, sims: Simulators, concurrency: int, releases: int) -> dict[str, Any]:
    """The same backfill again over the synced project (a fresh plan): nothing may be written."""
    folder = workdir / f"c{concurrency}"
    db = Database(f"sqlite:///{folder / 'bridgeline.db'}")
    try:
        finished, calls = _backfill(folder, sims, concurrency, db, restart=True, tag="-rerun")
    finally:
        db.engine.dispose()
    snow_total = sum(v for k, v in calls["servicenow"].items() if k != "total")
    jira_total = calls["jira"].get("total", 0)
    return {
        "wall_seconds": round(finished.wall_seconds, 1),
        "jira_calls": jira_total,
        "jira_writes": jira_total - calls["jira"].get("GET", 0),
        "servicenow_calls": snow_total,
        "jira_calls_per_release": round(jira_total / max(releases, 1), 2),
        "servicenow_calls_per_release": round(snow_total / max(releases, 1), 2),
    }


_RATE_LIMITED = re.compile(r"asked to slow down \(429")


def _rate_limited(workdir: Path, size: Size, shared: Simulators | None) -> dict[str, Any]:
    """A backfill against ServiceNow's rate limit rule: 429s are waited out, none fails an entity."""
    folder = workdir / "rate-limited"
    folder.mkdir(parents=True, exist_ok=True)
    data = JiraData(1, size.limited_releases, size.limited_issues)
    with (
        simulators(folder, data, shared, servicenow_rate_limit=size.rate_limit) as sims,
        Database.sqlite(folder) as db,
    ):
        finished, calls = _backfill(folder, sims, size.limited_concurrency, db)
        states = db.inbox_states()
        errors = [e for e in db.last_errors() if "429" in e]
        records = db.count_links()
    lines = finished.output.splitlines()
    seen = sum(1 for line in lines if _RATE_LIMITED.search(line))
    failed = [line for line in lines if '"will retry"' in line or '"dead letter"' in line]
    total = calls["servicenow"].get("total", 0)
    return {
        "rate_limit_per_second": size.rate_limit,
        "concurrency": size.limited_concurrency,
        "releases": size.limited_releases,
        "records": records,
        "wall_seconds": round(finished.wall_seconds, 1),
        "servicenow_calls": total,
        "servicenow_calls_per_second": round(total / finished.wall_seconds, 1),
        "rate_limited_answers_seen": seen,
        "entity_failures": len(failed),
        "entities_failed_by_429": len(errors),
        "dead_letters": states.get("dead", 0),
    }


def run(workdir: Path, size: Size, shared: Simulators | None = None) -> dict[str, Any]:
    """Every concurrency level, the re-run and the rate-limited run; ``shared`` simulators are reseeded."""
    result: dict[str, Any] = {"latency_ms": size.latency_ms, "levels": []}
    data = JiraData(1, size.releases, size.issues)
    with simulators(workdir, data, shared) as sims:
        result["latency_ms"] = sims.latency_ms
        releases, pairs = _releases_and_issues(sims)
        result.update(releases=releases, issues=size.issues, issues_in_releases=pairs)
        for concurrency in size.concurrencies:
            level, _ = _one_level(workdir, sims, concurrency, releases, pairs)
            result["levels"].append(level)
            if concurrency == size.reference:
                result["rerun"] = _rerun(workdir, sims, concurrency, releases)
    result["rate_limited"] = _rate_limited(workdir, size, shared)
    reference = next((lv for lv in result["levels"] if lv["concurrency"] == size.reference), None)
    result["reference_concurrency"] = size.reference
    result["targets"] = {
        "issues_per_jira_read": TARGET_ISSUES_PER_READ,
        "servicenow_writes_per_record": 1.0,
        "rerun_calls_per_unchanged_release": 0,
        "peak_rss_mb": TARGET_PEAK_RSS_MB,
    }
    if reference is not None:
        result["peak_rss_mb"] = max(lv["peak_rss_mb"] for lv in result["levels"])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--releases", type=int, default=Size.releases)
    parser.add_argument("--issues", type=int, default=Size.issues)
    parser.add_argument("--concurrency", type=int, nargs="+", default=list(Size.concurrencies))
    parser.add_argument("--keep", type=Path, help="keep the databases and logs in this folder")
    args = parser.parse_args(argv)
    size = Size(
        releases=args.releases,
        issues=args.issues,
        concurrencies=tuple(args.concurrency),
        reference=16 if 16 in args.concurrency else args.concurrency[0],
    )
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = run(args.keep, size)
    else:
        with tempfile.TemporaryDirectory(prefix="bridgeline-bench-") as tmp:
            result = run(Path(tmp), size)
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
