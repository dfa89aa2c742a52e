"""Jira's own rate limiting: a token bucket per credential, with Jira's headers on every answer.

Cloud answers carry ``X-RateLimit-Limit`` and ``X-RateLimit-Remaining``, plus
``X-RateLimit-NearLimit: true`` once less than 20% of the budget is left; a refused call gets 429
with ``Retry-After`` (seconds), ``X-RateLimit-Reset`` (``yyyy-MM-ddTHH:mmZ``) and
``RateLimit-Reason``. Data Center's bucket also reports ``X-RateLimit-Interval-Seconds`` and
``X-RateLimit-FillRate`` and always sends ``Retry-After`` (0 while tokens are left).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from bridgeline.sim._faults import ASGIApp, Message, Receive, Scope, Send
from bridgeline.sim.jira._errors import jira_error_body

REASONS = ("jira-burst-based", "jira-quota-based", "jira-cost-based", "jira-per-issue-on-write")


@dataclass
class RateLimitConfig:
    """``limit`` tokens per bucket (0: off); ``fill_rate`` come back every ``interval_seconds``."""

    limit: int = 0
    fill_rate: int = 0  # 0: the same as limit
    interval_seconds: float = 1.0
    reason: str = "jira-burst-based"

    def update(self, values: dict[str, Any]) -> None:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown rate-limit setting(s) {unknown}; known: {sorted(known)}")
        for key, value in values.items():
            if key == "reason":
                if value not in REASONS:
                    raise ValueError(f"unknown reason {value!r}; known: {list(REASONS)}")
                self.reason = str(value)
            elif key == "interval_seconds":
                self.interval_seconds = float(value)
            else:
                setattr(self, key, int(value))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Bucket:
    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class JiraRateLimiter:
    """ASGI middleware: ``/rest/`` calls spend tokens; ``/_sim/`` and pages are free."""

    def __init__(self, app: ASGIApp, config: RateLimitConfig, mode: str) -> None:
        self.app = app
        self.config = config
        self.mode = mode
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()
        self.refused = 0

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
            self.refused = 0

    def _take(self, key: str) -> tuple[bool, float, float]:
        """(allowed, tokens left, seconds until the next token)."""
        cfg = self.config
        fill = cfg.fill_rate or cfg.limit
        per_second = fill / cfg.interval_seconds if cfg.interval_seconds > 0 else float(fill)
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(float(cfg.limit), now)
            bucket.tokens = min(float(cfg.limit), bucket.tokens + (now - bucket.stamp) * per_second)
            bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return True, bucket.tokens, 0.0
            self.refused += 1
            wait = (1.0 - bucket.tokens) / per_second if per_second > 0 else cfg.interval_seconds
            return False, bucket.tokens, wait

    def _headers(self, remaining: float, wait: float, refused: bool) -> list[tuple[bytes, bytes]]:
        cfg = self.config
        left = max(0, math.floor(remaining))
        headers = [
            (b"x-ratelimit-limit", str(cfg.limit).encode()),
            (b"x-ratelimit-remaining", str(left).encode()),
        ]
        if self.mode == "datacenter":
            headers.append(
                (b"x-ratelimit-interval-seconds", str(max(1, round(cfg.interval_seconds))).encode())
            )
            headers.append((b"x-ratelimit-fillrate", str(cfg.fill_rate or cfg.limit).encode()))
            headers.append((b"retry-after", str(math.ceil(wait) if refused else 0).encode()))
        elif left < 0.2 * cfg.limit:
            headers.append((b"x-ratelimit-nearlimit", b"true"))
        if refused:
            retry = max(1, math.ceil(wait))
            if self.mode != "datacenter":
                headers.append((b"retry-after", str(retry).encode()))
            reset = datetime.now(UTC) + timedelta(seconds=retry)
            headers.append((b"x-ratelimit-reset", reset.strftime("%Y-%m-%dT%H:%MZ").encode()))
            headers.append((b"ratelimit-reason", cfg.reason.encode()))
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.config.limit <= 0 or not str(scope["path"]).startswith("/rest/"):
            await self.app(scope, receive, send)
            return
        auth = b""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                auth = value
        allowed, remaining, wait = self._take(auth.decode(errors="replace") or "anonymous")
        headers = self._headers(remaining, wait, not allowed)
        if not allowed:
            body, content_type = jira_error_body(429, "Rate limit exceeded.")
            start: Message = {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", content_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                    *headers,
                ],
            }
            await send(start)
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
