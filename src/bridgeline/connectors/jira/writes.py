"""Writes back to Jira for the CAB's decisions: transitions, comments, remote links, labels, fields,
bridgeline's issue property, version releases.

Each write is safe to repeat: a transition to the status the issue is already in does nothing, a
remote link is keyed by its ``globalId``, and a comment or transition whose answer was lost (a
timeout) is looked up before anyone tries it again.
"""

from __future__ import annotations

import json
from typing import Any

from bridgeline.connectors.jira.adf import adf_to_text, text_to_adf
from bridgeline.connectors.jira.base import JiraBase
from bridgeline.errors import NotFound, PermanentError, RemoteRejected, RemoteUnavailable, TransitionRefused

# The issue property where bridgeline keeps its own metadata (links to change requests, last sync).
METADATA_PROPERTY = "bridgeline"
PROPERTY_MAX_BYTES = 32_768


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


class JiraWrites(JiraBase):
    """The write half of :class:`~bridgeline.connectors.jira.JiraClient`."""

    # -- transitions ---------------------------------------------------------------------------

    async def transitions(self, key: str) -> list[dict[str, Any]]:
        """The transitions open to bridgeline's account from the issue's current status."""
        body = await self._get(f"/issue/{key}/transitions", "/issue/{key}/transitions")
        result: list[dict[str, Any]] = body.get("transitions", [])
        return result

    async def transition(
        self,
        key: str,
        name: str,
        *,
        fields: dict[str, Any] | None = None,
        comment: str | None = None,
    ) -> bool:
        """Move an issue by the transition called ``name``, or to the status called ``name``.

        Returns False when the issue already is in status ``name`` (naming the target status
        rather than the transition makes a repeated call harmless). Raises
        :class:`TransitionRefused` naming the current status and the transitions available from it.
        """
        wanted = name.casefold()
        current = await self.status(key)
        if current.casefold() == wanted:
            return False
        options = await self.transitions(key)
        match = next((t for t in options if str(t.get("name", "")).casefold() == wanted), None)
        if match is None:
            match = next(
                (t for t in options if str((t.get("to") or {}).get("name", "")).casefold() == wanted), None
            )
        if match is None:
            raise TransitionRefused(
                f"Jira issue {key} cannot take transition {name!r} from status {current!r}; "
                f"available: {_describe(options)}"
            )
        body: dict[str, Any] = {"transition": {"id": str(match["id"])}}
        if fields:
            body["fields"] = fields
        if comment:
            body["update"] = {"comment": [{"add": {"body": await self._rich(comment)}}]}
        target = str((match.get("to") or {}).get("name", ""))
        try:
            await self._send(
                "POST", f"/issue/{key}/transitions", "/issue/{key}/transitions", json=body, idempotent=False
            )
        except RemoteUnavailable as exc:
            # the answer was lost, not necessarily the transition: look before anyone repeats it
            if exc.maybe_applied and target and (await self.status(key)).casefold() == target.casefold():
                return True
            raise
        except RemoteRejected as exc:
            if exc.status != 400:
                raise
            raise TransitionRefused(
                f"Jira refused transition {match.get('name')!r} of {key} from status {current!r}: "
                f"{exc}; available: {_describe(options)}"
            ) from exc
        return True

    # -- comments -------------------------------------------------------------------------------

    async def _rich(self, text: str) -> Any:
        """Text as the API wants it: ADF on v3 (Cloud), wiki text on v2 (Data Center)."""
        return text_to_adf(text) if (await self.api()).endswith("/3") else text

    async def find_comment(self, key: str, text: str, *, recent: int = 20) -> dict[str, Any] | None:
        """A comment among the issue's newest with the same text, if there is one."""
        mine = _norm(text)
        for existing in await self.comments(key, newest_first=True, limit=recent):
            if _norm(adf_to_text(existing.get("body"))) == mine:
                return existing
        return None

    async def add_comment(self, key: str, text: str, *, look_first: bool = False) -> dict[str, Any]:
        """Comment on an issue; the created comment. A lost answer is resolved by looking, not reposting;
        ``look_first``: an earlier attempt may have posted it already (its outcome was never learnt)."""
        if look_first:
            found = await self.find_comment(key, text)
            if found is not None:
                return found
        try:
            resp = await self._send(
                "POST",
                f"/issue/{key}/comment",
                "/issue/{key}/comment",
                json={"body": await self._rich(text)},
                idempotent=False,
            )
        except RemoteUnavailable as exc:
            if exc.maybe_applied:
                found = await self.find_comment(key, text)
                if found is not None:
                    return found
            raise
        result: dict[str, Any] = resp.json()
        return result

    async def comments(
        self, key: str, *, newest_first: bool = False, limit: int = 5000
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"maxResults": limit}
        if newest_first:
            params["orderBy"] = "-created"
        body = await self._get(f"/issue/{key}/comment", "/issue/{key}/comment", params)
        result: list[dict[str, Any]] = body.get("comments", [])
        return result

    # -- remote links ---------------------------------------------------------------------------

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
        relationship: str | None = None,
        application: str | None = None,
    ) -> dict[str, Any]:
        """Create, or update in place (same ``global_id``), a link from the issue to a change record.

        ``resolved`` shows the link struck through (the change is closed).
        """
        obj: dict[str, Any] = {"url": url, "title": title}
        if summary:
            obj["summary"] = summary
        if icon_url:
            obj["icon"] = {"url16x16": icon_url, "title": title}
        if resolved is not None:
            obj["status"] = {"resolved": resolved}
        body: dict[str, Any] = {"globalId": global_id, "object": obj}
        if relationship:
            body["relationship"] = relationship
        if application:
            body["application"] = {"type": f"com.bridgeline.{application.lower()}", "name": application}
        resp = await self._send(
            "POST", f"/issue/{key}/remotelink", "/issue/{key}/remotelink", json=body, idempotent=True
        )
        result: dict[str, Any] = resp.json() if resp.content else {}
        return result

    async def remote_links(self, key: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._get(f"/issue/{key}/remotelink", "/issue/{key}/remotelink")
        return result

    async def remote_link_by_global_id(self, key: str, global_id: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = await self._get(
                f"/issue/{key}/remotelink", "/issue/{key}/remotelink", {"globalId": global_id}
            )
        except NotFound:
            return None
        return result

    # -- fields and labels ----------------------------------------------------------------------

    async def edit_issue(
        self, key: str, *, fields: dict[str, Any] | None = None, update: dict[str, Any] | None = None
    ) -> None:
        """Set ``fields`` and apply ``update`` operations, without mailing the watchers.

        Rich-text fields take ADF on Cloud and wiki text on Data Center: see :meth:`rich_text`.
        """
        body: dict[str, Any] = {}
        if fields:
            body["fields"] = fields
        if update:
            body["update"] = update
        if not body:
            return
        await self._send(
            "PUT",
            f"/issue/{key}",
            "/issue/{key}",
            json=body,
            params={"notifyUsers": "false"},
            idempotent=True,
        )

    async def rich_text(self, text: str) -> Any:
        """A rich-text field value (description, multi-line custom field) for this deployment."""
        return await self._rich(text)

    async def update_labels(
        self, key: str, *, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()
    ) -> None:
        """Add and remove labels in one edit (labels cannot hold spaces in Jira)."""
        for label in (*add, *remove):
            if not label or any(c.isspace() for c in label):
                raise PermanentError(f"Jira labels cannot be empty or contain spaces: {label!r}")
        ops = [{"add": label} for label in add] + [{"remove": label} for label in remove]
        await self.edit_issue(key, update={"labels": ops} if ops else None)

    async def add_label(self, key: str, label: str) -> None:
        await self.update_labels(key, add=(label,))

    async def remove_label(self, key: str, label: str) -> None:
        await self.update_labels(key, remove=(label,))

    # -- issue properties -----------------------------------------------------------------------

    async def set_property(self, key: str, name: str, value: Any) -> None:
        """Store a JSON value on the issue (not shown in the UI); Jira allows 32 KB per property."""
        size = len(json.dumps(value, separators=(",", ":")).encode())
        if size > PROPERTY_MAX_BYTES:
            raise PermanentError(
                f"issue property {name!r} of {key} would hold {size} bytes; Jira allows {PROPERTY_MAX_BYTES}"
            )
        await self._send(
            "PUT", f"/issue/{key}/properties/{name}", "/issue/{key}/properties/{name}", json=value
        )

    async def set_project_property(self, project: str, name: str, value: Any) -> None:
        """Store a JSON value on a project. Jira has no properties on versions: a version's live on its
        project under ``<name>.<version id>``."""
        size = len(json.dumps(value, separators=(",", ":")).encode())
        if size > PROPERTY_MAX_BYTES:
            raise PermanentError(
                f"project property {name!r} of {project} would hold {size} bytes; "
                f"Jira allows {PROPERTY_MAX_BYTES}"
            )
        await self._send(
            "PUT", f"/project/{project}/properties/{name}", "/project/{key}/properties/{name}", json=value
        )

    async def get_project_property(self, project: str, name: str) -> Any | None:
        try:
            body = await self._get(
                f"/project/{project}/properties/{name}", "/project/{key}/properties/{name}"
            )
        except NotFound:
            return None
        return body.get("value") if isinstance(body, dict) else None

    async def get_property(self, key: str, name: str) -> Any | None:
        """The property's value, or None when the issue has no such property."""
        try:
            body = await self._get(f"/issue/{key}/properties/{name}", "/issue/{key}/properties/{name}")
        except NotFound:
            return None
        return body.get("value") if isinstance(body, dict) else None

    async def set_metadata(self, key: str, value: dict[str, Any]) -> None:
        """bridgeline's own record on the issue (its change records, last sync) in one property."""
        await self.set_property(key, METADATA_PROPERTY, value)

    async def metadata(self, key: str) -> dict[str, Any] | None:
        value = await self.get_property(key, METADATA_PROPERTY)
        return value if isinstance(value, dict) else None

    # -- versions -------------------------------------------------------------------------------

    async def update_version(self, version_id: str, values: dict[str, Any]) -> dict[str, Any]:
        resp = await self._send(
            "PUT", f"/version/{version_id}", "/version/{id}", json=values, idempotent=True
        )
        result: dict[str, Any] = resp.json() if resp.content else {}
        return result

    async def release_version(
        self, version_id: str, release_date: str | None = None, *, move_unfixed_to: str | None = None
    ) -> bool:
        """Mark a version released (``release_date`` as ``yyyy-mm-dd``); False when it already was.

        ``move_unfixed_to``: a version id that unresolved issues move to, as Jira's release dialog does.
        """
        current = await self.version(version_id)
        if current.get("released"):
            return False
        values: dict[str, Any] = {"released": True}
        if release_date:
            values["releaseDate"] = release_date
        if move_unfixed_to:
            values["moveUnfixedIssuesTo"] = move_unfixed_to
        try:
            await self.update_version(version_id, values)
        except RemoteRejected as exc:
            if exc.status != 400:
                raise
            raise RemoteRejected(
                "jira", exc.status, f"could not release version {version_id}: {exc}", details=exc.details
            ) from exc
        return True


def _describe(options: list[dict[str, Any]]) -> str:
    return ", ".join(f"{t.get('name')!r} (to {(t.get('to') or {}).get('name')!r})" for t in options) or "none"
