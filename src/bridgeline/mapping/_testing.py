"""Running the ``tests:`` written in mapping files: input fixture -> expected subset of the output.

Each case builds the context from raw Jira JSON exactly as the engine does, renders (and, when the
case gives a ``target``, derives the reverse actions), and compares with ``expect``. A failure says
what differed, where, with the closest candidate for list entries that matched nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bridgeline.errors import RenderError
from bridgeline.mapping._context import issue_context, version_context
from bridgeline.mapping._dates import to_datetime
from bridgeline.mapping._language import TestInput
from bridgeline.mapping._loader import MappingTest
from bridgeline.mapping._mapping import DeploymentPlan, Mapping
from bridgeline.mapping._results import Rendered, RenderedChild, ReverseAction
from bridgeline.mapping._sets import MappingSet
from bridgeline.mapping._trains import train_context, train_level
from bridgeline.mapping._yaml import _Loader

DEFAULT_NOW = "2024-01-01T00:00:00Z"
_MATCHERS = ("contains", "matches", "startswith")


@dataclass(slots=True)
class CaseResult:
    """The outcome of one test case."""

    mapping: str
    name: str
    file: str
    line: int
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def title(self) -> str:
        return f"{self.mapping} :: {self.name}"


def run_tests(mappings: MappingSet, *, select: str | None = None) -> list[CaseResult]:
    """Run every test case of the set (or those whose mapping/case name contains ``select``)."""
    results = []
    for test in mappings.tests:
        title = f"{test.mapping} :: {test.case.name}"
        if select and select.lower() not in title.lower():
            continue
        results.append(run_case(mappings.get(test.mapping), test))
    return results


def run_case(mapping: Mapping, test: MappingTest) -> CaseResult:
    result = CaseResult(mapping.name, test.case.name, test.file, test.line)
    try:
        payload = _input(test)
        ctx = build_context(mapping.source.entity, payload)
    except (OSError, ValueError, TypeError, KeyError, yaml.YAMLError) as exc:
        result.failures.append(f"input: {exc}")
        return result
    result.failures.extend(check(mapping, ctx, test.case.expect.model_dump(exclude_none=True)))
    return result


def _input(test: MappingTest) -> dict[str, Any]:
    case = test.case
    if isinstance(case.input, str):
        path = Path(test.file).parent / case.input
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_Loader)
        if not isinstance(data, dict):
            raise ValueError(f"{case.input} must hold a mapping with version/project/issues or issue/project")
        payload = TestInput.model_validate(data).model_dump(exclude_none=True)
    else:
        payload = case.input.model_dump(exclude_none=True)
    for key in ("now", "target", "link", "deployment", "child"):
        value = getattr(case, key)
        if value is not None:
            payload[key] = value
    return payload


def build_context(entity: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A mapping context from a test or preview payload (raw Jira JSON plus optional target/link)."""
    now = payload.get("now", DEFAULT_NOW)
    moment = now if isinstance(now, datetime) else to_datetime(now)
    moment = moment.astimezone(UTC)
    if entity == "train":
        members = payload.get("members")
        if not isinstance(members, list) or not all(isinstance(m, dict) for m in members):
            raise ValueError("a train mapping needs 'members' in the input: each {version, project, issues}")
        for m in members:
            if not isinstance(m.get("version"), dict):
                raise ValueError("each member of a train needs its 'version'")
        given = (payload.get("train") or {}).get("key")
        key = str(given or (members[0]["version"].get("name") if members else "") or "")
        ctx = train_context(
            key, [(m["version"], m.get("project"), m.get("issues") or []) for m in members], moment
        )
        child = payload.get("child")
        if payload.get("target") is not None:
            ctx = (
                train_level(ctx, str(child.get("group")), str(child.get("source_key")))
                if isinstance(child, dict)
                else train_level(ctx)
            )
    elif entity == "version":
        if not isinstance(payload.get("version"), dict):
            raise ValueError("a version mapping needs 'version' in the input")
        ctx = version_context(payload["version"], payload.get("project"), payload.get("issues") or [], moment)
    else:
        if not isinstance(payload.get("issue"), dict):
            raise ValueError("an issue mapping needs 'issue' in the input")
        ctx = issue_context(payload["issue"], payload.get("project"), moment)
    if payload.get("target") is not None:
        ctx["target"] = payload["target"]
    if payload.get("link") is not None:
        ctx["link"] = payload["link"]
    if payload.get("deployment") is not None:
        ctx["deployment"] = payload["deployment"]
    return ctx


