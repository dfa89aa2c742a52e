"""``bridgeline run`` killed with SIGKILL at random moments, again and again, while it syncs releases
through simulators that fail a fifth of the calls, rate-limit, time out, drop connections and answer
slowly - and a CAB answers, and developers rename issues. Afterwards: one change request per
release, one task per issue, each CAB answer in Jira once, nothing pending, dead letters only where
the target refused for good.

The full-size run (500 releases, 5,000 issues) is ``scripts/chaos_report.py``; these are smaller,
and still the longest tests there are: they run in ``make test-long`` (CI runs it after ``make
test``). The figures of both land in ``docs/reliability.md``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from .conftest import harness

pytestmark = [pytest.mark.slow, pytest.mark.long]


def _keep(report: Any, name: str) -> None:
    """The report beside the test's files, and where CHAOS_REPORT_DIR says (CI artifacts)."""
    folder = os.environ.get("CHAOS_REPORT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{name}.json").write_text(report.to_json(), encoding="utf-8")
    print(report.to_json())


def _assert_nothing_duplicated_or_lost(plan: Any, report: Any, findings: Any) -> None:
    assert report.kills == plan.kills
    assert report.converged and report.clean_exits
    assert findings.duplicates == []
    assert findings.losses == []
    assert findings.unexplained_dead_letters == []
    assert findings.pending == 0
    assert findings.dead_letters == plan.poison
    assert findings.change_requests == plan.releases - plan.poison
    assert findings.change_tasks >= findings.issues * 0.5  # most issues are in a release
    # the run really was a bad day, and the reverse direction really ran
    faults = report.faults
    assert faults["errors"] > 0 and faults["rate_limited"] > 0 and faults["resets"] > 0
    assert faults["timeouts"] > 0 and faults["permanent_refusals"] >= plan.poison
    assert findings.cab_answers > 0 and findings.comments > 0 and findings.edits > 0


def test_a_daemon_killed_ten_times_while_syncing_duplicates_and_loses_nothing(tmp_path: Path) -> None:
    plan = harness.ChaosPlan(releases=20, issues=200, kills=10, replicas=1)
    report, findings = harness.run_chaos(plan, f"sqlite:///{tmp_path / 'bridgeline.db'}", tmp_path)
    _keep(report, "sqlite-1-replica")
    _assert_nothing_duplicated_or_lost(plan, report, findings)


@pytest.mark.postgres
def test_three_replicas_on_postgresql_killed_in_turn_share_the_work_and_the_leadership(
    postgres_url: str, tmp_path: Path
) -> None:
    plan = harness.ChaosPlan(releases=20, issues=200, kills=10, replicas=3)
    report, findings = harness.run_chaos(plan, postgres_url, tmp_path)
    _keep(report, "postgresql-3-replicas")
    _assert_nothing_duplicated_or_lost(plan, report, findings)
    # every other kill took the leader; a follower took over each time
    assert report.leader_kills >= plan.kills // 2
    assert report.leaders > report.leader_kills
    busy = [
        n
        for n in range(plan.replicas)
        if any(line.get("event") in ("created", "updated", "jira comment") for line in _lines(tmp_path, n))
    ]
    assert len(busy) >= 2, "the replicas did not share the work"


def _lines(folder: Path, n: int) -> list[dict[str, Any]]:
    out = []
    for raw in (folder / f"replica-{n}.log").read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            out.append(json.loads(raw))
        except ValueError:
            continue
    return out
