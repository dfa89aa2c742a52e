"""The JSON Jira answers with: issues, versions, projects, users, comments, changelogs, links.

A :class:`View` renders for one reader: API version (3: ADF bodies, 2: wiki strings), deployment
(Cloud users carry ``accountId``; Data Center users ``name``/``key``), the base URL the request came
in on (``self`` links point back at it) and the reader's time zone (timestamps are written in it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bridgeline.sim.jira import _catalog as cat
from bridgeline.sim.jira._adf import adf_to_html, adf_to_wiki
from bridgeline.sim.jira._clock import format_timestamp, user_date
from bridgeline.sim.jira._model import Comment, Component, History, Issue, Project, RemoteLink, User, Version
from bridgeline.sim.jira._state import JiraState

ISSUE_EXPAND = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"
AVATAR_SIZES = ("48x48", "24x24", "16x16", "32x32")


@dataclass
class View:
    state: JiraState
    base_url: str
    api: int = 3  # 2 or 3
    cloud: bool = True
    time_zone: str = "UTC"
    server_users: bool = False  # Cloud data in Server shape (a webhook quirk)

    @property
    def rest(self) -> str:
        return f"{self.base_url}/rest/api/{self.api}"

    def timestamp(self, ms: int | None) -> str | None:
        return None if ms is None else format_timestamp(ms, self.time_zone)

    def rich(self, document: dict[str, Any] | None) -> Any:
        """A stored ADF document as this reader expects it: ADF for v3, wiki markup for v2."""
        return document if self.api == 3 else adf_to_wiki(document)

    # -- people -----------------------------------------------------------------------------------

    def avatars(self, seed: str) -> dict[str, str]:
        size_of = {"48x48": 48, "24x24": 24, "16x16": 16, "32x32": 32}
        return {
            size: f"{self.base_url}/secure/useravatar?size={size_of[size]}&ownerId={quote(seed)}"
            for size in AVATAR_SIZES
        }

    def user(self, account_id: str | None, *, full: bool = False) -> dict[str, Any] | None:
        user = self.state.users.get(account_id) if account_id else None
        if user is None:
            return None
        return self.user_record(user, full=full)

    def user_record(self, user: User, *, full: bool = False) -> dict[str, Any]:
        if self.cloud and not self.server_users:
            data: dict[str, Any] = {
                "self": f"{self.rest}/user?accountId={user.account_id}",
                "accountId": user.account_id,
                "accountType": "atlassian",
                "emailAddress": user.email,
                "avatarUrls": self.avatars(user.account_id),
                "displayName": user.display_name,
                "active": user.active,
                "timeZone": user.time_zone,
            }
        else:
            data = {
                "self": f"{self.rest}/user?username={quote(user.name)}",
                "name": user.name,
                "key": user.key,
                "emailAddress": user.email,
                "avatarUrls": self.avatars(user.key),
                "displayName": user.display_name,
                "active": user.active,
                "timeZone": user.time_zone,
            }
        if full:
            data["locale"] = "en_US"
            data["groups"] = {"size": 2 if user.admin else 1, "items": []}
            data["applicationRoles"] = {"size": 1, "items": []}
            data["expand"] = "groups,applicationRoles"
        return data

    # -- reference objects ---------------------------------------------------------------------------

    def status(self, name: str) -> dict[str, Any]:
        status = cat.STATUS_BY_NAME[name.lower()]
        category = cat.CATEGORIES[status.category]
        return {
            "self": f"{self.rest}/status/{status.id}",
            "description": status.description,
            "iconUrl": f"{self.base_url}/images/icons/statuses/generic.png",
            "name": status.name,
            "id": status.id,
            "statusCategory": {
                "self": f"{self.rest}/statuscategory/{category.id}",
                "id": category.id,
                "key": category.key,
                "colorName": category.color,
                "name": category.name,
            },
        }

    def priority(self, name: str) -> dict[str, Any]:
        priority = cat.PRIORITY_BY_NAME[name.lower()]
        return {
            "self": f"{self.rest}/priority/{priority.id}",
            "iconUrl": f"{self.base_url}/images/icons/priorities/{priority.name.lower()}.svg",
            "name": priority.name,
            "id": priority.id,
        }

    def issuetype(self, name: str) -> dict[str, Any]:
        kind = cat.ISSUE_TYPE_BY_NAME[name.lower()]
        return {
            "self": f"{self.rest}/issuetype/{kind.id}",
            "id": kind.id,
            "description": kind.description,
            "iconUrl": f"{self.base_url}/images/icons/issuetypes/{kind.name.lower()}.svg",
            "name": kind.name,
            "subtask": kind.subtask,
            "hierarchyLevel": kind.hierarchy,
        }

    def resolution(self, name: str | None) -> dict[str, Any] | None:
        if not name:
            return None
        res_id = cat.RESOLUTIONS.get(name, "10000")
        return {
            "self": f"{self.rest}/resolution/{res_id}",
            "id": res_id,
            "description": cat.RESOLUTION_DESCRIPTIONS.get(name, ""),
            "name": name,
        }

    def project_ref(self, project: Project) -> dict[str, Any]:
        return {
            "self": f"{self.rest}/project/{project.id}",
            "id": str(project.id),
            "key": project.key,
            "name": project.name,
            "projectTypeKey": "software",
            "simplified": False,
            "avatarUrls": self.avatars(project.key),
        }

    def component(self, component: Component) -> dict[str, Any]:
        data: dict[str, Any] = {
            "self": f"{self.rest}/component/{component.id}",
            "id": str(component.id),
            "name": component.name,
        }
        if component.description:
            data["description"] = component.description
        return data

    # -- versions ------------------------------------------------------------------------------------

    def version(self, version: Version, *, in_issue: bool = False) -> dict[str, Any]:
        """A version as ``GET /version/{id}`` (or, shorter, inside an issue's fixVersions) shows it."""
        data: dict[str, Any] = {"self": f"{self.rest}/version/{version.id}", "id": str(version.id)}
        if version.description:
            data["description"] = version.description
        data["name"] = version.name
        data["archived"] = version.archived
        data["released"] = version.released
        if in_issue:
            if version.release_date:
                data["releaseDate"] = version.release_date
            return data
        if version.start_date:
            data["startDate"] = version.start_date
        if version.release_date:
            data["releaseDate"] = version.release_date
            if not version.released:
                today = format_timestamp(self.state.clock.now_ms(), self.time_zone)[:10]
                data["overdue"] = version.release_date < today
        if version.start_date:
            data["userStartDate"] = user_date(version.start_date)
        if version.release_date:
            data["userReleaseDate"] = user_date(version.release_date)
        data["projectId"] = version.project_id
        return data

    # -- issues --------------------------------------------------------------------------------------

    def issue_link(self, issue: Issue) -> dict[str, Any]:
        """The short form used for parents and sub-tasks."""
        return {
            "id": str(issue.id),
            "key": issue.key,
            "self": f"{self.rest}/issue/{issue.id}",
            "fields": {
                "summary": issue.summary,
                "status": self.status(issue.status),
                "priority": self.priority(issue.priority),
                "issuetype": self.issuetype(issue.issuetype),
            },
        }

    def field_value(self, issue: Issue, field_id: str) -> Any:
        state = self.state
        if field_id == "summary":
            return issue.summary
        if field_id == "description":
            return self.rich(issue.description)
        if field_id == "issuetype":
            return self.issuetype(issue.issuetype)
        if field_id == "status":
            return self.status(issue.status)
        if field_id == "priority":
            return self.priority(issue.priority)
        if field_id == "resolution":
            return self.resolution(issue.resolution)
        if field_id == "resolutiondate":
            return self.timestamp(issue.resolution_date)
        if field_id == "project":
            return self.project_ref(state.projects[issue.project_id])
        if field_id in ("fixVersions", "versions"):
            ids = issue.fix_versions if field_id == "fixVersions" else issue.affects_versions
            return [self.version(state.versions[v], in_issue=True) for v in ids if v in state.versions]
        if field_id == "labels":
            return list(issue.labels)
        if field_id == "components":
            found = (state.component_by_id(c) for c in issue.components)
            return [self.component(c) for c in found if c is not None]
        if field_id in ("assignee", "reporter", "creator"):
            return self.user(getattr(issue, field_id))
        if field_id == "created":
            return self.timestamp(issue.created)
        if field_id == "updated":
            return self.timestamp(issue.updated)
        if field_id == "duedate":
            return issue.duedate
        if field_id == "parent":
            parent = state.issues.get(issue.parent_id) if issue.parent_id is not None else None
            return self.issue_link(parent) if parent else None
        if field_id == "subtasks":
            kids = sorted(state.children.get(issue.id, ()))
            return [
                self.issue_link(state.issues[k])
                for k in kids
                if k in state.issues and state.issues[k].issuetype == "Sub-task"
            ]
        if field_id == "comment":
            comments = [self.comment(issue, c) for c in issue.comments]
            return {
                "comments": comments,
                "self": f"{self.rest}/issue/{issue.id}/comment",
                "maxResults": len(comments),
                "total": len(comments),
                "startAt": 0,
            }
        if field_id == cat.CHANGE_RISK:
            option = issue.custom.get(field_id)
            if option is None:
                return None
            option_id = next((k for k, v in cat.CHANGE_RISK_OPTIONS.items() if v == option), "10100")
            return {"self": f"{self.rest}/customFieldOption/{option_id}", "value": option, "id": option_id}
        return issue.custom.get(field_id)

    def issue(
        self,
        issue: Issue,
        field_ids: list[str] | None,
        expand: set[str] | frozenset[str] = frozenset(),
        properties: list[str] | None = None,
    ) -> dict[str, Any]:
        """An issue with the chosen fields; ``field_ids`` None means the id alone (search default)."""
        if field_ids is None:
            return {"id": str(issue.id)}
        data: dict[str, Any] = {
            "expand": ISSUE_EXPAND,
            "id": str(issue.id),
            "self": f"{self.rest}/issue/{issue.id}",
            "key": issue.key,
        }
        fields: dict[str, Any] = {}
        for field_id in field_ids:
            if field_id == "parent" and issue.parent_id is None:
                continue  # Jira leaves an absent parent out rather than writing null
            fields[field_id] = self.field_value(issue, field_id)
        if "renderedFields" in expand:
            rendered: dict[str, Any] = {}
            for field_id in field_ids:
                if field_id == "description":
                    rendered[field_id] = adf_to_html(issue.description) or ""
                elif field_id in ("created", "updated", "resolutiondate"):
                    rendered[field_id] = self.timestamp(getattr(issue, field_id, None))
                else:
                    rendered[field_id] = None
            data["renderedFields"] = rendered
        if "names" in expand:
            data["names"] = {fid: cat.FIELD_BY_ID[fid].name for fid in field_ids if fid in cat.FIELD_BY_ID}
        if "schema" in expand:
            data["schema"] = {
                fid: cat.FIELD_BY_ID[fid].schema
                for fid in field_ids
                if fid in cat.FIELD_BY_ID and cat.FIELD_BY_ID[fid].schema is not None
            }
        if "transitions" in expand:
            data["transitions"] = [self.transition(t) for t in cat.transitions_from(issue.status)]
        if "changelog" in expand:
            data["changelog"] = self.changelog_page(issue, 0, 100, newest_first=True)
        if properties:
            wanted = set(issue.properties) if "*all" in properties else set(properties)
            data["properties"] = {k: v for k, v in issue.properties.items() if k in wanted}
        data["fields"] = fields
        return data

    def transition(self, transition: cat.Transition) -> dict[str, Any]:
        return {
            "id": transition.id,
            "name": transition.name,
            "to": self.status(transition.to),
            "hasScreen": False,
            "isGlobal": False,
            "isInitial": False,
            "isAvailable": True,
            "isConditional": False,
            "isLooped": False,
        }

    # -- comments, changelog, links --------------------------------------------------------------

    def comment(self, issue: Issue, comment: Comment) -> dict[str, Any]:
        return {
            "self": f"{self.rest}/issue/{issue.id}/comment/{comment.id}",
            "id": str(comment.id),
            "author": self.user(comment.author),
            "body": self.rich(comment.body),
            "updateAuthor": self.user(comment.update_author),
            "created": self.timestamp(comment.created),
            "updated": self.timestamp(comment.updated),
            "jsdPublic": True,
        }

    def history(self, history: History) -> dict[str, Any]:
        return {
            "id": str(history.id),
            "author": self.user(history.author),
            "created": self.timestamp(history.created),
            "items": [dict(item) for item in history.items],
        }

    def changelog_page(self, issue: Issue, start: int, limit: int, *, newest_first: bool) -> dict[str, Any]:
        histories = list(reversed(issue.histories)) if newest_first else list(issue.histories)
        page = histories[start : start + limit]
        return {
            "startAt": start,
            "maxResults": limit,
            "total": len(histories),
            "histories": [self.history(h) for h in page],
        }

    def remote_link(self, issue: Issue, link: RemoteLink) -> dict[str, Any]:
        data: dict[str, Any] = {"id": link.id, "self": f"{self.rest}/issue/{issue.key}/remotelink/{link.id}"}
        if link.global_id is not None:
            data["globalId"] = link.global_id
        data["application"] = dict(link.application)
        if link.relationship is not None:
            data["relationship"] = link.relationship
        data["object"] = dict(link.object)
        return data

    # -- projects --------------------------------------------------------------------------------

    def project(self, project: Project, *, full: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
            "self": f"{self.rest}/project/{project.id}",
            "id": str(project.id),
            "key": project.key,
        }
        if full:
            data["description"] = project.description
            data["lead"] = self.user(project.lead)
            data["components"] = [self.component(c) for c in project.components]
            data["issueTypes"] = [
                {**self.issuetype(t.name), "avatarId": 10300 + n} for n, t in enumerate(cat.ISSUE_TYPES)
            ]
            data["assigneeType"] = "UNASSIGNED"
            data["versions"] = [self.version(v) for v in self.state.project_versions(project.id)]
            data["roles"] = {}
        data["name"] = project.name
        data["avatarUrls"] = self.avatars(project.key)
        data["projectTypeKey"] = "software"
        data["simplified"] = False
        data["style"] = "classic"
        data["isPrivate"] = False
        data["properties"] = {}
        return data
