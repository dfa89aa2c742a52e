"""ServiceNow REST: the Table API (``/api/now/table``), in ServiceNow's own terms.

All values travel as strings; reference fields are read with ``sysparm_exclude_reference_link``
so they come back as plain sys_ids. ::

    client = ServiceNowClient.from_settings(settings.servicenow)
    async for row in client.query("change_request", "correlation_idSTARTSWITHjira:", fields=["number"]):
        ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx

from bridgeline.connectors.http import HttpClient, RetryPolicy
from bridgeline.connectors.servicenow.auth import servicenow_auth
from bridgeline.log import shorten


def servicenow_error_parser(response: httpx.Response) -> tuple[str, Any]:
    """ServiceNow errors: ``{"error": {"message": ..., "detail": ...}, "status": "failure"}``."""
    try:
        body = response.json()
    except ValueError:
        return (shorten(response.text.strip(), 500) or response.reason_phrase), None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        message = str(err.get("message") or "")
        if err.get("detail"):
            message = f"{message} ({err['detail']})" if message else str(err["detail"])
        return message or shorten(str(body), 500), body
    return shorten(str(body), 500), body


class ServiceNowClient:
    """Table API calls; no mapping or store knowledge."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> ServiceNowClient:
        http = HttpClient(
            "servicenow",
            settings.url,
            auth=servicenow_auth(settings),
            timeout=settings.timeout,
            max_concurrency=settings.max_concurrency,
            requests_per_second=settings.requests_per_second,
            verify=settings.verify,
            proxy=settings.proxy,
            transport=transport,
            retry=retry,
            error_parser=servicenow_error_parser,
        )
        return cls(http)

    async def aclose(self) -> None:
        await self.http.aclose()

    @staticmethod
    def _path(table: str, sys_id: str | None = None) -> tuple[str, str]:
        if sys_id is None:
            return f"/api/now/table/{table}", f"/api/now/table/{table}"
        return f"/api/now/table/{table}/{sys_id}", f"/api/now/table/{table}/{{sys_id}}"

    async def query(
        self,
        table: str,
        query: str,
        *,
        fields: Sequence[str] | None = None,
        limit: int | None = None,
        page_size: int = 500,
        display_value: str | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Records matching an encoded query, paged by ``sysparm_offset``.

        ``display_value="true"`` reads references and choices as people see them (a user's name).
        """
        path, endpoint = self._path(table)
        offset = 0
        remaining = limit
        while True:
            size = page_size if remaining is None else min(page_size, remaining)
            params: dict[str, Any] = {
                "sysparm_query": query,
                "sysparm_limit": size,
                "sysparm_offset": offset,
                "sysparm_exclude_reference_link": "true",
                "sysparm_suppress_pagination_header": "true",
            }
            if display_value:
                params["sysparm_display_value"] = display_value
            if fields:
                params["sysparm_fields"] = ",".join(fields)
            body = await self.http.get_json(path, params=params, endpoint=endpoint)
            rows = body.get("result", [])
            for row in rows:
                yield row
            offset += len(rows)
            if remaining is not None:
                remaining -= len(rows)
                if remaining <= 0:
                    return
            if len(rows) < size:
                return

    async def first(
        self,
        table: str,
        query: str,
        *,
        fields: Sequence[str] | None = None,
        display_value: str | None = None,
    ) -> dict[str, Any] | None:
        async for row in self.query(table, query, fields=fields, limit=1, display_value=display_value):
            return row
        return None

    async def all(
        self, table: str, query: str, *, fields: Sequence[str] | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        return [row async for row in self.query(table, query, fields=fields, limit=limit)]

    async def get(
        self,
        table: str,
        sys_id: str,
        *,
        fields: Sequence[str] | None = None,
        display_value: str | None = None,
    ) -> dict[str, Any]:
        path, endpoint = self._path(table, sys_id)
        params: dict[str, Any] = {"sysparm_exclude_reference_link": "true"}
        if display_value:
            params["sysparm_display_value"] = display_value
        if fields:
            params["sysparm_fields"] = ",".join(fields)
        body = await self.http.get_json(path, params=params, endpoint=endpoint)
        result: dict[str, Any] = body["result"]
        return result

    async def insert(
        self, table: str, values: dict[str, Any], *, display_value: str | None = None
    ) -> dict[str, Any]:
        """POST a new record (201). Not retried when the outcome is unknown: the caller looks first.

        ``display_value="all"`` has every field answered as ``{"value", "display_value"}``."""
        path, endpoint = self._path(table)
        resp = await self.http.request(
            "POST",
            path,
            json=values,
            params=_write_params(display_value),
            endpoint=endpoint,
            idempotent=False,
        )
        result: dict[str, Any] = resp.json()["result"]
        return result

    async def patch(
        self, table: str, sys_id: str, values: dict[str, Any], *, display_value: str | None = None
    ) -> dict[str, Any]:
        path, endpoint = self._path(table, sys_id)
        resp = await self.http.request(
            "PATCH",
            path,
            json=values,
            params=_write_params(display_value),
            endpoint=endpoint,
            idempotent=True,
        )
        result: dict[str, Any] = resp.json()["result"]
        return result


def _write_params(display_value: str | None) -> dict[str, str]:
    params = {"sysparm_exclude_reference_link": "true"}
    if display_value:
        params["sysparm_display_value"] = display_value
    return params
