"""What the benchmarks share: simulators and bridgeline as separate processes, and what they cost.

Each simulator runs in a process of its own (``bridgeline sim servicenow``, and Jira's through
``bench._jira_counted``, which counts its calls by method), so its CPU and memory are never counted
as bridgeline's; bridgeline runs as ``bridgeline run`` or ``bridgeline backfill``,
measured from outside through ``/proc`` and ``wait4``. ::

    with Simulators(jira_scale=(1, 100, 2000), latency_ms=20) as sims:
        config = write_config(tmp, sims, database_url="sqlite:///b.db", mappings=folder)
        run = run_command(["backfill", "--project", "PAY", "--config", str(config)])
        run.peak_rss_mb, run.cpu_seconds, sims.jira_calls()
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
JIRA_USER = ("bridgeline@example.com", "jira-api-7Rk2Qx4m")  # the simulators' integration accounts
JIRA_ADMIN = ("admin@example.com", "admin-token")
SNOW_USER = ("bridgeline.integration", "snow-pw-4Kd9Vq7z")
SNOW_ADMIN = ("admin", "admin")
WEBHOOK_SECRET = "bench-webhook-secret"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def bridgeline_argv(*args: str) -> list[str]:
    """The ``bridgeline`` command with this interpreter (works in a checkout without the script)."""
    return [sys.executable, "-m", "bridgeline.cli", *args]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(ROOT / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("BRIDGELINE_CONFIG", None)
    return env


def machine() -> dict[str, Any]:
    """Where the numbers were taken: they mean little without it."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory_gb = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        first = Path("/proc/meminfo").read_text().splitlines()[0]
        memory_gb = round(int(first.split()[1]) / 1024 / 1024, 1)
    return {
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpu": model or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


# -- processes ----------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_mb(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) of a running process, in MB."""
    rss = peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return rss, peak


@dataclass
class Finished:
    """A bridgeline command that ran to its end, measured by the kernel."""

    argv: list[str]
    returncode: int
    wall_seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    output: str


def profiler(output: Path, *, pid: int | None = None, seconds: float | None = None) -> list[str]:
    """``py-spy record`` of the Python work (GIL held), as collapsed stacks in ``output``."""
    argv = [
        shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"),
        "record",
        "--gil",
        "--rate",
        "100",
        "--format",
        "raw",
        "--output",
        str(output),
    ]
    if pid is not None:
        argv += ["--pid", str(pid)]
    if seconds is not None:
        argv += ["--duration", str(max(1, round(seconds)))]
    return argv


def profile_dir() -> Path | None:
    """Where profiles go when ``BRIDGELINE_BENCH_PROFILE`` names a folder (py-spy must be installed)."""
    folder = os.environ.get("BRIDGELINE_BENCH_PROFILE")
    if not folder:
        return None
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_command(args: list[str], *, log: Path, timeout: float = 3600.0) -> Finished:
    """Run ``bridgeline <args>`` to its end; wall time, CPU and peak RSS from ``wait4``.

    With ``BRIDGELINE_BENCH_PROFILE`` set, it runs under py-spy (whose own usage is then included).
    """
    argv = bridgeline_argv(*args)
    profiles = profile_dir()
    if profiles is not None:
        argv = [*profiler(profiles / (log.stem + ".txt")), "--", *argv]
    started = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=child_env(), cwd=ROOT)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Finished(
        argv=args,
        returncode=proc.returncode,
        wall_seconds=time.perf_counter() - started,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,
        output=log.read_text(errors="replace"),
    )


