"""bridgeline's service and HTTP server in a thread of their own, on a loopback port (imported by path).

Tests stay plain functions that talk HTTP to it and run its coroutines with :meth:`Running.call`.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvicorn

from bridgeline.config import Settings
from bridgeline.server import create_app
from bridgeline.sync.service import Service

T = TypeVar("T")


class Running:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="bridgeline", daemon=True)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> Running:
        self._thread.start()
        self.service = self.call(Service.start(self.settings))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(create_app(self.service), lifespan="off", log_config=None, access_log=False)
        self.server = uvicorn.Server(config)
        self._serving = asyncio.run_coroutine_threadsafe(self.server.serve(sockets=[sock]), self.loop)
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "bridgeline's server did not start"
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._serving.result(10)
        self.call(self.service.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def pending(self) -> set[str]:
        rows = self.call(self.service.store.inbox_rows(state="pending", limit=100_000))
        return {r.entity for r in rows}
