"""``bridgeline sim jira``: the subcommand parses its options and serves until interrupted."""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bridgeline.sim.jira import cli

from ..conftest import RunningSim


def test_register_adds_jira_with_its_options(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="bridgeline sim")
    cli.register(parser.add_subparsers(dest="simulator"))
    args = parser.parse_args(
        [
            "jira",
            "--port", "18081",
            "--mode", "datacenter",
            "--state", str(tmp_path / "jira.json"),
            "--seed", "9",
            "--issues", "40",
            "--latency-ms", "5",
            "--error-rate", "0.1",
            "--rate-limit", "50",
            "--webhook-quirk", "string_timestamp",
        ]
    )  # fmt: skip
    assert args.func is cli.run and args.port == 18081
    sim = cli.build(args)
    assert sim.mode == "datacenter" and len(sim.state.issues) == 40 and sim.state.seed == 9
    assert (sim.faults.latency_ms, sim.faults.error_rate, sim.rate_limit.limit) == (5, 0.1, 50)
    assert sim.webhook_options.quirks == ["string_timestamp"]
    assert (tmp_path / "jira.json").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serves_until_interrupted(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bridgeline.sim.jira.cli", "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        deadline = time.monotonic() + 20
        info = None
        while time.monotonic() < deadline:
            try:
                info = httpx.get(f"http://127.0.0.1:{port}/rest/api/2/serverInfo", timeout=1).json()
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert info is not None and info["deploymentType"] == "Cloud"
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0
    assert b"Jira simulator (cloud)" in stderr


BANNER_CREDENTIAL = re.compile(r"Basic ([^\s,]+) / ([^\s,]+)|Bearer ([^\s,]+)")


@pytest.mark.parametrize(("mode", "at_least"), [("cloud", 3), ("datacenter", 6)])
def test_the_startup_banner_shows_credentials_the_mode_accepts(
    mode: str, at_least: int, run_sim: Callable[..., RunningSim]
) -> None:
    port = _free_port()
    running = run_sim("jira", "--port", str(port), "--mode", mode, "--log-level", "warning")
    url = f"http://127.0.0.1:{port}"
    running.wait_until_up(f"{url}/rest/api/2/serverInfo")
    running.line(r"sign in \(")
    found = [m.groups() for line in list(running.lines) for m in BANNER_CREDENTIAL.finditer(line)]
    assert len(found) >= at_least, running.lines
    for login, secret, token in found:
        auth = None if token else (login, secret)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        me = httpx.get(f"{url}/rest/api/2/myself", auth=auth, headers=headers, timeout=5)
        assert me.status_code == 200, (login or token, me.text)
