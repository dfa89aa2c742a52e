"""`bridgeline demo` as a person reads it in an 80-column terminal: nothing cut, the CAB's answers
shown with the approval, the counts explained, and a second run that writes nothing."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bridgeline.sim.servicenow import ServiceNowSimulator

pytestmark = pytest.mark.slow


def demo(folder: Path, *args: str) -> str:
    env = {**os.environ, "COLUMNS": "80", "TERM": "dumb"}
    env = {k: v for k, v in env.items() if not k.startswith("BRIDGELINE_") or k.startswith("BRIDGELINE_TEST")}
    done = subprocess.run(
        [sys.executable, "-m", "bridgeline.cli", "demo", "--dir", str(folder), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_demo_fits_80_columns_and_shows_what_the_cab_answered(tmp_path: Path) -> None:
    out = demo(tmp_path / "demo")
    assert all(len(line) <= 80 for line in out.splitlines()), max(out.splitlines(), key=len)
    assert "…" not in out  # no cell cut short
    assert re.findall(r"\bCHG00300\d\d\b", out) and re.findall(r"\bCRQ\d{12}\b", out)
    answered = out[
        out.index("The changes the CAB answered") : out.index("What the CAB's answers did in Jira")
    ]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"(CHG\d{7}|CRQ\d{12}).*", answered)}
    assert any("scheduled" in row for row in rows.values())
    after = answered.splitlines()
    # the rejected one: its state, and under it the approval
    index = next(i for i, line in enumerate(after) if " new " in f" {line} " and "CHG" in line)
    assert "rejected" in after[index + 1]
    assert re.search(
        r"\d+ change\(s\) detected, in \d+ release\(s\), issue\(s\) and change\(s\); \d+ sync", out
    )

    # the release train of PAY and WEB: a parent change with a child change per member project, and
    # its versions are no one else's (no change request of their own, no other mapping)
    summary = out[: out.index("The CAB meets")]
    parent = re.search(
        r"^train 2026\.12\s+(CHG\d{7})\s+normal\s+new\s+2\s+servicenow-train\s*$", summary, re.M
    )
    assert parent, summary
    children = dict(re.findall(r"^└ (PAY|WEB) 2026\.12\s+(CHG\d{7})\s+normal\s+new\s*$", summary, re.M))
    assert sorted(children) == ["PAY", "WEB"], summary
    assert len({parent.group(1), *children.values()}) == 3
    assert len(re.findall(r"2026\.12", summary)) == 3, summary

    # the pipeline's loop: the gate waits for the CAB, allows, the deployment closes the change
    loop = out[out.index("The pipeline, the gate and the change") :]
    assert re.search(r"bridgeline gate\s+awaiting: CHG\d{7} is not approved yet", loop), loop
    assert re.search(r"CAB \(ServiceNow\)\s+CHG\d{7} approved", loop), loop
    assert re.search(r"bridgeline gate\s+allowed: CHG\d{7} is approved by", loop), loop
    assert re.search(r"deployment started\s+CHG\d{7} is implement", loop), loop
    assert re.search(r"deployment succeeded\s+CHG\d{7} is closed, successful", loop), loop
    assert re.search(r"Jira\s+\S+ \S+ released", loop), loop

    again = demo(tmp_path / "demo")
    assert "nothing needed to be written" in again
    # resumed, the states are longer ("scheduled"), and still no cell is cut or wrapped mid-name
    assert all(len(line) <= 80 for line in again.splitlines()), max(again.splitlines(), key=len)
    assert len(re.findall(r"\bservicenow-release\b", again)) == 4, again
    assert re.search(r"^└ PAY 2026\.12\s+CHG\d{7}", again, re.M), again

    # the train's changes as ServiceNow holds them: each child under the parent, in its project's group
    with (
        ServiceNowSimulator(state_path=tmp_path / "demo" / "servicenow.json") as snow,
        snow.serve() as served,
        httpx.Client(base_url=served.url, auth=("admin", "admin"), timeout=10) as api,
    ):
        records = api.get(
            "/api/now/table/change_request",
            params={
                "sysparm_query": "short_descriptionLIKE2026.12",
                "sysparm_fields": "sys_id,number,parent,state,assignment_group",
                "sysparm_display_value": "all",
            },
        ).json()["result"]
    by_number = {r["number"]["value"]: r for r in records}
    assert sorted(by_number) == sorted([parent.group(1), *children.values()]), records
    parent_id = by_number[parent.group(1)]["sys_id"]["value"]
    assert by_number[parent.group(1)]["parent"]["value"] == ""
    groups = {"PAY": "Payments Platform", "WEB": "Web Platform"}
    for project, number in children.items():
        child = by_number[number]
        assert child["parent"]["value"] == parent_id, child
        assert child["parent"]["display_value"] == parent.group(1), child
        assert child["assignment_group"]["display_value"] == groups[project], child
        assert child["state"]["display_value"] == "New", child


def test_serve_prints_where_everything_is_and_credentials_that_work(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BRIDGELINE_") or k.startswith("BRIDGELINE_TEST")
    }
    demo = subprocess.Popen(
        [sys.executable, "-m", "bridgeline.cli", "demo", "--serve", "--dir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**env, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    try:
        assert demo.stdout is not None
        for line in demo.stdout:  # ends when the demo has printed where it serves
            lines.append(line.rstrip())
            if line.strip().startswith("Act as a person:"):
                break
        printed = "\n".join(lines)
        assert "<free port>" not in printed
        status = re.search(
            r"status page\s+(http://127\.0\.0\.1:\d+)/status\s+\(sign in with the admin token (\S+)\)",
            printed,
        )
        assert status, printed
        base, token = status.group(1), status.group(2).rstrip(")")
        assert httpx.get(f"{base}/status", timeout=10).status_code in (401, 303, 307)  # not for strangers
        bearer = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{base}/api/status", headers=bearer, timeout=10).status_code == 200
        assert httpx.get(f"{base}/metrics", headers=bearer, timeout=10).status_code == 200

        jira = re.search(r"Jira simulator\s+(\S+)/\s+\(REST as (\S+) / API token (\S+)\)", printed)
        assert jira, printed
        me = httpx.get(f"{jira.group(1)}/rest/api/3/myself", auth=(jira.group(2), jira.group(3)), timeout=10)
        assert me.status_code == 200

        snow = re.search(
            r"ServiceNow simulator\s+(\S+)/change_request_list\.do\s+\(REST as admin / (\S+); "
            r"the change manager beth\.anguiano / (\S+)\)",
            printed,
        )
        assert snow, printed
        assert httpx.get(f"{snow.group(1)}/change_request_list.do", timeout=10).status_code == 200
        for user, password in (("admin", snow.group(2).rstrip(";")), ("beth.anguiano", snow.group(3))):
            table = httpx.get(
                f"{snow.group(1)}/api/now/table/change_request", auth=(user, password), timeout=10
            )
            assert table.status_code == 200, user

        remedy = re.search(r"Remedy simulator\s+(\S+)/\s+\(REST as Demo / (\S+)\)", printed)
        assert remedy, printed
        login = httpx.post(
            f"{remedy.group(1)}/api/jwt/login",
            data={"username": "Demo", "password": remedy.group(2)},
            timeout=10,
        )
        assert login.status_code == 200
    finally:
        demo.send_signal(signal.SIGINT)
        demo.communicate(timeout=60)
    assert demo.returncode == 0
