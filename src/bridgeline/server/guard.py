"""The ASGI middleware in front of every route: what a request must be before a handler sees it.

- **Host.** A request names this bridgeline: the host of ``server.public_url``, the bind host,
  ``localhost``, or an address (a DNS rebinding needs a name). The probes and the signed webhooks
  are exempt: probes address a pod by its IP, webhook senders prove themselves by signature.
- **Origin.** A request that changes something (any method but GET/HEAD/OPTIONS, webhooks aside)
  from a browser must come from this bridgeline's own pages: ``Sec-Fetch-Site`` same-origin (or
  none), and ``Origin`` (or ``Referer``) this bridgeline. A tool that sends neither cannot carry a
  browser's cookie unasked, and still needs a token. The JSON API takes JSON only: the content
  types a foreign page may send without asking (forms, ``text/plain``) are refused.
- **Body.** Bodies are limited while they are read: a declared ``Content-Length`` above the limit
  is refused at once, a chunked body as soon as it passes the limit, a body that takes longer than
  ``server.body_timeout`` to arrive is refused and its connection closed. A body the route does
  not want is read (within the same limits) and dropped, so the connection stays usable. Limits:
  ``server.max_body_bytes`` for webhooks and previews, :data:`SMALL_BODY` for everything else.

Every refusal is a 4xx with ``{"error": "<what to fix>"}``. Responses carry headers that keep the
pages out of frames and caches and stop browsers from guessing content types.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from bridgeline.config import ServerSettings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SMALL_BODY = 16_384  # sign-in, sign-out and dead-letter forms are a few hundred bytes
LARGE_BODY_PATHS = frozenset({"/api/preview", "/status/preview"})
JSON_BODY_PATHS = frozenset({"/api/preview"})
HOST_EXEMPT = frozenset({"/healthz", "/readyz"})
_WILDCARDS = frozenset({"", "0.0.0.0", "::", "[::]", "*"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
]


class _Refused(Exception):
    """A request stopped while its body was read (too large, too slow, or the client left)."""

    def __init__(self, status: int, message: str, *, answer: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.answer = answer


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _hostname(authority: str) -> str | None:
    """The host name of a ``Host`` header or URL authority, lower case, without port; None when
    it is not one."""
    try:
        name = urlsplit("//" + authority).hostname
    except ValueError:
        return None
    if not name or any(c in name for c in " /\\@"):
        return None
    return name.rstrip(".")


def _origin(scheme: str, authority: str) -> tuple[str, str] | None:
    """``(scheme, host[:port])`` with the scheme's default port left out."""
    try:
        parts = urlsplit(f"{scheme}://{authority}")
        port = parts.port
    except ValueError:
        return None
    name = parts.hostname
    if not name:
        return None
    host = f"[{name}]" if ":" in name else name
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    return scheme, host


