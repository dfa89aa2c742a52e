"""The fixed parts of the simulated instance: workflow, statuses, priorities, issue types, fields.

One company-managed workflow serves every project::

    To Do -> In Progress -> In Review -> Ready for Release -> Done
      ^__________|  ^___________|  ^____________|             |
      ^___________________________________________(reopen)___|

Transitions are named after the status they lead to (as in Jira's simplified workflows) and have
one id per target status, so ``{"transition": {"id": "41"}}`` always means "to Ready for Release".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StatusCategory:
    id: int
    key: str
    name: str
    color: str


CATEGORIES = {
    "new": StatusCategory(2, "new", "To Do", "blue-gray"),
    "indeterminate": StatusCategory(4, "indeterminate", "In Progress", "yellow"),
    "done": StatusCategory(3, "done", "Done", "green"),
}


@dataclass(frozen=True)
class Status:
    id: str
    name: str
    category: str
    description: str


STATUSES: tuple[Status, ...] = (
    Status("10000", "To Do", "new", "Work that has not been started."),
    Status("3", "In Progress", "indeterminate", "This issue is being actively worked on at the moment."),
    Status("10001", "In Review", "indeterminate", "The change is waiting for review."),
    Status("10002", "Ready for Release", "indeterminate", "Approved; waiting for the release window."),
    Status("10003", "Done", "done", "Work has been completed on this issue."),
)
STATUS_BY_NAME = {s.name.lower(): s for s in STATUSES}
STATUS_BY_ID = {s.id: s for s in STATUSES}
STATUS_ORDER = {s.name: i for i, s in enumerate(STATUSES)}


@dataclass(frozen=True)
class Transition:
    id: str
    name: str
    to: str  # status name


TRANSITION_TO = {
    "To Do": Transition("11", "To Do", "To Do"),
    "In Progress": Transition("21", "In Progress", "In Progress"),
    "In Review": Transition("31", "In Review", "In Review"),
    "Ready for Release": Transition("41", "Ready for Release", "Ready for Release"),
    "Done": Transition("51", "Done", "Done"),
}
WORKFLOW: dict[str, tuple[str, ...]] = {
    "To Do": ("In Progress",),
    "In Progress": ("In Review", "To Do"),
    "In Review": ("Ready for Release", "In Progress"),
    "Ready for Release": ("Done", "In Progress"),
    "Done": ("To Do",),
}
# The shortest forward path from To Do, used to give seeded issues a believable history.
FORWARD_PATH = ("To Do", "In Progress", "In Review", "Ready for Release", "Done")


def transitions_from(status: str) -> list[Transition]:
    return [TRANSITION_TO[target] for target in WORKFLOW.get(status, ())]


@dataclass(frozen=True)
class Priority:
    id: str
    name: str
    color: str


PRIORITIES: tuple[Priority, ...] = (
    Priority("1", "Highest", "#d04437"),
    Priority("2", "High", "#f15C75"),
    Priority("3", "Medium", "#f79232"),
    Priority("4", "Low", "#707070"),
    Priority("5", "Lowest", "#999999"),
)
PRIORITY_BY_NAME = {p.name.lower(): p for p in PRIORITIES}
PRIORITY_BY_ID = {p.id: p for p in PRIORITIES}
# ORDER BY priority DESC lists Highest first.
PRIORITY_RANK = {p.name: len(PRIORITIES) - i for i, p in enumerate(PRIORITIES)}


@dataclass(frozen=True)
class IssueType:
    id: str
    name: str
    subtask: bool
    hierarchy: int
    description: str


ISSUE_TYPES: tuple[IssueType, ...] = (
    IssueType("10000", "Epic", False, 1, "A big user story that needs to be broken down."),
    IssueType("10001", "Story", False, 0, "Functionality or a feature expressed as a user goal."),
    IssueType("10002", "Task", False, 0, "A small, distinct piece of work."),
    IssueType("10004", "Bug", False, 0, "A problem or error."),
    IssueType("10003", "Sub-task", True, -1, "A small piece of work that's part of a larger task."),
)
ISSUE_TYPE_BY_NAME = {t.name.lower(): t for t in ISSUE_TYPES}
ISSUE_TYPE_BY_ID = {t.id: t for t in ISSUE_TYPES}

RESOLUTIONS = {"Done": "10000", "Won't Do": "10001", "Duplicate": "10002", "Cannot Reproduce": "10003"}
RESOLUTION_DESCRIPTIONS = {
    "Done": "Work has been completed on this issue.",
    "Won't Do": "This issue won't be actioned.",
    "Duplicate": "The problem is a duplicate of an existing issue.",
    "Cannot Reproduce": "This issue could not be reproduced at this time.",
}

STORY_POINTS = "customfield_10016"
SPRINT = "customfield_10020"
CHANGE_RISK = "customfield_10042"
HOTFIX_JUSTIFICATION = "customfield_10050"
TEXT_FIELDS = frozenset({HOTFIX_JUSTIFICATION})


@dataclass(frozen=True)
class FieldDef:
    """One entry of ``GET /field``: what the issue JSON calls it, what JQL calls it."""

    id: str
    name: str
    schema: dict[str, object] | None
    clause_names: tuple[str, ...]
    navigable: bool = True
    orderable: bool = True
    searchable: bool = True
    custom: bool = False


def _sys(type_: str, system: str, items: str | None = None) -> dict[str, object]:
    schema: dict[str, object] = {"type": type_, "system": system}
    if items:
        schema["items"] = items
    return schema


def _custom(type_: str, custom: str, custom_id: int) -> dict[str, object]:
    return {"type": type_, "custom": custom, "customId": custom_id}


_SPRINT_SCHEMA: dict[str, object] = {
    "type": "array",
    "items": "json",
    "custom": "com.pyxis.greenhopper.jira:gh-sprint",
    "customId": 10020,
}
_RESOLVED = ("resolutiondate", "resolved")

FIELDS: tuple[FieldDef, ...] = (
    FieldDef("summary", "Summary", _sys("string", "summary"), ("summary",)),
    FieldDef("description", "Description", _sys("string", "description"), ("description",)),
    FieldDef("issuetype", "Issue Type", _sys("issuetype", "issuetype"), ("issuetype", "type")),
    FieldDef("status", "Status", _sys("status", "status"), ("status",), orderable=False),
    FieldDef("statusCategory", "Status Category", None, ("statusCategory",), orderable=False),
    FieldDef("priority", "Priority", _sys("priority", "priority"), ("priority",)),
    FieldDef("resolution", "Resolution", _sys("resolution", "resolution"), ("resolution",)),
    FieldDef("resolutiondate", "Resolved", _sys("datetime", "resolutiondate"), _RESOLVED),
    FieldDef("project", "Project", _sys("project", "project"), ("project",), orderable=False),
    FieldDef("fixVersions", "Fix versions", _sys("array", "fixVersions", "version"), ("fixVersion",)),
    FieldDef("versions", "Affects versions", _sys("array", "versions", "version"), ("affectedVersion",)),
    FieldDef("labels", "Labels", _sys("array", "labels", "string"), ("labels",)),
    FieldDef("components", "Components", _sys("array", "components", "component"), ("component",)),
    FieldDef("assignee", "Assignee", _sys("user", "assignee"), ("assignee",)),
    FieldDef("reporter", "Reporter", _sys("user", "reporter"), ("reporter",)),
    FieldDef("creator", "Creator", _sys("user", "creator"), ("creator",), orderable=False),
    FieldDef("created", "Created", _sys("datetime", "created"), ("created", "createdDate"), orderable=False),
    FieldDef("updated", "Updated", _sys("datetime", "updated"), ("updated", "updatedDate"), orderable=False),
    FieldDef("duedate", "Due date", _sys("date", "duedate"), ("due", "duedate")),
    FieldDef("parent", "Parent", None, ("parent",), orderable=False),
    FieldDef(
        "subtasks", "Sub-tasks", _sys("array", "subtasks", "issuelinks"), ("subtasks",), orderable=False
    ),
    FieldDef("issuekey", "Key", None, ("id", "issue", "issuekey", "key"), orderable=False),
    FieldDef("comment", "Comment", _sys("comments-page", "comment"), ("comment",), navigable=False),
    FieldDef(
        STORY_POINTS,
        "Story point estimate",
        _custom("number", "com.pyxis.greenhopper.jira:jsw-story-points", 10016),
        ("cf[10016]", "Story point estimate"),
        custom=True,
    ),
    FieldDef(
        SPRINT,
        "Sprint",
        _SPRINT_SCHEMA,
        ("cf[10020]", "Sprint"),
        custom=True,
    ),
    FieldDef(
        CHANGE_RISK,
        "Change risk",
        _custom("option", "com.atlassian.jira.plugin.system.customfieldtypes:select", 10042),
        ("cf[10042]", "Change risk"),
        custom=True,
    ),
    FieldDef(
        HOTFIX_JUSTIFICATION,
        "Hotfix justification",
        _custom("string", "com.atlassian.jira.plugin.system.customfieldtypes:textfield", 10050),
        ("cf[10050]", "Hotfix justification"),
        custom=True,
        orderable=False,
    ),
)
FIELD_BY_ID = {f.id: f for f in FIELDS}
# Fields an issue JSON carries (``issuekey`` and ``statusCategory`` are search-only pseudo fields).
ISSUE_FIELD_IDS = tuple(f.id for f in FIELDS if f.id not in ("issuekey", "statusCategory"))
NAVIGABLE_FIELD_IDS = tuple(fid for fid in ISSUE_FIELD_IDS if FIELD_BY_ID[fid].navigable)
CLAUSE_TO_FIELD = {name.lower(): f.id for f in FIELDS for name in f.clause_names}
# Fields a PUT /issue may set (others answer "Field 'x' cannot be set ...").
EDITABLE_FIELDS = frozenset(
    {
        "summary",
        "description",
        "priority",
        "labels",
        "components",
        "fixVersions",
        "versions",
        "assignee",
        "reporter",
        "duedate",
        "parent",
        STORY_POINTS,
        CHANGE_RISK,
        HOTFIX_JUSTIFICATION,
    }
)
CHANGE_RISK_OPTIONS = {"10100": "Low", "10101": "Medium", "10102": "High"}
