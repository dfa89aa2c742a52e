"""The systemd unit: verified and rated by ``systemd-analyze``, its restart policy matched to what
``bridgeline run`` exits with, its readiness told by the daemon itself over ``$NOTIFY_SOCKET``, and
the daemon working under its ``MemoryDenyWriteExecute=`` filter."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridgeline import notify

from .scratch_database import scratch_database
from .test_daemon import Process, daemon_config, free_port

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "bridgeline.service"
HERE = Path(__file__).parent
SECRETISH = re.compile(r"(TOKEN|PASSWORD|SECRET|API_KEY|PRIVATE)", re.I)
needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


def unit(path: Path = UNIT) -> dict[str, list[tuple[str, str]]]:
    sections: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            sections[current] = []
            continue
        key, _, value = line.partition("=")
        sections[current].append((key.strip(), value.strip()))
    return sections


def installed_copy(folder: Path, extra: str = "") -> Path:
    """The unit as it would be installed, with bridgeline at this venv's path (verify wants it)."""
    bridgeline = Path(sys.executable).parent / "bridgeline"
    assert bridgeline.exists()
    text = UNIT.read_text(encoding="utf-8").replace("/opt/bridgeline/bin/bridgeline", str(bridgeline))
    path = folder / "bridgeline.service"
    path.write_text(text + extra, encoding="utf-8")
    return path


# -- the unit file ---------------------------------------------------------------------------------


def test_the_unit_runs_unprivileged_reloads_on_hup_and_stops_gracefully() -> None:
    sections = unit()
    assert {"Unit", "Service", "Install"} <= set(sections)
    service = dict(sections["Service"])
    program, *args = shlex.split(service["ExecStart"])
    assert Path(program).name == "bridgeline" and Path(program).is_absolute() and args == ["run"]
    assert "-HUP" in service["ExecReload"] and "$MAINPID" in service["ExecReload"]
    assert service["KillSignal"] == "SIGTERM" and int(service["TimeoutStopSec"]) >= 60
    assert service["User"] not in ("root", "0")
    assert service["Type"] == "notify" and service["NotifyAccess"] == "main"
    environment = [v for k, v in sections["Service"] if k == "Environment"]
    credentials = {v.split(":", 1)[0] for k, v in sections["Service"] if k == "LoadCredential"}
    for assignment in environment:
        name, _, value = assignment.partition("=")
        if SECRETISH.search(name):
            assert name.endswith("_FILE") and value.startswith("%d/") and value[3:] in credentials
    assert "BRIDGELINE_CONFIG=/etc/bridgeline/bridgeline.yaml" in environment
    assert dict(sections["Install"])["WantedBy"] == "multi-user.target"


