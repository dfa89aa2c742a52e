"""`bridgeline run` as a process: it serves and syncs, reloads mappings on SIGHUP, drains on SIGTERM,
logs one JSON line per sync action, and never shows a secret - in logs, pages, APIs or errors."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridgeline.cli import main

from .conftest import support


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


ADMIN_TOKEN = "ops-admin-token-2b8e"


class Process:
    def __init__(self, proc: subprocess.Popen[bytes], url: str, log: Path, token: str = ADMIN_TOKEN) -> None:
        self.proc = proc
        self.url = url
        self.log = log
        self.token = token

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET as an operator (with the admin token)."""
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return httpx.get(self.url + path, timeout=10, headers=headers, **kwargs)

    def wait_for(self, check: Callable[[dict[str, Any]], bool], timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"bridgeline exited early:\n{self.log.read_text()}"
            try:
                last = self.get("/api/status").json()
                if check(last):
                    return last
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"not reached in {timeout}s; last status {last}\n{self.log.read_text()[-3000:]}")

    def lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text(encoding="utf-8").splitlines():
            out.append(json.loads(line))  # every line is one JSON object
        return out


@contextmanager
def bridgeline_run(
    config: Path, port: int, env: dict[str, str], log: Path, token: str = ADMIN_TOKEN
) -> Iterator[Process]:
    full = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BRIDGELINE_") or k.startswith("BRIDGELINE_TEST")
    }
    full.update(env)
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bridgeline.cli", "run", "--config", str(config)],
            env=full,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            yield Process(
                proc, f"http://127.0.0.1:{port}", log, env.get("BRIDGELINE_SERVER__ADMIN_TOKEN", token)
            )
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def daemon_config(sims: Any, tmp_path: Path, port: int, **extra: Any) -> Path:
    mappings = tmp_path / "mappings"
    shutil.copytree(support.MAPPINGS, mappings)
    values = support.settings_values(
        sims,
        f"sqlite:///{tmp_path / 'bridgeline.db'}",
        mappings=[str(mappings)],
        jira={"poll_interval": 0.5},
        worker={"poll_idle": 0.1},
        server={"port": port, "admin_token": ADMIN_TOKEN},
        log_format="json",
        **extra,
    )
    return support.write_config(tmp_path, values)


def test_run_serves_reloads_on_sighup_and_finishes_in_flight_work_on_sigterm(
    sims: Any, tmp_path: Path
) -> None:
    port = free_port()
    config = daemon_config(sims, tmp_path, port)
    with bridgeline_run(config, port, {}, tmp_path / "bridgeline.log") as daemon:
        status = daemon.wait_for(lambda s: s["links_total"] == 2 and s["queue"]["pending"] == 0)
        assert daemon.get("/readyz").status_code == 200
        assert 'bridgeline_writes_total{action="create",system="servicenow"}' in daemon.get("/metrics").text

        mapping = tmp_path / "mappings" / "release.yaml"
        mapping.write_text(mapping.read_text().replace('"Release {{', '"Change for release {{'))
        daemon.proc.send_signal(signal.SIGHUP)
        fingerprint = status["mappings"]["fingerprint"]
        reloaded = daemon.wait_for(lambda s: s["mappings"]["fingerprint"] != fingerprint)
        # a broken edit is refused: the previous set stays live, and the refusal is counted
        (tmp_path / "mappings" / "broken.yaml").write_text("apiVersion: bridgeline/v1\nkind: Mapping\n")
        daemon.proc.send_signal(signal.SIGHUP)
        refused = daemon.wait_for(lambda s: s["mappings"]["last_reload"]["ok"] is False)
        assert refused["mappings"]["fingerprint"] == reloaded["mappings"]["fingerprint"]
        assert "broken.yaml" in refused["mappings"]["last_reload"]["error"]
        metrics = daemon.get("/metrics").text
        failures = re.search(r"^bridgeline_mapping_reload_failures_total (\S+)$", metrics, re.M)
        assert failures and float(failures.group(1)) >= 1
        assert daemon.get("/readyz").status_code == 200  # still ready: a valid set is live

        # a release edit that takes a while to sync: Jira answers slowly now
        with httpx.Client(base_url=sims.jira_url) as jira:
            jira.put("/_sim/faults", json={"latency_ms": 500}).raise_for_status()
        sims.set_version_description("10003", "Rolled out in two waves")
        daemon.wait_for(lambda s: s["in_flight"] >= 1)
        daemon.proc.send_signal(signal.SIGTERM)
        draining = daemon.get("/readyz")
        assert draining.status_code == 503 and draining.json()["checks"]["running"]["ok"] is False
        assert daemon.proc.wait(30) == 0

    (change,) = [c for c in sims.change_requests() if c["correlation_id"].endswith(":version:10003")]
    assert change["description"] == "Rolled out in two waves"  # the in-flight work was finished
    assert change["short_description"].startswith("Change for release PAY")  # with the reloaded mapping
    lines = daemon.lines()
    events = [line["event"] for line in lines]
    assert "stopping: no new work is claimed; finishing in-flight work" in events
    assert events[-1] == "bridgeline exited cleanly"
    assert any(e.startswith("SIGHUP: mappings") for e in events)
    created = [line for line in lines if line["event"] == "created"]
    assert created, "one line per sync action"
    for line in created:
        assert {"entity", "mapping", "target", "ms", "timestamp", "level", "logger"} <= set(line)
        assert line["mapping"] == "ops-release" and line["target"].startswith(("CHG", "CTASK"))
    updated = [line for line in lines if line["event"] == "updated"]
    assert any(line["entity"] == "jira:version:10003" and line["fields"] for line in updated)


