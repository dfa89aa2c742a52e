"""``run_sim``: start ``bridgeline sim ...`` in a process of its own, read what it prints, stop it
with Ctrl-C at the end of the test."""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningSim:
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def line(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """The first printed line matching ``pattern``, waiting for it to be printed."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for text in self.lines:
                    if found := re.search(pattern, text):
                        return found
                left = deadline - time.monotonic()
                assert left > 0 and self.process.poll() is None, (pattern, self.lines)
                self.changed.wait(min(left, 0.5))

    def wait_until_up(self, url: str, ca: Path | None = None, timeout: float = 30.0) -> None:
        verify = ssl.create_default_context(cafile=str(ca)) if ca else True
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(url, verify=verify, timeout=2)
                return
            except httpx.TransportError:
                assert self.process.poll() is None, self.lines
                assert time.monotonic() < deadline, f"nothing answered at {url}"
                time.sleep(0.1)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture
def run_sim() -> Iterator[Callable[..., RunningSim]]:
    """``run_sim("servicenow", "--port", "8082", ...)`` runs ``bridgeline sim servicenow ...``."""
    started: list[RunningSim] = []

    def start(*args: str) -> RunningSim:
        process = subprocess.Popen(
            [sys.executable, "-m", "bridgeline.cli", "sim", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        running = RunningSim(process)
        threading.Thread(target=running.read, daemon=True).start()
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
