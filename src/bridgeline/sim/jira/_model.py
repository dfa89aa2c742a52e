"""The records the simulated Jira keeps: users, projects, versions, issues and what hangs off them.

Times are epoch milliseconds; rich text (descriptions, comment bodies) is stored once, as
Atlassian Document Format, and converted to wiki markup for API v2 readers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


def plain(record: Any) -> dict[str, Any]:
    """A record as a dict for JSON, one level deep (nested records too); values are not copied.

    Much faster than ``dataclasses.asdict``, which deep-copies every value: the state file is
    written after every change. Serialize the result before the state changes again.
    """
    out: dict[str, Any] = {}
    for f in fields(record):
        value = getattr(record, f.name)
        if isinstance(value, list) and value and hasattr(value[0], "__dataclass_fields__"):
            value = [plain(v) for v in value]
        out[f.name] = value
    return out


@dataclass(slots=True)
class User:
    account_id: str
    name: str  # Data Center username
    key: str  # Data Center user key
    display_name: str
    email: str
    time_zone: str = "UTC"
    active: bool = True
    api_token: str | None = None  # Cloud: Basic email:api_token
    pat: str | None = None  # Data Center: Bearer personal access token
    password: str | None = None  # Data Center: Basic name:password
    admin: bool = False
    read_only: bool = False


@dataclass(slots=True)
class Component:
    id: int
    name: str
    description: str = ""


@dataclass(slots=True)
class Project:
    id: int
    key: str
    name: str
    description: str
    lead: str  # account id
    components: list[Component] = field(default_factory=list)
    next_issue_number: int = 1
    properties: dict[str, Any] = field(default_factory=dict)  # entity properties (JSON values)


@dataclass(slots=True)
class Version:
    id: int
    project_id: int
    name: str
    description: str | None = None
    archived: bool = False
    released: bool = False
    start_date: str | None = None  # yyyy-mm-dd
    release_date: str | None = None  # yyyy-mm-dd
    sequence: int = 0


@dataclass(slots=True)
class Comment:
    id: int
    author: str
    body: dict[str, Any]  # ADF
    created: int
    updated: int
    update_author: str


@dataclass(slots=True)
class RemoteLink:
    id: int
    object: dict[str, Any]
    global_id: str | None = None
    application: dict[str, Any] = field(default_factory=dict)
    relationship: str | None = None


@dataclass(slots=True)
class History:
    id: int
    author: str
    created: int
    items: list[dict[str, Any]]


@dataclass(slots=True)
class Issue:
    id: int
    key: str
    project_id: int
    summary: str
    issuetype: str
    status: str
    priority: str
    reporter: str
    creator: str
    created: int
    updated: int
    description: dict[str, Any] | None = None
    assignee: str | None = None
    resolution: str | None = None
    resolution_date: int | None = None
    status_changed: int | None = None
    labels: list[str] = field(default_factory=list)
    components: list[int] = field(default_factory=list)
    fix_versions: list[int] = field(default_factory=list)
    affects_versions: list[int] = field(default_factory=list)
    duedate: str | None = None
    parent_id: int | None = None
    custom: dict[str, Any] = field(default_factory=dict)
    comments: list[Comment] = field(default_factory=list)
    remote_links: list[RemoteLink] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)
    histories: list[History] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Issue:
        values = dict(data)
        values["comments"] = [Comment(**c) for c in data.get("comments", [])]
        values["remote_links"] = [RemoteLink(**r) for r in data.get("remote_links", [])]
        values["histories"] = [History(**h) for h in data.get("histories", [])]
        return cls(**values)


@dataclass(slots=True)
class Webhook:
    id: int
    name: str
    url: str
    events: list[str]
    jql: str | None = None
    secret: str | None = None
    enabled: bool = True
    exclude_body: bool = False
    description: str = ""
    last_updated: int = 0
    last_updated_user: str = ""
