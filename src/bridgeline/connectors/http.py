"""The one HTTP client every connector uses: pooling, timeouts, retries, rate limits, metrics.

::

    client = HttpClient("jira", "https://example.atlassian.net", auth=httpx.BasicAuth(email, token))
    resp = await client.request("GET", "/rest/api/3/serverInfo", endpoint="/rest/api/3/serverInfo")

Retries (tenacity, jittered exponential backoff) cover connection failures, timeouts, 5xx and
429; ``Retry-After`` is honoured, and ``X-RateLimit-NearLimit`` slows the client down before the
server starts refusing. Other 4xx are never retried. A request that is not idempotent (a create)
is retried only when the server provably did not act on it (429, 503, connection refused);
otherwise the error surfaces with ``maybe_applied=True`` so the caller can look before retrying.

Errors (see :mod:`bridgeline.errors`): :class:`RateLimited` / :class:`RetryableError` after the
retries are spent, :class:`AuthenticationFailed` (401/403), :class:`NotFound` (404),
:class:`RemoteRejected` (other 4xx), each with the remote system's own message.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import re
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception
from tenacity.wait import wait_random_exponential

from bridgeline import metrics
from bridgeline.errors import (
    AuthenticationFailed,
    BridgelineError,
    ConfigError,
    NotFound,
    PermanentError,
    RateLimited,
    RemoteRejected,
    RemoteUnavailable,
)
from bridgeline.log import get_logger, shorten

log = get_logger("bridgeline.http")

KEEPALIVE_EXPIRY = 4.0

# response -> (message, details): each system states its errors its own way
ErrorParser = Callable[[httpx.Response], tuple[str, Any]]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one call tries before its error reaches the engine."""

    attempts: int = 5
    initial: float = 0.5
    maximum: float = 30.0
    total: float = 120.0  # give up on one call after this many seconds of retrying
    max_retry_after: float = 60.0  # a longer Retry-After goes to the engine's backoff instead
    # Refusals by a rate limit (the server said when to come back) are waited out, not counted as
    # attempts: a busy limit refuses many calls in a row. None: 30, or none without retries.
    rate_limited_attempts: int | None = None

    def refusals(self) -> int:
        """How many rate-limit refusals one call waits out before its error reaches the engine."""
        if self.rate_limited_attempts is not None:
            return self.rate_limited_attempts
        return 1 if self.attempts <= 1 else max(30, self.attempts)


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def default_error_parser(response: httpx.Response) -> tuple[str, Any]:
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return (shorten(text, 500) or response.reason_phrase), None
    return shorten(str(body), 500), body


def tls_verification(system: str, verify: bool | str) -> bool | ssl.SSLContext:
    """``verify`` as httpx takes it: a CA bundle file (or a folder of them) becomes a context."""
    if isinstance(verify, bool):
        return verify
    try:
        if os.path.isdir(verify):
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{system}.verify: no usable CA bundle at {verify!r}: {exc}") from None


def _tls_problem(exc: BaseException) -> str | None:
    """The certificate complaint behind a failed connect, if that is what it was."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen.verify_message or str(seen)
        if isinstance(seen, ssl.SSLError):
            return seen.reason or str(seen)
        seen = seen.__cause__ or seen.__context__
    return None


_ID_SEGMENT = re.compile(r"^(\d{3,}|[0-9a-f]{32}|[A-Z][A-Z0-9]+-\d+|[A-Z]{2,}\d{5,})$")


def endpoint_template(path: str) -> str:
    """``/rest/api/3/issue/PAY-12/comment`` -> ``/rest/api/3/issue/{id}/comment`` (bounded labels)."""
    return "/".join("{id}" if _ID_SEGMENT.match(seg) else seg for seg in path.split("?")[0].split("/"))


class _Pacer:
    """Spaces calls out: a requests-per-second ceiling, plus pauses asked for by the server."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._next = 0.0
        self._pause_until = 0.0
        self._lock = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        self._pause_until = max(self._pause_until, time.monotonic() + seconds)

    async def wait(self) -> None:
        if not self.interval and self._pause_until <= time.monotonic():
            return
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next, self._pause_until)
            self._next = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)


