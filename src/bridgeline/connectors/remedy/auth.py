"""AR-JWT: log in with a user name and password, send ``Authorization: AR-JWT <token>``.

:class:`ARJWTAuth` logs in on the first request (``POST /api/jwt/login``, form fields, the token
comes back as plain text), logs in again shortly before the token's lifetime ends (read from the
JWT's ``iat``/``exp``, 1 h by default) and when the server answers 401 (token expired early,
server restarted), then sends the request once more. Concurrent requests share one login. A
request to ``/api/jwt/logout`` carries the current token and forgets it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

import httpx

from bridgeline.errors import AuthenticationFailed, RemoteUnavailable
from bridgeline.log import shorten

LOGIN_PATH = "/api/jwt/login"
LOGOUT_PATH = "/api/jwt/logout"
DEFAULT_LIFETIME = 3600.0


def token_lifetime(token: str) -> float:
    """Seconds a token lives, from its ``exp - iat`` claims (the server's clock need not match ours)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return max(1.0, float(claims["exp"]) - float(claims["iat"]))
    except (IndexError, ValueError, KeyError, TypeError):
        return DEFAULT_LIFETIME


class ARJWTAuth(httpx.Auth):
    """An ``httpx.Auth`` that keeps an AR-JWT token valid for every request."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        relogin_margin: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        error_message: Callable[[httpx.Response], str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self._password = password
        self.relogin_margin = relogin_margin
        self.clock = clock
        self._error_message = error_message or (lambda r: shorten(r.text, 300))
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()
        self.logins = 0  # successful logins, for tests and metrics

    @property
    def token(self) -> str | None:
        return self._token

    def _fresh(self) -> bool:
        return self._token is not None and self.clock() < self._renew_at

    def _login_request(self) -> httpx.Request:
        return httpx.Request(
            "POST",
            self.base_url + LOGIN_PATH,
            data={"username": self.username, "password": self._password},
            headers={"Accept": "text/plain"},
        )

    def _accept(self, response: httpx.Response) -> None:
        status = response.status_code
        if status == 200:
            token = response.text.strip()
            if not token:
                raise RemoteUnavailable("remedy: the login answered without a token")
            lifetime = token_lifetime(token)
            self._token = token
            self._renew_at = self.clock() + max(lifetime - self.relogin_margin, lifetime / 2)
            self.logins += 1
            return
        if status >= 500 or status == 429:
            raise RemoteUnavailable(f"remedy: login failed with {status}", status=status)
        raise AuthenticationFailed(
            "remedy",
            status,
            f"login as {self.username!r} refused: {self._error_message(response)}; "
            "check remedy.username and remedy.password",
            method="POST",
            url=LOGIN_PATH,
        )

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if request.url.path.endswith(LOGOUT_PATH):
            async with self._lock:
                token, self._token = self._token, None
            if token is not None:
                request.headers["Authorization"] = f"AR-JWT {token}"
            yield request
            return
        rejected: str | None = None
        for attempt in range(2):
            async with self._lock:
                if not self._fresh() or (rejected is not None and self._token == rejected):
                    answer = yield self._login_request()
                    await answer.aread()
                    self._accept(answer)
                token = self._token
            request.headers["Authorization"] = f"AR-JWT {token}"
            response = yield request
            if response.status_code != 401 or attempt == 1:
                return
            rejected = token

    def sync_auth_flow(self, request: httpx.Request) -> Any:  # pragma: no cover - async only
        raise RuntimeError("ARJWTAuth works with httpx.AsyncClient only")
