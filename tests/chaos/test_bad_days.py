"""Bad days lose nothing: PostgreSQL away for thirty seconds under a running daemon (a TCP proxy
between them is cut, so no other test notices), a full disk under SQLite, a database file that
cannot be written."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml

from bridgeline.errors import RetryableError
from bridgeline.model import EntityRef, Event
from bridgeline.store import Store

from .conftest import SmallWorld, harness

proxy_module = harness.load_sibling("proxy")
running = harness.load_sibling("running")
world_module = harness.load_sibling("world")
MAPPINGS = Path(__file__).parent / "mappings"
OUTAGE_SECONDS = 30.0


def _delivery(issue_id: str, key: str, version_id: str) -> bytes:
    issue = {"id": issue_id, "key": key, "fields": {"fixVersions": [{"id": version_id}]}}
    return json.dumps({"webhookEvent": "jira:issue_updated", "timestamp": 1, "issue": issue}).encode()


def _rename(world: SmallWorld, version_id: str, name: str) -> None:
    with world.jira.state.lock:
        world.jira.state.versions[int(version_id)].name = name


def _named(world: SmallWorld, version_id: str) -> str:
    [change] = [c for c in world.change_requests() if c["correlation_id"].endswith(f":version:{version_id}")]
    return change["short_description"]


@dataclass
class Outage:
    """A replica synced through a TCP proxy to PostgreSQL that the test can cut."""

    proxy: Any
    daemon: Any
    url: str
    versions: list[str]


@contextlib.contextmanager
def _through_a_proxy(postgres_url: str, small_world: SmallWorld, tmp_path: Path) -> Iterator[Outage]:
    """A replica whose database connections pass a proxy, started and done with the first sync;
    afterwards whatever the world still holds is let go and the replica is surely gone."""
    direct = sa.engine.make_url(postgres_url)
    with proxy_module.CuttableProxy((direct.host or "127.0.0.1", direct.port or 5432)) as proxy:
        through = direct.set(
            host="127.0.0.1", port=proxy.port, query={**direct.query, "connect_timeout": "2"}
        )
        port = harness.free_port()
        values = small_world.values(
            through.render_as_string(hide_password=False),
            MAPPINGS,
            server={"port": port},
            worker={"lease_seconds": 2.0, "poll_idle": 0.2, "max_attempts": 8},
            log_format="json",
        )
        config = tmp_path / "bridgeline.yaml"
        config.write_text(yaml.safe_dump(values), encoding="utf-8")
        daemon = harness.Replica("replica", config, tmp_path / "daemon.log")
        versions = [v["id"] for v in small_world.versions()]
        try:
            daemon.start()
            assert world_module.wait(lambda: len(small_world.change_requests()) == len(versions), 60), (
                daemon.tail()
            )
            yield Outage(proxy, daemon, f"http://127.0.0.1:{port}", versions)
        finally:
            small_world.snow_gate.opened.set()
            daemon.ensure_dead()


@pytest.mark.slow
@pytest.mark.postgres
def test_postgresql_away_for_thirty_seconds_loses_no_acknowledged_event(
    postgres_url: str, small_world: SmallWorld, tmp_path: Path
) -> None:
    with _through_a_proxy(postgres_url, small_world, tmp_path) as outage:
        proxy, daemon, url, versions = outage.proxy, outage.daemon, outage.url, outage.versions
        assert _ready(url) is True

        # acknowledged just before the outage, and in flight when the database goes
        first, second = versions[0], versions[1]
        _rename(small_world, first, "renamed before the outage")
        small_world.snow_gate.hold("PATCH", "/api/now/table/change_request/")
        response = httpx.post(url + "/webhooks/jira", content=_delivery("1", "PAY-1", first), timeout=10)
        assert response.status_code == 202, response.text
        assert small_world.snow_gate.waiting.wait(20), daemon.tail()
        cut_at = time.monotonic()
        proxy.cut()
        small_world.snow_gate.opened.set()  # the update lands in ServiceNow; recording it cannot

        assert world_module.wait(lambda: _ready(url) is False, 15, every=0.2), daemon.tail()
        _rename(small_world, second, "renamed during the outage")
        refused = httpx.post(url + "/webhooks/jira", content=_delivery("2", "PAY-2", second), timeout=10)
        assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0  # Jira retries
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - cut_at)))
        assert daemon.proc is not None and daemon.proc.poll() is None  # it waited, it did not die

        proxy.restore()
        assert world_module.wait(lambda: _ready(url) is True, 30, every=0.2), daemon.tail()
        retried = httpx.post(url + "/webhooks/jira", content=_delivery("2", "PAY-2", second), timeout=10)
        assert retried.status_code == 202, retried.text
        assert world_module.wait(
            lambda: (
                _named(small_world, first) == "Release PAY renamed before the outage"
                and _named(small_world, second) == "Release PAY renamed during the outage"
            ),
            60,
        ), daemon.tail()
        # it leads again once the database is back (its next campaign after the old session ended)
        assert world_module.wait(lambda: _terms(daemon) >= 2, 30, every=0.2), daemon.tail()
        assert daemon.stop() == 0, daemon.tail()
    events = [str(line.get("event", "")) for line in daemon.lines()]
    assert any(e.startswith("leadership lost") for e in events)  # its lock's connection broke ...
    assert len(small_world.change_requests()) == len(versions)  # nothing created twice


@pytest.mark.slow
@pytest.mark.postgres
def test_a_stop_while_postgresql_is_away_is_a_clean_stop(
    postgres_url: str, small_world: SmallWorld, tmp_path: Path
) -> None:
    """SIGTERM during an outage: in-flight work cannot be recorded (its claims return when their
    leases end), leadership cannot be handed back; the stop is still the normal one, exit 0."""
    with _through_a_proxy(postgres_url, small_world, tmp_path) as outage:
        proxy, daemon, url, versions = outage.proxy, outage.daemon, outage.url, outage.versions
        small_world.snow_gate.hold("PATCH", "/api/now/table/change_request/")
        _rename(small_world, versions[0], "renamed before the stop")
        response = httpx.post(
            url + "/webhooks/jira", content=_delivery("1", "PAY-1", versions[0]), timeout=10
        )
        assert response.status_code == 202, response.text
        assert small_world.snow_gate.waiting.wait(20), daemon.tail()
        proxy.cut()
        assert world_module.wait(lambda: _ready(url) is False, 15, every=0.2), daemon.tail()
        small_world.snow_gate.opened.set()
        assert daemon.stop() == 0, daemon.tail()
    assert "Traceback" not in daemon.tail(100_000)


@pytest.mark.slow
def test_a_stop_lets_a_running_poll_finish_instead_of_cancelling_it(
    database_url: str, small_world: SmallWorld, tmp_path: Path
) -> None:
    """A poll in flight when SIGTERM comes stores what it found; it is not torn down mid-query."""
    port = harness.free_port()
    values = small_world.values(database_url, MAPPINGS, server={"port": port}, log_format="json")
    config = tmp_path / "bridgeline.yaml"
    config.write_text(yaml.safe_dump(values), encoding="utf-8")
    daemon = harness.Replica("replica", config, tmp_path / "daemon.log")
    versions = [v["id"] for v in small_world.versions()]
    try:
        daemon.start()
        assert world_module.wait(lambda: len(small_world.change_requests()) == len(versions), 60), (
            daemon.tail()
        )
        small_world.snow_gate.hold("GET", "/api/now/table/change_request")  # the way-back poller's read
        assert small_world.snow_gate.waiting.wait(20), daemon.tail()
        assert daemon.proc is not None
        daemon.proc.send_signal(signal.SIGTERM)
        assert world_module.wait(lambda: "stopping" in _events(daemon), 20, every=0.05), daemon.tail()
        small_world.snow_gate.opened.set()
        assert daemon.exited() == 0, daemon.tail()  # the one SIGTERM above: daemon.stop() would be a second
    finally:
        small_world.snow_gate.opened.set()
        daemon.ensure_dead()
    bad = [line for line in daemon.lines() if line.get("level") in ("error", "critical")]
    assert not bad, bad


def _events(daemon: Any) -> str:
    return " ".join(str(line.get("event", "")) for line in daemon.lines())


def _terms(daemon: Any) -> int:
    """How often the replica became the leader so far."""
    return sum(str(line.get("event", "")).startswith("leading:") for line in daemon.lines())


def _ready(url: str) -> bool | None:
    try:
        response = httpx.get(url + "/readyz", timeout=5)
    except httpx.TransportError:
        return None
    if response.status_code == 503:
        assert response.json()["checks"]["database"]["ok"] is False or not response.json()["ready"]
    return response.status_code == 200


# -- SQLite on a full disk -------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB filesystem (tmpfs), where mounting is allowed."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def test_sqlite_on_a_full_disk_refuses_with_a_clear_error_and_keeps_what_it_acknowledged(
    tiny_disk: Path, small_world: SmallWorld
) -> None:
    database_url = f"sqlite:///{tiny_disk / 'bridgeline.db'}"
    with running.Running(small_world.settings(database_url, MAPPINGS)) as bridgeline:
        webhook = bridgeline.url + "/webhooks/jira"
        assert httpx.post(webhook, content=_delivery("1", "PAY-1", "10004"), timeout=10).status_code == 202
        filler = _fill(tiny_disk)
        refused = httpx.post(webhook, content=_delivery("2", "PAY-2", "10005"), timeout=10)
        assert refused.status_code == 503 and refused.headers["Retry-After"]
        with pytest.raises(RetryableError, match="the database disk is full: free space where the database"):
            bridgeline.call(bridgeline.service.store.enqueue([Event(EntityRef("jira", "version", "10006"))]))
        filler.unlink()
        assert httpx.post(webhook, content=_delivery("2", "PAY-2", "10005"), timeout=10).status_code == 202
        assert {"jira:version:10004", "jira:version:10005"} <= bridgeline.pending()


def test_starting_on_a_full_disk_says_so_instead_of_a_traceback(tiny_disk: Path) -> None:
    _fill(tiny_disk)
    env = {**os.environ, "BRIDGELINE_DATABASE_URL": f"sqlite:///{tiny_disk / 'bridgeline.db'}"}
    done = subprocess.run(
        [sys.executable, "-m", "bridgeline.cli", "db", "upgrade"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 1
    assert "the database disk is full: free space where the database lives" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_database_file_that_cannot_be_written_is_reported_as_such(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("file permissions do not bind root")
    path = tmp_path / "bridgeline.db"

    async def go() -> None:
        store = await Store.open(f"sqlite:///{path}")
        await store.close()
        path.chmod(0o444)
        store = await Store.open(f"sqlite:///{path}", migrate=False)
        try:
            with pytest.raises(RetryableError, match=r"database unavailable \(sqlite:///.*readonly"):
                await store.enqueue([Event(EntityRef("jira", "version", "1"))])
        finally:
            await store.close()

    asyncio.run(go())
