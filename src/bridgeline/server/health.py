"""Connectivity and credential checks of each configured system, for ``bridgeline config check``
and for ``/readyz``.

Each check makes the smallest call that proves both reach and rights: Jira ``serverInfo`` and
``myself`` (plus each configured project), a ServiceNow Table API read of ``change_request``, a
Remedy AR-JWT login and logout. Checks make one attempt each (no retries) with a short timeout, so
a report comes back in seconds even when a system is away. ::

    results = await check_connections(settings)
    for r in results:
        print(r.system, r.check, "ok" if r.ok else "FAIL", r.detail)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from bridgeline import metrics
from bridgeline.config import JiraSettings, RemedySettings, ServiceNowSettings, Settings
from bridgeline.connectors.http import HttpClient, RetryPolicy
from bridgeline.errors import AuthenticationFailed, BridgelineError, NotFound, RetryableError
from bridgeline.log import redact_text, register_secret

ONE_TRY = RetryPolicy(attempts=1, total=30.0)
CHECK_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check of one system: ``ok`` and a sentence for a person (never a credential)."""

    system: str
    check: str
    ok: bool
    detail: str
    ms: float = 0.0
    transient: bool = False  # failed for a reason that may pass (unreachable, 5xx), not a refusal

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _describe(exc: BaseException) -> tuple[str, bool]:
    """(a sentence about a failed call, whether the failure may pass by itself)."""
    if isinstance(exc, AuthenticationFailed):
        what = "credentials refused" if exc.status == 401 else "permission denied"
        return f"{what} ({exc.status}): {exc}", False
    if isinstance(exc, RetryableError):
        return str(exc), True
    if isinstance(exc, NotFound):
        return f"{exc} - is the URL right?", False
    if isinstance(exc, BridgelineError):
        return str(exc), False
    return f"{type(exc).__name__}: {exc}", True


async def _timed(
    system: str, check: str, call: Callable[[], Awaitable[str]], results: list[CheckResult]
) -> bool:
    started = time.perf_counter()
    try:
        detail = await call()
    except Exception as exc:
        text, transient = _describe(exc)
        ms = round((time.perf_counter() - started) * 1000, 1)
        results.append(CheckResult(system, check, False, redact_text(text), ms, transient))
        return False
    ms = round((time.perf_counter() - started) * 1000, 1)
    results.append(CheckResult(system, check, True, redact_text(detail), ms))
    return True


def _quick(section: Any, timeout: float) -> Any:
    return section.model_copy(update={"timeout": min(section.timeout, timeout)})


async def check_jira(
    settings: JiraSettings, *, timeout: float = CHECK_TIMEOUT, projects: bool = True
) -> list[CheckResult]:
    """``serverInfo``, ``myself`` and - with ``projects`` - each configured project and its versions."""
    from bridgeline.connectors.jira import JiraClient

    results: list[CheckResult] = []
    jira = JiraClient.from_settings(_quick(settings, timeout), retry=ONE_TRY)
    try:

        async def server_info() -> str:
            deployment = await jira.detect()
            info = jira.server_info or {}
            version = info.get("version") or "?"
            return f"{settings.url}: Jira {'Cloud' if deployment == 'cloud' else 'Data Center'} {version}"

        async def myself() -> str:
            me = await jira.myself()
            who = me.get("displayName") or me.get("name") or "?"
            ident = me.get("accountId") or me.get("name") or me.get("key") or "?"
            return f"logged in as {who} ({ident})"

        if not await _timed("jira", "serverInfo", server_info, results):
            return results
        if not await _timed("jira", "myself", myself, results):
            return results
        for key in settings.projects if projects else ():

            async def project(key: str = key) -> str:
                found = await jira.project(key)
                versions = await jira.project_versions(key)
                return f"project {key} ({found.get('name')}): {len(versions)} versions readable"

            await _timed("jira", f"project {key}", project, results)
        if projects and not settings.projects:
            results.append(
                CheckResult(
                    "jira",
                    "projects",
                    True,
                    "warning: jira.projects is empty, so nothing is polled; "
                    "webhooks of every project are synced",
                )
            )
    finally:
        await jira.aclose()
    return results


async def check_servicenow(
    settings: ServiceNowSettings, *, timeout: float = CHECK_TIMEOUT
) -> list[CheckResult]:
    from bridgeline.connectors.servicenow import ServiceNowClient

    results: list[CheckResult] = []
    client = ServiceNowClient.from_settings(_quick(settings, timeout), retry=ONE_TRY)
    try:

        async def table_read() -> str:
            row = await client.first(
                "change_request", "ORDERBYDESCsys_updated_on", fields=["sys_id", "number"]
            )
            latest = f"latest {row.get('number')}" if row else "no change requests yet"
            return f"{settings.url}: Table API read of change_request works ({latest})"

        await _timed("servicenow", "table read", table_read, results)
    finally:
        await client.aclose()
    return results


