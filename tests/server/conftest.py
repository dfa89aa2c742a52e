"""The daemon's HTTP side served in the test's own loop on a loopback port, against the simulators."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridgeline.config import settings_from_values
from bridgeline.daemon import listen, serve_service
from bridgeline.server.health import ConnectorHealth
from bridgeline.sync.service import Service


def _load_support() -> Any:
    name = "bridgeline_ops_support"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).parent.parent / "ops" / "support.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


support = _load_support()
Sims = support.Sims


@dataclass
class Daemon:
    url: str
    service: Service
    sims: Any
    stop: asyncio.Event
    task: asyncio.Task[None]

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=10, follow_redirects=True, **kwargs)

    async def wait_for(
        self, check: Callable[[dict[str, Any]], bool], timeout: float = 15.0
    ) -> dict[str, Any]:
        """Poll /api/status until ``check`` holds; the status that satisfied it."""
        deadline = asyncio.get_running_loop().time() + timeout
        async with self.client() as http:
            while True:
                status: dict[str, Any] = (await http.get("/api/status")).json()
                if check(status):
                    return status
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"condition not reached in {timeout}s; last status: {status}")
                await asyncio.sleep(0.1)

    async def synced(self, links: int = 2) -> dict[str, Any]:
        return await self.wait_for(
            lambda s: (
                s["links_total"] >= links
                and s["queue"]["pending"] == 0
                and s["in_flight"] == 0
                and all(c["lag_seconds"] is not None for c in s["connectors"])
            )
        )


@pytest.fixture
def sims() -> Iterator[Any]:
    with support.served_sims() as served:
        yield served


@pytest.fixture
async def start_daemon(sims: Any, tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Daemon]]]:
    """Start the real service and server; ``health_ttl`` 0 re-checks the systems on every probe."""
    running: list[Daemon] = []

    async def start(*, health_ttl: float = 30.0, **extra: Any) -> Daemon:
        extra.setdefault("jira", {"poll_interval": 0.5})
        extra.setdefault("worker", {"poll_idle": 0.1})
        values = support.settings_values(sims, f"sqlite:///{tmp_path / 'bridgeline.db'}", **extra)
        settings = settings_from_values(values)
        service = await Service.start(settings)
        sock = listen("127.0.0.1", 0)
        port = sock.getsockname()[1]
        stop = asyncio.Event()
        listening = asyncio.Event()
        health = ConnectorHealth(settings, ttl=health_ttl)
        task = asyncio.create_task(
            serve_service(
                service, "127.0.0.1", port, stop=stop, sock=sock, health=health, on_listening=listening
            )
        )
        await asyncio.wait_for(listening.wait(), 10)
        daemon = Daemon(f"http://127.0.0.1:{port}", service, sims, stop, task)
        running.append(daemon)
        return daemon

    yield start
    for daemon in running:
        daemon.stop.set()
        await asyncio.wait_for(daemon.task, 15)
        await daemon.service.aclose()
