"""Serve an ASGI app on a loopback port from a background thread (tests, demo, benchmarks).

::

    with serve_in_thread(app) as served:
        httpx.get(served.url + "/rest/api/2/serverInfo")

Port 0 picks a free port; the real one is read back from the bound socket. With ``certfile``
and ``keyfile`` the app is served over TLS (``https://``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from collections.abc import Iterator
from typing import Any

import uvicorn


class ServedApp:
    """An ASGI app running under uvicorn in a daemon thread."""

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        certfile: str | None = None,
        keyfile: str | None = None,
        log_level: str = "warning",
    ) -> None:
        self.app = app
        self.host = host
        # proto=IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted connections; without it every
        # keep-alive answer waits ~40 ms on Nagle's algorithm and the client's delayed ACK.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port: int = self._sock.getsockname()[1]
        self.scheme = "https" if certfile else "http"
        self._config = uvicorn.Config(
            app,
            log_level=log_level,
            access_log=False,
            lifespan="auto",
            ssl_certfile=certfile,
            ssl_keyfile=keyfile,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(self._config)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> ServedApp:
        self._thread = threading.Thread(target=self._run, name=f"sim-{self.port}", daemon=True)
        self._thread.start()
        waited = 0.0
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"server on port {self.port} failed to start")
            if waited > timeout:
                raise TimeoutError(f"server on port {self.port} did not start within {timeout}s")
            threading.Event().wait(0.01)
            waited += 0.01
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._server.serve(sockets=[self._sock]))
        finally:
            loop.close()

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout)
        with contextlib.suppress(OSError):
            self._sock.close()

    def __enter__(self) -> ServedApp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def serve_in_thread(app: Any, **kwargs: Any) -> Iterator[ServedApp]:
    """Context manager form of :class:`ServedApp`."""
    served = ServedApp(app, **kwargs).start()
    try:
        yield served
    finally:
        served.stop()


class _StoppableServer(uvicorn.Server):
    """uvicorn's server with signals of its own: SIGINT or SIGTERM stop it (a second one at once)
    and the process exits normally, whichever uvicorn release is installed (some re-raise the
    signal after the shutdown, ending the process with it)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        def stop(*_: object) -> None:
            if self.should_exit:
                self.force_exit = True
            self.should_exit = True

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve_until_stopped(
    app: Any,
    *,
    host: str,
    port: int,
    log_level: str = "warning",
    certfile: str | None = None,
    keyfile: str | None = None,
    timeout_graceful_shutdown: float = 2,
) -> None:
    """Serve ``app`` in the foreground until Ctrl-C or SIGTERM (``bridgeline sim ...``)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        timeout_graceful_shutdown=int(timeout_graceful_shutdown),
    )
    _StoppableServer(config).run()
