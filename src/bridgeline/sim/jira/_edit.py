"""Changing an issue the way Jira does: validate everything first, then apply, bump ``updated`` and
record one changelog history (with the actor) for the whole request.

``fields`` sets values; ``update`` applies operations (``add``, ``remove``, ``set``, ``edit``), e.g.
``{"update": {"labels": [{"add": "cab-approved"}], "comment": [{"add": {"body": "..."}}]}}``.
Errors are collected per field and answered together as ``{"errors": {"labels": "..."}}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bridgeline.sim.jira import _catalog as cat
from bridgeline.sim.jira._edit_fields import FieldSetters
from bridgeline.sim.jira._edit_values import Apply, item, not_settable
from bridgeline.sim.jira._errors import JiraError
from bridgeline.sim.jira._model import Comment, History, Issue, User
from bridgeline.sim.jira._state import JiraState

__all__ = ["Apply", "EditResult", "IssueEditor", "item", "not_settable", "transition_issue"]


@dataclass
class EditResult:
    history: History | None = None
    comments_added: list[Comment] = field(default_factory=list)
    comments_updated: list[Comment] = field(default_factory=list)
    comments_deleted: list[Comment] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.history or self.comments_added or self.comments_updated or self.comments_deleted)


class IssueEditor(FieldSetters):
    """Plans and applies one request's changes to one issue."""

    def __init__(self, state: JiraState, actor: User, api: int, cloud: bool) -> None:
        super().__init__(state, actor, api, cloud)
        self.result = EditResult()

    # -- setting one field --------------------------------------------------------------------------

    # -- update operations --------------------------------------------------------------------------

    def update_field(self, issue: Issue, field_id: str, operations: Any) -> None:
        if not isinstance(operations, list):
            self.errors[field_id] = "Operations must be a list"
            return
        if field_id == "comment":
            for operation in operations:
                self._comment_operation(issue, operation)
            return
        if field_id in ("labels", "components", "fixVersions", "versions"):
            for operation in operations:
                self._list_operation(issue, field_id, operation)
            return
        for operation in operations:
            if not isinstance(operation, dict) or len(operation) != 1:
                self.errors[field_id] = "Each operation must be an object with a single verb"
                return
            verb, value = next(iter(operation.items()))
            if verb not in ("set", "edit"):
                self.errors[field_id] = f"Field '{field_id}' does not support the operation '{verb}'"
                return
            self.set_field(issue, field_id, value)

    def _list_operation(self, issue: Issue, field_id: str, operation: Any) -> None:
        if not isinstance(operation, dict) or len(operation) != 1:
            self.errors[field_id] = "Each operation must be an object with a single verb"
            return
        verb, value = next(iter(operation.items()))
        if verb == "set":
            self.set_field(issue, field_id, value)
            return
        if verb not in ("add", "remove"):
            self.errors[field_id] = f"Field '{field_id}' does not support the operation '{verb}'"
            return
        if field_id == "labels":
            if not isinstance(value, str):
                self.errors["labels"] = "Operation value must be a string"
                return
            if self.labels([value]) is None:
                return

            def apply_label() -> list[dict[str, Any]]:
                labels = list(issue.labels)
                if verb == "add" and value not in labels:
                    labels.append(value)
                elif verb == "remove" and value in labels:
                    labels.remove(value)
                return self._labels_to(issue, labels)

            self._steps.append(apply_label)
            return
        if field_id == "components":
            ids = self.component_ids(issue, [value])
            if ids is None:
                return

            def apply_component() -> list[dict[str, Any]]:
                current = list(issue.components)
                if verb == "add":
                    current.extend(i for i in ids if i not in current)
                else:
                    current = [i for i in current if i not in ids]
                return self._components_to(issue, current)

            self._steps.append(apply_component)
            return
        versions = self.version_ids(issue, field_id, [value])
        if versions is None:
            return

        def apply_version() -> list[dict[str, Any]]:
            current = list(issue.fix_versions if field_id == "fixVersions" else issue.affects_versions)
            if verb == "add":
                current.extend(v for v in versions if v not in current)
            else:
                current = [v for v in current if v not in versions]
            return self._versions_to(issue, field_id, current)

        self._steps.append(apply_version)

    def _comment_operation(self, issue: Issue, operation: Any) -> None:
        if not isinstance(operation, dict) or len(operation) != 1:
            self.errors["comment"] = "Each operation must be an object with a single verb"
            return
        verb, value = next(iter(operation.items()))
        value = value if isinstance(value, dict) else {}
        if verb == "add":
            new_body = self.rich_text("comment", value.get("body"))
            if new_body is None:
                self.errors.setdefault("comment", "Comment body can not be empty!")
                return

            def add() -> list[dict[str, Any]]:
                assert new_body is not None
                self.result.comments_added.append(self.add_comment(issue, new_body))
                return []

            self._steps.append(add)
            return
        target = next((c for c in issue.comments if str(c.id) == str(value.get("id"))), None)
        if target is None:
            self.errors["comment"] = f"Can not find a comment for the id: {value.get('id')}."
            return
        if verb == "edit":
            body = self.rich_text("comment", value.get("body"))
            if body is None:
                return

            def edit() -> list[dict[str, Any]]:
                self.edit_comment(target, body)
                self.result.comments_updated.append(target)
                return []

            self._steps.append(edit)
        elif verb == "remove":

            def remove() -> list[dict[str, Any]]:
                issue.comments.remove(target)
                self.result.comments_deleted.append(target)
                return []

            self._steps.append(remove)
        else:
            self.errors["comment"] = f"Field 'comment' does not support the operation '{verb}'"

    # -- comments outside of edits -----------------------------------------------------------------

    def add_comment(self, issue: Issue, body: dict[str, Any]) -> Comment:
        now = self.state.clock.now_ms()
        comment = Comment(
            self.state.counters.next("comment"), self.actor.account_id, body, now, now, self.actor.account_id
        )
        issue.comments.append(comment)
        return comment

    def edit_comment(self, comment: Comment, body: dict[str, Any]) -> None:
        comment.body = body
        comment.updated = self.state.clock.now_ms()
        comment.update_author = self.actor.account_id

    # -- planning and applying ------------------------------------------------------------------

    def plan(self, issue: Issue, fields: Any, update: Any) -> None:
        fields = fields or {}
        update = update or {}
        if not isinstance(fields, dict) or not isinstance(update, dict):
            raise JiraError(400, "Can not deserialize instance of object out of START_ARRAY token")
        for field_id in fields:
            if field_id in update:
                self.errors[field_id] = f"Field '{field_id}' cannot be set in both 'fields' and 'update'."
        for field_id, value in fields.items():
            self.set_field(issue, field_id, value)
        for field_id, operations in update.items():
            if field_id != "comment" and field_id not in cat.EDITABLE_FIELDS:
                self.errors[field_id] = not_settable(field_id)
                continue
            self.update_field(issue, field_id, operations)

    def check(self) -> None:
        if self.errors:
            raise JiraError(400, errors=dict(self.errors))

    def add_step(self, step: Apply) -> None:
        self._steps.append(step)

    def apply(self, issue: Issue, *, record: bool = True) -> EditResult:
        """Run the planned steps; one history for all field changes; ``updated`` bumped if anything changed.

        ``record=False`` is for a new issue: its initial values are not changes.
        """
        self.check()
        if record:
            self.state.remember_for_search(issue.id, issue)
        items: list[dict[str, Any]] = []
        for step in self._steps:
            items.extend(step())
        if not record:
            return self.result
        now = self.state.clock.now_ms()
        if items:
            history = History(self.state.counters.next("history"), self.actor.account_id, now, items)
            issue.histories.append(history)
            self.result.history = history
        if self.result.changed:
            self.state.set_updated(issue, max(now, issue.updated))
        return self.result


def transition_issue(editor: IssueEditor, issue: Issue, target: str, resolution: str | None) -> None:
    """Plan a status change (with Jira's resolution post-functions) into ``editor``."""
    before = cat.STATUS_BY_NAME[issue.status.lower()]
    after = cat.STATUS_BY_NAME[target.lower()]

    def apply() -> list[dict[str, Any]]:
        now = editor.state.clock.now_ms()
        items = [item("status", "status", before.id, before.name, after.id, after.name)]
        issue.status = after.name
        issue.status_changed = now
        if after.category == "done" and not issue.resolution:
            name = resolution or "Done"
            issue.resolution = name
            issue.resolution_date = now
            items.append(item("resolution", "resolution", None, None, cat.RESOLUTIONS[name], name))
        elif after.category != "done" and issue.resolution:
            old = issue.resolution
            issue.resolution = None
            issue.resolution_date = None
            items.append(item("resolution", "resolution", cat.RESOLUTIONS.get(old), old, None, None))
        return items

    editor.add_step(apply)
