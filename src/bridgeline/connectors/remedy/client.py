"""BMC Remedy / Helix ITSM over the AR System REST API, in Remedy's own terms.

::

    remedy = RemedyClient.from_settings(settings.remedy)
    async for values in remedy.entries("CHG:Infrastructure Change", q="'Vendor Ticket Number' = \\"x\\""):
        ...
    await remedy.aclose()                     # logs the AR-JWT token out

Forms are addressed by name (``CHG:Infrastructure Change``, URL-encoded on the wire), entries by
their id. Values are exchanged as Remedy does: selection fields as labels, date-times as
``2019-01-28T11:19:29.000+0000``. Errors arrive as an array of messages, which become the text of
the raised error (``ERROR (302): Entry does not exist in database; CRQ000000000999``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx

from bridgeline.connectors.http import HttpClient, RetryPolicy
from bridgeline.connectors.remedy.auth import LOGOUT_PATH, ARJWTAuth
from bridgeline.errors import BridgelineError
from bridgeline.log import shorten

ENTRY = "/api/arsys/v1/entry"


def remedy_messages(body: Any) -> str | None:
    """The AR error array as one line; None when the body is not one."""
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list) or not body or not all(isinstance(m, dict) for m in body):
        return None
    parts = []
    for m in body:
        text = str(m.get("messageText") or "").strip()
        number = m.get("messageNumber")
        part = f"{m.get('messageType') or 'ERROR'} ({number}): {text}" if number is not None else text
        if m.get("messageAppendedText"):
            part += f"; {m['messageAppendedText']}"
        parts.append(part)
    return " | ".join(parts)


def remedy_error_parser(response: httpx.Response) -> tuple[str, Any]:
    """Remedy errors: ``[{"messageType", "messageNumber", "messageText", "messageAppendedText"}]``."""
    try:
        body = response.json()
    except ValueError:
        return (shorten(response.text.strip(), 500) or response.reason_phrase), None
    return (remedy_messages(body) or shorten(str(body), 500)), body


def form_path(form: str, entry_id: str | None = None) -> str:
    path = f"{ENTRY}/{quote(form, safe=':')}"
    return path if entry_id is None else f"{path}/{quote(entry_id, safe='')}"


def quoted(value: str) -> str:
    """A text literal for a qualification: double quotes, inner quotes doubled."""
    return '"' + value.replace('"', '""') + '"'


def fields_param(fields: Sequence[str]) -> str:
    return f"values({','.join(fields)})"


def entry_id_from_location(location: str | None) -> str | None:
    """The entry id at the end of a ``Location`` header."""
    if not location:
        return None
    path = urlsplit(location).path.rstrip("/")
    return unquote(path.rsplit("/", 1)[-1]) or None


class RemedyClient:
    """Entry calls of the AR REST API; no mapping or store knowledge."""

    def __init__(self, http: HttpClient, auth: ARJWTAuth) -> None:
        self.http = http
        self.auth = auth

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> RemedyClient:
        auth = ARJWTAuth(
            settings.url,
            settings.username,
            settings.password.get_secret_value(),
            error_message=lambda r: remedy_error_parser(r)[0],
        )
        http = HttpClient(
            "remedy",
            settings.url,
            auth=auth,
            timeout=settings.timeout,
            max_concurrency=settings.max_concurrency,
            requests_per_second=settings.requests_per_second,
            verify=settings.verify,
            proxy=settings.proxy,
            transport=transport,
            retry=retry,
            error_parser=remedy_error_parser,
        )
        return cls(http, auth)

    async def aclose(self) -> None:
        """Log out (the token stops working at once), then close the connections."""
        if self.auth.token is not None:
            with contextlib.suppress(BridgelineError):
                await self.http.request("POST", LOGOUT_PATH, endpoint=LOGOUT_PATH)
        await self.http.aclose()

    async def entries(
        self,
        form: str,
        q: str = "",
        *,
        fields: Sequence[str] | None = None,
        sort: str | None = None,
        limit: int | None = None,
        page_size: int = 200,
    ) -> AsyncIterator[dict[str, Any]]:
        """The values of every entry matching ``q``, page by page (``offset``/``limit``)."""
        offset = 0
        remaining = limit
        endpoint = f"{ENTRY}/{form}"
        while True:
            size = page_size if remaining is None else min(page_size, remaining)
            params: dict[str, Any] = {"offset": offset, "limit": size}
            if q:
                params["q"] = q
            if fields:
                params["fields"] = fields_param(fields)
            if sort:
                params["sort"] = sort
            body = await self.http.get_json(form_path(form), params=params, endpoint=endpoint)
            rows = body.get("entries") or []
            for row in rows:
                yield row.get("values") or {}
            offset += len(rows)
            if remaining is not None:
                remaining -= len(rows)
                if remaining <= 0:
                    return
            if len(rows) < size or not (body.get("_links") or {}).get("next"):
                return

    async def first(
        self, form: str, q: str, *, fields: Sequence[str] | None = None, sort: str | None = None
    ) -> dict[str, Any] | None:
        async for values in self.entries(form, q, fields=fields, sort=sort, limit=1):
            return values
        return None

    async def get(self, form: str, entry_id: str, *, fields: Sequence[str] | None = None) -> dict[str, Any]:
        params = {"fields": fields_param(fields)} if fields else None
        body = await self.http.get_json(
            form_path(form, entry_id), params=params, endpoint=f"{ENTRY}/{form}/{{id}}"
        )
        values: dict[str, Any] = body.get("values") or {}
        return values

    async def create(
        self, form: str, values: dict[str, Any], *, fields: Sequence[str] | None = None
    ) -> tuple[str | None, dict[str, Any]]:
        """POST a new entry (201): its ``Location`` and the ``fields`` asked for (when the server sends
        them). Not retried when the outcome is unknown: the caller looks first."""
        resp = await self.http.request(
            "POST",
            form_path(form),
            params={"fields": fields_param(fields)} if fields else None,
            json={"values": values},
            endpoint=f"{ENTRY}/{form}",
            idempotent=False,
        )
        answered: dict[str, Any] = {}
        if resp.content:
            with contextlib.suppress(ValueError):
                answered = (resp.json() or {}).get("values") or {}
        return resp.headers.get("location"), answered

    async def update(
        self, form: str, entry_id: str, values: dict[str, Any], *, idempotent: bool = True
    ) -> None:
        """PUT the given values (204); only they change. A status step is not idempotent (workflow
        may have moved the entry on): its caller reads the entry again instead of repeating it."""
        await self.http.request(
            "PUT",
            form_path(form, entry_id),
            json={"values": values},
            endpoint=f"{ENTRY}/{form}/{{id}}",
            idempotent=idempotent,
        )
