"""Seed data that looks like a real software organisation, the same for the same seed.

Default: three projects (PAY Payments, WEB Web Storefront, OPS Platform Operations), twelve
versions around "now" (archived, released, overdue, upcoming) and three hundred issues spread over
the workflow. :class:`JiraScale` asks for more (benchmarks: 1,000 versions, 20,000 issues).
"""

from __future__ import annotations

import hashlib
import itertools
import random
from dataclasses import dataclass
from datetime import date

from bridgeline.sim.jira import _adf as adf
from bridgeline.sim.jira import _catalog as cat
from bridgeline.sim.jira._clock import DAY_MS, day_offset, from_ms
from bridgeline.sim.jira._edit_values import item
from bridgeline.sim.jira._model import Comment, Component, History, Issue, Project, User, Version
from bridgeline.sim.jira._seed_data import (
    ACCOUNTS,
    COMMENTS,
    EXTRA_PROJECTS,
    FORMER_INTEGRATION_SECRETS,
    GENERIC_SUMMARIES,
    IN_FLIGHT,
    INTEGRATION_API_TOKEN,
    INTEGRATION_PASSWORD,
    INTEGRATION_PAT,
    LABELS,
    PEOPLE,
    PRIORITY_WEIGHTS,
    PROJECTS,
    TYPE_WEIGHTS,
)
from bridgeline.sim.jira._state import JiraState


@dataclass(frozen=True)
class JiraScale:
    """How much seed data to generate."""

    projects: int = 3
    versions: int = 12
    issues: int = 300
    # a release train of its own: a new version named ``train`` in each of the first two projects,
    # two and a bit weeks out and marked "Train: <train>", with a few issues each; no other
    # version changes, so the rest of the data is the same with or without it
    train: str = ""


def account_id(name: str) -> str:
    """A stable Cloud-style account id for a person."""
    return "5b10" + hashlib.sha1(name.encode()).hexdigest()[:20]


_CUMULATIVE: dict[tuple[tuple[str, int], ...], tuple[list[str], list[int]]] = {
    table: ([n for n, _ in table], list(itertools.accumulate(w for _, w in table)))
    for table in (TYPE_WEIGHTS, PRIORITY_WEIGHTS)
}


HOTFIX_REASONS = (
    "Customers cannot complete payments since the last deployment ({key}).",
    "Data loss risk in production: {key} corrupts records on retry.",
    "Security fix: {key} exposes session tokens in logs.",
    "Outage of a revenue-critical path; {key} restores service.",
)