class Background:
    """A long-running process (a simulator, ``bridgeline run``) we started and will stop."""

    def __init__(self, argv: list[str], *, log: Path, env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            argv, stdout=self._out, stderr=subprocess.STDOUT, env=env or child_env(), cwd=ROOT
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def memory_mb(self) -> tuple[float, float]:
        return memory_mb(self.pid)

    def wait_http(self, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.argv[3:5]} exited early:\n{self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2).status_code < 500:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"{url} did not answer within {timeout:.0f}s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        self._out.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, then SIGKILL when it does not go in time."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._out.close()
        return self.proc.returncode


# -- simulators ---------------------------------------------------------------------------------


@dataclass
class JiraData:
    projects: int = 1
    versions: int = 12
    issues: int = 300


@dataclass
class Simulators:
    """Jira and ServiceNow simulators, each in its own process, with 20 ms per call by default."""

    workdir: Path
    jira_data: JiraData = field(default_factory=JiraData)
    latency_ms: float = 20.0
    servicenow_rate_limit: int = 0  # calls per user per second (a rate limit rule); 0 = none
    jira: Background | None = None
    servicenow: Background | None = None
    jira_url: str = ""
    servicenow_url: str = ""

    def __enter__(self) -> Simulators:
        self.workdir.mkdir(parents=True, exist_ok=True)
        jira_port, snow_port = free_port(), free_port()
        self.jira_url = f"http://127.0.0.1:{jira_port}"
        self.servicenow_url = f"http://127.0.0.1:{snow_port}"
        data = self.jira_data
        latency = str(self.latency_ms)
        self.jira = Background(
            [
                sys.executable, "-m", "bench._jira_counted",
                "--port", str(jira_port), "--log-level", "warning",
                "--projects", str(data.projects), "--versions", str(data.versions),
                "--issues", str(data.issues), "--latency-ms", latency,
            ],
            log=self.workdir / "sim-jira.log",
        )  # fmt: skip
        self.servicenow = Background(
            bridgeline_argv(
                "sim", "servicenow", "--port", str(snow_port), "--latency-ms", latency,
                "--rate-limit", str(self.servicenow_rate_limit),
            ),
            log=self.workdir / "sim-servicenow.log",
        )  # fmt: skip
        try:
            self.jira.wait_http(self.jira_url + "/_sim/faults", timeout=180)
            self.servicenow.wait_http(self.servicenow_url + "/_sim/faults")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for sim in (self.jira, self.servicenow):
            if sim is not None:
                sim.stop()

    def reseed(self, data: JiraData, *, servicenow_rate_limit: int = 0) -> None:
        """Fresh Jira data and an empty ServiceNow, without starting new processes."""
        scale = {"projects": data.projects, "versions": data.versions, "issues": data.issues}
        httpx.post(self.jira_url + "/_sim/reset", json={"scale": scale}, timeout=300).raise_for_status()
        self.jira_data = data
        self.reset_servicenow(rate_limit=servicenow_rate_limit)

    def reset_servicenow(self, *, rate_limit: int = 0) -> None:
        """Back to ServiceNow's seed data (no change requests, an empty call log)."""
        httpx.post(self.servicenow_url + "/_sim/reset", timeout=60).raise_for_status()
        self.set_servicenow(rate_limit=rate_limit)
        self.servicenow_rate_limit = rate_limit

    def set_servicenow(self, **settings: Any) -> None:
        httpx.put(self.servicenow_url + "/_sim/settings", json=settings, timeout=10).raise_for_status()

    def set_latency(self, latency_ms: float) -> None:
        for url in (self.jira_url, self.servicenow_url):
            httpx.put(url + "/_sim/faults", json={"latency_ms": latency_ms}, timeout=10).raise_for_status()

    def jira_calls(self) -> dict[str, int]:
        """API calls Jira has answered (admin calls excluded), by method, and their ``total``."""
        by_method = {
            k: int(v) for k, v in httpx.get(self.jira_url + "/_bench/calls", timeout=30).json().items()
        }
        by_method["total"] = sum(by_method.values())
        return by_method

    def servicenow_calls(self) -> dict[str, int]:
        """API calls ServiceNow has answered, by method, and the ones refused by its rate limit."""
        calls = httpx.get(self.servicenow_url + "/_sim/calls", params={"limit": 0}, timeout=30).json()
        by_method: dict[str, int] = {}
        for route, count in calls["by_route"].items():
            method = route.split(" ", 1)[0]
            by_method[method] = by_method.get(method, 0) + int(count)
        by_method["total"] = int(calls["total"])
        return by_method

    def servicenow_refused(self) -> int:
        """Calls answered 429 by the rate limit rule (from the call log: the status of each call)."""
        calls = httpx.get(self.servicenow_url + "/_sim/calls", params={"limit": 10_000}, timeout=30).json()
        return sum(1 for c in calls["recent"] if c.get("status") == 429)

    def servicenow_records(self, table: str) -> list[dict[str, Any]]:
        with httpx.Client(base_url=self.servicenow_url, auth=SNOW_ADMIN, timeout=120) as api:
            params = {
                "sysparm_query": "correlation_idSTARTSWITHjira:",
                "sysparm_fields": "sys_id,number,correlation_id,sys_created_on,sys_updated_on,sys_mod_count",
                "sysparm_limit": "100000",
            }
            result: list[dict[str, Any]] = api.get(f"/api/now/table/{table}", params=params).json()["result"]
            return result


@contextlib.contextmanager
def simulators(
    workdir: Path, data: JiraData, shared: Simulators | None = None, *, servicenow_rate_limit: int = 0
) -> Iterator[Simulators]:
    """``shared`` reseeded with ``data``, or simulators of our own for a benchmark run alone."""
    if shared is not None:
        shared.reseed(data, servicenow_rate_limit=servicenow_rate_limit)
        yield shared
        return
    with Simulators(workdir, data, servicenow_rate_limit=servicenow_rate_limit) as own:
        yield own


# -- bridgeline's configuration -----------------------------------------------------------------


def write_config(
    workdir: Path,
    sims: Simulators,
    *,
    database_url: str,
    mappings: Path,
    projects: list[str],
    concurrency: int = 4,
    port: int = 0,
    poll_interval: float = 60.0,
    log_level: str = "warning",
    extra: dict[str, Any] | None = None,
) -> Path:
    """A ``bridgeline.yaml`` pointing at the simulators; connectors allowed ``concurrency`` calls at once."""
    connections = max(8, concurrency)
    values: dict[str, Any] = {
        "database_url": database_url,
        "mappings": [str(mappings)],
        "log_level": log_level,
        "log_format": "json",
        "jira": {
            "url": sims.jira_url,
            "email": JIRA_USER[0],
            "api_token": JIRA_USER[1],
            "projects": projects,
            "webhook_secret": WEBHOOK_SECRET,
            "poll_interval": poll_interval,
            "max_concurrency": connections,
        },
        "servicenow": {
            "url": sims.servicenow_url,
            "username": SNOW_USER[0],
            "password": SNOW_USER[1],
            "poll_interval": poll_interval,
            "max_concurrency": connections,
        },
        "worker": {"concurrency": concurrency, "poll_idle": 1.0},
        # the benchmarks read /metrics on loopback, as a scraper would
        "server": {"host": "127.0.0.1", "port": port or free_port(), "metrics_open": True},
    }
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(values.get(key), dict):
            values[key].update(value)
        else:
            values[key] = value
    path = workdir / "bridgeline.yaml"
    path.write_text(yaml.safe_dump(values, sort_keys=False), encoding="utf-8")
    return path


def release_mapping(folder: Path, projects: list[str]) -> Path:
    """The shipped ``servicenow-release`` mapping, applied to every release of ``projects``.

    Its own filters (open, dated releases of PAY and WEB; stories, bugs and tasks) are lifted, so
    every release becomes a change request and every issue in it a change task; the state is left
    to the CAB (a released version's change would otherwise wait for an approval that never comes).
    """
    folder.mkdir(parents=True, exist_ok=True)
    shipped = yaml.safe_load((ROOT / "mappings" / "servicenow-release.yaml").read_text(encoding="utf-8"))
    shipped["source"]["projects"] = projects
    for key in ("when", "issue_types"):
        shipped["source"].pop(key, None)
    shipped["fields"].pop("state", None)
    shipped.pop("tests", None)
    overrides = {k: v for k, v in (shipped.pop("overrides", None) or {}).items() if k in projects}
    if overrides:
        shipped["overrides"] = overrides
    shipped["metadata"]["name"] = "bench-release"
    (folder / "release.yaml").write_text(yaml.safe_dump(shipped, sort_keys=False), encoding="utf-8")
    return folder
