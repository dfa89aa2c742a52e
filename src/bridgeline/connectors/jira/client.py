"""Jira REST: Cloud (API v3, ``/search/jql`` with page tokens, ADF) and Data Center (API v2, offsets).

::

    jira = JiraClient.from_settings(settings.jira)
    await jira.detect()                      # serverInfo decides Cloud or Data Center when "auto"
    async for issue in jira.search("fixVersion = 10042", fields=["summary", "priority"]):
        ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

import httpx

from bridgeline.connectors.http import HttpClient, RetryPolicy
from bridgeline.errors import ConfigError, NotFound, RemoteRejected, TransitionRefused

Deployment = Literal["cloud", "datacenter"]

# Fields the engine always needs to place an issue: which project, which releases, when it changed.
BASE_ISSUE_FIELDS = ("summary", "status", "issuetype", "priority", "project", "fixVersions", "updated")


def jira_error_parser(response: httpx.Response) -> tuple[str, Any]:
    """Jira states errors as ``{"errorMessages": [...], "errors": {"field": "message"}}``."""
    try:
        body = response.json()
    except ValueError:
        return (response.text.strip()[:500] or response.reason_phrase), None
    if isinstance(body, dict):
        parts = [str(m) for m in body.get("errorMessages") or []]
        parts += [f"{k}: {v}" for k, v in (body.get("errors") or {}).items()]
        if parts:
            return "; ".join(parts), body
        if "message" in body:
            return str(body["message"]), body
    return str(body)[:500], body


class JiraClient:
    """Reads and writes Jira in its own terms; no mapping or store knowledge."""

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
    ) -> JiraClient:
        auth: httpx.Auth
        headers: dict[str, str] = {}
        if settings.token is not None:
            auth = _BearerAuth(settings.token.get_secret_value())
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
            headers=headers,
            timeout=settings.timeout,
            max_concurrency=settings.max_concurrency,
            verify=settings.verify,
            transport=transport,
            retry=retry,
            error_parser=jira_error_parser,
        )
        return cls(http, deployment=settings.deployment, page_size=settings.page_size)

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- shape of the instance -------------------------------------------------------------

    async def detect(self) -> Deployment:
        """Ask ``serverInfo`` (also proves the credentials work); Cloud or Data Center."""
        info = await self.http.get_json("/rest/api/2/serverInfo", endpoint="/rest/api/2/serverInfo")
        self.server_info = info
        if self._configured == "auto":
            self.deployment = (
                "cloud" if str(info.get("deploymentType", "")).lower() == "cloud" else "datacenter"
            )
        return self.deployment or "cloud"

    async def _ensure(self) -> Deployment:
        if self.deployment is None:
            return await self.detect()
        return self.deployment

    async def api(self) -> str:
        """``/rest/api/3`` on Cloud, ``/rest/api/2`` on Data Center."""
        return "/rest/api/3" if await self._ensure() == "cloud" else "/rest/api/2"

    async def myself(self) -> dict[str, Any]:
        api = await self.api()
        result: dict[str, Any] = await self.http.get_json(f"{api}/myself", endpoint=f"{api}/myself")
        return result

    # -- reads -----------------------------------------------------------------------------

    async def project(self, key: str) -> dict[str, Any]:
        api = await self.api()
        result: dict[str, Any] = await self.http.get_json(
            f"{api}/project/{key}", endpoint=f"{api}/project/{{key}}"
        )
        return result

    async def project_versions(self, key: str) -> list[dict[str, Any]]:
        """All versions of a project (one call; Jira does not page this list)."""
        api = await self.api()
        result: list[dict[str, Any]] = await self.http.get_json(
            f"{api}/project/{key}/versions", endpoint=f"{api}/project/{{key}}/versions"
        )
        return result

    async def version(self, version_id: str) -> dict[str, Any]:
        api = await self.api()
        result: dict[str, Any] = await self.http.get_json(
            f"{api}/version/{version_id}", endpoint=f"{api}/version/{{id}}"
        )
        return result

    async def issue(
        self, key: str, *, fields: Sequence[str] | None = None, expand: str | None = None
    ) -> dict[str, Any]:
        api = await self.api()
        params: dict[str, str] = {}
        if fields:
            params["fields"] = ",".join(fields)
        if expand:
            params["expand"] = expand
        result: dict[str, Any] = await self.http.get_json(
            f"{api}/issue/{key}", params=params, endpoint=f"{api}/issue/{{key}}"
        )
        return result

    async def search(
        self,
        jql: str,
        *,
        fields: Sequence[str] | None = None,
        expand: str | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every issue matching ``jql``, page by page (token pages on Cloud, offsets on Data Center)."""
        size = page_size or self.page_size
        field_list = ",".join(fields) if fields else "*navigable"
        if await self._ensure() == "cloud":
            token: str | None = None
            while True:
                params: dict[str, Any] = {"jql": jql, "maxResults": size, "fields": field_list}
                if expand:
                    params["expand"] = expand
                if token:
                    params["nextPageToken"] = token
                page = await self.http.get_json(
                    "/rest/api/3/search/jql", params=params, endpoint="/rest/api/3/search/jql"
                )
                for issue in page.get("issues", []):
                    yield issue
                token = page.get("nextPageToken")
                if page.get("isLast", token is None) or not token:
                    return
        else:
            start = 0
            while True:
                params = {"jql": jql, "startAt": start, "maxResults": size, "fields": field_list}
                if expand:
                    params["expand"] = expand
                page = await self.http.get_json(
                    "/rest/api/2/search", params=params, endpoint="/rest/api/2/search"
                )
                issues = page.get("issues", [])
                for issue in issues:
                    yield issue
                start += len(issues)
                if not issues or start >= int(page.get("total", 0)):
                    return

    async def search_all(self, jql: str, **kwargs: Any) -> list[dict[str, Any]]:
        return [issue async for issue in self.search(jql, **kwargs)]

    # -- writes ----------------------------------------------------------------------------

    async def transitions(self, key: str) -> list[dict[str, Any]]:
        api = await self.api()
        body = await self.http.get_json(
            f"{api}/issue/{key}/transitions", endpoint=f"{api}/issue/{{key}}/transitions"
        )
        result: list[dict[str, Any]] = body.get("transitions", [])
        return result

    async def transition(self, key: str, name: str) -> bool:
        """Move an issue through the transition called ``name`` (or to the status called ``name``).

        Returns False when the issue already is in that status. Raises :class:`TransitionRefused`
        naming the transitions that are available from where the issue stands.
        """
        options = await self.transitions(key)
        wanted = name.casefold()
        match = next((t for t in options if str(t.get("name", "")).casefold() == wanted), None)
        if match is None:
            match = next(
                (t for t in options if str(t.get("to", {}).get("name", "")).casefold() == wanted), None
            )
        if match is None:
            issue = await self.issue(key, fields=["status"])
            status = issue.get("fields", {}).get("status", {}).get("name", "")
            if status.casefold() == wanted:
                return False
            available = (
                ", ".join(f"{t.get('name')!r} (to {t.get('to', {}).get('name')!r})" for t in options)
                or "none"
            )
            raise TransitionRefused(
                f"Jira issue {key} cannot take transition {name!r} from status {status!r}; "
                f"available: {available}"
            )
        api = await self.api()
        await self.http.request(
            "POST",
            f"{api}/issue/{key}/transitions",
            json={"transition": {"id": str(match["id"])}},
            endpoint=f"{api}/issue/{{key}}/transitions",
            idempotent=True,
        )
        return True

    async def add_comment(self, key: str, text: str) -> dict[str, Any]:
        """Comment on an issue: ADF on Cloud (v3), wiki text on Data Center (v2)."""
        api = await self.api()
        body: Any = text_to_adf(text) if api.endswith("/3") else text
        resp = await self.http.request(
            "POST", f"{api}/issue/{key}/comment", json={"body": body}, endpoint=f"{api}/issue/{{key}}/comment"
        )
        result: dict[str, Any] = resp.json()
        return result

    async def comments(self, key: str) -> list[dict[str, Any]]:
        api = await self.api()
        body = await self.http.get_json(f"{api}/issue/{key}/comment", endpoint=f"{api}/issue/{{key}}/comment")
        result: list[dict[str, Any]] = body.get("comments", [])
        return result

    async def remote_link(
        self,
        key: str,
        *,
        global_id: str,
        url: str,
        title: str,
        summary: str | None = None,
        resolved: bool | None = None,
        icon_url: str | None = None,
    ) -> dict[str, Any]:
        """Create or update (same ``global_id``) a remote link on an issue: idempotent."""
        obj: dict[str, Any] = {"url": url, "title": title}
        if summary:
            obj["summary"] = summary
        if icon_url:
            obj["icon"] = {"url16x16": icon_url, "title": title}
        if resolved is not None:
            obj["status"] = {"resolved": resolved}
        api = await self.api()
        resp = await self.http.request(
            "POST",
            f"{api}/issue/{key}/remotelink",
            json={"globalId": global_id, "object": obj},
            endpoint=f"{api}/issue/{{key}}/remotelink",
            idempotent=True,
        )
        result: dict[str, Any] = resp.json() if resp.content else {}
        return result

    async def edit_issue(
        self, key: str, *, fields: dict[str, Any] | None = None, update: dict[str, Any] | None = None
    ) -> None:
        api = await self.api()
        body: dict[str, Any] = {}
        if fields:
            body["fields"] = fields
        if update:
            body["update"] = update
        await self.http.request(
            "PUT",
            f"{api}/issue/{key}",
            params={"notifyUsers": "false"},
            json=body,
            endpoint=f"{api}/issue/{{key}}",
        )

    async def add_label(self, key: str, label: str) -> None:
        await self.edit_issue(key, update={"labels": [{"add": label}]})

    async def remove_label(self, key: str, label: str) -> None:
        await self.edit_issue(key, update={"labels": [{"remove": label}]})

    async def set_property(self, key: str, name: str, value: Any) -> None:
        api = await self.api()
        await self.http.request(
            "PUT",
            f"{api}/issue/{key}/properties/{name}",
            json=value,
            endpoint=f"{api}/issue/{{key}}/properties/{{name}}",
        )

    async def update_version(self, version_id: str, values: dict[str, Any]) -> dict[str, Any]:
        api = await self.api()
        resp = await self.http.request(
            "PUT", f"{api}/version/{version_id}", json=values, endpoint=f"{api}/version/{{id}}"
        )
        result: dict[str, Any] = resp.json() if resp.content else {}
        return result

    async def release_version(self, version_id: str, release_date: str | None = None) -> bool:
        """Mark a version released; False when it already was."""
        current = await self.version(version_id)
        if current.get("released"):
            return False
        values: dict[str, Any] = {"released": True}
        if release_date:
            values["releaseDate"] = release_date
        try:
            await self.update_version(version_id, values)
        except NotFound:
            raise
        except RemoteRejected as exc:
            raise RemoteRejected(
                "jira", exc.status, f"could not release version {version_id}: {exc}"
            ) from exc
        return True


class _BearerAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._value = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = self._value
        yield request


def text_to_adf(text: str) -> dict[str, Any]:
    """Plain text (paragraphs split on blank lines) as an Atlassian Document Format document."""
    paragraphs = [p for p in text.replace("\r\n", "\n").split("\n\n")]
    content = []
    for para in paragraphs:
        lines = para.split("\n")
        inline: list[dict[str, Any]] = []
        for i, line in enumerate(lines):
            if i:
                inline.append({"type": "hardBreak"})
            if line:
                inline.append({"type": "text", "text": line})
        content.append({"type": "paragraph", "content": inline} if inline else {"type": "paragraph"})
    return {"type": "doc", "version": 1, "content": content}