async def check_remedy(settings: RemedySettings, *, timeout: float = CHECK_TIMEOUT) -> list[CheckResult]:
    results: list[CheckResult] = []
    http = HttpClient(
        "remedy",
        settings.url,
        timeout=min(settings.timeout, timeout),
        verify=settings.verify,
        proxy=settings.proxy,
        retry=ONE_TRY,
        max_concurrency=1,
    )
    token: list[str] = []
    try:

        async def login() -> str:
            resp = await http.request(
                "POST",
                "/api/jwt/login",
                data={"username": settings.username, "password": settings.password.get_secret_value()},
                endpoint="/api/jwt/login",
                idempotent=True,
            )
            value = resp.text.strip()
            register_secret(value)
            if not value:
                raise BridgelineError("the login answered without a token")
            token.append(value)
            return f"{settings.url}: AR-JWT login as {settings.username} works"

        async def logout() -> str:
            await http.request(
                "POST",
                "/api/jwt/logout",
                headers={"Authorization": f"AR-JWT {token[0]}"},
                endpoint="/api/jwt/logout",
                idempotent=True,
            )
            return "logout works (the session was ended)"

        if await _timed("remedy", "jwt login", login, results):
            await _timed("remedy", "jwt logout", logout, results)
    finally:
        await http.aclose()
    return results


async def check_connections(
    settings: Settings, *, timeout: float = CHECK_TIMEOUT, projects: bool = True
) -> list[CheckResult]:
    """Every configured system, checked concurrently; results in a stable order. ``projects``:
    Jira's configured projects too (two calls each)."""
    jobs: list[Awaitable[list[CheckResult]]] = []
    if settings.jira is not None:
        jobs.append(check_jira(settings.jira, timeout=timeout, projects=projects))
    if settings.servicenow is not None:
        jobs.append(check_servicenow(settings.servicenow, timeout=timeout))
    if settings.remedy is not None:
        jobs.append(check_remedy(settings.remedy, timeout=timeout))
    out: list[CheckResult] = []
    for part in await asyncio.gather(*jobs):
        out.extend(part)
    return out


def _is_project(result: CheckResult) -> bool:
    return result.system == "jira" and result.check.startswith("project")


class ConnectorHealth:
    """The last connectivity check of each system, refreshed at most every ``ttl`` seconds.

    Readiness reads it on every probe; the systems see a few small calls per ``ttl`` per replica.
    Jira's projects (a project and its whole version list each) are checked again only every
    ``project_ttl`` seconds: with fifty projects they would otherwise cost four times the polls.
    """

    def __init__(
        self, settings: Settings, *, ttl: float = 30.0, timeout: float = 5.0, project_ttl: float = 600.0
    ) -> None:
        self.settings = settings
        self.ttl = ttl
        self.timeout = timeout
        self.project_ttl = project_ttl
        self.results: list[CheckResult] = []
        self.checked_at: float | None = None
        self._projects: list[CheckResult] = []  # the last project checks, reported until the next
        self._projects_at: float | None = None
        self._lock = asyncio.Lock()

    def stale(self) -> bool:
        return self.checked_at is None or time.monotonic() - self.checked_at >= self.ttl

    async def refresh(self) -> list[CheckResult]:
        async with self._lock:
            if not self.stale():
                return self.results
            now = time.monotonic()
            projects = self._projects_at is None or now - self._projects_at >= self.project_ttl
            results = await check_connections(self.settings, timeout=self.timeout, projects=projects)
            if projects:
                checked = [r for r in results if _is_project(r)]
                if checked:
                    self._projects, self._projects_at = checked, now
            else:  # the remembered project checks, where they stood: after Jira's own
                jira = [r for r in results if r.system == "jira"]
                results = [*jira, *self._projects, *(r for r in results if r.system != "jira")]
            self.results = results
            self.checked_at = time.monotonic()
            for system, ok in self.by_system().items():
                metrics.CONNECTOR_UP.labels(system).set(1 if ok else 0)
            return self.results

    async def current(self) -> list[CheckResult]:
        return await self.refresh() if self.stale() else self.results

    def by_system(self) -> dict[str, bool]:
        """system -> every check passed."""
        out: dict[str, bool] = {}
        for r in self.results:
            out[r.system] = out.get(r.system, True) and r.ok
        return out

    async def keep_fresh(self, stop: asyncio.Event) -> None:
        """Refresh in the background until ``stop``: probes then never wait on a remote system."""
        while not stop.is_set():
            await self.refresh()
            try:
                await asyncio.wait_for(stop.wait(), self.ttl)
            except TimeoutError:
                pass
