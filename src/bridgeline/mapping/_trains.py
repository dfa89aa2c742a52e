"""Release trains: one release that several projects carry as their own versions, as mappings see it.

A train mapping (``source.entity: train``) names its member projects and renders a *train key* from
each of their versions (default: the version's name). The versions with the same key form one train,
one entity (``jira:train:<key>``) whose context is built here::

    ctx = train_context("2026.12", [(version, project, issues), ...], now)
    ctx["members"][0]["project"]["key"]        # "PAY"
    ctx["issues"]                              # every member's issues
    scope = train_level(ctx, "changes", "jira:version:10042")   # as a child's reverse rules see it

Pure, like the rest of the mapping engine: raw Jira JSON in, dicts out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bridgeline.mapping._context import version_context

TRAIN_KEYS = (
    "key", "id", "projects", "versions", "issue_count", "release_date", "last_release_date",
    "released", "url", "issues",
)  # fmt: skip
MEMBER_KEYS = ("ref", "version", "project", "issues")
SERVICE_KEYS = ("ref", "name", "projects", "issues")
# what the reverse rules of a train's records see besides the train itself
LEVEL_NAMES = ("level", "child", "member", "service")

Member = tuple[dict[str, Any], dict[str, Any] | None, list[dict[str, Any]]]


def train_context(key: str, members: Sequence[Member], now: datetime) -> dict[str, Any]:
    """The context of a train mapping: ``train``, ``members``, ``issues``, ``services`` and ``now``.

    ``members`` are the train's versions as Jira returns them, each with its project and issues, in
    the order the mapping names the projects. ``issues`` holds every member's issues (each knows its
    ``project``); ``services`` groups them by component, one entry per component any issue names.
    """
    built = [version_context(version, project, issues, now) for version, project, issues in members]
    out_members = [
        {
            "ref": f"jira:version:{c['version']['id']}",
            "version": c["version"],
            "project": c["project"],
            "issues": c["issues"],
        }
        for c in built
    ]
    issues = [issue for m in out_members for issue in m["issues"]]
    services: dict[str, dict[str, Any]] = {}
    for issue in issues:
        for component in issue.get("components") or ():
            service = services.setdefault(
                component,
                {"ref": f"jira:component:{component}", "name": component, "projects": [], "issues": []},
            )
            service["issues"].append(issue)
            if issue.get("project") and issue["project"] not in service["projects"]:
                service["projects"].append(issue["project"])
    dates = sorted(str(m["version"]["release_date"]) for m in out_members if m["version"]["release_date"])
    train = {
        "key": key,
        "id": key,
        "projects": [m["project"]["key"] for m in out_members],
        "versions": [m["version"] for m in out_members],
        "issue_count": len(issues),
        "release_date": dates[0] if dates else None,
        "last_release_date": dates[-1] if dates else None,
        "released": bool(out_members) and all(m["version"]["released"] for m in out_members),
        "url": None,
        "issues": issues,
    }
    return {
        "train": train,
        "members": out_members,
        "issues": issues,
        "services": [services[name] for name in sorted(services)],
        "now": built[0]["now"] if built else now,
    }


def train_level(
    ctx: dict[str, Any], group: str | None = None, source_key: str | None = None
) -> dict[str, Any]:
    """The train context as the reverse rules of one of its records see it.

    The parent (``group`` None): ``level`` is ``parent`` and ``issues`` every member's. A child:
    ``level`` is ``child``, ``child`` its group, ``member`` (a child per member project) or ``service``
    (a child per component) the item it was made for, and ``issues`` that item's issues only.
    """
    if group is None:
        return {**ctx, "level": "parent", "child": None, "member": None, "service": None}
    member = next((m for m in ctx.get("members") or () if m["ref"] == source_key), None)
    service = next((s for s in ctx.get("services") or () if s["ref"] == source_key), None)
    if member is not None:
        issues = member["issues"]
    elif service is not None:
        issues = service["issues"]
    else:
        issues = [i for i in ctx.get("issues") or () if f"jira:issue:{i.get('id')}" == source_key]
    return {**ctx, "level": "child", "child": group, "member": member, "service": service, "issues": issues}


def level_versions(scope: dict[str, Any]) -> list[dict[str, Any]]:
    """The versions a version-scoped action (release_version) of this level writes to: a member's
    child its own; the parent, and any other child, every member's."""
    member = scope.get("member")
    if isinstance(member, dict):
        return [member["version"]]
    return [m["version"] for m in scope.get("members") or ()]


def split_child_key(link_key: str, source: str) -> tuple[str, str] | None:
    """``(parent key, group)`` of a child link's key (``<parent>/<group>/<source>``), else None."""
    suffix = "/" + source
    if not link_key.endswith(suffix):
        return None
    head = link_key[: -len(suffix)]
    parent, _, group = head.rpartition("/")
    return (parent, group) if parent and group else None
