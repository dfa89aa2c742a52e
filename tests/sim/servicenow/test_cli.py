"""`bridgeline sim servicenow` as a person runs it: serve in a process, answer for the CAB from another."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bridgeline.sim.servicenow.cli import main as cli


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_with_a_state_file_then_approve_from_the_command_line(tmp_path: Path) -> None:
    port, state = _free_port(), tmp_path / "servicenow.json"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bridgeline.sim.servicenow.cli",
            "servicenow",
            "--port",
            str(port),
            "--state",
            str(state),
            "--rate-limit",
            "50",
            "--transition-refusal",
            "ignore",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{url}/_sim/settings", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "the simulator did not start"
                time.sleep(0.1)
        settings = httpx.get(f"{url}/_sim/settings").json()["settings"]
        assert settings["rate_limit"] == 50 and settings["table_transition_refusal"] == "ignore"
        with httpx.Client(base_url=url, auth=("bridgeline.integration", "snow-pw-4Kd9Vq7z")) as api:
            created = api.post(
                "/api/now/table/change_request", json={"short_description": "CLI", "state": "-4"}
            )
            number = created.json()["result"]["number"]
            assert created.headers["X-RateLimit-Limit"] == "50"
        assert cli(["servicenow", "approve", number, "--url", url, "--approver", "priya.raman"]) == 0
        saved = json.loads(state.read_text())["store"]["tables"]["change_request"]
        assert [(c["number"], c["state"], c["approval"]) for c in saved][-1] == (number, "-2", "approved")
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=10)
    assert f"ServiceNow simulator on {url}" in output and "bridgeline.integration/snow-pw-4Kd9Vq7z" in output


def test_approving_a_simulator_that_is_not_there(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["servicenow", "approve", "CHG0030003", "--url", f"http://127.0.0.1:{_free_port()}"]) == 2
    assert "cannot reach the ServiceNow simulator" in capsys.readouterr().err
