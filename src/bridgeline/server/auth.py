"""Who is asking: the admin token, a signed-in status page session, the metrics token, or a stranger.

The admin token (``server.admin_token``) opens everything: as ``Authorization: Bearer <token>``, or
through the status page's sign-in, which starts a session. A session's id is random and new on
every sign-in; only its hash is kept, in the database (so every replica knows it, and signing out
ends it everywhere). It ends after ``server.session_seconds``, after ``server.session_idle_seconds``
unused, on sign-out, and when the admin token changes. Failed sign-ins are limited per client
address (:class:`SignInLimiter`). ``server.metrics_token`` reads ``/metrics`` and nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from fastapi import HTTPException, Request

from bridgeline.model import utcnow
from bridgeline.store import StatusSession

if TYPE_CHECKING:
    from bridgeline.config import ServerSettings
    from bridgeline.store import Store
    from bridgeline.sync.service import Service

SESSION_COOKIE = "bridgeline_session"
CLOSED = (
    "the status page and the API are closed: set server.admin_token "
    "(BRIDGELINE_SERVER__ADMIN_TOKEN or BRIDGELINE_SERVER__ADMIN_TOKEN_FILE)"
)
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
TOUCH_EVERY = timedelta(seconds=60)  # a session's last use is written at most this often...
TOUCH_SHARE = 0.1  # ...and at least ten times per idle timeout

Kind = Literal["stranger", "admin token", "session", "metrics token"]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request, as far as bridgeline can tell."""

    kind: Kind
    client: str | None = None
    name: str = ""  # a session's name, given at sign-in
    session_id: str | None = None

    @property
    def operator(self) -> bool:
        """May read everything and replay or drop dead letters."""
        return self.kind in ("admin token", "session")

    def describe(self) -> str:
        """For the audit log: ``session:alex from 10.0.0.5``, ``admin token from 127.0.0.1``."""
        who = f"session:{self.name}" if self.kind == "session" else self.kind
        return f"{who} from {self.client}" if self.client else who


def _secret(value: object) -> str | None:
    text = value.get_secret_value() if value is not None and hasattr(value, "get_secret_value") else ""
    return text or None


