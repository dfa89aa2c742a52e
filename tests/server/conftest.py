"""The daemon's HTTP side served in the test's own loop on a loopback port, against the simulators."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
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


ADMIN_TOKEN = "server-tests-admin-token-5e0b"


@dataclass
class Daemon:
    url: str
    service: Service
    sims: Any
    stop: asyncio.Event
    task: asyncio.Task[None]

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def admin_token(self) -> str | None:
        token = self.service.settings.server.admin_token
        return token.get_secret_value() if token is not None else None

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """A client holding the admin token (an operator's tool)."""
        headers = {"Authorization": f"Bearer {self.admin_token}"} if self.admin_token else {}
        headers.update(kwargs.pop("headers", {}))
        return self.stranger(headers=headers, **kwargs)

    def stranger(self, **kwargs: Any) -> httpx.AsyncClient:
        """A client with no credentials at all (a browser, until it signs in)."""
        kwargs.setdefault("timeout", 10)
        return httpx.AsyncClient(base_url=self.url, follow_redirects=True, **kwargs)

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

    async def start(*, health_ttl: float = 30.0, database_url: str | None = None, **extra: Any) -> Daemon:
        extra.setdefault("jira", {"poll_interval": 0.5})
        extra.setdefault("worker", {"poll_idle": 0.1})
        extra["server"] = {"admin_token": ADMIN_TOKEN, **extra.get("server", {})}
        url = database_url or f"sqlite:///{tmp_path / 'bridgeline.db'}"
        values = support.settings_values(sims, url, **extra)
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


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Wire:
    """One raw HTTP/1.1 connection to the daemon: what a client sends byte by byte, and whether
    the server keeps the connection for the next request or closes it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader = reader
        self.writer = writer
        self.host = host

    @classmethod
    async def open(cls, daemon: Daemon) -> Wire:
        reader, writer = await asyncio.open_connection("127.0.0.1", daemon.port)
        return cls(reader, writer, f"127.0.0.1:{daemon.port}")

    async def send_head(self, method: str, path: str, headers: dict[str, str]) -> None:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await self.writer.drain()

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Answer:
        await self.send_head(method, path, {"Content-Length": str(len(body)), **(headers or {})})
        await self.send(body)
        return await self.answer()

    async def answer(self, timeout: float = 15.0) -> Answer:
        async with asyncio.timeout(timeout):
            status_line = await self.reader.readline()
            if not status_line:
                raise ConnectionError("the server closed the connection without an answer")
            status = int(status_line.split()[1])
            headers: dict[str, str] = {}
            while (line := await self.reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            if "content-length" in headers:
                body = await self.reader.readexactly(int(headers["content-length"]))
            else:
                body = b""
                while (size := int((await self.reader.readline()).strip() or b"0", 16)) > 0:
                    body += await self.reader.readexactly(size)
                    await self.reader.readline()
                await self.reader.readline()
        return Answer(status, headers, body)

    async def server_closes(self, timeout: float = 15.0) -> bytes:
        """Wait until the server closes the connection (TimeoutError if it keeps it); what it sent."""
        async with asyncio.timeout(timeout):
            try:
                return await self.reader.read()
            except ConnectionError:
                return b""

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()