class HttpClient:
    """A pooled, retrying, rate-limited async HTTP client for one remote system."""

    def __init__(
        self,
        system: str,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
        max_concurrency: int = 8,
        requests_per_second: float = 0.0,
        retry: RetryPolicy | None = None,
        verify: bool | str = True,
        proxy: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        error_parser: ErrorParser = default_error_parser,
        near_limit_pause: float = 1.0,
    ) -> None:
        self.system = system
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.error_parser = error_parser
        self.near_limit_pause = near_limit_pause
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._pacer = _Pacer(requests_per_second)
        # An idle connection is given up after 4 s, before the servers most often met close theirs
        # (5 s: uvicorn, Apache, many load balancers): reusing one the server is closing at that
        # moment costs a failed request.
        limits = httpx.Limits(
            max_connections=max_concurrency,
            max_keepalive_connections=max_concurrency,
            keepalive_expiry=KEEPALIVE_EXPIRY,
        )
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            auth=auth,
            headers={"Accept": "application/json", "User-Agent": "bridgeline", **(headers or {})},
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            limits=limits,
            verify=tls_verification(system, verify),
            proxy=proxy,
            transport=transport,
            follow_redirects=False,
        )
        self.calls = 0  # every attempt sent, for tests and benchmarks

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        data: Any = None,
        content: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        endpoint: str | None = None,
        idempotent: bool | None = None,
        ok: Iterable[int] = (),
    ) -> httpx.Response:
        """Send a request with retries; return the response (2xx, or a status listed in ``ok``)."""
        method = method.upper()
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")
        label = endpoint or endpoint_template(path)
        allowed = set(ok)

        def retryable(exc: BaseException) -> bool:
            if isinstance(exc, RateLimited):
                return (exc.retry_after or 0) <= self.retry.max_retry_after
            if isinstance(exc, RemoteUnavailable):
                return idempotent or not exc.maybe_applied
            return False

        failed = refused = 0

        def give_up(rs: RetryCallState) -> bool:
            nonlocal failed, refused
            exc = rs.outcome.exception() if rs.outcome else None
            if isinstance(exc, RateLimited):
                refused += 1
            else:
                failed += 1
            if failed >= self.retry.attempts or refused >= self.retry.refusals():
                return True
            return (rs.seconds_since_start or 0.0) >= self.retry.total

        retrying = AsyncRetrying(
            stop=give_up,
            wait=self._wait,
            retry=retry_if_exception(retryable),
            reraise=True,
            before_sleep=lambda rs: self._on_retry(method, label, rs),
        )
        async for attempt in retrying:
            with attempt:
                return await self._send(
                    method,
                    path,
                    label,
                    allowed,
                    params=params,
                    json=json,
                    data=data,
                    content=content,
                    headers=headers,
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, rs: RetryCallState) -> float:
        exc = rs.outcome.exception() if rs.outcome else None
        if getattr(exc, "reason", None) == "stale_connection" and rs.attempt_number == 1:
            return 0.0  # the next connection is a fresh one: no reason to wait
        backoff = wait_random_exponential(multiplier=self.retry.initial, max=self.retry.maximum)(rs)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return float(min(retry_after, self.retry.max_retry_after) + min(backoff, 0.25))
        return float(backoff)

    def _on_retry(self, method: str, label: str, rs: RetryCallState) -> None:
        exc = rs.outcome.exception() if rs.outcome else None
        reason = exc.reason if isinstance(exc, RemoteUnavailable) else type(exc).__name__
        metrics.API_RETRIES.labels(self.system, reason).inc()
        quiet = reason == "stale_connection" and rs.attempt_number == 1
        (log.debug if quiet else log.warning)(
            "retrying call",
            system=self.system,
            method=method,
            endpoint=label,
            attempt=rs.attempt_number,
            error=str(exc),
        )

    async def _send(
        self, method: str, path: str, label: str, allowed: set[int], **kwargs: Any
    ) -> httpx.Response:
        await self._pacer.wait()
        started = time.perf_counter()
        status = "error"
        async with self._semaphore:
            self.calls += 1
            try:
                response = await self._client.request(method, path, **kwargs)
                status = str(response.status_code)
            except httpx.HTTPError as exc:
                failure = self._transport_failure(exc, method, label)
                status = failure.reason if isinstance(failure, RemoteUnavailable) else "error"
                raise failure from exc
            finally:
                metrics.API_CALLS.labels(self.system, method, label, status).inc()
                metrics.API_LATENCY.labels(self.system, label, status).observe(time.perf_counter() - started)
        if response.headers.get("x-ratelimit-nearlimit", "").lower() == "true":
            self._pacer.pause(self.near_limit_pause)
        code = response.status_code
        if 200 <= code < 300 or code in allowed:
            return response
        await response.aread()
        message, details = self.error_parser(response)
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        where = f"{method} {label}"
        if code == 429 or (code == 503 and retry_after is not None):
            metrics.API_RATE_LIMITED.labels(self.system).inc()
            wait = retry_after if retry_after is not None else 1.0
            # The limit is the server's, not this call's: every call waits, so the ones in flight do
            # not spend their attempts (and the server's budget) being refused too.
            self._pacer.pause(min(wait, self.retry.max_retry_after))
            raise RateLimited(
                f"{self.system} asked to slow down ({code}, {where}): {message}", retry_after=wait
            )
        if code >= 500 or code in (408, 425):
            raise RemoteUnavailable(
                f"{self.system} failed with {code} ({where}): {message}",
                retry_after=retry_after,
                maybe_applied=code not in (502, 503),
                status=code,
            )
        if code in (401, 403):
            raise AuthenticationFailed(self.system, code, message, method=method, url=label, details=details)
        if code == 404:
            raise NotFound(f"{self.system}: not found ({where}): {message}")
        raise RemoteRejected(self.system, code, message, method=method, url=label, details=details)

    def _transport_failure(self, exc: httpx.HTTPError, method: str, label: str) -> BridgelineError:
        """What a call that got no usable answer means, in bridgeline's terms (every httpx error)."""
        where = f"{method} {label}"
        system = self.system
        if isinstance(exc, httpx.ProxyError):
            # the proxy answered CONNECT with a refusal (403, 407) or could not reach the server
            return RemoteUnavailable(
                f"{system}: the HTTP proxy refused the connection ({where}): {exc}; check HTTPS_PROXY / "
                f"HTTP_PROXY and NO_PROXY, or {system}.proxy",
                reason="proxy",
            )
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
            return ConfigError(
                f"{system}: cannot call {self.base_url}{label}: {exc} (the URL needs https://)"
            )
        if isinstance(exc, httpx.ConnectError):
            tls = _tls_problem(exc)
            if tls is not None:
                return RemoteUnavailable(
                    f"{system}: TLS verification failed ({where}): {tls}; set {system}.verify to the CA "
                    "bundle that signed its certificate (or SSL_CERT_FILE)",
                    reason="tls",
                )
            return RemoteUnavailable(f"{system} unreachable ({where}): {exc}", reason="unreachable")
        if isinstance(exc, httpx.TimeoutException):
            # a connect or pool timeout never reached the server; a read or write timeout may have
            sent = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
            return RemoteUnavailable(
                f"{system} did not answer in time ({where})", maybe_applied=sent, reason="timeout"
            )
        if isinstance(exc, httpx.RemoteProtocolError) and "without sending a response" in str(exc):
            # a kept-alive connection the server had closed meanwhile: an everyday event, not an outage
            return RemoteUnavailable(
                f"{system} closed an idle connection ({where}); sent again on a new one",
                maybe_applied=True,
                reason="stale_connection",
            )
        if isinstance(exc, httpx.LocalProtocolError):
            return PermanentError(f"{system}: the request could not be sent ({where}): {exc}")
        return RemoteUnavailable(
            f"{system} connection broke ({where}): {type(exc).__name__}: {exc}",
            maybe_applied=True,
            reason="connection_broken",
        )

    async def get_json(self, path: str, *, params: Any = None, endpoint: str | None = None) -> Any:
        response = await self.request("GET", path, params=params, endpoint=endpoint)
        return response.json()
