"""``bridgeline sim remedy``: serving until Ctrl-C, and the CAB acting on a running simulator."""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from bridgeline.sim.remedy import RemedySimulator
from bridgeline.sim.remedy.cli import main, register


def test_register_adds_remedy_with_its_options() -> None:
    parser = argparse.ArgumentParser(prog="bridgeline sim")
    register(parser.add_subparsers(dest="simulator"))
    args = parser.parse_args(["remedy", "--port", "9001", "--error-rate", "0.2", "--state", "s.json"])
    assert (args.port, args.error_rate, str(args.state), args.remedy_action) == (9001, 0.2, "s.json", None)
    approve = parser.parse_args(["remedy", "approve", "CRQ000000000102", "--reject", "--reason", "No"])
    assert (approve.change, approve.reject, approve.reason, approve.remedy_action) == (
        "CRQ000000000102",
        True,
        "No",
        "approve",
    )
    assert callable(args.func) and args.func is approve.func


def test_approve_and_reject_a_change_on_a_running_simulator(
    url: str, sim: RemedySimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["remedy", "approve", "CRQ000000000102", "--url", url, "--comment", "CAB ok"]) == 0
    assert capsys.readouterr().out.strip() == "CRQ000000000102: Scheduled"
    assert sim.state.approvals("CRQ000000000102")[-1]["Comments"] == "CAB ok"
    sim.set_status("CRQ000000000101", "Request For Authorization")
    assert main(["remedy", "approve", "CRQ000000000101", "--reject", "--reason", "Freeze", "--url", url]) == 0
    assert sim.state.change("CRQ000000000101")["Change Request Status"] == "Rejected"
    assert main(["remedy", "approve", "CRQ000000000101", "--url", url]) == 1
    assert "not waiting for approval" in capsys.readouterr().err


def test_approve_says_when_the_simulator_is_not_there(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main(["remedy", "approve", "CRQ000000000102", "--url", f"http://127.0.0.1:{port}"]) == 2
    assert "cannot reach" in capsys.readouterr().err


def test_serves_until_interrupted() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "bridgeline.sim.remedy.cli",
        "remedy",
        "--port",
        str(port),
        "--latency-ms",
        "1",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.post(
                    f"http://127.0.0.1:{port}/api/jwt/login", data={"username": "Demo", "password": "demo"}
                )
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the simulator did not start"
                time.sleep(0.05)
        assert response.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/_sim/faults").json()["latency_ms"] == 1.0
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=15)
        assert process.returncode == 0
        assert f"BMC Remedy simulator on http://127.0.0.1:{port}" in out
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
