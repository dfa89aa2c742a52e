"""The loaded set of mappings, and the checks that need all of them at once (identity collisions)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from bridgeline.mapping import _budget
from bridgeline.mapping._budget import BudgetExceeded
from bridgeline.mapping._context import BASE_ISSUE_FIELDS, ISSUE_FIELD_SOURCES, issue_context, version_context
from bridgeline.mapping._mapping import CompiledChild, Mapping, Variant
from bridgeline.mapping._problems import Problem, did_you_mean
from bridgeline.mapping._templates import Expr, Reads, Text, merge_reads
from bridgeline.mapping._trains import train_context

if TYPE_CHECKING:
    from bridgeline.mapping._loader import MappingTest

_PRIORITY_FILTERS = frozenset({"max_priority", "sort_by_priority", "priority_rank"})


class MappingSet:
    """Every mapping loaded from a set of files, ready to render; immutable once built."""

    def __init__(
        self,
        mappings: list[Mapping],
        fingerprint: str,
        files: list[str],
        tests: list[MappingTest] | None = None,
    ) -> None:
        self._mappings = tuple(mappings)
        self._by_name = {m.name: m for m in mappings}
        self.fingerprint = fingerprint
        self.files = tuple(files)
        self.tests = tuple(tests or ())

    @property
    def mappings(self) -> list[Mapping]:
        return list(self._mappings)

    def get(self, name: str) -> Mapping:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no mapping named {name!r}{did_you_mean(name, self._by_name)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self._mappings)

    def for_source(self, system: str = "jira", entity: str = "version") -> list[Mapping]:
        """The mappings that read this kind of entity, in file order."""
        return [m for m in self._mappings if m.source.system == system and m.source.entity == entity]

    def jira_fields(self, entity: str = "issue") -> set[str] | None:
        """Jira issue field ids the mappings read (to pass as ``fields=`` when fetching issues).

        Covers issues read directly by issue mappings and as ``issues`` of a release. ``None`` means
        all fields (a template uses ``issue.fields`` as a whole). Versions are always read whole, so
        ``entity="version"`` answers ``None``.
        """
        if entity != "issue":
            return None
        wanted = self._issue_fields
        return set(wanted) if wanted is not None else None

    @cached_property
    def _issue_fields(self) -> frozenset[str] | None:
        """Worked out once per set: it is asked on every Jira read."""
        reads = merge_reads(r for m in self._mappings for r in mapping_reads(m))
        if reads.all_fields:
            return None
        wanted = set(BASE_ISSUE_FIELDS) | reads.jira_fields
        for attr in reads.attrs | reads.filter_args:
            head, _, rest = attr.partition(".")
            wanted.update(ISSUE_FIELD_SOURCES.get(head, ()))
            if head == "fields" and rest:
                wanted.add(rest.split(".")[0])
        if reads.filters & _PRIORITY_FILTERS:
            wanted.add("priority")
        if any(m.source.entity == "train" for m in self._mappings):
            # a train's issues are reached through members and services too: read every field a
            # normalized issue is made of
            for sources in ISSUE_FIELD_SOURCES.values():
                wanted.update(sources)
        return frozenset(wanted)


def mapping_reads(mapping: Mapping) -> Iterator[Reads]:
    """What every template and condition of ``mapping`` (all variants) reads."""
    yield from _reads_in(mapping.identity)
    yield from _reads_in(mapping.when)
    for variant in (mapping.base, *mapping.overrides.values()):
        yield from _reads_in(variant)


def _reads_in(obj: Any) -> Iterator[Reads]:
    if isinstance(obj, Text | Expr):
        yield obj.reads
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _reads_in(value)
    elif isinstance(obj, list | tuple):
        for value in obj:
            yield from _reads_in(value)
    elif is_dataclass(obj) and not isinstance(obj, type):
        for f in fields(obj):
            if f.name != "vars":
                yield from _reads_in(getattr(obj, f.name))


# --- identity checks -----------------------------------------------------------------------------

_PROBE_NOW = datetime(2024, 1, 1, tzinfo=UTC)


def _probe_issue(key: str, n: int) -> dict[str, Any]:
    return {
        "id": str(90000 + n),
        "key": f"{key}-{n}",
        "self": f"https://probe.invalid/rest/api/2/issue/{90000 + n}",
        "fields": {
            "summary": f"probe issue {n}",
            "issuetype": {"name": "Story", "subtask": False},
            "status": {"name": "To Do", "statusCategory": {"key": "new"}},
            "priority": {"name": "Medium"},
            "labels": [],
            "components": [],
            "project": {"id": "1", "key": key, "name": key},
        },
    }


def _probe(entity: str, project_key: str, n: int) -> dict[str, Any]:
    if entity == "train":
        # two member projects, each with a release of the train
        first = _probe("version", project_key, n)
        second = _probe("version", project_key + "X", n + 50)
        members = [(c["version"]["raw"], c["project"]["raw"], c["issues"]) for c in (first, second)]
        return train_context(f"probe {n}", members, _PROBE_NOW)
    project = {"id": "1", "key": project_key, "name": project_key}
    issues = [_probe_issue(project_key, n * 10 + 1), _probe_issue(project_key, n * 10 + 2)]
    if entity == "issue":
        return issue_context(issues[0], project, _PROBE_NOW)
    version = {
        "id": str(10000 + n),
        "name": f"probe {n}",
        "released": False,
        "archived": False,
        "releaseDate": "2024-01-10",
        "projectId": 1,
        "self": f"https://probe.invalid/rest/api/2/version/{10000 + n}",
    }
    return version_context(version, project, issues, _PROBE_NOW)


def _scope(mapping: Mapping, ctx: dict[str, Any], variant: Variant) -> dict[str, Any]:
    return mapping._scope(ctx, variant)


class _TooCostly(Exception):
    """A probe render went over the budget: reported once, at the template that did it."""

    def __init__(self, path: str, exc: BudgetExceeded) -> None:
        super().__init__(str(exc))
        self.path = path


def _render(text: Text, scope: dict[str, Any], path: str = "identity") -> str | None:
    try:
        return text.render(scope)
    except BudgetExceeded as exc:
        raise _TooCostly(path, exc) from None
    except Exception:
        return None  # a probe cannot stand for every entity; the render will tell at run time


def _child_identities(child: CompiledChild, scope: dict[str, Any]) -> list[str]:
    try:
        items = list(child.for_each.evaluate(scope) or ())[:2]
    except BudgetExceeded as exc:
        raise _TooCostly(f"children.{child.name}.for_each", exc) from None
    except Exception:
        return []
    out = []
    for item in items:
        rendered = _render(child.identity, {**scope, child.as_name: item}, f"children.{child.name}.identity")
        if rendered is not None:
            out.append(rendered)
    return out


def _identities(mapping: Mapping, key: str) -> dict[str, str]:
    """identity -> what produced it ("the record", "children.tasks") for one probe entity."""
    ctx = _probe(mapping.source.entity, key, 1)
    variant = mapping.variant(ctx)
    scope = _scope(mapping, ctx, variant)
    out: dict[str, str] = {}
    parent = _render(mapping.identity, scope)
    if parent is not None:
        out[parent] = "identity"
    for child in variant.children:
        for identity in _child_identities(child, scope):
            out.setdefault(identity, f"children.{child.name}.identity")
    return out


def _overlap(a: Mapping, b: Mapping) -> str | None:
    pa, pb = a.source.projects, b.source.projects
    if pa is None and pb is None:
        return "PRJ"
    if pa is None:
        return pb[0] if pb else None
    if pb is None:
        return pa[0] if pa else None
    common = [p for p in pa if p in pb]
    return common[0] if common else None


def _problem(mapping: Mapping, path: str, message: str) -> Problem:
    if mapping.where is None:
        return Problem(mapping.file, mapping.line, 1, path, message)
    parts = tuple(path.split("."))
    file, line, column = mapping.where.at(parts)
    return Problem(file, line, column, path, message)


def set_problems(mappings: list[Mapping]) -> list[Problem]:
    """Identities that do not vary per entity or per child, and identities shared between mappings."""
    problems: list[Problem] = []
    probed: list[Mapping] = []
    for m in mappings:
        try:
            with _budget.opened(m.limits):
                problems.extend(_own_identities(m))
        except _TooCostly as exc:
            problems.append(_problem(m, exc.path, f"on a sample entity: {exc}"))
            continue
        probed.append(m)
    for i, first in enumerate(probed):
        for second in probed[i + 1 :]:
            if first.target.system != second.target.system:
                continue  # correlation ids are unique per target system
            shared = _overlap(first, second)
            if shared is None:
                continue
            with _budget.opened(first.limits):
                mine = _identities(first, shared)
            with _budget.opened(second.limits):
                theirs = _identities(second, shared)
            for identity in sorted(set(mine) & set(theirs)):
                other = f"mapping '{first.name}' ({first.file}:{first.line}, {mine[identity]})"
                message = (
                    f"collides with {other}: both give {identity!r} for the same Jira entity; "
                    "make the identities differ or the source.projects disjoint"
                )
                problems.append(_problem(second, theirs[identity], message))
    return problems


def _own_identities(m: Mapping) -> list[Problem]:
    """Identities of one mapping that do not vary per entity or per child."""
    problems: list[Problem] = []
    key = m.source.projects[0] if m.source.projects else "PRJ"
    one, two = _probe(m.source.entity, key, 1), _probe(m.source.entity, key, 2)
    a = _render(m.identity, _scope(m, one, m.variant(one)))
    b = _render(m.identity, _scope(m, two, m.variant(two)))
    if a is not None and a == b:
        what = {"version": "release", "train": "train"}.get(m.source.entity, "issue")
        problems.append(
            _problem(
                m, "identity", f"renders {a!r} for every {what}: each {what} needs its own correlation id"
            )
        )
    scope = _scope(m, one, m.variant(one))
    groups: dict[str, str] = {}  # identity -> the child group that rendered it on the probe
    for child in m.variant(one).children:
        ids = _child_identities(child, scope)
        for identity in ids:
            other = groups.setdefault(identity, child.name)
            if other != child.name:
                message = f"gives {identity!r} like children.{other}"
                problems.append(_problem(m, f"children.{child.name}.identity", message))
                break
        if len(ids) == 2 and ids[0] == ids[1]:
            problems.append(
                _problem(
                    m,
                    f"children.{child.name}.identity",
                    f"renders {ids[0]!r} for every item: each needs its own",
                )
            )
        if a is not None and a in ids:
            problems.append(
                _problem(m, f"children.{child.name}.identity", "is the same as the parent record's identity")
            )
    return problems