def _weighted(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    names, cumulative = _CUMULATIVE[table]
    return rng.choices(names, cum_weights=cumulative)[0]


def _checklist(items: tuple[str, ...]) -> adf.Node:
    return {
        "type": "bulletList",
        "content": [{"type": "listItem", "content": [adf.paragraph(adf.text(item))]} for item in items],
    }


# Blocks many descriptions share. Stored documents are never edited in place (an edit replaces the
# whole description), so sharing them keeps generating 20,000 issues fast.
_CHECKLISTS = (
    _checklist(("Acceptance: behaviour covered by automated tests", "Rollout behind a feature flag")),
    _checklist(
        (
            "Acceptance: behaviour covered by automated tests",
            "Rollout behind a feature flag",
            "Runbook updated",
        )
    ),
)
_RISK = (
    {"type": "heading", "attrs": {"level": 3}, "content": [adf.text("Risk")]},
    adf.paragraph(adf.text("Low: no schema change, can be rolled back by redeploying.")),
)


def _description(rng: random.Random, summary: str, project_key: str, n: int) -> adf.Node:
    """An ADF description with paragraphs, a list, sometimes code and a link."""
    blocks: list[adf.Node] = [
        {
            "type": "paragraph",
            "content": [
                {"type": "text", "text": "Context: "},
                {"type": "text", "text": summary.lower(), "marks": [{"type": "strong"}]},
                {"type": "text", "text": f" affects the {project_key} service in production."},
            ],
        },
        _CHECKLISTS[n % 2],
    ]
    if n % 3 == 0:
        blocks.append(
            {
                "type": "codeBlock",
                "attrs": {"language": "bash"},
                "content": [
                    {"type": "text", "text": f"kubectl rollout status deploy/{project_key.lower()}-api"}
                ],
            }
        )
    if n % 4 == 0:
        blocks.append(
            adf.paragraph(
                adf.text("See the "),
                adf.text("design notes", href=f"https://wiki.example.com/{project_key}/design-{n}"),
                adf.text(" and run "),
                adf.text("make verify", "code"),
                adf.text(" before release."),
            )
        )
    if rng.random() < 0.2:
        blocks.extend(_RISK)
    return adf.doc(*blocks)


def _users(state: JiraState) -> None:
    for index, (name, display, email, tz, token, pat, password, admin, read_only) in enumerate(ACCOUNTS):
        user = User(
            account_id=account_id(name),
            name=name,
            key=f"JIRAUSER{10000 + index * 100}",
            display_name=display,
            email=email,
            time_zone=tz,
            api_token=token,
            pat=pat,
            password=password,
            admin=admin,
            read_only=read_only,
        )
        state.users[user.account_id] = user
    for index, (name, display, tz) in enumerate(PEOPLE):
        user = User(
            account_id=account_id(name),
            name=name,
            key=f"JIRAUSER{10300 + index * 100}",
            display_name=display,
            email=f"{name}@example.com",
            time_zone=tz,
        )
        state.users[user.account_id] = user


def _version_name(pattern: str, n: int, release_date: str) -> str:
    return pattern.format(n=n, yy=release_date[2:4], yyyy=release_date[:4])


def seed(state: JiraState, seed_value: int, scale: JiraScale | None = None) -> None:
    """Fill an empty ``state`` with generated data; deterministic for ``seed_value``."""
    scale = scale or JiraScale()
    rng = random.Random(seed_value)
    now = state.clock.now_ms()
    state.seed = seed_value
    _users(state)
    people = [account_id(p[0]) for p in PEOPLE]
    admin_id = account_id("admin")

    projects: list[tuple[Project, tuple[str, ...], str]] = []
    for p_index in range(max(1, scale.projects)):
        components: tuple[str, ...]
        summaries: tuple[str, ...]
        if p_index < len(PROJECTS):
            key, name, description, components, pattern, summaries = PROJECTS[p_index]
        elif p_index - len(PROJECTS) < len(EXTRA_PROJECTS):
            key, name, description = EXTRA_PROJECTS[p_index - len(PROJECTS)]
            components, pattern, summaries = ("API", "UI", "Infrastructure"), "{n}.0", GENERIC_SUMMARIES
        else:
            key, name, description = f"PRJ{p_index + 1}", f"Project {p_index + 1}", "Generated project."
            components, pattern, summaries = ("API", "UI", "Infrastructure"), "{n}.0", GENERIC_SUMMARIES
        project = Project(
            id=state.counters.next("project"),
            key=key,
            name=name,
            description=description,
            lead=people[p_index % len(people)],
        )
        for component_name in components:
            project.components.append(Component(state.counters.next("component"), component_name, ""))
        state.projects[project.id] = project
        projects.append((project, summaries, pattern))

    versions_by_project: dict[int, list[Version]] = {}
    total_versions = max(len(projects), scale.versions)
    for p_index, (project, _, pattern) in enumerate(projects):
        count = total_versions // len(projects) + (1 if p_index < total_versions % len(projects) else 0)
        released_count = count // 2
        archived_count = count // 4 if count >= 4 else 0
        made: list[Version] = []
        for k in range(count):
            days = (k - released_count) * 28 + 7
            released = k < released_count
            if not released and k == released_count and p_index % 3 == 1:
                days = -3  # an overdue release: unreleased with a past release date
            release_date = day_offset(now, days)
            version = Version(
                id=state.counters.next("version"),
                project_id=project.id,
                name=_version_name(pattern, k + 1, release_date),
                description=f"{project.name} release {k + 1}",
                archived=k < archived_count,
                released=released,
                start_date=day_offset(now, days - 28),
                release_date=release_date,
                sequence=k + 1,
            )
            state.versions[version.id] = version
            made.append(version)
        versions_by_project[project.id] = made
    next_release = {
        pid: next((v.sequence for v in made if not v.released), -1)
        for pid, made in versions_by_project.items()
    }
    release_at = {
        v.id: now + _days_between(now, v.release_date) * DAY_MS
        for v in state.versions.values()
        if v.release_date
    }
    drafts: list[_Draft] = []
    weights = [len(projects) - i * 0.2 for i in range(len(projects))]
    for n in range(scale.issues):
        project, project_summaries, _ = rng.choices(projects, weights)[0]
        issuetype = _weighted(rng, TYPE_WEIGHTS)
        priority = _weighted(rng, PRIORITY_WEIGHTS)
        versions = versions_by_project[project.id]
        fix: list[Version] = []
        roll = rng.random()
        if versions and roll < 0.85 and issuetype != "Epic":
            fix.append(rng.choice(versions))
            if roll < 0.12 and len(versions) > 1:
                other = rng.choice(versions)
                if other is not fix[0]:
                    fix.append(other)
        status = _status_for(rng, fix[0] if fix else None, next_release[project.id])
        if fix and fix[0].release_date:
            release_ms = release_at[fix[0].id]
            created = min(now - DAY_MS, release_ms - rng.randint(10, 80) * DAY_MS)
        else:
            created = now - rng.randint(1, 180) * DAY_MS
        created -= rng.randint(0, DAY_MS - 1)
        updated = min(now - rng.randint(0, 3_600_000), created + rng.randint(0, max(1, now - created)))
        labels = sorted(set(rng.sample(LABELS, rng.choice((0, 0, 1, 1, 2, 3)))))
        if issuetype == "Bug" and priority == "Highest" and rng.random() < 0.75:
            labels.append("hotfix")
        pool = project_summaries
        summary = pool[n % len(pool)] if n < 3 * len(pool) else rng.choice(pool)
        if issuetype == "Epic":
            summary = f"{project.name}: {summary.split(' ')[0].lower()} initiative"
        drafts.append(
            _Draft(
                n=n,
                project=project,
                issuetype=issuetype,
                priority=priority,
                fix=[v.id for v in fix],
                status=status,
                created=created,
                updated=max(updated, created),
                labels=labels,
                components=[c.id for c in rng.sample(project.components, rng.choice((0, 1, 1, 2)))],
                summary=summary,
                assignee=None if rng.random() < 0.15 else rng.choice(people),
                reporter=rng.choice([*people, admin_id]),
            )
        )
    drafts.sort(key=lambda d: d.created)

    parents: dict[int, list[int]] = {}  # project id -> ids usable as sub-task parents
    epics: dict[int, list[int]] = {}
    for draft in drafts:
        project = draft.project
        issue_id = state.counters.next("issue")
        number = project.next_issue_number
        project.next_issue_number += 1
        issuetype = draft.issuetype
        parent_id: int | None = None
        if issuetype == "Sub-task":
            if parents.get(project.id):
                parent_id = rng.choice(parents[project.id])
            else:
                issuetype = "Task"
        elif issuetype != "Epic" and epics.get(project.id) and rng.random() < 0.3:
            parent_id = rng.choice(epics[project.id])
        issue = Issue(
            id=issue_id,
            key=f"{project.key}-{number}",
            project_id=project.id,
            summary=draft.summary,
            issuetype=issuetype,
            status=draft.status,
            priority=draft.priority,
            reporter=draft.reporter,
            creator=draft.reporter,
            created=draft.created,
            updated=draft.updated,
            description=_description(rng, draft.summary, project.key, draft.n),
            assignee=draft.assignee,
            labels=draft.labels,
            components=draft.components,
            fix_versions=draft.fix,
            parent_id=parent_id,
        )
        if issuetype == "Story":
            issue.custom[cat.STORY_POINTS] = rng.choice((1, 2, 3, 5, 8, 13))
        if "hotfix" in draft.labels:
            issue.custom[cat.HOTFIX_JUSTIFICATION] = rng.choice(HOTFIX_REASONS).format(key=issue.key)
        if issuetype in ("Story", "Task"):
            parents.setdefault(project.id, []).append(issue_id)
        if issuetype == "Epic":
            epics.setdefault(project.id, []).append(issue_id)
        _history(state, issue)
        if rng.random() < 0.2:
            author = draft.assignee or draft.reporter
            for k in range(rng.choice((1, 1, 2))):
                at = draft.created + (draft.updated - draft.created) * (k + 1) // 3
                body = adf.doc(adf.paragraph(adf.text(rng.choice(COMMENTS))))
                issue.comments.append(Comment(state.counters.next("comment"), author, body, at, at, author))
        state.issues[issue.id] = issue
    if scale.train and len(projects) >= 2:
        _own_train(state, random.Random(f"{seed_value}:train"), projects[:2], scale.train, people)
    state.reindex()


def _own_train(
    state: JiraState,
    rng: random.Random,
    projects: list[tuple[Project, tuple[str, ...], str]],
    train: str,
    people: list[str],
) -> None:
    """A version named ``train`` in each of ``projects``, on that train, with three issues each."""
    now = state.clock.now_ms()
    for p_index, (project, summaries, _) in enumerate(projects):
        days = 14 + 2 * p_index
        version = Version(
            id=state.counters.next("version"),
            project_id=project.id,
            name=train,
            description=f"{project.name} on release train {train}\nTrain: {train}",
            archived=False,
            released=False,
            start_date=day_offset(now, days - 28),
            release_date=day_offset(now, days),
            sequence=1 + sum(1 for v in state.versions.values() if v.project_id == project.id),
        )
        state.versions[version.id] = version
        kinds = (("Story", "High", "In Progress"), ("Bug", "Medium", "In Review"), ("Task", "Low", "To Do"))
        for k, (issuetype, priority, status) in enumerate(kinds):
            created = now - rng.randint(5, 20) * DAY_MS - rng.randint(0, DAY_MS - 1)
            number = project.next_issue_number
            project.next_issue_number += 1
            summary = summaries[(k * 7 + p_index) % len(summaries)]
            reporter = rng.choice(people)
            issue = Issue(
                id=state.counters.next("issue"),
                key=f"{project.key}-{number}",
                project_id=project.id,
                summary=summary,
                issuetype=issuetype,
                status=status,
                priority=priority,
                reporter=reporter,
                creator=reporter,
                created=created,
                updated=created + rng.randint(1, 4) * DAY_MS,
                description=_description(rng, summary, project.key, k),
                assignee=rng.choice(people),
                components=[rng.choice(project.components).id] if project.components else [],
                fix_versions=[version.id],
            )
            if issuetype == "Story":
                issue.custom[cat.STORY_POINTS] = rng.choice((3, 5, 8))
            _history(state, issue)
            state.issues[issue.id] = issue


@dataclass
class _Draft:
    """An issue before ids and keys are handed out in creation order."""

    n: int
    project: Project
    issuetype: str
    priority: str
    fix: list[int]
    status: str
    created: int
    updated: int
    labels: list[str]
    components: list[int]
    summary: str
    assignee: str | None
    reporter: str


def _status_for(rng: random.Random, primary: Version | None, next_release: int) -> str:
    """Issues of released versions are done, of the next release in flight, of later ones waiting."""
    if primary is None:
        return rng.choice(("To Do", "To Do", "In Progress", "In Review", "Done"))
    if primary.released:
        return "Done" if rng.random() < 0.92 else "Ready for Release"
    if primary.sequence == next_release:
        return rng.choice(IN_FLIGHT)
    return rng.choice(("To Do", "To Do", "To Do", "In Progress"))


def _days_between(now_ms: int, iso_date: str) -> int:
    return (date.fromisoformat(iso_date) - from_ms(now_ms).date()).days


def _step_items(before: str, after: str) -> list[dict[str, str | None]]:
    old, new = cat.STATUS_BY_NAME[before.lower()], cat.STATUS_BY_NAME[after.lower()]
    items = [item("status", "status", old.id, old.name, new.id, new.name)]
    if new.name == "Done":
        items.append(item("resolution", "resolution", None, None, cat.RESOLUTIONS["Done"], "Done"))
    return items


# One item list per workflow step, shared by every seeded history (histories are never edited in place).
_STEP_ITEMS = [_step_items(a, b) for a, b in zip(cat.FORWARD_PATH, cat.FORWARD_PATH[1:], strict=False)]


def _history(state: JiraState, issue: Issue) -> None:
    """Status changes from To Do to the issue's status, spread between created and updated."""
    steps = cat.FORWARD_PATH.index(issue.status)
    author = issue.assignee or issue.reporter
    span = issue.updated - issue.created
    counters = state.counters
    for k in range(steps):
        at = issue.created + span * (k + 1) // steps
        issue.histories.append(History(counters.next("history"), author, at, _STEP_ITEMS[k]))
    if steps == len(_STEP_ITEMS):
        issue.resolution = "Done"
        issue.resolution_date = issue.histories[-1].created
    issue.status_changed = issue.histories[-1].created if issue.histories else issue.created


def upgrade_former_secrets(state: JiraState) -> bool:
    """Give the integration account of a state file from an earlier version its current secrets,
    so that a kept demo folder still signs in; True when something changed."""
    token, pat, password = FORMER_INTEGRATION_SECRETS
    changed = False
    for user in state.users.values():
        if user.name != "bridgeline":
            continue
        for attribute, former, current in (
            ("api_token", token, INTEGRATION_API_TOKEN),
            ("pat", pat, INTEGRATION_PAT),
            ("password", password, INTEGRATION_PASSWORD),
        ):
            if getattr(user, attribute) == former:
                setattr(user, attribute, current)
                changed = True
    return changed