SECRETS = {
    "jira_token": "jira-tok-Zq8Xw4",
    "snow_password": "snow-pw-Kv3Lp9",
    "admin_token": "admin-tok-Rm5Tn2",
    "jira_hook": "jira-hook-Yb6Hc1",
    "snow_hook": "snow-hook-Ud4Fe7",
}


def forms_of(secrets: dict[str, str]) -> list[str]:
    """Each secret, and the HTTP Basic header values that carry one."""
    basic = [
        base64.b64encode(f"bridgeline@example.com:{secrets['jira_token']}".encode()).decode(),
        base64.b64encode(f"bridgeline.integration:{secrets['snow_password']}".encode()).decode(),
    ]
    return [*secrets.values(), *basic]


def test_no_secret_reaches_logs_pages_apis_or_error_messages(
    sims: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sims.set_jira_token(SECRETS["jira_token"])
    sims.set_servicenow_password(SECRETS["snow_password"])
    port = free_port()
    config = daemon_config(sims, tmp_path, port, log_level="debug")
    token_file = tmp_path / "jira-token"
    token_file.write_text(SECRETS["jira_token"])
    env = {
        "BRIDGELINE_JIRA__API_TOKEN_FILE": str(token_file),
        "BRIDGELINE_SERVICENOW__PASSWORD": SECRETS["snow_password"],
        "BRIDGELINE_SERVER__ADMIN_TOKEN": SECRETS["admin_token"],
        "BRIDGELINE_JIRA__WEBHOOK_SECRET": SECRETS["jira_hook"],
        "BRIDGELINE_SERVICENOW__WEBHOOK_SECRET": SECRETS["snow_hook"],
    }
    seen: list[str] = []
    with bridgeline_run(config, port, env, tmp_path / "bridgeline.log") as daemon:
        daemon.wait_for(lambda s: s["links_total"] == 2 and s["queue"]["pending"] == 0)
        bearer = {"Authorization": f"Bearer {SECRETS['admin_token']}"}
        assert daemon.get("/readyz").status_code == 200
        # the CAB's integration user loses its password: the next write is refused for good
        sims.set_servicenow_password("rotated-elsewhere")
        sims.set_version_description("10003", "A change that cannot be written")
        daemon.wait_for(lambda s: s["queue"]["dead"] >= 1)
        # and Jira's token is revoked: polls fail, readiness says so
        sims.set_jira_token("revoked-and-replaced")
        time.sleep(1.0)
        for path in ("/status", "/api/status", "/readyz", "/metrics", "/api/dead-letters", "/status/preview"):
            seen.append(daemon.get(path).text)  # everything an operator sees
            seen.append(httpx.get(daemon.url + path, timeout=10).text)  # and what a stranger is told
        (dead,) = daemon.get("/api/status").json()["dead_letters"]
        assert "401" in dead["error"]
        replay = httpx.post(
            f"{daemon.url}/api/dead-letters/{dead['entity']}/replay", headers=bearer, timeout=10
        )
        seen.append(replay.text)
        assert replay.status_code == 200
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(30) == 0
    log = daemon.log.read_text(encoding="utf-8")
    assert '"level": "debug"' in log and "poll failed" in log
    seen.append(log)

    env_config = {**env}
    for name, value in env_config.items():
        os.environ[name] = value
    try:
        code = main(["config", "check", "--config", str(config), "--timeout", "5"])
    finally:
        for name in env_config:
            del os.environ[name]
    report = capsys.readouterr().out
    assert code == 1 and "credentials refused (401)" in report
    seen.append(report)

    everything = "\n".join(seen)
    for secret in forms_of(SECRETS):
        assert secret not in everything, f"{secret!r} leaked"


REFLECTED = "snow-pw-Refl3ct-Wd82-Hq61"


class Reflecting:
    """A ServiceNow that refuses every change_request call and quotes the password it was sent,
    placed so that a cut of the answer at 500 characters falls inside it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and "/change_request" in scope["path"]:
            body = ("." * 492 + REFLECTED + " is not the password of bridgeline.integration").encode()
            headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 401, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def test_a_secret_reflected_in_a_remote_error_is_masked_everywhere_the_error_is_shown(
    sims: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bridgeline.log import MIN_CUT_SECRET
    from bridgeline.sim import ServedApp
    from bridgeline.store import Store

    port = free_port()
    with ServedApp(Reflecting(sims.snow.app)) as snow:
        config = daemon_config(sims, tmp_path, port, servicenow={"url": snow.url, "password": REFLECTED})
        shown: dict[str, str] = {}
        with bridgeline_run(config, port, {}, tmp_path / "bridgeline.log") as daemon:
            status = daemon.wait_for(
                lambda s: s["queue"]["dead"] >= 1 and any(c["system"] == "servicenow" for c in s["checks"])
            )
            entity = status["dead_letters"][0]["entity"]
            shown["/api/status"] = json.dumps(status)
            for path in ("/readyz", "/status", "/api/dead-letters"):
                shown[path] = daemon.get(path).text
            daemon.proc.send_signal(signal.SIGTERM)
            assert daemon.proc.wait(30) == 0
        shown["logs"] = daemon.log.read_text(encoding="utf-8")

        async def last_error() -> str:
            store = await Store.open(f"sqlite:///{tmp_path / 'bridgeline.db'}", migrate=False)
            try:
                row = await store.inbox_row(entity)
                assert row is not None and row.last_error
                return row.last_error
            finally:
                await store.close()

        shown["last_error"] = asyncio.run(last_error())
        assert main(["dlq", "show", entity, "--config", str(config)]) == 0
        shown["dlq show"] = capsys.readouterr().out
    for where, text in shown.items():
        assert "is not the password" not in text or "***" in text, where
        assert REFLECTED[:MIN_CUT_SECRET] not in text, f"the start of the secret reached {where}"
    # the error did reach each of them, masked
    for where in ("/api/status", "/readyz", "/status", "/api/dead-letters", "logs", "last_error", "dlq show"):
        assert "401" in shown[where] and "***" in shown[where], where


@pytest.mark.parametrize("after", ["first log line", "bridgeline running"])
def test_a_stop_while_starting_is_a_clean_stop(sims: Any, tmp_path: Path, after: str) -> None:
    """SIGTERM in the first moments (systemd stopping a unit that just started, a rollout replacing a
    pod) ends the daemon with 0 like any stop, not by the signal."""
    port = free_port()
    config = daemon_config(sims, tmp_path, port)
    log_file = tmp_path / "bridgeline.log"
    with bridgeline_run(config, port, {}, log_file) as daemon:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = log_file.read_text(encoding="utf-8") if log_file.exists() else ""
            if (after == "first log line" and text.strip()) or f'"{after}"' in text:
                break
            assert daemon.proc.poll() is None, text
            time.sleep(0.005)
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(60) == 0, log_file.read_text()
    assert daemon.lines()[-1]["event"] == "bridgeline exited cleanly"
