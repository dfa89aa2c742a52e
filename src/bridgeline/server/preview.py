"""The mapping preview of the status page: pasted Jira JSON in, the rendered record and provenance out.

It renders with the daemon's live mapping set and calls nothing remote: what a person pastes is
all it sees. Accepted input: ``{"version": ..., "project": ..., "issues": [...]}`` or
``{"issue": ..., "project": ...}`` (as ``bridgeline mappings preview --input``), or a bare version
or issue exactly as Jira's REST API returns it; ``now`` may be given as an ISO date-time.

Parsing and rendering a pasted payload is CPU work: the routes run it in a worker thread
(:func:`preview_off_loop`), a few at a time, with the body already limited to
``server.max_body_bytes``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from bridgeline.errors import RenderError
from bridgeline.log import redact_value
from bridgeline.mapping import MappingSet, issue_context, version_context
from bridgeline.model import utcnow
from bridgeline.server.jsonbody import BadBody, parse_json
from bridgeline.sync.engine import render_if_applies

T = TypeVar("T")


@dataclass
class PreviewResult:
    """What the form shows: either ``error``, or ``skipped``, or the rendered record."""

    mapping: str
    error: str | None = None
    skipped: str | None = None
    target: str = ""
    identity: str = ""
    fields: list[dict[str, Any]] = field(default_factory=list)  # name, value, provenance
    children: list[dict[str, Any]] = field(default_factory=list)
    on_remove: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = redact_value("preview", self.__dict__)
        return data


def _now(payload: dict[str, Any]) -> datetime:
    raw = payload.get("now")
    if isinstance(raw, str) and raw.strip():
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)
    return utcnow()


def context_for(entity: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The mapping context of ``payload`` for a mapping that reads ``entity`` (version or issue)."""
    now = _now(payload)
    if entity == "version":
        version = payload.get("version")
        if version is None and "name" in payload and ("released" in payload or "projectId" in payload):
            version = payload  # a bare version from GET /rest/api/3/version/{id}
        if not isinstance(version, dict):
            raise ValueError(
                'this mapping reads releases: paste {"version": {...}, "project": {...}, "issues": [...]} '
                "or a version as Jira's API returns it"
            )
        issues = payload.get("issues") or []
        if not isinstance(issues, list) or not all(isinstance(i, dict) for i in issues):
            raise ValueError('"issues" must be a list of Jira issues (JSON objects)')
        return version_context(version, _project(payload), issues, now)
    issue = payload.get("issue")
    if issue is None and isinstance(payload.get("fields"), dict) and "key" in payload:
        issue = payload  # a bare issue from GET /rest/api/3/issue/{key}
    if not isinstance(issue, dict):
        raise ValueError(
            'this mapping reads issues: paste {"issue": {...}, "project": {...}} '
            "or an issue as Jira's API returns it"
        )
    return issue_context(issue, _project(payload), now)


def _project(payload: dict[str, Any]) -> dict[str, Any] | None:
    project = payload.get("project")
    if project is not None and not isinstance(project, dict):
        raise ValueError('"project" must be a Jira project (a JSON object), or left out')
    return project


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def preview(mappings: MappingSet, name: str, text: str) -> PreviewResult:
    """Render mapping ``name`` on the pasted JSON ``text``, under the render budget.

    Blocking (parsing, building the context and rendering are all CPU work): the routes call it in
    a worker thread (:func:`preview_off_loop`)."""
    result = PreviewResult(mapping=name)
    try:
        mapping = mappings.get(name)
    except KeyError as exc:
        result.error = str(exc.args[0])
        return result
    try:
        payload = parse_json(text, "the pasted text")
    except BadBody as exc:
        result.error = str(exc)
        return result
    if not isinstance(payload, dict):
        result.error = "expected a JSON object"
        return result
    try:
        ctx = context_for(mapping.source.entity, payload)
        rendered = render_if_applies(mapping, ctx)
        if rendered is None:
            result.skipped = mapping.why_not(ctx) or "the mapping does not apply to this input"
            return result
    except (RenderError, ValueError, TypeError) as exc:
        result.error = str(exc)
        return result
    target = rendered.target
    result.target = " ".join(str(v) for v in (target.system, target.record, target.type) if v)
    result.identity = rendered.identity
    result.fields = [
        {"name": k, "value": _show(v), "provenance": rendered.provenance.get(k, "")}
        for k, v in rendered.fields.items()
    ]
    result.children = [
        {
            "group": c.group,
            "source": c.source_key,
            "identity": c.identity,
            "target": f"{c.target.system} {c.target.record}",
            "fields": [
                {"name": k, "value": _show(v), "provenance": c.provenance.get(k, "")}
                for k, v in c.fields.items()
            ],
        }
        for c in rendered.children
    ]
    result.on_remove = {g: p.action for g, p in rendered.on_remove.items()}
    return result


PREVIEWS_AT_ONCE = 2  # per process: a preview is CPU work, and the workers need the rest


class PreviewBusy(Exception):
    """Every preview slot is taken: the caller should try again in a moment."""


async def preview_off_loop(slots: asyncio.Semaphore, work: Callable[..., T], *args: Any) -> T:
    """Run ``work(*args)`` (parsing and rendering a pasted payload) in a worker thread, so the event
    loop keeps answering probes and webhooks meanwhile; :class:`PreviewBusy` when
    :data:`PREVIEWS_AT_ONCE` previews already run."""
    if slots.locked():
        raise PreviewBusy
    async with slots:
        return await asyncio.to_thread(work, *args)


def preview_request(mappings: MappingSet, raw: bytes) -> tuple[int, dict[str, Any]]:
    """``POST /api/preview``: the body ``{"mapping": "...", "input": {...}}`` -> (status, answer)."""
    try:
        body = parse_json(raw)
    except BadBody as exc:
        return 400, {"error": str(exc)}
    if not isinstance(body, dict) or not isinstance(body.get("mapping"), str):
        return 400, {"error": 'expected {"mapping": "<name>", "input": {...}}'}
    result = preview(mappings, body["mapping"], json.dumps(body.get("input")))
    return (200 if result.error is None else 422), result.as_dict()
