"""Pydantic's validation errors turned into problems a mapping author can act on.

Union tags are removed from paths (``fields.risk.spec.mapp`` -> ``fields.risk.mapp``), unknown keys
get a "did you mean" from the keys the model at that place accepts, and every problem carries the
line and column where the offending key or value was written.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from bridgeline.mapping._language import MappingDocument
from bridgeline.mapping._problems import Path, Problem, did_you_mean, dotted
from bridgeline.mapping._yaml import SourceMap


def validate(raw: Any, where: SourceMap) -> tuple[MappingDocument | None, list[Problem]]:
    try:
        return MappingDocument.model_validate(raw), []
    except ValidationError as exc:
        return None, problems_of(exc, where)


def problems_of(
    exc: ValidationError, where: SourceMap, root: type[BaseModel] = MappingDocument
) -> list[Problem]:
    problems: list[Problem] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        path, parent_type = _clean(root, loc)
        kind = error["type"]
        is_key = kind == "extra_forbidden"
        file, line, column = where.at(path, key=is_key)
        message = _message(error, path, parent_type)
        problems.append(Problem(file, line, column, dotted(path), message))
    return problems


def _message(error: Any, path: Path, parent_type: Any) -> str:
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else "?"
        allowed = _keys_of(parent_type)
        return f"unknown key '{key}'{did_you_mean(key, allowed)}"
    if kind == "missing":
        return f"missing required key '{path[-1]}'" if path else "missing required key"
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        choices = [c.strip().strip("'") for c in expected.replace(" or ", ", ").split(",")]
        return f"{value!r} is not one of {expected}{did_you_mean(str(value), choices)}"
    if kind == "union_tag_invalid":
        tag = str(ctx.get("tag"))
        expected = str(ctx.get("expected_tags", ""))
        choices = [c.strip().strip("'") for c in expected.split(",")]
        what = str(ctx.get("discriminator", "")).strip("'")
        return f"unknown {what} {tag!r} (expected {expected}){did_you_mean(tag, choices)}"
    if kind == "union_tag_not_found":
        return f"missing key {ctx.get('discriminator', '')}"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        return f"{value!r} does not match the pattern {ctx.get('pattern')}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping (key: value), got {_describe(value)}"
    if kind == "list_type":
        return f"expected a list, got {_describe(value)}"
    if kind in ("string_type", "int_type", "bool_type", "float_type", "int_parsing", "bool_parsing"):
        return f"{error['msg'].lower()}, got {_describe(value)}"
    return str(error["msg"])


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{type(value).__name__} {value!r}"


def _unwrap(tp: Any) -> Any:
    while get_origin(tp) is typing.Annotated:
        tp = get_args(tp)[0]
    return tp


def _tag_of(member: Any) -> str | None:
    if get_origin(member) is typing.Annotated:
        for meta in get_args(member)[1:]:
            tag = getattr(meta, "tag", None)
            if isinstance(tag, str):
                return tag
    inner = _unwrap(member)
    if isinstance(inner, type) and issubclass(inner, BaseModel):
        system = inner.model_fields.get("system")
        if system is not None and get_origin(system.annotation) is Literal:
            return str(get_args(system.annotation)[0])
        return inner.__name__
    if get_origin(inner) is Literal:
        return "literal[" + "|".join(repr(a) for a in get_args(inner)) + "]"
    return getattr(inner, "__name__", None)


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _members(tp: Any) -> list[Any]:
    out: list[Any] = []
    for member in get_args(tp):
        inner = _unwrap(member)
        if _is_union(inner) and _tag_of(member) is None:
            out.extend(_members(inner))
        else:
            out.append(member)
    return out


def _clean(root: type[BaseModel], loc: tuple[Any, ...]) -> tuple[Path, Any]:
    """The document path of a pydantic ``loc`` (union tags dropped) and the type of its parent."""
    path: list[str | int] = []
    current: Any = root
    parent: Any = root
    for part in loc:
        tp = _unwrap(current)
        if _is_union(tp):
            chosen = next((m for m in _members(tp) if _tag_of(m) == part), None)
            if chosen is not None:
                current = chosen
                continue
            tp = next((_unwrap(m) for m in _members(tp) if _keys_of(_unwrap(m))), tp)
        parent = tp
        path.append(part)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            info = next((f for n, f in tp.model_fields.items() if part in (n, f.alias)), None)
            current = info.annotation if info is not None else None
        elif get_origin(tp) is dict:
            current = get_args(tp)[1]
        elif get_origin(tp) is list:
            current = get_args(tp)[0]
        else:
            current = None
    return tuple(path), parent


def _keys_of(tp: Any) -> list[str]:
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or n for n, f in tp.model_fields.items()]
    return []
