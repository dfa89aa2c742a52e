"""Fixtures for the mapping engine's tests: mapping files in a temporary folder and raw Jira JSON."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bridgeline.mapping import MappingSet, MappingSetError, load_mapping_set, version_context

NOW = datetime(2024, 4, 29, 8, 0, tzinfo=UTC)

HEADER = """\
apiVersion: bridgeline/v1
kind: Mapping
"""


def mapping_text(name: str = "rel", body: str = "", *, entity: str = "version") -> str:
    """A small valid mapping; ``body`` (YAML at the top level) is appended and may add or replace keys."""
    identity = (
        '"jira:{{ project.key }}:version:{{ version.id }}"'
        if entity == "version"
        else '"jira:{{ project.key }}:issue:{{ issue.id }}"'
    )
    base = f"""\
{HEADER}metadata: {{name: {name}}}
source: {{system: jira, entity: {entity}}}
target: {{system: servicenow, record: change_request}}
identity: {identity}
"""
    return base + textwrap.dedent(body)


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """``write("a.yaml", text)`` -> the path, inside a fresh folder."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def load(write: Callable[..., Path], tmp_path: Path) -> Callable[..., MappingSet]:
    """``load(text)`` or ``load({"a.yaml": text, ...})`` -> the loaded set."""

    def _load(files: str | dict[str, str]) -> MappingSet:
        if isinstance(files, str):
            files = {"mapping.yaml": files}
        for name, text in files.items():
            write(name, text)
        return load_mapping_set([tmp_path])

    return _load


@pytest.fixture
def problems(load: Callable[..., MappingSet]) -> Callable[..., list[str]]:
    """``problems(text)`` -> the problems (as strings, file names relative) of an invalid set."""

    def _problems(files: str | dict[str, str]) -> list[str]:
        with pytest.raises(MappingSetError) as info:
            load(files)
        root = str(info.value.problems[0].file).rsplit("/", 1)[0] + "/"
        return [str(p).replace(root, "") for p in info.value.problems]

    return _problems


def issue(
    n: int,
    *,
    key: str = "PAY",
    type: str = "Story",
    priority: str | None = "Medium",
    status: tuple[str, str] = ("To Do", "new"),
    components: tuple[str, ...] = (),
    labels: tuple[str, ...] = (),
    **fields: Any,
) -> dict[str, Any]:
    """A raw Jira REST v3 issue."""
    return {
        "id": str(10000 + n),
        "key": f"{key}-{n}",
        "self": f"https://acme.atlassian.net/rest/api/3/issue/{10000 + n}",
        "fields": {
            "summary": f"issue {n}",
            "issuetype": {"name": type, "subtask": type == "Sub-task"},
            "status": {"name": status[0], "statusCategory": {"key": status[1]}},
            "priority": {"name": priority} if priority else None,
            "components": [{"name": c} for c in components],
            "labels": list(labels),
            **fields,
        },
    }


def release_ctx(
    issues: list[dict[str, Any]] | None = None, *, key: str = "PAY", now: datetime = NOW, **version: Any
) -> dict[str, Any]:
    """A version context for a release of project ``key``."""
    raw = {
        "id": "10042",
        "name": "1.4.0",
        "released": False,
        "archived": False,
        "releaseDate": "2024-05-03",
        "projectId": 10000,
        "self": "https://acme.atlassian.net/rest/api/3/version/10042",
        **version,
    }
    project = {"id": "10000", "key": key, "name": "Payments"}
    return version_context(raw, project, issues if issues is not None else [issue(1), issue(2)], now)


def target(**values: Any) -> dict[str, Any]:
    """A target record as the connectors normalize it."""
    base = {
        "system": "servicenow",
        "record": "change_request",
        "number": "CHG0030042",
        "url": "https://sn.example/change_request.do?sys_id=4f1e",
        "state": "authorize",
        "raw_state": "-3",
        "approval": "requested",
        "approver": None,
        "approval_comment": None,
        "planned_start": "2024-05-03 18:00:00",
        "planned_end": "2024-05-06 04:00:00",
        "close_code": None,
        "close_notes": None,
        "fields": {},
    }
    return {**base, **values}


class Kit:
    """The builders above, handed to tests as the ``kit`` fixture (test modules cannot import conftest)."""

    now = NOW
    mapping = staticmethod(mapping_text)
    issue = staticmethod(issue)
    release = staticmethod(release_ctx)
    target = staticmethod(target)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
