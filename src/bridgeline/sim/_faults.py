"""Fault injection shared by the simulators: an ASGI middleware with run-time settings.

Faults apply to API paths only; ``/_sim/...`` admin paths are never disturbed. Every knob is a
probability or a duration, drawn from a seeded random generator so chaos runs can be repeated::

    faults = FaultConfig(latency_ms=20, error_rate=0.2, rate_limit_per_second=100)
    app = FaultInjector(inner_app, faults, error_body=jira_error_body)
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass, fields
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# status, message -> (body bytes, content type): each simulator answers in its vendor's error shape
ErrorBody = Callable[[int, str], tuple[bytes, str]]


def plain_error_body(status: int, message: str) -> tuple[bytes, str]:
    return json.dumps({"error": message, "status": status}).encode(), "application/json"


@dataclass
class FaultConfig:
    """Run-time fault settings; all off by default."""

    latency_ms: float = 0.0  # added to every API call
    latency_jitter_ms: float = 0.0  # plus uniform 0..jitter
    error_rate: float = 0.0  # fraction answered with a 5xx (500, 502 or 503)
    rate_limit_per_second: float = 0.0  # token bucket; 0 = unlimited; excess answered 429
    retry_after_seconds: float = 1.0  # Retry-After sent with injected 429/503
    rate_limit_rate: float = 0.0  # fraction answered 429 regardless of the bucket
    timeout_rate: float = 0.0  # fraction that hang for timeout_seconds, then answer 504
    timeout_seconds: float = 30.0
    reset_rate: float = 0.0  # fraction whose connection is dropped without an answer
    seed: int | None = None

    def update(self, values: dict[str, Any]) -> None:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown fault setting(s) {unknown}; known: {sorted(known)}")
        for key, value in values.items():
            if key == "seed":
                self.seed = None if value is None else int(value)
            else:
                setattr(self, key, float(value))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FaultCounters:
    requests: int = 0
    errors: int = 0
    rate_limited: int = 0
    timeouts: int = 0
    resets: int = 0


class FaultInjector:
    """ASGI middleware that disturbs API calls according to a :class:`FaultConfig`."""

    def __init__(
        self,
        app: ASGIApp,
        config: FaultConfig | None = None,
        *,
        error_body: ErrorBody = plain_error_body,
        admin_prefix: str = "/_sim/",
    ) -> None:
        self.app = app
        self.config = config or FaultConfig()
        self.error_body = error_body
        self.admin_prefix = admin_prefix
        self.counters = FaultCounters()
        self._random = random.Random(self.config.seed)
        self._lock = threading.Lock()
        self._stamps: deque[float] = deque()

    def reseed(self) -> None:
        self._random = random.Random(self.config.seed)

    def _draw(self) -> float:
        with self._lock:
            return self._random.random()

    def _over_rate_limit(self) -> bool:
        limit = self.config.rate_limit_per_second
        if limit <= 0:
            return False
        now = time.monotonic()
        with self._lock:
            while self._stamps and now - self._stamps[0] >= 1.0:
                self._stamps.popleft()
            if len(self._stamps) >= limit:
                return True
            self._stamps.append(now)
            return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.admin_prefix):
            await self.app(scope, receive, send)
            return
        cfg = self.config
        self.counters.requests += 1
        if cfg.latency_ms or cfg.latency_jitter_ms:
            delay = cfg.latency_ms + self._draw() * cfg.latency_jitter_ms
            await asyncio.sleep(delay / 1000.0)
        if cfg.reset_rate and self._draw() < cfg.reset_rate:
            self.counters.resets += 1
            await self._drop(send)
            return
        if cfg.timeout_rate and self._draw() < cfg.timeout_rate:
            self.counters.timeouts += 1
            await asyncio.sleep(cfg.timeout_seconds)
            await self._answer(send, 504, "simulated gateway timeout")
            return
        if self._over_rate_limit() or (cfg.rate_limit_rate and self._draw() < cfg.rate_limit_rate):
            self.counters.rate_limited += 1
            await self._answer(send, 429, "Rate limit exceeded", retry_after=cfg.retry_after_seconds)
            return
        if cfg.error_rate and self._draw() < cfg.error_rate:
            self.counters.errors += 1
            status = (500, 502, 503)[int(self._draw() * 3) % 3]
            retry_after = cfg.retry_after_seconds if status == 503 else None
            await self._answer(send, status, "simulated server error", retry_after=retry_after)
            return
        await self.app(scope, receive, send)

    async def _drop(self, send: Send) -> None:
        # An answer cut short: the server closes the connection, the client sees it break mid-response.
        headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"res', "more_body": True})

    async def _answer(
        self, send: Send, status: int, message: str, *, retry_after: float | None = None
    ) -> None:
        body, content_type = self.error_body(status, message)
        headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
        if retry_after is not None:
            headers.append((b"retry-after", str(max(0, round(retry_after))).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
