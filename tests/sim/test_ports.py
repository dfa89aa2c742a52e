"""A port number that is not one is refused, not wrapped by the operating system into another."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "command", [["sim", "jira"], ["sim", "servicenow"], ["sim", "remedy"], ["demo", "--serve"]]
)
@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_an_impossible_port_is_refused(command: list[str], port: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bridgeline.cli", *command, "--port", port],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "argument --port:" in done.stderr
    assert "is not a port" in done.stderr
