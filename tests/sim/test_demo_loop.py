"""A person drives the running demo from another terminal: ``bridgeline sim <system> <action>`` finds
the demo's simulators by ``.demo/simulators.json``, with no URL given, and bridgeline carries the
edit to the change request and the CAB's answer back to Jira."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridgeline.sim import read_endpoint

from .conftest import free_port


def _until(check: Callable[[], Any], what: str, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _sim(cwd: Path, *args: str) -> str:
    """``bridgeline sim ...`` run as a person would, in the folder that holds ``.demo``."""
    done = subprocess.run(
        [sys.executable, "-m", "bridgeline.cli", "sim", *args], cwd=cwd, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


@pytest.mark.slow
@pytest.mark.long
def test_a_person_edits_assesses_and_approves_in_the_running_demo(tmp_path: Path) -> None:
    folder, port = tmp_path / ".demo", free_port()
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bridgeline.cli",
            "demo",
            "--serve",
            "--dir",
            str(folder),
            "--port",
            str(port),
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        snow = _until(lambda: read_endpoint(folder, "servicenow"), "the demo's simulators.json")
        # bridgeline's own server answers once the demo's first round (and its CAB meeting) is over
        _until(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), "the demo to serve")
        jira = read_endpoint(folder, "jira")
        assert jira is not None and jira["mode"] == "cloud"
        integration = jira["accounts"]["bridgeline"]
        jira_api = httpx.Client(
            base_url=jira["url"], auth=(integration["email"], integration["api_token"]), timeout=10
        )
        snow_api = httpx.Client(
            base_url=snow["url"], auth=("admin", snow["accounts"]["admin"]["password"]), timeout=10
        )

        def new_release_change() -> dict[str, Any] | None:
            found = snow_api.get(
                "/api/now/table/change_request",
                params={"sysparm_query": "state=-5^approval=not requested^correlation_idLIKE:version:"},
            ).json()["result"]
            return found[0] if found else None

        change = _until(new_release_change, "a release's change request in New")
        number, version_id = change["number"], change["correlation_id"].rsplit(":", 1)[-1]
        issues = jira_api.get("/rest/api/2/search/jql", params={"jql": f"fixVersion = {version_id}"})
        key = jira_api.get(f"/rest/api/2/issue/{issues.json()['issues'][0]['id']}").json()["key"]

        # an edit in Jira reaches the change request's description
        summary = f"Checkout survives a card network outage ({number})"
        assert _sim(tmp_path, "jira", "edit", key, "--summary", summary).startswith(f"{key}: ")
        _until(
            lambda: (
                summary
                in snow_api.get(f"/api/now/table/change_request/{change['sys_id']}").json()["result"][
                    "description"
                ]
            ),
            "the edited summary in the change request",
        )

        # the change manager asks the CAB, the CAB approves, bridgeline comments in Jira
        assert (
            _sim(tmp_path, "servicenow", "assess", number) == f"{number}: New -> Assess (approval requested)"
        )
        assert _sim(tmp_path, "servicenow", "approve", number, "--comment", "Fine for Thursday") == (
            f"{number}: approval approved, state Scheduled"
        )

        def approved_in_jira() -> bool:
            comments = jira_api.get(f"/rest/api/2/issue/{key}/comment").json()["comments"]
            return any(f"CAB approved {number}" in c["body"] for c in comments)

        _until(approved_in_jira, f"the CAB's approval of {number} on {key}")
    finally:
        demo.terminate()
        demo.wait(timeout=30)
    assert not (folder / "simulators.json").exists()  # gone with the demo: no stale URLs
    assert json.loads((folder / "ports.json").read_text())  # while the ports are kept for next time
