"""``bridgeline sim jira``: the subcommand parses its options and serves until interrupted."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bridgeline.sim.jira import cli


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
