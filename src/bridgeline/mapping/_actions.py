"""Reverse actions: their compiled parameters and how each kind renders.

An action whose main text renders empty (a comment with nothing to say, a transition to no status)
is skipped, so templates can decide per issue whether there is anything to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridgeline.mapping._fields import CompiledField, FieldFailure, describe, out_of_order
from bridgeline.mapping._templates import Expr, Text

# The parameter whose empty rendering skips the action.
MAIN_PARAM = {
    "transition": "to",
    "comment": "body",
    "remote_link": "url",
    "issue_property": "key",
    "version_property": "key",
    "version_description": "description",
}


class ActionFailure(Exception):
    def __init__(self, where: str, reason: str) -> None:
        super().__init__(reason)
        self.where = where
        self.reason = reason


@dataclass(slots=True)
class CompiledAction:
    kind: str
    label: str  # "comment", "comment#2" for a second comment in the same rule
    scope: str  # issue | version
    where: Expr | None
    params: dict[str, Any]  # name -> Text | Expr | list[Text] | list[CompiledField] | JSON with Texts
    issues: Expr | None = None  # the issues it writes to, when not the rule's `issues`


def render_params(action: CompiledAction, scope: dict[str, Any]) -> dict[str, Any] | None:
    kind = action.kind
    compiled = action.params
    if kind == "label":
        add = _texts(compiled["add"], scope, "label.add")
        remove = _texts(compiled["remove"], scope, "label.remove")
        return {"add": add, "remove": remove} if add or remove else None
    if kind == "field":
        values: dict[str, Any] = {}
        for f in compiled["fields"]:
            try:
                values[f.name], _ = f.produce(scope, "jira")
            except FieldFailure as exc:
                raise ActionFailure(f"field.{f.name}", str(exc)) from None
            except Exception as exc:
                raise ActionFailure(f"field.{f.name}", describe(exc)) from None
        for f, reason in out_of_order(compiled["fields"], values):
            raise ActionFailure(f"field.{f.name}", reason)
        return {"fields": values}
    if kind == "release_version":
        return {"released": True, "release_date": _one(compiled["release_date"], scope, kind)}
    params: dict[str, Any] = {}
    for name, value in compiled.items():
        where = f"{kind}.{name}"
        if value is None:
            continue
        if isinstance(value, Text):
            params[name] = _one(value, scope, where)
        elif isinstance(value, Expr):
            try:
                params[name] = bool(value.evaluate(scope))
            except Exception as exc:
                raise ActionFailure(where, describe(exc)) from None
        else:
            params[name] = _tree(value, scope, where)
    main = MAIN_PARAM.get(kind)
    if main is not None and not str(params.get(main) or "").strip():
        return None
    return params


def _one(text: Text, scope: dict[str, Any], where: str) -> str:
    try:
        return text.render(scope)
    except Exception as exc:
        raise ActionFailure(where, describe(exc)) from None


def _texts(texts: list[Text], scope: dict[str, Any], where: str) -> list[str]:
    out = []
    for text in texts:
        value = _one(text, scope, where).strip()
        if value and value not in out:
            out.append(value)
    return out


def _tree(value: Any, scope: dict[str, Any], where: str) -> Any:
    if isinstance(value, Text):
        return _one(value, scope, where)
    if isinstance(value, dict):
        return {k: _tree(v, scope, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_tree(v, scope, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, CompiledField):  # pragma: no cover - fields are only used by kind "field"
        raise ActionFailure(where, "unexpected field")
    return value