class Guard:
    """Checks Host, Origin, content type and body size and time of every request (see the module)."""

    def __init__(self, app: ASGIApp, settings: ServerSettings) -> None:
        self.app = app
        self.settings = settings
        names = {"localhost"}
        self.public: tuple[str, str] | None = None
        if settings.public_url:
            parts = urlsplit(settings.public_url)
            self.public = _origin(parts.scheme, parts.netloc)
            names.add((parts.hostname or "").rstrip("."))
        bind = settings.host.strip().strip("[]").lower()
        if bind not in _WILDCARDS and not _is_address(bind):
            names.add(bind)
        self.names = frozenset(names)

    # -- the checks ----------------------------------------------------------------------------

    def host_problem(self, host: str | None) -> str | None:
        if not host:
            return "a Host header is required"
        name = _hostname(host)
        if name is not None and (name in self.names or name.endswith(".localhost") or _is_address(name)):
            return None
        known = self.settings.public_url or "this server's bind host or localhost"
        return (
            f"this bridgeline is not reached as {host[:100]!r}: it answers at {known} "
            "(set server.public_url to the URL people and systems use)"
        )

    def origin_problem(self, scope: Scope, headers: dict[bytes, bytes]) -> str | None:
        site = headers.get(b"sec-fetch-site", b"").decode("latin-1").strip().lower()
        if site and site not in ("same-origin", "none"):
            return f"a {site} request may not change anything here (Sec-Fetch-Site: {site})"
        claimed = headers.get(b"origin") or headers.get(b"referer")
        if claimed is None:
            return None  # not a browser: it cannot carry a browser's cookie unasked
        text = claimed.decode("latin-1").strip()
        scheme, _, rest = text.partition("://")
        seen = _origin(scheme.lower(), rest.split("/", 1)[0]) if scheme.lower() in _DEFAULT_PORTS else None
        if seen is not None:
            if seen == self.public:
                return None
            host = headers.get(b"host", b"").decode("latin-1").lower()
            own = _origin(seen[0], host) if host else None
            if own is not None and own[1] == seen[1]:
                return None
        return (
            f"a request from another site may not change anything here (Origin: {text[:100]}); "
            f"use the pages at {self.settings.public_url or 'this address'}"
        )

    def content_type_problem(self, path: str, headers: dict[bytes, bytes]) -> str | None:
        if not path.startswith("/api/"):
            return None
        raw = headers.get(b"content-type", b"").decode("latin-1")
        media = raw.split(";", 1)[0].strip().lower()
        if media and not (media == "application/json" or media.endswith("+json")):
            return f"this API takes JSON: send Content-Type: application/json, not {media[:100]}"
        if not media and path in JSON_BODY_PATHS:
            return "this API takes JSON: send Content-Type: application/json"
        return None

    def body_limit(self, path: str) -> int:
        if path.startswith("/webhooks/") or path in LARGE_BODY_PATHS:
            return self.settings.max_body_bytes
        return min(SMALL_BODY, self.settings.max_body_bytes)

    # -- the middleware ------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = dict(scope["headers"])  # a repeated header: the last one counts
        limit = self.body_limit(path)
        declared = _text(headers, b"content-length")
        digits = (declared or "").strip()
        size = int(digits) if digits.isascii() and digits.isdecimal() else None
        if size is not None and size > limit:
            await _answer(send, 413, _too_large(limit), close=True)
            return
        webhook = path.startswith("/webhooks/")
        app = self.app
        if path not in HOST_EXEMPT and not webhook and (why := self.host_problem(_text(headers, b"host"))):
            app = _refusal(400, why)
        elif scope["method"] not in SAFE_METHODS and not webhook:
            if why := self.origin_problem(scope, headers):
                app = _refusal(403, why)
            elif why := self.content_type_problem(path, headers):
                app = _refusal(415, why)
        await self._guarded(app, scope, receive, send, limit, bool(size) or b"transfer-encoding" in headers)

    async def _guarded(
        self, app: ASGIApp, scope: Scope, receive: Receive, send: Send, limit: int, body: bool
    ) -> None:
        """Run ``app`` with the body limited in size and time. A body the app leaves unread is read
        (and dropped) before the answer goes out: closing a connection with data unread would reset
        it, and the client might never see the answer."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.body_timeout
        timeout = self.settings.body_timeout
        received = 0
        complete = not body
        refused: _Refused | None = None
        started = False

        async def read() -> Message:
            nonlocal received, complete, refused
            if refused is not None:
                return {"type": "http.disconnect"}
            if complete:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                refused = _Refused(408, f"the body did not arrive within {timeout:g} s (server.body_timeout)")
                raise refused from None
            if message["type"] == "http.disconnect":
                refused = _Refused(400, "the client went away", answer=False)
                raise refused
            received += len(message.get("body", b""))
            if received > limit:
                refused = _Refused(413, _too_large(limit))
                raise refused
            if not message.get("more_body", False):
                complete = True
            return message

        async def respond(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start" and not complete and refused is None:
                with contextlib.suppress(_Refused):
                    while not complete:
                        await read()
            if refused is not None:
                return  # the app's own answer to a body it could not read: ours goes instead
            if message["type"] == "http.response.start":
                started = True
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in _HEADERS if n not in present]
                if b"cache-control" not in present:
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await app(scope, read, respond)
        except _Refused:
            pass
        except Exception:
            if refused is None:
                raise
        if refused is not None and refused.answer and not started:
            await _answer(send, refused.status, refused.message, close=True)


def _refusal(status: int, message: str) -> ASGIApp:
    """An app that only refuses (the guard reads the body it was sent first)."""

    async def refuse(scope: Scope, receive: Receive, send: Send) -> None:
        await _answer(send, status, message)

    return refuse


def _text(headers: dict[bytes, bytes], name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1") if value is not None else None


def _too_large(limit: int) -> str:
    return f"the body is larger than {limit} bytes (server.max_body_bytes for webhooks and previews)"


async def _answer(send: Send, status: int, message: str, *, close: bool = False) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
    ]
    if close:  # the rest of the body is not wanted: the connection goes with the answer
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
