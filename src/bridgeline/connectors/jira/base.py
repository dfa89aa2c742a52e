"""What every Jira call shares: credentials, Cloud or Data Center, Jira's error bodies, single-issue reads."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any, Literal, Self

import httpx

from bridgeline.connectors.http import HttpClient, RetryPolicy
from bridgeline.errors import ConfigError, RemoteRejected, RetryableError
from bridgeline.log import shorten

Deployment = Literal["cloud", "datacenter"]

# Why Jira refused a login, from its headers: the body alone often says nothing.
_LOGIN_REASONS = {
    "AUTHENTICATED_FAILED": "the credentials were not accepted",
    "AUTHENTICATION_DENIED": "too many failed logins: Jira wants a CAPTCHA; log in once in a browser",
    "AUTHORIZATION_FAILED": "the account may not use this resource",
    "OUT": "the session ended",
}


def jira_error_parser(response: httpx.Response) -> tuple[str, Any]:
    """Jira states errors as ``{"errorMessages": [...], "errors": {"field": "message"}}``.

    Login refusals add the reason Jira gives in ``X-Seraph-LoginReason`` or
    ``X-Authentication-Denied-Reason`` (a CAPTCHA challenge blocks every call until someone logs in).
    """
    reason = _login_reason(response.headers)
    try:
        body = response.json()
    except ValueError:
        text = shorten(response.text.strip(), 500) or response.reason_phrase
        return (f"{text} ({reason})" if reason else text), None
    message = shorten(str(body), 500)
    if isinstance(body, dict):
        parts = [str(m) for m in body.get("errorMessages") or []]
        errors = body.get("errors")
        if isinstance(errors, dict):
            parts += [f"{k}: {v}" for k, v in errors.items()]
        if parts:
            message = "; ".join(parts)
        elif "message" in body:
            message = str(body["message"])
    if reason:
        message = f"{message} ({reason})"
    return message, body


def _login_reason(headers: httpx.Headers) -> str | None:
    denied = headers.get("x-authentication-denied-reason")
    if denied:
        return f"Jira denied the login: {denied}"
    seraph = headers.get("x-seraph-loginreason")
    if not seraph:
        return None
    codes = [c.strip() for c in seraph.split(",") if c.strip()]
    known = [_LOGIN_REASONS[c] for c in codes if c in _LOGIN_REASONS]
    return f"{seraph}: {'; '.join(known)}" if known else seraph


class BearerAuth(httpx.Auth):
    """Data Center personal access token."""

    def __init__(self, token: str) -> None:
        self._value = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._value
        yield request


class JiraBase:
    """Transport, deployment detection and the reads the writes build on."""

    # 409 "conflicting update": another edit of the same issue won; the same edit again is fine.
    conflict_retries = 3

    def __init__(
        self,
        http: HttpClient,
        *,
        deployment: Literal["auto", "cloud", "datacenter"] = "auto",
        page_size: int = 100,
    ) -> None:
        self.http = http
        self._configured = deployment
        self.deployment: Deployment | None = None if deployment == "auto" else deployment
        self.page_size = page_size
        self.server_info: dict[str, Any] | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> Self:
        """Cloud: Basic email + API token. Data Center: Bearer PAT. Old Server: Basic user + password."""
        auth: httpx.Auth
        if settings.token is not None:
            auth = BearerAuth(settings.token.get_secret_value())
        elif settings.api_token is not None:
            auth = httpx.BasicAuth(settings.email, settings.api_token.get_secret_value())
        elif settings.password is not None:
            auth = httpx.BasicAuth(settings.username, settings.password.get_secret_value())
        else:  # pragma: no cover - settings validation prevents it
            raise ConfigError("jira: no credentials configured")
        http = HttpClient(
            "jira",
            settings.url,
            auth=auth,
            timeout=settings.timeout,
            max_concurrency=settings.max_concurrency,
            verify=settings.verify,
            proxy=settings.proxy,
            transport=transport,
            retry=retry,
            error_parser=jira_error_parser,
        )
        return cls(http, deployment=settings.deployment, page_size=settings.page_size)

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- shape of the instance -------------------------------------------------------------

    async def detect(self) -> Deployment:
        """Ask ``serverInfo`` (which also proves the credentials work): Cloud or Data Center.

        A configured deployment that the server contradicts is a :class:`ConfigError`: every
        search would fail (Cloud removed ``/search``; Data Center has no ``/search/jql``).
        """
        info = await self.http.get_json("/rest/api/2/serverInfo", endpoint="/rest/api/2/serverInfo")
        self.server_info = info
        kind: Deployment = "cloud" if str(info.get("deploymentType", "")).lower() == "cloud" else "datacenter"
        if self._configured == "auto":
            self.deployment = kind
        elif self._configured != kind and info.get("deploymentType"):
            raise ConfigError(
                f"jira.deployment is {self._configured!r}, but {self.http.base_url} says it is "
                f"{info.get('deploymentType')}: set jira.deployment to {kind!r} or 'auto'"
            )
        return self.deployment or kind

    async def _ensure(self) -> Deployment:
        if self.deployment is None:
            return await self.detect()
        return self.deployment

    async def api(self) -> str:
        """``/rest/api/3`` on Cloud, ``/rest/api/2`` on Data Center."""
        return "/rest/api/3" if await self._ensure() == "cloud" else "/rest/api/2"

    async def _get(self, path: str, endpoint: str, params: Any = None) -> Any:
        api = await self.api()
        return await self.http.get_json(f"{api}{path}", params=params, endpoint=f"{api}{endpoint}")

    async def _send(
        self,
        method: str,
        path: str,
        endpoint: str,
        *,
        json: Any = None,
        params: Any = None,
        idempotent: bool | None = None,
        ok: tuple[int, ...] = (),
    ) -> httpx.Response:
        """A write under the API root; a 409 conflict is tried again, then becomes retryable."""
        api = await self.api()
        for attempt in range(self.conflict_retries + 1):
            try:
                return await self.http.request(
                    method,
                    f"{api}{path}",
                    json=json,
                    params=params,
                    endpoint=f"{api}{endpoint}",
                    idempotent=idempotent,
                    ok=ok,
                )
            except RemoteRejected as exc:
                if exc.status != 409:
                    raise
                if attempt == self.conflict_retries:
                    raise RetryableError(f"{exc} (a conflicting edit kept winning; will try later)") from exc
                await asyncio.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    # -- reads the writes need ---------------------------------------------------------------

    async def myself(self) -> dict[str, Any]:
        """The account bridgeline logs in as (its ``timeZone`` is the one JQL dates are read in)."""
        result: dict[str, Any] = await self._get("/myself", "/myself")
        return result

    async def issue(
        self, key: str, *, fields: list[str] | tuple[str, ...] | None = None, expand: str | None = None
    ) -> dict[str, Any]:
        params: dict[str, str] = {}
        if fields:
            params["fields"] = ",".join(fields)
        if expand:
            params["expand"] = expand
        result: dict[str, Any] = await self._get(f"/issue/{key}", "/issue/{key}", params)
        return result

    async def status(self, key: str) -> str:
        """The name of the status the issue is in."""
        issue = await self.issue(key, fields=["status"])
        return str(((issue.get("fields") or {}).get("status") or {}).get("name", ""))

    async def version(self, version_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._get(f"/version/{version_id}", "/version/{id}")
        return result