def check(mapping: Mapping, ctx: dict[str, Any], expect: dict[str, Any]) -> list[str]:
    """Differences between what ``mapping`` does with ``ctx`` and ``expect`` (empty: as expected)."""
    failures: list[str] = []
    wants_error = expect.get("error")
    try:
        applies = mapping.applies(ctx)
    except RenderError as exc:
        return _error_outcome(exc, wants_error)
    if "skipped" in expect:
        if expect["skipped"] and applies:
            return ["expected the mapping to skip this input, but it applies"]
        if not expect["skipped"] and not applies:
            return ["expected the mapping to apply, but it skips this input (source filters or when)"]
        if expect["skipped"]:
            return []
    if not applies:
        return ["the mapping does not apply to this input (source filters or when); expect skipped: true?"]
    try:
        rendered = mapping.render(ctx)
        actions = mapping.reverse(ctx) if "target" in ctx else None
        plans = mapping.deployment(ctx) if "deployment" in ctx else None
    except RenderError as exc:
        return _error_outcome(exc, wants_error)
    if wants_error:
        return [f"expected an error containing {wants_error!r}, but the render succeeded"]
    if "identity" in expect and expect["identity"] != rendered.identity:
        failures.append(f"identity: expected {expect['identity']!r}, got {rendered.identity!r}")
    if "fields" in expect:
        failures.extend(compare(expect["fields"], rendered.fields, "fields"))
    children = [child_dict(c) for c in rendered.children]
    if "children_count" in expect:
        for group, count in expect["children_count"].items():
            made = sum(1 for c in rendered.children if c.group == group)
            if made != count:
                failures.append(f"children_count.{group}: expected {count}, got {made}")
    if "children" in expect:
        failures.extend(_match_all(expect["children"], children, "children"))
    if "reverse" in expect or "no_reverse" in expect:
        if actions is None:
            return [*failures, "expect.reverse needs a target in the input (the target record's state)"]
        got = [asdict(a) for a in actions]
        if "reverse" in expect:
            if expect["reverse"] == [] and got:
                failures.append(f"reverse: expected no actions, got {len(got)}: " + _brief(got))
            failures.extend(_match_all(expect["reverse"], got, "reverse"))
        for i, unwanted in enumerate(expect.get("no_reverse", [])):
            hits = [a for a in got if not compare(unwanted, a, "")]
            if hits:
                failures.append(f"no_reverse[{i}]: {len(hits)} action(s) match {unwanted}: " + _brief(hits))
    if "deployments" in expect:
        if plans is None:
            return [*failures, "expect.deployments needs a deployment in the input (environment, state, run)"]
        if expect["deployments"] == [] and plans:
            failures.append(f"deployments: expected no rule to react, got {[p.rule for p in plans]}")
        failures.extend(_deployment_failures(expect["deployments"], plans))
    return failures


def _deployment_failures(expected: list[dict[str, Any]], plans: list[DeploymentPlan]) -> list[str]:
    """Each entry names a rule that reacted; its ``change`` is a subset of the fields written, each
    of its ``actions`` matches a distinct Jira action of the rule."""
    failures: list[str] = []
    by_rule = {p.rule: p for p in plans}
    for i, entry in enumerate(expected):
        label = f"deployments[{i}]"
        rule = entry.get("rule")
        plan = by_rule.get(str(rule)) if rule is not None else (plans[0] if len(plans) == 1 else None)
        if plan is None:
            failures.append(f"{label}: no deployment rule {rule!r} reacted; got {sorted(by_rule) or 'none'}")
            continue
        if "change" in entry:
            failures.extend(compare(entry["change"], plan.change, f"{label}.change"))
        if "actions" in entry:
            failures.extend(
                _match_all(entry["actions"], [asdict(a) for a in plan.actions], f"{label}.actions")
            )
    return failures


