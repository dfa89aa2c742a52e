"""What each JQL field means: its operators, its values on an issue, and what a written value stands for.

Values compare as sets of lowercase identities: ``status = "In Review"`` and ``status = 10001`` both
match an issue whose status identities are ``{"in review", "10001"}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bridgeline.sim.jira import _catalog as cat
from bridgeline.sim.jira._errors import JiraError
from bridgeline.sim.jira._jql_parse import Operand
from bridgeline.sim.jira._model import Issue, User
from bridgeline.sim.jira._state import JiraState

REF_OPS = frozenset({"=", "!=", "in", "not in", "is", "is not"})
ORDERED_OPS = REF_OPS | {">", ">=", "<", "<="}
TEXT_OPS = frozenset({"~", "!~", "is", "is not"})


@dataclass(frozen=True)
class FieldKind:
    name: str  # the name Jira's messages use
    kind: str  # ref | date | text | number | key
    ops: frozenset[str]


FIELD_KINDS: dict[str, FieldKind] = {}


def _register(kind: FieldKind, *aliases: str) -> None:
    for alias in aliases:
        FIELD_KINDS[alias.lower()] = kind


_register(FieldKind("project", "ref", REF_OPS), "project")
_register(FieldKind("fixVersion", "ref", REF_OPS), "fixversion")
_register(FieldKind("affectedVersion", "ref", REF_OPS), "affectedversion")
_register(FieldKind("key", "key", ORDERED_OPS), "key", "issue", "issuekey", "id")
_register(FieldKind("issuetype", "ref", REF_OPS), "issuetype", "type")
_register(FieldKind("status", "ref", REF_OPS), "status")
_register(FieldKind("statusCategory", "ref", REF_OPS), "statuscategory")
_register(FieldKind("priority", "ref", ORDERED_OPS), "priority")
_register(FieldKind("resolution", "ref", REF_OPS), "resolution")
_register(FieldKind("labels", "ref", REF_OPS), "labels", "label")
_register(FieldKind("component", "ref", REF_OPS), "component")
_register(FieldKind("assignee", "ref", REF_OPS), "assignee")
_register(FieldKind("reporter", "ref", REF_OPS), "reporter")
_register(FieldKind("creator", "ref", REF_OPS), "creator")
_register(FieldKind("parent", "ref", REF_OPS), "parent")
_register(FieldKind("created", "date", ORDERED_OPS), "created", "createddate")
_register(FieldKind("updated", "date", ORDERED_OPS), "updated", "updateddate")
_register(FieldKind("resolved", "date", ORDERED_OPS), "resolved", "resolutiondate")
_register(FieldKind("due", "date", ORDERED_OPS), "due", "duedate")
_register(FieldKind("summary", "text", TEXT_OPS), "summary")
_register(FieldKind("description", "text", TEXT_OPS), "description")
_register(FieldKind("comment", "text", TEXT_OPS), "comment")
_register(FieldKind("text", "text", TEXT_OPS), "text")
_register(FieldKind("Story point estimate", "number", ORDERED_OPS), "cf[10016]", "story point estimate")


@dataclass
class SearchContext:
    state: JiraState
    viewer: User | None
    validate: str = "strict"  # strict | warn | none
    warnings: list[str] = field(default_factory=list)

    @property
    def time_zone(self) -> str:
        return self.viewer.time_zone if self.viewer else self.state.settings.server_time_zone


def no_such_field(name: str) -> JiraError:
    return JiraError(400, f"Field '{name}' does not exist or you do not have permission to view it.")


def unsupported_operator(op: str, name: str) -> JiraError:
    return JiraError(400, f"The operator '{op}' is not supported by the '{name}' field.")


def key_number(key: str) -> int:
    return int(key.rsplit("-", 1)[-1])


def clause_name(kind: FieldKind) -> str:
    return "key" if kind.name == "key" else kind.name


def values_getter(state: JiraState, kind: FieldKind) -> Callable[[Issue], set[str]]:
    """Each issue's value of a field as a set of lowercase identities (ids, keys, names)."""
    name = kind.name

    def user_ids(ref: str | None) -> set[str]:
        user = state.users.get(ref) if ref else None
        if user is None:
            return {ref.lower()} if ref else set()
        return {user.account_id.lower(), user.name.lower(), user.key.lower(), user.email.lower()}

    if name == "project":

        def project(issue: Issue) -> set[str]:
            p = state.projects.get(issue.project_id)
            ident = str(issue.project_id)
            return {ident, p.key.lower(), p.name.lower()} if p else {ident}

        return project
    if name in ("fixVersion", "affectedVersion"):
        attr = "fix_versions" if name == "fixVersion" else "affects_versions"

        def versions(issue: Issue) -> set[str]:
            out: set[str] = set()
            for vid in getattr(issue, attr):
                out.add(str(vid))
                version = state.versions.get(vid)
                if version:
                    out.add(version.name.lower())
            return out

        return versions
    if name == "key":
        return lambda issue: {str(issue.id), issue.key.lower()}
    if name == "issuetype":

        def issuetype(issue: Issue) -> set[str]:
            t = cat.ISSUE_TYPE_BY_NAME.get(issue.issuetype.lower())
            return {issue.issuetype.lower(), t.id} if t else {issue.issuetype.lower()}

        return issuetype
    if name == "status":

        def status(issue: Issue) -> set[str]:
            s = cat.STATUS_BY_NAME.get(issue.status.lower())
            return {issue.status.lower(), s.id} if s else {issue.status.lower()}

        return status
    if name == "statusCategory":

        def category(issue: Issue) -> set[str]:
            s = cat.STATUS_BY_NAME.get(issue.status.lower())
            if not s:
                return set()
            c = cat.CATEGORIES[s.category]
            return {str(c.id), c.key, c.name.lower()}

        return category
    if name == "priority":

        def priority(issue: Issue) -> set[str]:
            p = cat.PRIORITY_BY_NAME.get(issue.priority.lower())
            return {issue.priority.lower(), p.id} if p else {issue.priority.lower()}

        return priority
    if name == "resolution":

        def resolution(issue: Issue) -> set[str]:
            if not issue.resolution:
                return set()
            return {issue.resolution.lower(), cat.RESOLUTIONS.get(issue.resolution, "")}

        return resolution
    if name == "labels":
        return lambda issue: {label.lower() for label in issue.labels}
    if name == "component":

        def components(issue: Issue) -> set[str]:
            out: set[str] = set()
            for cid in issue.components:
                out.add(str(cid))
                component = state.component_by_id(cid)
                if component:
                    out.add(component.name.lower())
            return out

        return components
    if name in ("assignee", "reporter", "creator"):
        return lambda issue: user_ids(getattr(issue, name))
    if name == "parent":

        def parent(issue: Issue) -> set[str]:
            if issue.parent_id is None:
                return set()
            p = state.issues.get(issue.parent_id)
            return {str(issue.parent_id), p.key.lower()} if p else {str(issue.parent_id)}

        return parent
    raise JiraError(400, f"Field '{name}' does not exist or you do not have permission to view it.")