def admin_token(settings: ServerSettings) -> str | None:
    return _secret(settings.admin_token)


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def _matches(given: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(given.encode(), expected.encode())


def client_address(request: Request) -> str | None:
    """The client's address (behind a trusted proxy: the address it forwarded)."""
    return request.client.host if request.client else None


async def caller(request: Request) -> Caller:
    """Who sent ``request`` (worked out once per request)."""
    known: Caller | None = getattr(request.state, "caller", None)
    if known is not None:
        return known
    service: Service = request.app.state.service
    settings = service.settings.server
    client = client_address(request)
    found = Caller("stranger", client)
    token = admin_token(settings)
    given = _bearer(request)
    if given is not None:
        limiter = sign_ins(request)
        refuse_if_limited(limiter, client)
        if _matches(given, token):
            found = Caller("admin token", client)
        elif _matches(given, _secret(settings.metrics_token)):
            found = Caller("metrics token", client)
        else:  # a wrong token counts as a failed sign-in: guessing is limited either way
            limiter.failed(client or "")
    elif token is not None and (cookie := request.cookies.get(SESSION_COOKIE)):
        session = await sessions(request).find(cookie, token)
        if session is not None:
            found = Caller("session", client, session.signed_in_as, cookie)
    request.state.caller = found
    return found


async def require_operator(request: Request) -> Caller:
    """The caller, when it holds the admin token or a session; 403 while no token is configured,
    401 otherwise."""
    if admin_token(request.app.state.service.settings.server) is None:
        raise HTTPException(403, CLOSED)
    found = await caller(request)
    if not found.operator:
        raise HTTPException(
            401,
            "sign in on the status page, or send Authorization: Bearer <server.admin_token>",
            headers={"WWW-Authenticate": 'Bearer realm="bridgeline"'},
        )
    return found


def sign_ins(request: Request) -> SignInLimiter:
    limiter: SignInLimiter = request.app.state.sign_ins
    return limiter


def refuse_if_limited(limiter: SignInLimiter, client: str | None) -> None:
    """429 while ``client`` has used up its failed sign-ins."""
    wait = limiter.wait(client or "")
    if wait > 0:
        seconds = max(1, round(wait))
        raise HTTPException(
            429,
            f"too many failed sign-ins from {client or 'this address'}: try again in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )


def sessions(request: Request) -> SessionBook:
    book: SessionBook = request.app.state.sessions
    return book


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def token_mark(token: str) -> str:
    """What a session remembers of the admin token it was opened with (an HMAC, not the token)."""
    return hmac.new(token.encode(), b"bridgeline status page session", hashlib.sha256).hexdigest()


class SessionBook:
    """Status page sessions, kept in the store."""

    def __init__(
        self, store: Store, settings: ServerSettings, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.store = store
        self.lifetime = timedelta(seconds=settings.session_seconds)
        self.idle = timedelta(seconds=settings.session_idle_seconds)
        self.touch_every = min(TOUCH_EVERY, self.idle * TOUCH_SHARE)
        self.clock = clock

    async def open(self, token: str, name: str, client: str | None) -> str:
        """A new session (its id for the cookie)."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        await self.store.start_session(
            StatusSession(
                id_hash=_hash(session_id),
                signed_in_as=name,
                client=(client or "")[:100] or None,
                token_mark=token_mark(token),
                created_at=now,
                seen_at=now,
                expires_at=now + self.lifetime,
            )
        )
        return session_id

    async def find(self, session_id: str, token: str) -> StatusSession | None:
        """The live session of ``session_id``; one that has ended is forgotten."""
        if not _SESSION_ID.match(session_id):
            return None
        id_hash = _hash(session_id)
        session = await self.store.session(id_hash)
        if session is None:
            return None
        now = self.clock()
        ended = (
            now >= session.expires_at
            or now - session.seen_at >= self.idle
            or not hmac.compare_digest(session.token_mark, token_mark(token))
        )
        if ended:
            await self.store.end_session(id_hash)
            return None
        if now - session.seen_at >= self.touch_every:
            await self.store.touch_session(id_hash, now)
        return session

    async def close(self, session_id: str) -> None:
        if _SESSION_ID.match(session_id):
            await self.store.end_session(_hash(session_id))


class SignInLimiter:
    """At most ``attempts`` failed sign-ins per client address within ``window`` seconds.

    Kept in memory, per replica; a bounded number of addresses is remembered (the oldest are
    forgotten first), so addresses by the million cannot fill the memory.
    """

    def __init__(
        self,
        attempts: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self.attempts = attempts
        self.window = window
        self.clock = clock
        self.max_clients = max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def wait(self, client: str) -> float:
        """Seconds before ``client`` may try again (0: now)."""
        failures = self._failures.get(client)
        if failures is None:
            return 0.0
        now = self.clock()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return 0.0
        if len(failures) < self.attempts:
            return 0.0
        return max(0.0, failures[0] + self.window - now)

    def failed(self, client: str) -> None:
        failures = self._failures.setdefault(client, deque())
        self._failures.move_to_end(client)
        failures.append(self.clock())
        while len(failures) > self.attempts:
            failures.popleft()
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)

    def __len__(self) -> int:
        """How many client addresses are remembered."""
        return len(self._failures)


@dataclass(frozen=True, slots=True)
class Pipeline:
    """A pipeline that presented its token (``pipelines.<name>``): who it is, which projects it may ask."""

    name: str
    projects: frozenset[str]

    def may(self, project: str | None) -> bool:
        return project is not None and project.upper() in self.projects


def require_pipeline(request: Request) -> Pipeline:
    """The pipeline whose ``Authorization: Bearer <token>`` came with ``request``; 401 otherwise.

    Wrong tokens count as failed sign-ins of the client address, as the admin token's do."""
    pipelines = request.app.state.service.settings.pipelines
    if not pipelines:
        raise HTTPException(
            401,
            "no pipeline may ask: add one under pipelines: in the configuration (docs/pipelines.md)",
            headers={"WWW-Authenticate": 'Bearer realm="bridgeline pipelines"'},
        )
    given = _bearer(request)
    client = client_address(request)
    if given is None:
        raise HTTPException(
            401,
            "send the pipeline's token as Authorization: Bearer <pipelines.<name>.token>",
            headers={"WWW-Authenticate": 'Bearer realm="bridgeline pipelines"'},
        )
    limiter = sign_ins(request)
    refuse_if_limited(limiter, client)
    for name, settings in pipelines.items():
        if _matches(given, settings.token.get_secret_value()):
            return Pipeline(name, frozenset(p.upper() for p in settings.projects))
    limiter.failed(client or "")
    raise HTTPException(
        401,
        "the token is not a pipeline's token (pipelines.<name>.token)",
        headers={"WWW-Authenticate": 'Bearer realm="bridgeline pipelines", error="invalid_token"'},
    )
