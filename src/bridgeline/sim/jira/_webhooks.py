"""Webhook deliveries as Jira makes them: signed, retried, and (on request) late, doubled or reordered.

Every change enqueues one delivery per matching registered webhook (its ``events`` list, and for
issue and comment events its JQL filter). A background task in the simulator's event loop posts
them: ``X-Hub-Signature: sha256=<hmac>`` when a secret is set, ``X-Atlassian-Webhook-Identifier``
(the same on every retry and duplicate), ``X-Atlassian-Webhook-Retry`` (on retries only) and
``X-Atlassian-Webhook-Flow``. A receiver answering 408/409/425/429/5xx, timing out or refusing the
connection is retried with exponential back-off. :class:`WebhookOptions` adds what real Jira
sometimes does: late, duplicated and reordered deliveries, and payload quirks seen in the wild.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import hmac
import itertools
import logging
import random
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import httpx

from bridgeline.sim.jira._model import Comment, History, Issue, User, Version
from bridgeline.sim.jira._state import JiraState
from bridgeline.sim.jira._webhook_events import QUIRKS, Change, body_for, payload, targets, url_for

log = logging.getLogger("bridgeline.sim.jira.webhooks")

RETRY_STATUSES = frozenset({408, 409, 425, 429})


@dataclass
class WebhookOptions:
    """How deliveries behave; every knob is off by default except retries."""

    delay_ms: float = 0.0  # every delivery waits this long before its first attempt
    delay_jitter_ms: float = 0.0  # plus uniform 0..jitter
    reorder_window_ms: float = 0.0  # plus uniform 0..window: deliveries overtake each other
    duplicate_rate: float = 0.0  # fraction delivered twice (same identifier)
    quirks: list[str] = field(default_factory=list)  # any of QUIRKS
    max_retries: int = 5
    retry_base_seconds: float = 1.0  # back-off: base * 2**(retry-1), capped
    retry_max_seconds: float = 60.0
    timeout_seconds: float = 10.0
    flow: str = "Primary"
    seed: int | None = None

    def update(self, values: dict[str, Any]) -> None:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown webhook option(s) {unknown}; known: {sorted(known)}")
        for key, value in values.items():
            if key == "quirks":
                bad = sorted(set(value) - QUIRKS)
                if bad:
                    raise ValueError(f"unknown quirk(s) {bad}; known: {sorted(QUIRKS)}")
                self.quirks = list(value)
            elif key == "flow":
                self.flow = str(value)
            elif key == "seed":
                self.seed = None if value is None else int(value)
            elif key == "max_retries":
                self.max_retries = int(value)
            else:
                setattr(self, key, float(value))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Attempt:
    at: float
    status: int | None
    error: str | None
    retry: int


@dataclass
class Delivery:
    identifier: str
    webhook_id: int
    event: str
    url: str
    body: bytes
    secret: str | None
    retry: int = 0
    state: str = "pending"  # pending | delivered | failed
    attempts: list[Attempt] = field(default_factory=list)
    duplicate: bool = False
    queued_at: float = field(default_factory=time.time)  # wall clock, like Attempt.at

    def summary(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "webhookId": self.webhook_id,
            "event": self.event,
            "url": self.url,
            "state": self.state,
            "duplicate": self.duplicate,
            "queuedAt": self.queued_at,
            "attempts": [asdict(a) for a in self.attempts],
        }


class WebhookDispatcher:
    """The outbox and the task that empties it."""

    def __init__(self, state: JiraState, options: WebhookOptions, mode: str) -> None:
        self.state = state
        self.options = options
        self.mode = mode
        self._random = random.Random(options.seed)
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Delivery]] = []
        self._seq = itertools.count()
        self._in_flight = 0
        self.log: list[Delivery] = []
        self._workers: dict[asyncio.AbstractEventLoop, tuple[asyncio.Event, asyncio.Task[None]]] = {}

    # -- building deliveries ---------------------------------------------------------------------

    def emit(
        self,
        event: str,
        base_url: str,
        *,
        issue: Issue | None = None,
        actor: User | None = None,
        history: History | None = None,
        comment: Comment | None = None,
        version: Version | None = None,
        issue_event_type: str | None = None,
    ) -> int:
        """Queue ``event`` for every matching webhook (call with ``state.lock`` held); returns the count."""
        change = Change(event, base_url, issue, actor, history, comment, version, issue_event_type)
        webhooks = targets(self.state, change)
        if not webhooks:
            return 0
        quirks = self.options.quirks
        data = payload(self.state, self.mode, quirks, change)
        for webhook in webhooks:
            body = body_for(webhook, data, quirks)
            url = url_for(webhook.url, issue, version, self.state)
            delivery = Delivery(str(uuid.uuid4()), webhook.id, event, url, body, webhook.secret)
            self._enqueue(delivery)
            if self.options.duplicate_rate and self._random.random() < self.options.duplicate_rate:
                twin = Delivery(
                    delivery.identifier, webhook.id, event, url, body, webhook.secret, duplicate=True
                )
                self._enqueue(twin)
        return len(webhooks)

    def _enqueue(self, delivery: Delivery, due: float | None = None) -> None:
        opts = self.options
        first = due is None  # a new delivery; retries come with their own due time
        if due is None:
            delay = opts.delay_ms + self._random.random() * opts.delay_jitter_ms
            delay += self._random.random() * opts.reorder_window_ms
            due = time.monotonic() + delay / 1000.0
        with self._cond:
            if first:
                self.log.append(delivery)
            heapq.heappush(self._heap, (due, next(self._seq), delivery))
            self._cond.notify_all()
        self._poke()

    def _poke(self) -> None:
        for loop, (wake, _) in list(self._workers.items()):
            if not loop.is_closed():
                try:
                    loop.call_soon_threadsafe(wake.set)
                except RuntimeError:
                    pass

    # -- the delivery task -------------------------------------------------------------------------

    def ensure_running(self) -> None:
        """Start a delivery task in the running loop (the server's), once per loop.

        The same simulator may be served by several servers (each its own loop); their tasks
        share one outbox.
        """
        loop = asyncio.get_running_loop()
        current = self._workers.get(loop)
        if current is not None and not current[1].done():
            return
        for other in [lp for lp in self._workers if lp.is_closed()]:
            del self._workers[other]
        wake = asyncio.Event()
        self._workers[loop] = (wake, loop.create_task(self._run(wake), name="jira-sim-webhooks"))

    async def stop(self) -> None:
        """Stop the running loop's delivery task (the server's lifespan shutdown)."""
        worker = self._workers.pop(asyncio.get_running_loop(), None)
        if worker is not None:
            worker[1].cancel()
            try:
                await worker[1]
            except (asyncio.CancelledError, Exception):
                pass

    async def _run(self, wake: asyncio.Event) -> None:
        while True:
            delivery = self._next_due()
            if delivery is None:
                wait = self._seconds_to_next()
                wake.clear()
                try:
                    await asyncio.wait_for(wake.wait(), timeout=wait)
                except TimeoutError:
                    pass
                continue
            try:
                # a client per delivery: no connection outlives it, so a loop closed while this task
                # waits leaves nothing to clean up
                async with httpx.AsyncClient() as client:
                    await self._deliver(client, delivery)
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()

    def _next_due(self) -> Delivery | None:
        with self._cond:
            if self._heap and self._heap[0][0] <= time.monotonic():
                _, _, delivery = heapq.heappop(self._heap)
                self._in_flight += 1
                return delivery
            return None

    def _seconds_to_next(self) -> float | None:
        with self._cond:
            if not self._heap:
                return None
            return max(0.0, self._heap[0][0] - time.monotonic())

    async def _deliver(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Atlassian Webhook HTTP Client",
            "X-Atlassian-Webhook-Identifier": delivery.identifier,
            "X-Atlassian-Webhook-Flow": self.options.flow,
        }
        if delivery.retry:
            headers["X-Atlassian-Webhook-Retry"] = str(delivery.retry)
        if delivery.secret:
            digest = hmac.new(delivery.secret.encode(), delivery.body, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature"] = f"sha256={digest}"
        status: int | None = None
        error: str | None = None
        try:
            response = await client.post(
                delivery.url, content=delivery.body, headers=headers, timeout=self.options.timeout_seconds
            )
            status = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        with self._cond:
            delivery.attempts.append(Attempt(time.time(), status, error, delivery.retry))
        retryable = error is not None or (status is not None and (status in RETRY_STATUSES or status >= 500))
        if not retryable:
            with self._cond:
                delivery.state = "delivered" if status is not None and status < 400 else "failed"
            return
        if delivery.retry >= self.options.max_retries:
            with self._cond:
                delivery.state = "failed"
            log.info("webhook %s to %s failed after %d retries", delivery.event, delivery.url, delivery.retry)
            return
        delivery.retry += 1
        backoff = min(
            self.options.retry_max_seconds, self.options.retry_base_seconds * 2 ** (delivery.retry - 1)
        )
        backoff *= 0.8 + 0.4 * self._random.random()
        self._enqueue(delivery, due=time.monotonic() + backoff)

    # -- observing --------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        with self._cond:
            states = [d.state for d in self.log]
            return {
                "queued": len(self._heap),
                "inFlight": self._in_flight,
                "delivered": states.count("delivered"),
                "failed": states.count("failed"),
                "pending": states.count("pending"),
                "attempts": sum(len(d.attempts) for d in self.log),
                "drained": not self._heap and self._in_flight == 0,
                "running": any(not task.done() for _, task in self._workers.values()),
            }

    def deliveries(self) -> list[dict[str, Any]]:
        with self._cond:
            return [d.summary() for d in self.log]

    def wait_drained(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued or in flight (retries still waiting count as queued)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
            return True

    async def drained(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                if not self._heap and not self._in_flight:
                    return True
            await asyncio.sleep(0.01)
        return False

    def reseed(self) -> None:
        """Restart the chaos dice from ``options.seed`` (duplicates, delays, reordering)."""
        self._random = random.Random(self.options.seed)

    def clear(self) -> None:
        """Forget queued deliveries and the delivery log."""
        with self._cond:
            self._heap.clear()
            self.log.clear()
            self._cond.notify_all()
        self.reseed()
