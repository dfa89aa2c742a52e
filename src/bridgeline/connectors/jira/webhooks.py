"""Jira webhook deliveries: the signature check and the events a payload stands for.

A payload only says *which* entities changed; the engine reads their current state itself, so a
late, repeated or reordered delivery can never move anything backwards. ::

    if not signature_valid(secret, raw_body, request.headers.get("X-Hub-Signature")):
        ...  # 401
    parsed = parse_delivery(json.loads(raw_body), identifier="...", issue_events=True, projects=["PAY"])
    await store.enqueue(parsed.events)

What Jira sends, including what it sends in the wild: issue events carry the v2 issue (also on
Cloud); comment events carry an abbreviated issue, or on old Servers none (the issue id is then in
``comment.self``); version events carry the version with its ``projectId`` but no project key;
``timestamp`` is sometimes a string; users are Cloud ``accountId`` or Server ``name``/``key``;
unknown keys and unknown events appear and are ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from bridgeline.model import EntityRef, Event

ISSUE_EVENTS = frozenset({"jira:issue_created", "jira:issue_updated", "jira:issue_deleted"})
COMMENT_EVENTS = frozenset({"comment_created", "comment_updated", "comment_deleted"})
VERSION_EVENTS = frozenset(
    {
        "jira:version_created",
        "jira:version_updated",
        "jira:version_released",
        "jira:version_unreleased",
        "jira:version_deleted",
        "jira:version_moved",
        "jira:version_merged",
    }
)
HANDLED_EVENTS = ISSUE_EVENTS | COMMENT_EVENTS | VERSION_EVENTS

SIGNATURE_HEADER = "X-Hub-Signature"
IDENTIFIER_HEADER = "X-Atlassian-Webhook-Identifier"

_ISSUE_IN_URL = re.compile(r"/issue/([0-9]+|[A-Za-z][A-Za-z0-9_]*-[0-9]+)(?:/|$)")
_VERSION_IN_URL = re.compile(r"/version/([0-9]+)(?:/|$)")
_ISSUE_KEY = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)-[0-9]+$")
_ID = re.compile(r"^[0-9]{1,20}$")
_DIGITS = re.compile(r"^[0-9]+$")
MAX_ID_DIGITS = 20  # Jira's ids are 64-bit numbers
MAX_KEY_LENGTH = 255  # a project key (at most 255 characters where an admin allows that), a dash, a number
_FIX_VERSION_FIELDS = frozenset({"fixversions", "fix version", "fix version/s"})


class InvalidDelivery(ValueError):
    """A payload naming an identifier no Jira makes (longer than any id or key can be): refused,
    rather than stored under a name that exists nowhere."""


def _bounded(what: str, text: str) -> str:
    """``text`` when it can be a Jira id or key; :class:`InvalidDelivery` when it is too long."""
    if _DIGITS.match(text) and len(text) > MAX_ID_DIGITS:
        raise InvalidDelivery(f"the {what} has {len(text)} digits; Jira's have at most {MAX_ID_DIGITS}")
    if len(text) > MAX_KEY_LENGTH:
        raise InvalidDelivery(
            f"the {what} is {len(text)} characters long; Jira's are at most {MAX_KEY_LENGTH}"
        )
    return text


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """``X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>``, compared in constant time."""
    if not header:
        return False
    algorithm, _, digest = header.strip().partition("=")
    if algorithm.lower() != "sha256" or not digest:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), digest.strip().lower().encode())


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature`` value Jira would send for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Delivery:
    """What one delivery means: events to append, or why nothing was."""

    event: str
    events: list[Event] = field(default_factory=list)
    ignored: str | None = None  # why a delivery (or part of it) led to no event
    timestamp: int | None = None
    actor: str | None = None  # accountId (Cloud) or name (Server) of who made the change


def delivery_key(identifier: str, ref: EntityRef) -> str:
    """The de-duplication key of one event of one delivery (stable across Jira's retries)."""
    ident = identifier.strip()
    if len(ident) > 80:
        ident = hashlib.sha256(ident.encode()).hexdigest()[:40]
    key = f"jira:{ident}:{ref}"
    return key if len(key) <= 200 else "jira:" + hashlib.sha256(key.encode()).hexdigest()


def _wanted(issue_events: bool | Callable[[dict[str, Any]], bool], issue: dict[str, Any] | None) -> bool:
    if not callable(issue_events):
        return issue_events
    fields = (issue or {}).get("fields")
    if not isinstance(fields, dict) or not {"labels", "issuetype"} <= set(fields):
        return True  # an abbreviated issue (a comment event): let the engine read and decide
    try:
        return bool(issue_events(issue or {}))
    except Exception:  # a payload odd enough to trip the filter: the engine decides
        return True


def parse_delivery(
    payload: Any,
    *,
    identifier: str | None,
    issue_events: bool | Callable[[dict[str, Any]], bool],
    projects: Collection[str] = (),
) -> Delivery:
    """The inbox events one webhook payload stands for; odd shapes are ignored (with the reason in
    ``ignored``), identifiers longer than Jira makes them are an :class:`InvalidDelivery`.

    ``issue_events``: whether issues themselves are enqueued (not only their releases) - all, none,
    or those a filter accepts; an issue whose payload lacks the fields to decide is enqueued.
    ``projects``: issues of other projects are ignored (when the payload tells).
    """
    if not isinstance(payload, dict):
        return Delivery("", ignored="the payload is not a JSON object")
    raw_event = payload.get("webhookEvent")
    event = raw_event if isinstance(raw_event, str) else ""
    delivery = Delivery(
        event, timestamp=_timestamp(payload.get("timestamp")), actor=_actor(payload.get("user"))
    )
    if not event:
        delivery.ignored = "no webhookEvent in the payload"
        return delivery
    if event not in HANDLED_EVENTS:
        delivery.ignored = f"{event} is not an event bridgeline acts on"
        return delivery
    refs: dict[EntityRef, None] = {}
    if event in VERSION_EVENTS:
        for key in ("version", "mergedTo", "mergeTo", "mergedVersion"):
            vid = _version_id(payload.get(key))
            if vid:
                refs[EntityRef("jira", "version", vid)] = None
        if not refs:
            delivery.ignored = f"{event} without a version id"
    else:
        issue = payload.get("issue") if isinstance(payload.get("issue"), dict) else None
        comment = payload.get("comment") if isinstance(payload.get("comment"), dict) else None
        issue_id = _issue_id(issue, comment)
        project = _project_key(issue)
        if project and projects and project not in projects:
            delivery.ignored = f"issue of project {project}, which is not configured"
            return delivery
        if issue_id is None:
            delivery.ignored = f"{event} without an issue id"
            return delivery
        if _wanted(issue_events, issue):
            refs[EntityRef("jira", "issue", issue_id)] = None
        for vid in [*_fix_versions(issue), *_changelog_versions(payload.get("changelog"))]:
            refs[EntityRef("jira", "version", vid)] = None
        if not refs:
            delivery.ignored = "no issue mapping, and the issue is in no release"
    hint: dict[str, Any] = {"webhookEvent": event}
    if delivery.timestamp is not None:
        hint["timestamp"] = delivery.timestamp
    delivery.events = [
        Event(
            ref,
            source="webhook",
            hint=hint,
            delivery_id=delivery_key(identifier, ref) if identifier else None,
        )
        for ref in refs
    ]
    return delivery


def _timestamp(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) < 1e16:
        return int(value)
    text = value.strip() if isinstance(value, str) else ""
    if text.isascii() and text.lstrip("-").isdecimal() and len(text) < 20:  # not "²": a digit, no number
        return int(text)
    return None


def _actor(user: Any) -> str | None:
    if not isinstance(user, dict):
        return None
    for key in ("accountId", "name", "key"):
        value = user.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _ident(value: Any, what: str = "id") -> str | None:
    """An id as Jira writes it: ``"10001"`` or ``10001``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return _bounded(what, str(value))
    if isinstance(value, str) and _ID.match(_bounded(what, value.strip())):
        return value.strip()
    return None


def _issue_id(issue: dict[str, Any] | None, comment: dict[str, Any] | None) -> str | None:
    if issue is not None:
        found = _ident(issue.get("id"), "issue id")
        if found:
            return found
        link = issue.get("self")
        if isinstance(link, str) and (match := _ISSUE_IN_URL.search(link)):
            return _issue_ref(match.group(1))
        key = issue.get("key")
        if isinstance(key, str) and _ISSUE_KEY.match(key):
            return _bounded("issue key", key).upper()
    link = comment.get("self") if comment is not None else None
    if isinstance(link, str) and (match := _ISSUE_IN_URL.search(link)):
        # old Server comment events carry no issue: /rest/api/2/issue/26313/comment/31039
        return _issue_ref(match.group(1))
    return None


def _issue_ref(text: str) -> str:
    text = _bounded("issue in the URL", text)
    return text if text.isdigit() else text.upper()


def _project_key(issue: dict[str, Any] | None) -> str | None:
    if issue is None:
        return None
    fields = issue.get("fields")
    if isinstance(fields, dict):
        project = fields.get("project")
        if isinstance(project, dict) and isinstance(project.get("key"), str):
            return _bounded("project key", str(project["key"]))
    key = issue.get("key")
    if isinstance(key, str):
        match = _ISSUE_KEY.match(key)
        if match:
            _bounded("issue key", key)
            return match.group(1).upper()
    return None


def _version_id(version: Any) -> str | None:
    if isinstance(version, dict):
        found = _ident(version.get("id"), "version id")
        if found:
            return found
        if isinstance(version.get("self"), str):
            match = _VERSION_IN_URL.search(version["self"])
            return _bounded("version in the URL", match.group(1)) if match else None
        return None
    return _ident(version, "version id")


def _fix_versions(issue: dict[str, Any] | None) -> list[str]:
    if issue is None or not isinstance(issue.get("fields"), dict):
        return []
    versions = issue["fields"].get("fixVersions")
    if not isinstance(versions, list):
        return []
    return [vid for vid in (_version_id(v) for v in versions) if vid]


def _changelog_versions(changelog: Any) -> list[str]:
    """Releases an issue left or joined in this change (``from``/``to`` of Fix Version items)."""
    if not isinstance(changelog, dict) or not isinstance(changelog.get("items"), list):
        return []
    found: list[str] = []
    for item in changelog["items"]:
        if not isinstance(item, dict):
            continue
        name = str(item.get("fieldId") or item.get("field") or "").casefold()
        if name not in _FIX_VERSION_FIELDS:
            continue
        for key in ("from", "to"):
            value = item.get(key)
            if isinstance(value, str):
                # several ids may come comma-separated ("[10001, 10002]" on some versions)
                found.extend(v for v in re.findall(r"[0-9]+", value) if len(v) <= 20)
            elif (vid := _ident(value)) is not None:
                found.append(vid)
    return found
