"""``bridgeline run``: the service and its HTTP server in one process, with signal handling.

SIGTERM / SIGINT stop claiming new work, let in-flight work finish, then exit; SIGHUP reloads
the mappings (an invalid set keeps the previous one live).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator

import uvicorn

from bridgeline.config import Settings
from bridgeline.log import configure_logging, get_logger
from bridgeline.server import create_app
from bridgeline.sync.service import Service

log = get_logger("bridgeline.daemon")


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the daemon owns the signals, not uvicorn
        yield


def make_server(service: Service, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(service),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    return _Server(config)


async def serve_service(service: Service, host: str, port: int, *, stop: asyncio.Event | None = None) -> None:
    """Run the service's loops and its HTTP server until ``stop`` (or a signal)."""
    stop = stop or service.stopping
    server = make_server(service, host, port)
    loop = asyncio.get_running_loop()

    def on_stop() -> None:
        log.info("stopping: finishing in-flight work")
        stop.set()
        server.should_exit = True

    installed: list[int] = []
    for sig, handler in (
        (signal.SIGTERM, on_stop),
        (signal.SIGINT, on_stop),
        (signal.SIGHUP, service.reload_mappings),
    ):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, handler)
            installed.append(sig)

    async def watch() -> None:
        await stop.wait()
        server.should_exit = True

    try:
        await asyncio.gather(service.run(stop), server.serve(), watch())
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def run_daemon(settings: Settings) -> int:
    configure_logging(settings.log_level, settings.log_format)
    service = await Service.start(settings)
    try:
        log.info("listening", host=settings.server.host, port=settings.server.port)
        await serve_service(service, settings.server.host, settings.server.port)
    finally:
        await service.aclose()
    return 0
