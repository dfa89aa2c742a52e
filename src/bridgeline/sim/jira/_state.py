"""The simulator's in-memory data with the indexes searches need, behind one lock.

Tests may read and edit :class:`JiraState` directly (hold ``state.lock``); after editing indexed
attributes by hand (an issue's ``updated``, ``created``, ``fix_versions`` or ``project_id``) call
:meth:`JiraState.reindex` - or use the helpers here, which keep the indexes right.
"""

from __future__ import annotations

import bisect
import copy
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from bridgeline.sim.jira._clock import SimClock
from bridgeline.sim.jira._model import Component, Issue, Project, User, Version, Webhook, plain


class SortedIndex:
    """``(timestamp, issue id)`` pairs kept sorted, for range clauses like ``updated >= X``."""

    def __init__(self) -> None:
        self._items: list[tuple[int, int]] = []

    def add(self, ms: int, issue_id: int) -> None:
        bisect.insort(self._items, (ms, issue_id))

    def remove(self, ms: int, issue_id: int) -> None:
        i = bisect.bisect_left(self._items, (ms, issue_id))
        if i < len(self._items) and self._items[i] == (ms, issue_id):
            del self._items[i]

    def between(self, low: int | None, high: int | None) -> set[int]:
        """Ids with ``low <= ms < high`` (either bound may be open)."""
        start = 0 if low is None else bisect.bisect_left(self._items, (low, -1))
        end = len(self._items) if high is None else bisect.bisect_left(self._items, (high, -1))
        return {issue_id for _, issue_id in self._items[start:end]}

    def rebuild(self, pairs: Iterable[tuple[int, int]]) -> None:
        self._items = sorted(pairs)


@dataclass
class Settings:
    """Run-time knobs of the simulated instance (``GET|PUT /_sim/settings``)."""

    search_lag_ms: int = 0  # > 0: searches see an issue's previous state for this long after a change
    search_page_cap: int = 5000  # most issues a /search/jql page returns when only id/key are asked for
    search_page_cap_with_fields: int = 100  # most issues a page returns when other fields are asked for
    dc_page_cap: int = 1000  # Data Center's jira.search.views.default.max
    server_time_zone: str = "UTC"
    dc_deployment_type: str = "Server"
    anonymous_server_info: bool = True  # serverInfo answers without credentials, as Jira does

    def update(self, values: dict[str, Any]) -> None:
        known = set(asdict(self))
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown}; known: {sorted(known)}")
        for key, value in values.items():
            current = getattr(self, key)
            if isinstance(current, bool):
                setattr(self, key, bool(value))
            elif isinstance(current, int):
                setattr(self, key, int(value))
            else:
                setattr(self, key, str(value))


@dataclass
class Counters:
    issue: int = 10000
    project: int = 10000
    version: int = 10000
    component: int = 10000
    comment: int = 10000
    remote_link: int = 10000
    history: int = 10000
    webhook: int = 0

    def next(self, kind: str) -> int:
        value: int = getattr(self, kind) + 1
        setattr(self, kind, value)
        return value


