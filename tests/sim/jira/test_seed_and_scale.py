"""Seed data looks like a real organisation; benchmark-sized data is generated and searched fast."""

from __future__ import annotations

from collections import Counter

import httpx

from bridgeline.sim import serve_in_thread
from bridgeline.sim.jira import JiraScale, JiraSimulator
from bridgeline.sim.jira._model import Issue

from .conftest import BRIDGELINE


def test_default_seed_looks_real() -> None:
    sim = JiraSimulator(seed=42)
    state = sim.state
    assert [(p.key, p.name) for p in state.projects.values()] == [
        ("PAY", "Payments"),
        ("WEB", "Web Storefront"),
        ("OPS", "Platform Operations"),
    ]
    versions = list(state.versions.values())
    assert len(versions) == 12
    assert {(v.released, v.archived) for v in versions} == {(True, True), (True, False), (False, False)}
    assert len(state.issues) == 300
    issues = list(state.issues.values())
    assert set(Counter(i.issuetype for i in issues)) == {"Story", "Bug", "Task", "Sub-task", "Epic"}
    assert set(Counter(i.priority for i in issues)) == {"Highest", "High", "Medium", "Low", "Lowest"}
    assert set(Counter(i.status for i in issues)) == {
        "To Do",
        "In Progress",
        "In Review",
        "Ready for Release",
        "Done",
    }
    hotfixes = [i for i in issues if "hotfix" in i.labels]
    assert hotfixes and all(i.issuetype == "Bug" and i.priority == "Highest" for i in hotfixes)
    for issue in issues:
        assert len(issue.fix_versions) <= 2
        assert all(state.versions[v].project_id == issue.project_id for v in issue.fix_versions)
        assert issue.created <= issue.updated
        assert (issue.status == "Done") == (issue.resolution is not None)
        assert issue.description is not None and issue.description["type"] == "doc"
    blocks = Counter(block["type"] for i in issues for block in i.description["content"])  # type: ignore[index]
    assert {"paragraph", "bulletList", "codeBlock", "heading"} <= set(blocks)
    assert any(i.parent_id is not None and i.issuetype == "Sub-task" for i in issues)
    assert any(i.assignee is None for i in issues) and any(i.comments for i in issues)


def test_the_same_seed_gives_the_same_organisation() -> None:
    def shape(sim: JiraSimulator) -> list[tuple[str, str, str, str, tuple[str, ...]]]:
        state = sim.state
        return sorted(
            (i.key, i.summary, i.status, i.priority, tuple(state.versions[v].name for v in i.fix_versions))
            for i in state.issues.values()
        )

    assert shape(JiraSimulator(seed=5)) == shape(JiraSimulator(seed=5))
    assert shape(JiraSimulator(seed=5)) != shape(JiraSimulator(seed=6))


def test_a_train_of_its_own_adds_a_version_per_project_and_changes_nothing_else() -> None:
    plain = JiraSimulator(seed=42).state
    state = JiraSimulator(seed=42, scale=JiraScale(train="2026.12")).state
    added = [v for v in state.versions.values() if v.id not in plain.versions]
    assert [(state.projects[v.project_id].key, v.name) for v in added] == [
        ("PAY", "2026.12"),
        ("WEB", "2026.12"),
    ]
    for version in added:
        assert version.description.splitlines()[-1] == "Train: 2026.12"
        assert not version.released and not version.archived and version.release_date
        issues = [i for i in state.issues.values() if version.id in i.fix_versions]
        assert len(issues) == 3 and all(i.issuetype in ("Story", "Bug", "Task") for i in issues)
        assert not any("hotfix" in i.labels or i.status == "Done" for i in issues)

    # the rest is the same organisation (timestamps follow the clock, which moved on meanwhile)
    def shape(issue: Issue) -> tuple[object, ...]:
        return (issue.key, issue.summary, issue.issuetype, issue.status, issue.labels, issue.fix_versions)

    assert all(state.versions[v.id].name == v.name for v in plain.versions.values())
    assert all(shape(state.issues[i.id]) == shape(i) for i in plain.issues.values())
    assert len(state.issues) == len(plain.issues) + 6


def test_benchmark_scale_is_generated_with_its_indexes_and_searched_through_them() -> None:
    """The benchmark's organisation (20,000 issues): the fix-version index agrees with the issues,
    and searches over it answer what a scan would. How fast: ``make bench``, not a test."""
    sim = JiraSimulator(seed=1, scale=JiraScale(projects=3, versions=1000, issues=20_000))
    assert len(sim.state.issues) == 20_000 and len(sim.state.versions) == 1000
    with sim.state.lock:
        scanned: dict[int, set[int]] = {}
        for issue in sim.state.issues.values():
            for version_id in issue.fix_versions:
                scanned.setdefault(version_id, set()).add(issue.id)
        indexed = {v: set(ids) for v, ids in sim.state.by_fix_version.items() if ids}
        assert indexed == scanned
        version = max(scanned, key=lambda v: len(scanned[v]))
    with serve_in_thread(sim.app) as served, httpx.Client(base_url=served.url, auth=BRIDGELINE) as api:
        page = api.get(
            "/rest/api/3/search/jql", params={"jql": f"fixVersion = {version}", "maxResults": 5000}
        ).json()
        recent = api.get(
            "/rest/api/3/search/jql",
            params={"jql": "project = PAY AND updated >= -2h ORDER BY updated ASC", "fields": "updated"},
        )
        assert {int(i["id"]) for i in page["issues"]} == scanned[version] and recent.status_code == 200