def _error_outcome(exc: RenderError, wanted: str | None) -> list[str]:
    if wanted is None:
        return [f"render failed: {exc}"]
    if wanted.lower() in str(exc).lower():
        return []
    return [f"expected an error containing {wanted!r}, got: {exc}"]


def child_dict(child: RenderedChild) -> dict[str, Any]:
    return {
        "group": child.group,
        "source_key": child.source_key,
        "identity": child.identity,
        "target": asdict(child.target),
        "fields": child.fields,
        "on_remove": {"action": child.on_remove.action, "fields": child.on_remove.fields},
    }


def rendered_dict(rendered: Rendered) -> dict[str, Any]:
    return {
        "mapping": rendered.mapping,
        "target": asdict(rendered.target),
        "identity": rendered.identity,
        "fields": rendered.fields,
        "provenance": rendered.provenance,
        "children": [child_dict(c) for c in rendered.children],
        "on_remove": {g: {"action": p.action, "fields": p.fields} for g, p in rendered.on_remove.items()},
    }


def action_dict(action: ReverseAction) -> dict[str, Any]:
    return asdict(action)


def compare(expected: Any, actual: Any, path: str) -> list[str]:
    """Where ``actual`` differs from ``expected``.

    Dicts compare as a subset; ``{contains|matches|startswith: text}`` matches a string loosely.
    """
    where = path or "(value)"
    if isinstance(expected, dict) and len(expected) == 1 and next(iter(expected)) in _MATCHERS:
        ((how, wanted),) = expected.items()
        if isinstance(actual, str) and (
            (how == "contains" and str(wanted) in actual)
            or (how == "startswith" and actual.startswith(str(wanted)))
            or (how == "matches" and re.search(str(wanted), actual, re.DOTALL) is not None)
        ):
            return []
        if not (isinstance(actual, dict) and how in actual):
            return [f"{where}: expected a text that {how} {wanted!r}, got {actual!r}"]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected a mapping, got {actual!r}"]
        out: list[str] = []
        for key, value in expected.items():
            sub = f"{path}.{key}" if path else str(key)
            if key not in actual:
                out.append(f"{sub}: missing (expected {value!r})")
            else:
                out.extend(compare(value, actual[key], sub))
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list | tuple) or len(actual) != len(expected):
            return [f"{where}: expected {expected!r}, got {actual!r}"]
        out = []
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            out.extend(compare(e, a, f"{path}[{i}]"))
        return out
    if expected != actual or (type(expected) is not type(actual) and not _same_number(expected, actual)):
        return [f"{where}: expected {expected!r}, got {actual!r}"]
    return []


def _same_number(a: Any, b: Any) -> bool:
    numbers = (int, float)
    return (
        isinstance(a, numbers)
        and isinstance(b, numbers)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    )


def _match_all(expected: list[dict[str, Any]], actual: list[dict[str, Any]], label: str) -> list[str]:
    """Each expected entry must match a distinct actual entry; report the closest miss otherwise."""
    free = list(range(len(actual)))
    failures: list[str] = []
    for i, wanted in enumerate(expected):
        match = next((j for j in free if not compare(wanted, actual[j], "")), None)
        if match is not None:
            free.remove(match)
            continue
        if not actual:
            failures.append(f"{label}[{i}]: nothing was produced, expected {wanted}")
            continue
        closest = min(range(len(actual)), key=lambda j: len(compare(wanted, actual[j], "")))
        diffs = "; ".join(compare(wanted, actual[closest], ""))
        failures.append(
            f"{label}[{i}]: no entry matches {wanted}; closest ({_brief([actual[closest]])}) differs: {diffs}"
        )
    return failures


def _brief(items: list[dict[str, Any]]) -> str:
    parts = []
    for item in items[:5]:
        bits = [f"{k}={item[k]}" for k in ("group", "rule", "kind", "issue_key", "source_key") if item.get(k)]
        parts.append(" ".join(bits) or str(item)[:80])
    more = f" (+{len(items) - 5} more)" if len(items) > 5 else ""
    return ", ".join(parts) + more
