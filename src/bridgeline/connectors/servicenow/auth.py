"""Logging in to ServiceNow: HTTP Basic, or OAuth 2 bearer tokens from ``/oauth_token.do``.

::

    auth = servicenow_auth(settings)          # httpx.BasicAuth or ServiceNowOAuth
    http = HttpClient("servicenow", settings.url, auth=auth)

:class:`ServiceNowOAuth` asks for a token with the password or client-credentials grant, renews it
``refresh_margin`` seconds before it expires (with the refresh token when there is one, else with a
new grant), and when the instance still answers 401 it fetches a new token and sends the request
once more. A refused refresh token falls back to a new grant. Concurrent requests share one
renewal: the token endpoint is called once, not once per request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

import httpx

from bridgeline.errors import AuthenticationFailed, RemoteUnavailable
from bridgeline.log import shorten


class ServiceNowOAuth(httpx.Auth):
    """An ``httpx.Auth`` that keeps a fresh OAuth 2 access token on every request."""

    def __init__(
        self,
        token_url: str,
        *,
        client_id: str,
        client_secret: str,
        grant: str = "password",
        username: str | None = None,
        password: str | None = None,
        refresh_margin: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if grant not in ("password", "client_credentials"):
            raise ValueError(f"unsupported OAuth grant {grant!r}")
        if grant == "password" and not (username and password):
            raise ValueError("the OAuth password grant needs a username and a password")
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.grant = grant
        self.username = username
        self._password = password
        self.refresh_margin = refresh_margin
        self.clock = clock
        self._access: str | None = None
        self._refresh: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()
        self.tokens_fetched = 0  # token endpoint answers accepted, for tests and metrics

    def _fresh(self) -> bool:
        return self._access is not None and self.clock() < self._renew_at

    def _token_request(self, use_refresh: bool) -> httpx.Request:
        form = {"client_id": self.client_id, "client_secret": self._client_secret}
        if use_refresh and self._refresh:
            form.update(grant_type="refresh_token", refresh_token=self._refresh)
        elif self.grant == "password":
            form.update(grant_type="password", username=self.username or "", password=self._password or "")
        else:
            form.update(grant_type="client_credentials")
        return httpx.Request("POST", self.token_url, data=form, headers={"Accept": "application/json"})

    def _accept(self, response: httpx.Response, used_refresh: bool) -> bool:
        """Take the token from the answer; False when a refresh token was refused (try a new grant)."""
        status = response.status_code
        if status == 200:
            try:
                body: dict[str, Any] = response.json()
                token = str(body["access_token"])
            except (ValueError, KeyError, TypeError):
                answer = shorten(response.text, 200)
                raise RemoteUnavailable(
                    f"servicenow: the token endpoint answered without an access_token: {answer}"
                ) from None
            lifetime = float(body.get("expires_in") or 1800)
            self._access = token
            self._refresh = body.get("refresh_token") or (self._refresh if used_refresh else None)
            # renew ahead of expiry; a very short-lived token is renewed at half its life
            self._renew_at = self.clock() + max(lifetime - self.refresh_margin, lifetime / 2)
            self.tokens_fetched += 1
            return True
        if status in (400, 401) and used_refresh:
            self._refresh = None
            return False
        if status >= 500 or status == 429:
            raise RemoteUnavailable(
                f"servicenow: the OAuth token endpoint failed with {status}", status=status
            )
        raise AuthenticationFailed(
            "servicenow",
            status,
            f"OAuth token request ({self._grant_label(used_refresh)}) refused: {_oauth_error(response)}; "
            "check servicenow.oauth.client_id/client_secret and the account's password",
            method="POST",
            url=self.token_url,
        )

    def _grant_label(self, used_refresh: bool) -> str:
        return "refresh_token grant" if used_refresh else f"{self.grant} grant"

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        rejected: str | None = None
        for attempt in range(2):
            async with self._lock:
                if not self._fresh() or (rejected is not None and self._access == rejected):
                    for use_refresh in [True, False] if self._refresh else [False]:
                        answer = yield self._token_request(use_refresh)
                        await answer.aread()
                        if self._accept(answer, use_refresh):
                            break
                token = self._access
            request.headers["Authorization"] = f"Bearer {token}"
            response = yield request
            if response.status_code != 401 or attempt == 1:
                return
            rejected = token  # expired early, revoked, or the instance restarted: one new token, once

    def sync_auth_flow(self, request: httpx.Request) -> Any:  # pragma: no cover - async only
        raise RuntimeError("ServiceNowOAuth works with httpx.AsyncClient only")


def _oauth_error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return shorten(response.text.strip(), 200) or response.reason_phrase
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("error", "error_description") if body.get(k)]
        if parts:
            return ": ".join(parts)
    return shorten(str(body), 200)


def servicenow_auth(settings: Any) -> httpx.Auth:
    """Basic auth, or OAuth 2 when ``settings.oauth`` is set."""
    oauth = settings.oauth
    if oauth is None:
        return httpx.BasicAuth(settings.username, settings.password.get_secret_value())
    return ServiceNowOAuth(
        settings.url.rstrip("/") + oauth.token_path,
        client_id=oauth.client_id,
        client_secret=oauth.client_secret.get_secret_value(),
        grant=oauth.grant,
        username=settings.username,
        password=settings.password.get_secret_value() if settings.password else None,
        refresh_margin=oauth.refresh_margin,
    )
