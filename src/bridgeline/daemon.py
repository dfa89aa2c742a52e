"""``bridgeline run``: the service and its HTTP server in one process, with signal handling.

One asyncio loop runs the scheduler's poll jobs, the workers and uvicorn. SIGTERM / SIGINT stop
claiming new work and make the replica unready; in-flight work finishes (webhooks are still
accepted into the inbox meanwhile), then the server closes and the process exits 0. A second
SIGTERM / SIGINT stops at once: unfinished claims return to the inbox when their lease ends.
SIGHUP reloads the mappings (an invalid set keeps the previous one live).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Coroutine, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
import uvicorn

from bridgeline import notify
from bridgeline.config import ServerSettings, Settings
from bridgeline.errors import ConfigError
from bridgeline.log import configure_logging, get_logger, register_model_secrets, register_secret
from bridgeline.server import create_app
from bridgeline.server.health import ConnectorHealth

if TYPE_CHECKING:
    from fastapi import FastAPI

    from bridgeline.sync.service import Service

log = get_logger("bridgeline.daemon")


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the daemon owns the signals, not uvicorn
        yield


def protect_secrets(settings: Settings) -> None:
    """Teach the redactor every configured secret, including the database password."""
    register_model_secrets(settings)
    with contextlib.suppress(sa.exc.ArgumentError, ValueError):
        register_secret(sa.engine.make_url(settings.database_url).password)


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so a busy port is a clear error, not uvicorn's exit."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)  # from here a client's connection waits in the backlog, never refused
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (server.host / server.port)"
        ) from None
    sock.set_inheritable(True)
    return sock


def make_server(app: FastAPI) -> uvicorn.Server:
    server: ServerSettings = app.state.service.settings.server
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
        server_header=False,
        # X-Forwarded-For / -Proto only from these: the client address limits sign-in attempts
        proxy_headers=True,
        forwarded_allow_ips=server.trusted_proxies,
    )
    return _Server(config)


async def serve_service(
    service: Service,
    host: str,
    port: int,
    *,
    stop: asyncio.Event | None = None,
    health: ConnectorHealth | None = None,
    sock: socket.socket | None = None,
    on_listening: asyncio.Event | None = None,
) -> None:
    """Run the service's loops and its HTTP server until ``stop`` (or a signal), then drain.

    ``sock``: an already bound socket to serve on instead of ``host:port`` (tests bind port 0).
    """
    stop = stop or service.stopping
    health = health or ConnectorHealth(service.settings)
    sock = sock or listen(host, port)
    server = make_server(create_app(service, health=health, stopping=stop))
    loop = asyncio.get_running_loop()
    forced = asyncio.Event()

    def on_stop() -> None:
        if stop.is_set():
            log.warning("second stop signal: stopping now; unfinished work returns when its lease ends")
            forced.set()
            return
        log.info(
            "stopping: no new work is claimed; finishing in-flight work", in_flight=service.worker.in_flight
        )
        stop.set()
        notify.stopping("finishing in-flight work")

    reloads: set[asyncio.Task[None]] = set()

    async def reload() -> None:
        notify.reloading()
        changed = await service.reload_mappings()  # in a worker thread: the loop keeps serving
        last = service.mappings.last
        if last is not None and not last.ok:
            log.error("SIGHUP: the new mappings are invalid; the previous ones stay live")
        else:
            log.info("SIGHUP: mappings reloaded" if changed else "SIGHUP: mappings unchanged")
        notify.ready()

    def on_reload() -> None:
        task = asyncio.create_task(reload(), name="reload")
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    installed: list[signal.Signals] = []
    for sig, handler in ((signal.SIGTERM, on_stop), (signal.SIGINT, on_stop), (signal.SIGHUP, on_reload)):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, handler)
            installed.append(sig)

    server_task = asyncio.create_task(server.serve(sockets=[sock]), name="http")
    run_task = asyncio.create_task(service.run(stop), name="service")
    health_task = asyncio.create_task(health.keep_fresh(stop), name="health")
    forced_task = asyncio.create_task(forced.wait(), name="forced")

    def serving() -> bool:  # it answers HTTP and the service loop runs (its scheduler is up)
        return server.started and service.scheduler is not None

    while not serving() and not (server_task.done() or run_task.done()):
        await asyncio.sleep(0.01)
    if on_listening is not None:
        on_listening.set()
    if serving():
        notify.ready("serving on {}:{}".format(*sock.getsockname()[:2]))
    watchdog_task = asyncio.create_task(notify.keep_alive(), name="watchdog")
    try:
        done, _ = await asyncio.wait(
            {run_task, server_task, forced_task}, return_when=asyncio.FIRST_COMPLETED
        )
        if forced_task in done:
            run_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run_task
        elif server_task in done and not run_task.done():
            log.error("the HTTP server stopped unexpectedly; stopping the service")
            stop.set()
            await run_task
        else:
            run_task.result()  # a crash of the service surfaces here
    finally:
        stop.set()
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await server_task
        for task in (health_task, forced_task, run_task, watchdog_task):
            task.cancel()
        await asyncio.gather(health_task, forced_task, run_task, watchdog_task, return_exceptions=True)
        sock.close()
        for sig in installed:
            loop.remove_signal_handler(sig)


async def run_daemon(settings: Settings) -> int:
    """``bridgeline run``: start everything, serve until stopped, exit 0 after a clean drain."""
    from bridgeline.sync.service import Service

    configure_logging(settings.log_level, settings.log_format)
    protect_secrets(settings)
    # A stop asked for while starting is a clean stop too: caught from the first moment, not only
    # once the server serves (the default action would end the process by the signal, not with 0).
    loop = asyncio.get_running_loop()
    early = asyncio.Event()
    started: list[Service] = []

    def stop_early() -> None:
        early.set()
        for one in started:
            one.stopping.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop_early)
    service = await Service.start(settings, strict=True)
    started.append(service)
    if early.is_set():
        log.info("stopping: asked to stop while starting")
        await service.aclose()
        log.info("bridgeline exited cleanly")
        return 0
    try:
        log.info(
            "listening",
            url=f"http://{settings.server.host}:{settings.server.port}",
            status_page=f"http://{settings.server.host}:{settings.server.port}/status",
        )
        await serve_service(service, settings.server.host, settings.server.port)
    finally:
        await service.aclose()
    log.info("bridgeline exited cleanly")
    return 0


T = TypeVar("T")


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run a long-lived command (``run``, ``backfill``) on uvloop where it is installed (everywhere
    but Windows): its sockets and callbacks cost less CPU than asyncio's own loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(main)
    result: T = uvloop.run(main)
    return result