def test_a_configuration_problem_is_not_restarted_and_everything_else_is(tmp_path: Path) -> None:
    service = dict(unit()["Service"])
    assert service["Restart"] == "on-failure"
    prevented = {int(code) for code in service["RestartPreventExitStatus"].split()}
    # systemd restarts a failed ExecStartPre= whatever RestartPreventExitStatus= says
    assert "ExecStartPre" not in service and "ExecCondition" not in service
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGELINE_")}
    bad = tmp_path / "bridgeline.yaml"
    bad.write_text(yaml.safe_dump({"worker": {"concurrency": "many"}}), encoding="utf-8")
    for config in (tmp_path / "missing.yaml", bad):
        done = subprocess.run(
            [sys.executable, "-m", "bridgeline.cli", "run", "--config", str(config)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode in prevented, done.stderr
        assert "configuration problem" in done.stderr
    assert 1 not in prevented  # a failure that may pass (a crash, an outage at start) is retried


@needs_analyze
def test_systemd_verifies_the_unit(tmp_path: Path) -> None:
    done = subprocess.run(
        ["systemd-analyze", "verify", str(installed_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    ours = [line for line in (done.stdout + done.stderr).splitlines() if "bridgeline.service" in line]
    assert done.returncode == 0 and ours == [], done.stdout + done.stderr
    # and it would tell: a misspelled setting is reported
    (tmp_path / "broken").mkdir()
    broken = installed_copy(tmp_path / "broken", "RestartPreventExitStatuss=2\n")
    verify = ["systemd-analyze", "verify", str(broken)]
    done = subprocess.run(verify, capture_output=True, text=True, timeout=60)
    assert "RestartPreventExitStatuss" in done.stdout + done.stderr


@needs_analyze
def test_the_units_sandbox_rates_two_or_lower(tmp_path: Path) -> None:
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(installed_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    found = re.search(r"Overall exposure level for bridgeline\.service:\s*([0-9.]+)", done.stdout)
    assert found, done.stdout[-2000:]
    assert float(found.group(1)) <= 2.0, done.stdout


# -- readiness, reloads and stops, told to systemd ---------------------------------------------------


def test_notifications_reach_a_socket_by_path_or_in_the_abstract_namespace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify.ready() is False  # not started by systemd: nothing to do
    for name in (str(tmp_path / "notify"), f"@bridgeline-{uuid.uuid4().hex}"):
        with listening(name) as messages:
            monkeypatch.setenv("NOTIFY_SOCKET", name)
            assert notify.ready("serving on 127.0.0.1:8080") is True
            assert next(messages) == {"READY": "1", "STATUS": "serving on 127.0.0.1:8080"}
            before = time.monotonic_ns() // 1000
            assert notify.reloading() is True
            reloading = next(messages)
            assert reloading["RELOADING"] == "1"
            assert before <= int(reloading["MONOTONIC_USEC"]) <= time.monotonic_ns() // 1000
            notify.stopping()
            assert next(messages) == {"STOPPING": "1"}
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens"))
    assert notify.ready() is False  # logged, never raised
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")
    assert notify.ready() is False

    monkeypatch.setenv("WATCHDOG_USEC", "4000000")
    assert notify.watchdog_interval() == 2.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))  # meant for another process
    assert notify.watchdog_interval() is None
    monkeypatch.delenv("WATCHDOG_PID")
    monkeypatch.setenv("WATCHDOG_USEC", "0")
    assert notify.watchdog_interval() is None


@contextmanager
def listening(name: str, timeout: float = 30.0) -> Iterator[Iterator[dict[str, str]]]:
    """A notification socket like systemd's; yields the messages as they come."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name[1:] if name.startswith("@") else name)
        sock.settimeout(timeout)

        def messages() -> Iterator[dict[str, str]]:
            while True:
                data = sock.recv(4096).decode()
                yield dict(line.split("=", 1) for line in data.splitlines() if line)

        yield messages()


def next_with(messages: Iterator[dict[str, str]], key: str) -> dict[str, str]:
    """The next message carrying ``key`` (keep-alives may come between)."""
    for message in messages:
        if key in message:
            return message
    raise AssertionError("no more messages")


def test_the_daemon_is_ready_only_once_it_serves_and_says_when_it_reloads_and_stops(
    sims: Any, tmp_path: Path
) -> None:
    port = free_port()
    config = daemon_config(sims, tmp_path, port)
    name = f"@bridgeline-{uuid.uuid4().hex}"
    env = {"NOTIFY_SOCKET": name, "WATCHDOG_USEC": "1000000"}  # a keep-alive every half second
    with listening(name) as messages, daemon(config, port, env, tmp_path / "bridgeline.log") as run:
        ready = next(messages)
        # the first word it says is READY, and then it answers at once: no retry here
        assert ready == {"READY": "1", "STATUS": f"serving on 127.0.0.1:{port}"}, ready
        assert run.get("/healthz").status_code == 200
        keep_alives = [next_with(messages, "WATCHDOG") for _ in range(2)]
        assert keep_alives == [{"WATCHDOG": "1"}] * 2

        run.proc.send_signal(signal.SIGHUP)
        assert next_with(messages, "RELOADING")["RELOADING"] == "1"
        assert next_with(messages, "READY") == {"READY": "1"}

        run.proc.send_signal(signal.SIGTERM)
        assert next_with(messages, "STOPPING")["STOPPING"] == "1"
        assert run.proc.wait(60) == 0


@contextmanager
def daemon(
    config: Path, port: int, env: dict[str, str], log: Path, prefix: tuple[str, ...] = ()
) -> Iterator[Process]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGELINE_", "NOTIFY_", "WATCHDOG_"))}
    full.update(env)
    if "BRIDGELINE_TEST_DATABASE_URL" in os.environ:
        full["BRIDGELINE_TEST_DATABASE_URL"] = os.environ["BRIDGELINE_TEST_DATABASE_URL"]
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "bridgeline.cli", "run", "--config", str(config)],
            env=full,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            yield Process(proc, f"http://127.0.0.1:{port}", log)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


# -- MemoryDenyWriteExecute ------------------------------------------------------------------------


def _seccomp_available() -> bool:
    check = subprocess.run([sys.executable, str(HERE / "write_execute.py"), "--check"], capture_output=True)
    return check.returncode == 0


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return scratch_database(request, tmp_path, "unit_mdwe")


def test_the_daemon_syncs_under_the_units_write_execute_filter(
    sims: Any, tmp_path: Path, database_url: str
) -> None:
    assert dict(unit()["Service"])["MemoryDenyWriteExecute"] == "yes"
    if not _seccomp_available():
        pytest.skip("libseccomp is not installed (systemd brings it)")
    port = free_port()
    config = daemon_config(sims, tmp_path, port)
    values = yaml.safe_load(config.read_text(encoding="utf-8"))
    config.write_text(yaml.safe_dump({**values, "database_url": database_url}), encoding="utf-8")
    prefix = (sys.executable, str(HERE / "write_execute.py"))
    with daemon(config, port, {}, tmp_path / "bridgeline.log", prefix) as run:
        # Jira read, ServiceNow written, SQL stored, HTTP served: all compiled code on the path
        run.wait_for(lambda s: s["links_total"] == 2 and s["queue"]["pending"] == 0, timeout=60)
        assert run.get("/readyz").status_code == 200
        metrics = run.get("/metrics").text
        assert 'bridgeline_writes_total{action="create",system="servicenow"}' in metrics
        run.proc.send_signal(signal.SIGTERM)
        assert run.proc.wait(60) == 0, run.log.read_text()[-3000:]
    assert "MemoryError" not in run.log.read_text() and "PermissionError" not in run.log.read_text()


def test_the_write_execute_filter_refuses_what_systemd_refuses() -> None:
    if not _seccomp_available():
        pytest.skip("libseccomp is not installed (systemd brings it)")
    probe = (
        "import mmap\n"
        "try:\n"
        "    mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
        "except PermissionError:\n"
        "    print('refused')\n"
    )
    inside = subprocess.run(
        [sys.executable, str(HERE / "write_execute.py"), sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
    )
    outside = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert inside.stdout.strip() == "refused" and outside.stdout.strip() == ""
