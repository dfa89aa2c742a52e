"""Outbound notifications: what the example Business Rule in ``integrations/servicenow/`` sends.

After each insert, update or delete of a change request or change task by anyone but the
integration user, the simulator POSTs a small JSON document to the registered URL::

    {"table": "change_request", "sys_id": "...", "number": "CHG0030007", "operation": "update",
     "sys_mod_count": "4", "sys_updated_on": "2025-03-01 10:00:00", "sys_updated_by": "alex.mercer"}

signed with ``X-Bridgeline-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`` or carrying
``Authorization: Bearer <token>``, and ``X-Bridgeline-Delivery: <uuid>`` (stable across retries).
Deliveries go out from a background thread, in order, and are retried with backoff on failure.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from bridgeline.sim.servicenow._settings import SimSettings


@dataclass
class OutboundTarget:
    url: str
    secret: str | None = None
    token: str | None = None
    skip_user: str | None = "bridgeline.integration"
    verify: bool | str = True

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OutboundTarget:
        unknown = sorted(set(data) - {"url", "secret", "token", "skip_user", "verify"})
        if unknown:
            raise ValueError(f"unknown outbound setting(s) {unknown}")
        url = data.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError("outbound registration needs a 'url' starting with http:// or https://")
        return cls(
            url=url,
            secret=data.get("secret"),
            token=data.get("token"),
            skip_user=data.get("skip_user", "bridgeline.integration"),
            verify=data.get("verify", True),
        )

    def public(self) -> dict[str, Any]:
        shown = asdict(self)
        shown["secret"] = "********" if self.secret else None
        shown["token"] = "********" if self.token else None
        return shown


@dataclass
class Delivery:
    id: str
    payload: dict[str, Any]
    body: bytes
    attempts: int = 0
    status: str = "pending"  # pending | delivered | failed
    last_status: int | None = None
    last_error: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "payload": self.payload,
            "attempts": self.attempts,
            "status": self.status,
            "last_status": self.last_status,
            "last_error": self.last_error,
        }


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Outbound:
    """The queue of notifications and the thread that delivers them."""

    def __init__(self, settings: SimSettings) -> None:
        self.settings = settings
        self.target: OutboundTarget | None = None
        self._cond = threading.Condition()
        self._queue: list[tuple[float, int, Delivery]] = []
        self._order = itertools.count()
        self._in_flight = 0
        self._thread: threading.Thread | None = None
        self._stop = False
        self.recent: deque[Delivery] = deque(maxlen=500)
        self.counters = {"queued": 0, "delivered": 0, "failed": 0, "skipped": 0, "attempts": 0}

    def register(self, target: OutboundTarget | None) -> None:
        with self._cond:
            self.target = target

    def notify(self, table: str, row: dict[str, str], operation: str, acting_user: str) -> None:
        with self._cond:
            target = self.target
            if target is None:
                return
            if target.skip_user and acting_user == target.skip_user:
                self.counters["skipped"] += 1
                return
            payload = {
                "table": table,
                "sys_id": row.get("sys_id", ""),
                "number": row.get("number", ""),
                "operation": operation,
                "sys_mod_count": row.get("sys_mod_count", "0"),
                "sys_updated_on": row.get("sys_updated_on", ""),
                "sys_updated_by": acting_user if operation == "delete" else row.get("sys_updated_by", ""),
            }
            body = json.dumps(payload, separators=(",", ":")).encode()
            delivery = Delivery(str(uuid.uuid4()), payload, body)
            heapq.heappush(self._queue, (time.monotonic(), next(self._order), delivery))
            self.recent.append(delivery)
            self.counters["queued"] += 1
            self._ensure_thread()
            self._cond.notify_all()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop = False
            self._thread = threading.Thread(target=self._run, name="servicenow-outbound", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        clients: dict[str, httpx.Client] = {}
        try:
            while True:
                with self._cond:
                    while not self._stop and (not self._queue or self._queue[0][0] > time.monotonic()):
                        wait = None if not self._queue else max(0.0, self._queue[0][0] - time.monotonic())
                        self._cond.wait(wait)
                    if self._stop:
                        return
                    _, _, delivery = heapq.heappop(self._queue)
                    target = self.target
                    self._in_flight += 1
                try:
                    if target is not None:
                        key = repr(target.verify)
                        if key not in clients:
                            clients[key] = httpx.Client(
                                verify=target.verify, timeout=self.settings.outbound_timeout_seconds
                            )
                        self._attempt(clients[key], target, delivery)
                    else:
                        delivery.status, delivery.last_error = "failed", "outbound registration removed"
                finally:
                    with self._cond:
                        self._in_flight -= 1
                        self._cond.notify_all()
        finally:
            for client in clients.values():
                client.close()

    def _attempt(self, client: httpx.Client, target: OutboundTarget, delivery: Delivery) -> None:
        headers = {
            "Content-Type": "application/json",
            "X-Bridgeline-Delivery": delivery.id,
            "User-Agent": "ServiceNow/RESTMessageV2 (bridgeline simulator)",
        }
        if target.secret:
            headers["X-Bridgeline-Signature"] = signature(target.secret, delivery.body)
        if target.token:
            headers["Authorization"] = f"Bearer {target.token}"
        delivery.attempts += 1
        self.counters["attempts"] += 1
        try:
            response = client.post(target.url, content=delivery.body, headers=headers)
            delivery.last_status, delivery.last_error = response.status_code, None
            ok = 200 <= response.status_code < 300
        except httpx.HTTPError as exc:
            delivery.last_status, delivery.last_error = None, f"{type(exc).__name__}: {exc}"
            ok = False
        delivery.history.append(
            {"attempt": delivery.attempts, "status": delivery.last_status, "error": delivery.last_error}
        )
        with self._cond:
            if ok:
                delivery.status = "delivered"
                self.counters["delivered"] += 1
            elif delivery.attempts >= self.settings.outbound_max_attempts:
                delivery.status = "failed"
                self.counters["failed"] += 1
            else:
                backoff = self.settings.outbound_backoff_seconds * 2 ** (delivery.attempts - 1)
                heapq.heappush(self._queue, (time.monotonic() + backoff, next(self._order), delivery))

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + self._in_flight

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued notification is delivered or has failed for good."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
            return True

    def status(self) -> dict[str, Any]:
        with self._cond:
            return {
                "target": self.target.public() if self.target else None,
                "pending": len(self._queue) + self._in_flight,
                "counters": dict(self.counters),
                "deliveries": [d.public() for d in list(self.recent)[-50:]],
            }

    def reset(self) -> None:
        with self._cond:
            self.target = None
            self._queue.clear()
            self.recent.clear()
            self.counters = dict.fromkeys(self.counters, 0)
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