@dataclass
class JiraState:
    mode: str = "cloud"
    seed: int = 42
    users: dict[str, User] = field(default_factory=dict)  # by account id
    projects: dict[int, Project] = field(default_factory=dict)
    versions: dict[int, Version] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    webhooks: dict[int, Webhook] = field(default_factory=dict)
    counters: Counters = field(default_factory=Counters)
    settings: Settings = field(default_factory=Settings)
    clock: SimClock = field(default_factory=SimClock)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.issue_by_key: dict[str, int] = {}
        self.by_project: dict[int, set[int]] = {}
        self.by_fix_version: dict[int, set[int]] = {}
        self.children: dict[int, set[int]] = {}  # parent issue id -> sub-task/child ids
        self.updated_index = SortedIndex()
        self.created_index = SortedIndex()
        self.shadows: dict[int, tuple[int, Issue | None]] = {}  # issue id -> (visible at, old state)
        self.dirty = False
        self.reindex()

    # -- look-ups --------------------------------------------------------------------------------

    def issue(self, id_or_key: str | int) -> Issue | None:
        text = str(id_or_key)
        if text.isdecimal():
            return self.issues.get(int(text))
        issue_id = self.issue_by_key.get(text.upper())
        return None if issue_id is None else self.issues.get(issue_id)

    def project(self, id_or_key: str | int) -> Project | None:
        text = str(id_or_key)
        if text.isdecimal():
            return self.projects.get(int(text))
        for project in self.projects.values():
            if project.key.upper() == text.upper():
                return project
        return None

    def user(self, ref: str | None) -> User | None:
        """A user by account id, username, user key or email."""
        if not ref:
            return None
        if ref in self.users:
            return self.users[ref]
        lowered = ref.lower()
        for user in self.users.values():
            if lowered in (user.name.lower(), user.key.lower(), user.email.lower()):
                return user
        return None

    def component(self, project: Project, ref: dict[str, Any]) -> Component | None:
        for component in project.components:
            if str(component.id) == str(ref.get("id")) or component.name == ref.get("name"):
                return component
        return None

    def component_by_id(self, component_id: int) -> Component | None:
        for project in self.projects.values():
            for component in project.components:
                if component.id == component_id:
                    return component
        return None

    def project_versions(self, project_id: int) -> list[Version]:
        found = [v for v in self.versions.values() if v.project_id == project_id]
        return sorted(found, key=lambda v: (v.sequence, v.id))

    # -- changes that keep the indexes right -----------------------------------------------------

    def add_issue(self, issue: Issue) -> None:
        self.remember_for_search(issue.id, None)
        self.issues[issue.id] = issue
        self._index(issue)
        self.dirty = True

    def delete_issue(self, issue: Issue) -> None:
        self.remember_for_search(issue.id, issue)
        self._unindex(issue)
        del self.issues[issue.id]
        self.dirty = True

    def set_updated(self, issue: Issue, ms: int) -> None:
        self.updated_index.remove(issue.updated, issue.id)
        issue.updated = ms
        self.updated_index.add(ms, issue.id)
        self.dirty = True

    def set_created(self, issue: Issue, ms: int) -> None:
        self.created_index.remove(issue.created, issue.id)
        issue.created = ms
        self.created_index.add(ms, issue.id)
        self.dirty = True

    def set_fix_versions(self, issue: Issue, version_ids: list[int]) -> None:
        for vid in issue.fix_versions:
            self.by_fix_version.get(vid, set()).discard(issue.id)
        issue.fix_versions = list(version_ids)
        for vid in issue.fix_versions:
            self.by_fix_version.setdefault(vid, set()).add(issue.id)
        self.dirty = True

    def remember_for_search(self, issue_id: int, before: Issue | None) -> None:
        """With a search lag, searches keep seeing ``before`` (None: not yet indexed) for a while."""
        lag = self.settings.search_lag_ms
        if lag <= 0:
            return
        now = self.clock.now_ms()
        current = self.shadows.get(issue_id)
        if current is not None and current[0] > now:
            self.shadows[issue_id] = (now + lag, current[1])
        else:
            self.shadows[issue_id] = (now + lag, copy.deepcopy(before))

    def live_shadows(self) -> dict[int, Issue | None]:
        if not self.shadows:
            return {}
        now = self.clock.now_ms()
        expired = [i for i, (until, _) in self.shadows.items() if until <= now]
        for issue_id in expired:
            del self.shadows[issue_id]
        return {i: old for i, (_, old) in self.shadows.items()}

    def reindex(self) -> None:
        self.issue_by_key = {}
        self.by_project = {}
        self.by_fix_version = {}
        self.children = {}
        for issue in self.issues.values():
            self.issue_by_key[issue.key.upper()] = issue.id
            self.by_project.setdefault(issue.project_id, set()).add(issue.id)
            for vid in issue.fix_versions:
                self.by_fix_version.setdefault(vid, set()).add(issue.id)
            if issue.parent_id is not None:
                self.children.setdefault(issue.parent_id, set()).add(issue.id)
        self.updated_index.rebuild((i.updated, i.id) for i in self.issues.values())
        self.created_index.rebuild((i.created, i.id) for i in self.issues.values())

    def set_parent(self, issue: Issue, parent_id: int | None) -> None:
        if issue.parent_id is not None:
            self.children.get(issue.parent_id, set()).discard(issue.id)
        issue.parent_id = parent_id
        if parent_id is not None:
            self.children.setdefault(parent_id, set()).add(issue.id)
        self.dirty = True

    def _index(self, issue: Issue) -> None:
        self.issue_by_key[issue.key.upper()] = issue.id
        if issue.parent_id is not None:
            self.children.setdefault(issue.parent_id, set()).add(issue.id)
        self.by_project.setdefault(issue.project_id, set()).add(issue.id)
        for vid in issue.fix_versions:
            self.by_fix_version.setdefault(vid, set()).add(issue.id)
        self.updated_index.add(issue.updated, issue.id)
        self.created_index.add(issue.created, issue.id)

    def _unindex(self, issue: Issue) -> None:
        self.issue_by_key.pop(issue.key.upper(), None)
        if issue.parent_id is not None:
            self.children.get(issue.parent_id, set()).discard(issue.id)
        self.by_project.get(issue.project_id, set()).discard(issue.id)
        for vid in issue.fix_versions:
            self.by_fix_version.get(vid, set()).discard(issue.id)
        self.updated_index.remove(issue.updated, issue.id)
        self.created_index.remove(issue.created, issue.id)

    # -- persistence -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Everything, for the state file; shares values with the live state (serialize under the lock)."""
        with self.lock:
            return {
                "format": "bridgeline-jira-sim/1",
                "mode": self.mode,
                "seed": self.seed,
                "users": [plain(u) for u in self.users.values()],
                "projects": [plain(p) for p in self.projects.values()],
                "versions": [plain(v) for v in self.versions.values()],
                "issues": [i.to_dict() for i in self.issues.values()],
                "webhooks": [plain(w) for w in self.webhooks.values()],
                "counters": asdict(self.counters),
                "settings": asdict(self.settings),
            }

    def load_dict(self, data: dict[str, Any]) -> None:
        """Replace everything with ``data`` (as written by :meth:`to_dict`)."""
        with self.lock:
            self.mode = data.get("mode", self.mode)
            self.seed = int(data.get("seed", self.seed))
            self.users = {u["account_id"]: User(**u) for u in data.get("users", [])}
            self.projects = {}
            for raw in data.get("projects", []):
                values = dict(raw)
                values["components"] = [Component(**c) for c in raw.get("components", [])]
                project = Project(**values)
                self.projects[project.id] = project
            self.versions = {v["id"]: Version(**v) for v in data.get("versions", [])}
            self.issues = {i["id"]: Issue.from_dict(i) for i in data.get("issues", [])}
            self.webhooks = {w["id"]: Webhook(**w) for w in data.get("webhooks", [])}
            self.counters = Counters(**data.get("counters", {}))
            self.settings = Settings(**data.get("settings", {}))
            self.shadows = {}
            self.reindex()
            self.dirty = False

    def replace_with(self, other: JiraState) -> None:
        """Take over ``other``'s data (reset/reseed) while keeping this object, its lock and clock."""
        with self.lock:
            self.mode = other.mode
            self.seed = other.seed
            self.users = other.users
            self.projects = other.projects
            self.versions = other.versions
            self.issues = other.issues
            self.webhooks = other.webhooks
            self.counters = other.counters
            self.settings = other.settings
            self.shadows = {}
            self.reindex()
            self.dirty = True
