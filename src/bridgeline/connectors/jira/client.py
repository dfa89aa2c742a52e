"""Jira REST: Cloud (API v3, ``/search/jql`` with page tokens, ADF) and Data Center (API v2, offsets).

::

    jira = JiraClient.from_settings(settings.jira)
    await jira.detect()                      # serverInfo decides Cloud or Data Center when "auto"
    async for issue in jira.search("fixVersion = 10042", fields=["summary", "priority"]):
        ...
    await jira.transition("PAY-12", "Approved")

Reads live here, writes in :mod:`~bridgeline.connectors.jira.writes`, the transport and errors in
:mod:`~bridgeline.connectors.jira.base`; :class:`JiraClient` is all three.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from bridgeline.connectors.jira.adf import text_to_adf
from bridgeline.connectors.jira.base import BearerAuth, Deployment, jira_error_parser
from bridgeline.connectors.jira.writes import METADATA_PROPERTY, JiraWrites

__all__ = [
    "BASE_ISSUE_FIELDS",
    "METADATA_PROPERTY",
    "BearerAuth",
    "Deployment",
    "JiraClient",
    "SearchPage",
    "jira_error_parser",
    "text_to_adf",
]

# Fields the engine always needs to place an issue: which project, which releases, when it changed.
BASE_ISSUE_FIELDS = ("summary", "status", "issuetype", "priority", "project", "fixVersions", "updated")

WEBHOOKS = "/rest/webhooks/1.0/webhook"


@dataclass(frozen=True)
class SearchPage:
    """One page of a search; ``total`` only on Data Center (Cloud's ``/search/jql`` does not count)."""

    issues: list[dict[str, Any]]
    start: int
    total: int | None


class JiraClient(JiraWrites):
    """Reads and writes Jira in its own terms; no mapping or store knowledge."""

    # -- projects and versions ---------------------------------------------------------------

    async def project(self, key: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._get(f"/project/{key}", "/project/{key}")
        return result

    async def project_versions(self, key: str) -> list[dict[str, Any]]:
        """All versions of a project (one call; Jira does not page this list)."""
        result: list[dict[str, Any]] = await self._get(f"/project/{key}/versions", "/project/{key}/versions")
        return result

    # -- search --------------------------------------------------------------------------------

    async def search_pages(
        self,
        jql: str,
        *,
        fields: Sequence[str] | None = None,
        expand: str | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[SearchPage]:
        """Pages of issues matching ``jql``: token pages on Cloud, offsets on Data Center.

        Pages are read one after the other, so an issue edited meanwhile can move across a page
        boundary: callers that must not miss one (the poller) watch for it.
        """
        size = page_size or self.page_size
        field_list = ",".join(fields) if fields else "*navigable"
        if await self._ensure() == "cloud":
            token: str | None = None
            start = 0
            while True:
                params: dict[str, Any] = {"jql": jql, "maxResults": size, "fields": field_list}
                if expand:
                    params["expand"] = expand
                if token:
                    params["nextPageToken"] = token
                page = await self.http.get_json(
                    "/rest/api/3/search/jql", params=params, endpoint="/rest/api/3/search/jql"
                )
                issues = page.get("issues") or []
                yield SearchPage(issues, start, None)
                start += len(issues)
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
                issues = page.get("issues") or []
                total = int(page.get("total", 0))
                yield SearchPage(issues, start, total)
                start += len(issues)
                if not issues or start >= total:
                    return

    async def search(
        self,
        jql: str,
        *,
        fields: Sequence[str] | None = None,
        expand: str | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every issue matching ``jql``, page by page."""
        async for page in self.search_pages(jql, fields=fields, expand=expand, page_size=page_size):
            for issue in page.issues:
                yield issue

    async def search_all(self, jql: str, **kwargs: Any) -> list[dict[str, Any]]:
        return [issue async for issue in self.search(jql, **kwargs)]

    # -- webhook registrations (Jira administrators only) -----------------------------------

    async def webhooks(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.http.get_json(WEBHOOKS, endpoint=WEBHOOKS)
        return result

    async def create_webhook(self, body: dict[str, Any]) -> dict[str, Any]:
        resp = await self.http.request("POST", WEBHOOKS, json=body, endpoint=WEBHOOKS)
        result: dict[str, Any] = resp.json()
        return result

    async def update_webhook(self, webhook_id: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = await self.http.request(
            "PUT", f"{WEBHOOKS}/{webhook_id}", json=body, endpoint=WEBHOOKS + "/{id}"
        )
        result: dict[str, Any] = resp.json() if resp.content else {}
        return result
