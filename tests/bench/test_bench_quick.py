"""``python -m bench --quick`` runs every benchmark end to end at a tiny size, so the code cannot rot.

Timings are measured and reported, never asserted: what is checked is that each part ran, synced
what it was given, and wrote its results and its page.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_quick_benchmark_runs_every_part_and_writes_its_results(tmp_path: Path) -> None:
    out, doc = tmp_path / "quick.json", tmp_path / "benchmarks.md"
    doc.write_text(
        "# Benchmarks\n\nWritten by hand, kept.\n\n<!-- results:start -->\nold\n<!-- results:end -->\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out), "--doc", str(doc)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(out.read_text())
    assert results["quick"] is True and results["machine"]["cores"]

    mapping = results["mapping"]
    assert (mapping["issues"], mapping["change_tasks"]) == (50, 50) and mapping["ratio"] > 0

    backfill = results["backfill"]
    (level,) = backfill["levels"]
    releases, pairs = backfill["releases"], backfill["issues_in_releases"]
    assert level["records"] == releases + pairs  # a change request per release, a task per issue in it
    # one create per change request, the tasks of each in one Batch API call: at most one per record
    assert 0 < level["servicenow_writes_per_record"] <= 1.0
    assert backfill["rerun"]["servicenow_calls"] == 0  # nothing changed, nothing written
    limited = backfill["rate_limited"]
    assert limited["records"] > 0 and limited["dead_letters"] == 0

    page = doc.read_text()
    hook = results["webhooks"]["sqlite"]
    assert hook["change_requests"] == hook["events"] > 0 and hook["dead_letters"] == 0
    assert hook["sustained"]["accepted"] > 0
    assert hook["simulators_cpu_ms_per_event"] > 0 and hook["bench_cpu_ms_per_event"] > 0

    peers = results["peers"]["results"]
    assert {r["system"] for r in peers} == {"forwarder", "sqlite"}
    assert all(r["servicenow_calls_per_event"] == 1.0 for r in peers)  # one create each, no more
    assert all(r["events_per_second_ratio"] > 0 and r["cpu_ratio"] > 0 for r in peers)
    assert "### Beside a bare forwarder" in page

    idle = results["idle"]
    assert idle["projects"] == 3 and idle["watched_seconds"] > 0

    assert page.startswith("# Benchmarks\n\nWritten by hand, kept.") and "old" not in page
    assert "### Backfill" in page and "### Webhooks" in page and "### Against the targets" in page
    assert "The rest of the machine per release (sqlite" in page
    names = {t["name"] for t in results["targets"]}
    assert names >= {"mapping: render vs JSON round trip", "backfill: peak RSS"}


def test_the_store_benchmark_measures_each_operation(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_store", "--repeat", "5", "--database", "sqlite"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sqlite = json.loads(done.stdout)["sqlite"]
    assert set(sqlite) == {
        "enqueue one event",
        "claim and complete one entity",
        "read one link",
        "record a link, its audit row and its event",
    }
    assert all(ms > 0 for ms in sqlite.values())