def function_values(ctx: SearchContext, kind: FieldKind, operand: Operand) -> set[str]:
    name = operand.text.lower()
    if name == "currentuser" and kind.name in ("assignee", "reporter", "creator"):
        viewer = ctx.viewer
        return {viewer.account_id.lower()} if viewer else set()
    version_field = kind.name in ("fixVersion", "affectedVersion")
    if name in ("releasedversions", "unreleasedversions") and version_field:
        released = name == "releasedversions"
        projects = {a.lower() for a in operand.args}
        out: set[str] = set()
        for version in ctx.state.versions.values():
            project = ctx.state.projects.get(version.project_id)
            if projects and project and project.key.lower() not in projects:
                continue
            if version.released == released and not version.archived:
                out.add(str(version.id))
        return out
    call = f"{operand.text}({','.join(operand.args)})"
    raise JiraError(400, f"Error in the JQL Query: Unable to find JQL function '{call}'.")


def resolve_values(
    ctx: SearchContext, kind: FieldKind, operand: Operand, unknown: Callable[[str], None]
) -> set[str]:
    """The identities a JQL value stands for; ``unknown`` hears about values that match nothing."""
    if operand.kind == "function":
        return function_values(ctx, kind, operand)
    raw = operand.text
    value = raw.lower()
    state = ctx.state
    name = kind.name

    def missing() -> set[str]:
        unknown(f"The value '{raw}' does not exist for the field '{name}'.")
        return set()

    if name == "project":
        project = state.project(raw)
        if project is None:
            project = next((p for p in state.projects.values() if p.name.lower() == value), None)
        return {str(project.id), project.key.lower(), project.name.lower()} if project else missing()
    if name in ("fixVersion", "affectedVersion"):
        if value.isdecimal() and not operand.quoted and int(value) in state.versions:
            return {value}
        if any(v.name.lower() == value for v in state.versions.values()):
            return {value}
        if value.isdecimal() and int(value) in state.versions:
            return {value}
        return missing()
    if name == "key":
        if value.isdecimal():
            if int(value) in state.issues:
                return {value}
        elif value.upper() in state.issue_by_key:
            return {value}
        unknown(f"An issue with key '{raw}' does not exist for field '{clause_name(kind)}'.")
        return set()
    if name == "issuetype":
        t = cat.ISSUE_TYPE_BY_NAME.get(value) or cat.ISSUE_TYPE_BY_ID.get(value)
        return {t.name.lower(), t.id} if t else missing()
    if name == "status":
        s = cat.STATUS_BY_NAME.get(value) or cat.STATUS_BY_ID.get(value)
        return {s.name.lower(), s.id} if s else missing()
    if name == "statusCategory":
        for c in cat.CATEGORIES.values():
            if value in (str(c.id), c.key, c.name.lower()):
                return {str(c.id), c.key, c.name.lower()}
        return missing()
    if name == "priority":
        p = cat.PRIORITY_BY_NAME.get(value) or cat.PRIORITY_BY_ID.get(value)
        return {p.name.lower(), p.id} if p else missing()
    if name == "resolution":
        if value == "unresolved":
            return set()
        for res_name, res_id in cat.RESOLUTIONS.items():
            if value in (res_name.lower(), res_id):
                return {res_name.lower(), res_id}
        return missing()
    if name == "labels":
        return {value}
    if name == "component":
        for project in state.projects.values():
            for component in project.components:
                if value in (str(component.id), component.name.lower()):
                    return {str(component.id), component.name.lower()}
        return missing()
    if name in ("assignee", "reporter", "creator"):
        user = state.user(raw)
        if user is None:
            user = next((u for u in state.users.values() if u.display_name.lower() == value), None)
        return {user.account_id.lower()} if user else missing()
    if name == "parent":
        issue = state.issue(raw)
        return {str(issue.id), issue.key.lower()} if issue else missing()
    return {value}
