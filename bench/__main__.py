"""``python -m bench`` (``make bench``): every benchmark, a JSON file of the results and docs/benchmarks.md.

::

    python -m bench                      # everything at full size (about half an hour on 2 cores)
    python -m bench --only backfill      # one part (mapping, backfill, webhooks, peers, idle)
    python -m bench --quick              # tiny sizes, end to end in seconds: proves the code runs

The simulators (Jira, ServiceNow; 20 ms per call) run in one pair of processes reseeded for each
part; bridgeline runs as ``bridgeline backfill`` and ``bridgeline run`` processes of its own.
PostgreSQL is used when ``BRIDGELINE_BENCH_POSTGRES`` (an admin URL; default the local server)
answers; the benchmark creates and drops a database of its own there.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import _report, bench_backfill, bench_idle, bench_mapping, bench_peers, bench_webhook_flow
from bench._harness import ROOT, JiraData, Simulators, machine

PARTS = ("mapping", "backfill", "webhooks", "peers", "idle")
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
PREAMBLE = """# Benchmarks

How fast bridgeline is, measured by `make bench` (`python -m bench`), which rewrites the results
part of this page and `bench/results/latest.json`.
"""


def _commit() -> str:
    """The commit measured: git's HEAD, or ``BRIDGELINE_BENCH_COMMIT`` for an exported tree."""
    if os.environ.get("BRIDGELINE_BENCH_COMMIT"):
        return os.environ["BRIDGELINE_BENCH_COMMIT"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        )
    except OSError:
        return "?"
    return out.stdout.strip() or "?"


@contextlib.contextmanager
def _workdir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="bridgeline-bench-") as tmp:
        yield Path(tmp)


def run(parts: list[str], *, quick: bool, workdir: Path, log: Any = sys.stderr) -> dict[str, Any]:
    results: dict[str, Any] = {}

    def say(text: str) -> None:
        print(f"[{datetime.now():%H:%M:%S}] {text} (load {os.getloadavg()[0]:.1f})", file=log, flush=True)

    if "mapping" in parts:
        say("mapping: a release of 50 issues rendered, against a JSON round trip")
        mapping = bench_mapping.run(rounds=2, repeat=2) if quick else bench_mapping.run()
        mapping["records_per_second"] = round(mapping["renders_per_second"] * (1 + mapping["change_tasks"]))
        results["mapping"] = mapping
    needs_sims = [p for p in parts if p != "mapping"]
    if not needs_sims:
        return results
    with Simulators(workdir / "sims", JiraData(1, 3, 10)) as sims:
        if "backfill" in parts:
            size = bench_backfill.QUICK if quick else bench_backfill.Size()
            say(f"backfill: {size.releases} releases, {size.issues} issues, concurrency {size.concurrencies}")
            results["backfill"] = bench_backfill.run(workdir / "backfill", size, sims)
        if "webhooks" in parts:
            hooks = bench_webhook_flow.QUICK if quick else bench_webhook_flow.Size()
            databases = ["sqlite"] if quick else ["sqlite", "postgres"]
            say(f"webhooks: {hooks.events} releases announced at {hooks.rate:g}/s on {', '.join(databases)}")
            results["webhooks"] = bench_webhook_flow.run(workdir / "webhooks", hooks, databases, sims)
        if "peers" in parts:
            peers = bench_peers.QUICK if quick else bench_peers.Size()
            say(
                f"peers: {peers.events} releases beside a bare forwarder, concurrency "
                f"{'/'.join(map(str, peers.concurrencies))}, {peers.rounds} alternating rounds"
            )
            results["peers"] = bench_peers.run(workdir / "peers", peers, sims)
        if "idle" in parts:
            idle = bench_idle.QUICK if quick else bench_idle.Size()
            say(
                f"idle: {idle.projects} projects polled every {idle.poll_interval:g} s, "
                f"watched {idle.seconds:g} s"
            )
            results["idle"] = bench_idle.run(workdir / "idle", idle, sims)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: proves the benchmarks run")
    parser.add_argument("--only", action="append", choices=PARTS, help="run only this part (repeatable)")
    parser.add_argument("--out", type=Path, help="results JSON (default bench/results/latest.json)")
    parser.add_argument(
        "--doc", type=Path, help="Markdown page whose results part is rewritten (default docs/benchmarks.md)"
    )
    parser.add_argument("--keep", type=Path, help="keep databases and logs in this folder")
    args = parser.parse_args(argv)
    parts = args.only or list(PARTS)
    out = args.out or (RESULTS / ("quick.json" if args.quick else "latest.json"))
    doc = args.doc or (None if args.quick else DOC)
    started = time.monotonic()
    where = machine()  # before the run: its load average is the one the run started under
    with _workdir(args.keep) as workdir:
        results = run(parts, quick=args.quick, workdir=workdir)
    results = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": f"python -m bench {shlex.join(argv if argv is not None else sys.argv[1:])}".strip(),
        "commit": _commit(),
        "quick": args.quick,
        "machine": where,
        "seconds": round(time.monotonic() - started, 1),
        **results,
    }
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    results["targets"] = _report.targets(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if doc is not None:
        _report.write(doc, results, preamble=PREAMBLE)
    for target in results["targets"]:
        mark = {True: "met", False: "MISSED", None: "-"}[target["met"]]
        print(f"{target['name']:<55} {target['target']:<30} {target['measured']}  [{mark}]")
    print(f"results: {out}" + (f", {doc}" if doc else "") + f" ({results['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
