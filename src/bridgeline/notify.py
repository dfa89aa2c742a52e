"""systemd's service notifications (``sd_notify``): readiness, reloads, stopping, the watchdog.

Started by systemd with ``Type=notify``, the daemon finds ``$NOTIFY_SOCKET`` (a file system path,
or ``@name`` in the abstract namespace) and sends one datagram of ``KEY=value`` lines per change
of state. Anywhere else every call does nothing, so the daemon calls them unconditionally::

    notify.ready("serving on 0.0.0.0:8080")   # READY=1, STATUS=...
    notify.reloading()                        # RELOADING=1, MONOTONIC_USEC=...
    notify.stopping()                         # STOPPING=1
"""

from __future__ import annotations

import asyncio
import os
import socket
import time

from bridgeline.log import get_logger

log = get_logger("bridgeline.notify")


def _address() -> str | None:
    address = os.environ.get("NOTIFY_SOCKET", "")
    if address.startswith("@"):
        return "\0" + address[1:]
    if address.startswith("/"):
        return address
    return None  # unset, or a kind of socket (vsock:...) a service on this host is not given


def send(*fields: str) -> bool:
    """Send ``fields`` as one notification; False when there is no one to tell or it failed."""
    address = _address()
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)  # a full queue drops the message; it never stalls the loop
            sock.sendto("\n".join(fields).encode(), address)
    except OSError as exc:
        log.warning("cannot notify systemd", socket=os.environ.get("NOTIFY_SOCKET"), error=str(exc))
        return False
    return True


def ready(status: str = "") -> bool:
    return send("READY=1", *([f"STATUS={status}"] if status else []))


def reloading() -> bool:
    # systemd matches the reload to this moment (CLOCK_MONOTONIC, as time.monotonic on Linux)
    return send("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")


def stopping(status: str = "") -> bool:
    return send("STOPPING=1", *([f"STATUS={status}"] if status else []))


def watchdog_interval() -> float | None:
    """Seconds between keep-alives when systemd watches this process (``WatchdogSec=``)."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdecimal() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 1_000_000 / 2  # twice per period, as systemd recommends


async def keep_alive() -> None:
    """``WATCHDOG=1`` from the event loop itself: a loop that stops turning stops the keep-alives,
    and systemd ends and restarts the process."""
    interval = watchdog_interval()
    if interval is None or _address() is None:
        return
    while True:
        send("WATCHDOG=1")
        await asyncio.sleep(interval)
