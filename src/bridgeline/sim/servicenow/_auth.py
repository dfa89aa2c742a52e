"""Who is calling: HTTP Basic, OAuth 2 bearer tokens from ``/oauth_token.do``, and rate limit rules.

Tokens expire ``token_lifetime`` seconds after issue by the simulator's clock, so a test can
either use a short lifetime or move the clock. The rate limit rule counts calls per user in fixed
windows and answers the excess like an instance does: 429, ``Retry-After`` and the
``X-RateLimit-*`` headers (which are sent on every API answer while a rule is active).
"""

from __future__ import annotations

import base64
import binascii
import math
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qs

from bridgeline.sim.servicenow._clock import Clock
from bridgeline.sim.servicenow._rules import Instance, User
from bridgeline.sim.servicenow._settings import SimSettings

OAUTH_CLIENTS = {"bridgeline-client": "bridgeline-secret"}
RATE_LIMIT_RULE = "3a1a6f3b1b0e2010e6b9ec4c2d4bcb8e"  # sys_id of the simulated sys_rate_limit_rules row


@dataclass
class Token:
    access_token: str
    user_name: str
    expires_at: float
    refresh_token: str | None
    refresh_expires_at: float


class Authenticator:
    def __init__(self, instance: Instance, clock: Clock, settings: SimSettings) -> None:
        self.instance = instance
        self.clock = clock
        self.settings = settings
        self.clients = dict(OAUTH_CLIENTS)
        self._tokens: dict[str, Token] = {}
        self._refresh: dict[str, Token] = {}
        self._lock = threading.Lock()

    def _login(self, user_name: str, password: str) -> User | None:
        user = self.instance.user(user_name)
        if user is None or user.user_name != user_name:
            return None
        row = self.instance.store.get("sys_user", user.sys_id) or {}
        stored = row.get("user_password", "")
        if not stored or not secrets.compare_digest(stored, password) or row.get("active") == "false":
            return None
        return user

    def authenticate(self, header: str | None) -> User | None:
        """The caller named by an ``Authorization`` header, or None when it does not check out."""
        if not header:
            return None
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "basic":
            basic = _basic_credentials(header)
            return self._login(*basic) if basic else None
        if scheme.lower() == "bearer":
            with self._lock:
                token = self._tokens.get(credentials.strip())
            if token is None or self.clock.timestamp() >= token.expires_at:
                return None
            return self.instance.user(token.user_name)
        return None

    def token_endpoint(self, body: bytes, authorization: str | None = None) -> tuple[int, dict[str, Any]]:
        """``POST /oauth_token.do``: the password, client_credentials and refresh_token grants.

        The client authenticates with ``client_id``/``client_secret`` in the form or, as RFC 6749
        prefers and requests-oauthlib does, with HTTP Basic.
        """
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        grant = form.get("grant_type", "")
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        basic = _basic_credentials(authorization)
        if basic is not None and not secret:
            client_id, secret = basic
        denied = (401, {"error_description": "access_denied", "error": "server_error"})
        if grant not in ("password", "client_credentials", "refresh_token"):
            return 400, {
                "error_description": f"unsupported grant_type {grant!r}",
                "error": "unsupported_grant_type",
            }
        if self.clients.get(client_id) is None or not secrets.compare_digest(self.clients[client_id], secret):
            return denied
        now = self.clock.timestamp()
        if grant == "password":
            user = self._login(form.get("username", ""), form.get("password", ""))
            if user is None:
                return denied
            return 200, self._issue(user.user_name, now, with_refresh=True)
        if grant == "client_credentials":
            # The OAuth application runs as its configured user: the integration account.
            return 200, self._issue(self.settings.integration_user, now, with_refresh=False)
        with self._lock:
            previous = self._refresh.get(form.get("refresh_token", ""))
        if previous is None or now >= previous.refresh_expires_at:
            return 401, {"error_description": "access_denied", "error": "server_error"}
        return 200, self._issue(previous.user_name, now, with_refresh=True, refresh=previous)

    def _issue(
        self, user_name: str, now: float, *, with_refresh: bool, refresh: Token | None = None
    ) -> dict[str, Any]:
        lifetime = self.settings.token_lifetime
        refresh_token = (
            (refresh.refresh_token if refresh else secrets.token_urlsafe(48)) if with_refresh else None
        )
        token = Token(
            access_token=secrets.token_urlsafe(48),
            user_name=user_name,
            expires_at=now + lifetime,
            refresh_token=refresh_token,
            refresh_expires_at=refresh.refresh_expires_at
            if refresh
            else now + self.settings.refresh_token_lifetime,
        )
        with self._lock:
            self._tokens[token.access_token] = token
            if refresh_token:
                self._refresh[refresh_token] = token
        answer: dict[str, Any] = {
            "access_token": token.access_token,
            "scope": "useraccount",
            "token_type": "Bearer",
            "expires_in": int(lifetime),
        }
        if refresh_token:
            answer["refresh_token"] = refresh_token
        return answer

    def reset(self) -> None:
        with self._lock:
            self._tokens.clear()
            self._refresh.clear()

    def dump(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(t) for t in self._tokens.values()]

    def load(self, tokens: list[dict[str, Any]]) -> None:
        with self._lock:
            for data in tokens:
                token = Token(**data)
                self._tokens[token.access_token] = token
                if token.refresh_token:
                    self._refresh[token.refresh_token] = token


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    scheme, _, credentials = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, _, password = decoded.partition(":")
    return name, password


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    headers: dict[str, str]
    retry_after: int = 0


class RateLimiter:
    """A per-user rule: ``settings.rate_limit`` calls per ``settings.rate_limit_window`` seconds."""

    def __init__(self, settings: SimSettings) -> None:
        self.settings = settings
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()
        self.denied = 0

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
            self.denied = 0

    def check(self, user_name: str) -> RateDecision:
        limit = self.settings.rate_limit
        if limit <= 0:
            return RateDecision(True, {})
        window = max(self.settings.rate_limit_window, 0.001)
        now = time.time()
        start = math.floor(now / window) * window
        reset = start + window
        with self._lock:
            began, count = self._windows.get(user_name, (start, 0))
            if began != start:
                count = 0
            count += 1
            self._windows[user_name] = (start, count)
            if count > limit:
                self.denied += 1
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Reset": str(math.ceil(reset)),
            "X-RateLimit-Rule": RATE_LIMIT_RULE,
        }
        if count <= limit:
            return RateDecision(True, headers)
        retry_after = max(1, math.ceil(reset - now))
        return RateDecision(False, {**headers, "Retry-After": str(retry_after)}, retry_after)
