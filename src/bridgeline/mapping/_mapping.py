"""A compiled mapping: decides whether it applies, renders the desired records, derives reverse actions.

Pure: dicts in, frozen values out. Everything that can be decided at load was decided there
(templates compiled, value maps resolved, per-project overrides merged), so a render only evaluates.
"""

from __future__ import annotations

import fnmatch
import hashlib
from dataclasses import dataclass, field
from typing import Any, NoReturn

from bridgeline.errors import RenderError
from bridgeline.mapping import _budget
from bridgeline.mapping._actions import ActionFailure, CompiledAction, render_params
from bridgeline.mapping._context import TARGET_KEYS
from bridgeline.mapping._fields import CompiledField, describe, produce_all
from bridgeline.mapping._language import Gate as GateSpec
from bridgeline.mapping._results import (
    ChildSpec,
    RemovePolicy,
    Rendered,
    RenderedChild,
    ReverseAction,
    SourceSpec,
    TargetSpec,
)
from bridgeline.mapping._templates import Expr, Text
from bridgeline.mapping._trains import level_versions
from bridgeline.mapping._yaml import SourceMap


@dataclass(slots=True)
class CompiledChild:
    name: str
    for_each: Expr
    as_name: str
    where: Expr | None
    identity: Text
    source_key: Text | None
    target: TargetSpec
    fields: list[CompiledField]
    remove_action: str
    remove_fields: list[CompiledField]
    writes: dict[str, str] = field(default_factory=dict)  # field -> write policy (once)


@dataclass(slots=True)
class CompiledRule:
    name: str
    when: Expr
    trigger: Text | None
    trigger_keys: list[str]
    where: Expr | None
    actions: list[CompiledAction]


@dataclass(slots=True)
class CompiledDeploymentRule:
    name: str
    environments: tuple[str, ...]  # patterns, case-insensitive
    states: tuple[str, ...]
    change: list[CompiledField]
    actions: list[CompiledAction]

    def matches(self, environment: str, state: str) -> bool:
        return state in self.states and environment_matches(environment, self.environments)


@dataclass(frozen=True, slots=True)
class DeploymentPlan:
    """What one deployment report asks for: fields for the change, and Jira actions (each keyed)."""

    rule: str
    change: dict[str, Any]
    actions: list[ReverseAction]


def environment_matches(environment: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """``production`` matches ``prod*``; case does not matter."""
    env = environment.strip().lower()
    return any(fnmatch.fnmatchcase(env, p.strip().lower()) for p in patterns)


@dataclass(slots=True)
class Variant:
    """Everything a project override may change."""

    target: TargetSpec
    vars: dict[str, Any]
    fields: list[CompiledField]
    children: list[CompiledChild]
    rules: list[CompiledRule]
    on_error: str
    conflicts: dict[str, str] = field(default_factory=dict)  # field -> declared conflict policy
    writes: dict[str, str] = field(default_factory=dict)  # field -> write policy (once, until_approved)


@dataclass(slots=True)
class Mapping:
    """One compiled mapping of the set. ``applies``/``render``/``reverse`` take a context dict."""

    name: str
    description: str
    file: str
    line: int
    source: SourceSpec
    identity: Text
    when: Expr | None
    base: Variant
    overrides: dict[str, Variant] = field(default_factory=dict)
    globals: dict[str, Any] = field(default_factory=dict)
    extends: str | None = None
    where: SourceMap | None = field(default=None, repr=False)
    limits: _budget.Limits = field(default_factory=_budget.Limits)
    gate: GateSpec = field(default_factory=GateSpec)
    deployment_rules: list[CompiledDeploymentRule] = field(default_factory=list)
    train_key: Text | None = None  # train mappings: the key rendered from each member version
    # per-project ``overrides``: the gate and the deployment rules of that project's releases
    project_gates: dict[str, tuple[GateSpec, list[CompiledDeploymentRule]]] = field(default_factory=dict)

    # the contract's read-only views --------------------------------------------------------------
    @property
    def target(self) -> TargetSpec:
        return self.base.target

    @property
    def on_error(self) -> str:
        return self.base.on_error

    @property
    def children(self) -> list[ChildSpec]:
        return [ChildSpec(c.name, c.target, c.remove_action, c.for_each.source) for c in self.base.children]  # type: ignore[arg-type]

    def key_of(self, ctx: dict[str, Any]) -> str:
        """The train key of one version (``version_context`` of it, issues not needed): empty when the
        version is in no train of this mapping, or not of one of its member projects."""
        if self.train_key is None:
            return ""
        if (ctx.get("project") or {}).get("key") not in (self.source.projects or ()):
            return ""
        if (ctx.get("version") or {}).get("archived"):
            return ""  # archived releases are history: they leave their train
        scope = {**self.globals, **ctx, "vars": self.base.vars}
        try:
            with _budget.opened(self.limits):
                return self.train_key.render(scope).strip()
        except Exception as exc:
            raise RenderError(
                self.name, "source.key", describe(exc), entity=entity_of(ctx, "version")
            ) from None

    @property
    def has_reverse_rules(self) -> bool:
        """Whether any variant (the base or a project's override) has ``reverse`` rules."""
        return bool(self.base.rules) or any(v.rules for v in self.overrides.values())

    def gate_of(self, project: str | None) -> GateSpec:
        """What the gate allows for releases of ``project`` (its override's, else the mapping's)."""
        found = self.project_gates.get(project or "")
        return found[0] if found is not None else self.gate

    def deployment_rules_of(self, project: str | None) -> list[CompiledDeploymentRule]:
        found = self.project_gates.get(project or "")
        return found[1] if found is not None else self.deployment_rules

    def variant(self, ctx: dict[str, Any]) -> Variant:
        """The base, or the override of the context's project."""
        if self.overrides:
            key = (ctx.get("project") or {}).get("key")
            if key in self.overrides:
                return self.overrides[key]
        return self.base

    # applying ------------------------------------------------------------------------------------
    def applies(self, ctx: dict[str, Any]) -> bool:
        """Project, issue type and label filters, then ``source.when``."""
        self._require(ctx)
        src = self.source
        if (
            src.entity != "train"
            and src.projects is not None
            and (ctx.get("project") or {}).get("key") not in src.projects
        ):
            return False
        if src.entity == "issue" and not _issue_matches(ctx["issue"], src):
            return False
        if self.when is None:
            return True
        scope = self._scope(ctx, self.variant(ctx))
        try:
            with _budget.opened(self.limits):
                return bool(self.when.evaluate(scope))
        except Exception as exc:
            self._fail(ctx, "source.when", describe(exc))

    def why_not(self, ctx: dict[str, Any]) -> str | None:
        """Why the mapping does not apply to ``ctx`` (which filter, what it wanted, what the input
        has), or None when it does: for the preview and mapping tests."""
        if self.applies(ctx):
            return None
        src = self.source
        key = (ctx.get("project") or {}).get("key")
        if src.entity != "train" and src.projects is not None and key not in src.projects:
            wanted = ", ".join(src.projects)
            if not key:
                return (
                    f"source.projects is [{wanted}] and the input names no project: add "
                    '"project": {"key": "..."} (Jira\'s version API leaves it out; '
                    "its projectId is not a key)"
                )
            return f"source.projects is [{wanted}]; the input's project is {key}"
        if src.entity == "issue" and not _issue_matches(ctx["issue"], src):
            issue = ctx["issue"]
            if src.issue_types is not None and issue.get("type") not in src.issue_types:
                types = ", ".join(src.issue_types)
                return f"source.issue_types is [{types}]; the issue is a {issue.get('type')}"
            labels = ", ".join(src.labels or [])
            return f"source.labels asks for one of [{labels}]; the issue has {issue.get('labels') or 'none'}"
        return f"source.when is false for this input: {self.when.source if self.when is not None else ''}"

    def render(self, ctx: dict[str, Any]) -> Rendered:
        """The desired record and children. Raises RenderError naming the mapping and the field.

        The record and each child record are rendered under a budget of their own (``limits``).
        """
        with _budget.opened(self.limits):
            return self._render(ctx)

    def _render(self, ctx: dict[str, Any]) -> Rendered:
        self._require(ctx)
        variant = self.variant(ctx)
        scope = self._scope(ctx, variant)

        def fail(path: str, reason: str) -> NoReturn:
            self._fail(ctx, path, reason)

        identity = self._text(ctx, self.identity, scope, "identity")
        if not identity.strip():
            fail("identity", "the correlation id rendered empty")
        fields, provenance = produce_all(variant.fields, scope, variant.target.system, fail)
        children: list[RenderedChild] = []
        policies: dict[str, RemovePolicy] = {}
        seen: dict[str, str] = {identity: "the parent record"}  # identity -> what rendered it
        for child in variant.children:
            policy_fields, _ = produce_all(child.remove_fields, scope, child.target.system, fail)
            policy = RemovePolicy(child.remove_action, policy_fields)  # type: ignore[arg-type]
            policies[child.name] = policy
            children.extend(self._children(ctx, child, scope, policy, seen))
        return Rendered(
            self.name,
            variant.target,
            identity,
            fields,
            provenance,
            children,
            policies,
            dict(variant.conflicts),
            dict(variant.writes),
        )

    def _children(
        self,
        ctx: dict[str, Any],
        child: CompiledChild,
        scope: dict[str, Any],
        policy: RemovePolicy,
        seen: dict[str, str],
    ) -> list[RenderedChild]:
        base = f"children.{child.name}"

        def fail(path: str, reason: str) -> NoReturn:
            self._fail(ctx, path, reason)

        try:
            items = child.for_each.evaluate(scope)
        except Exception as exc:
            fail(f"{base}.for_each", describe(exc))
        if items is None:
            return []
        if isinstance(items, str | bytes | dict) or not hasattr(items, "__iter__"):
            fail(f"{base}.for_each", f"needs a list, got {type(items).__name__}")
        out: list[RenderedChild] = []
        for item in items:
            with _budget.opened(self.limits):
                rendered = self._child(ctx, child, {**scope, child.as_name: item}, item, policy, seen)
            if rendered is not None:
                out.append(rendered)
        return out

    def _child(
        self,
        ctx: dict[str, Any],
        child: CompiledChild,
        item_scope: dict[str, Any],
        item: Any,
        policy: RemovePolicy,
        seen: dict[str, str],
    ) -> RenderedChild | None:
        base = f"children.{child.name}"

        def fail(path: str, reason: str) -> NoReturn:
            self._fail(ctx, path, reason)

        if child.where is not None:
            try:
                if not child.where.evaluate(item_scope):
                    return None
            except Exception as exc:
                fail(f"{base}.where", describe(exc))
        identity = self._text(ctx, child.identity, item_scope, f"{base}.identity")
        if not identity:
            fail(f"{base}.identity", "the correlation id rendered empty")
        if child.source_key is not None:
            source_key = self._text(ctx, child.source_key, item_scope, f"{base}.source_key")
            if not source_key:
                fail(f"{base}.source_key", "rendered empty")
        elif isinstance(item, dict) and isinstance(item.get("ref"), str) and item["ref"]:
            source_key = item["ref"]  # a train's member (jira:version:<id>) or service
        else:
            item_id = item.get("id") if isinstance(item, dict) else None
            if item_id is None:
                fail(f"{base}.source_key", "the item has no id; set source_key")
            source_key = f"jira:issue:{item_id}"
        if identity in seen:
            fail(f"{base}.identity", f"{identity!r} is rendered for both {seen[identity]} and {source_key}")
        seen[identity] = source_key
        fields, provenance = produce_all(child.fields, item_scope, child.target.system, fail)
        return RenderedChild(
            child.name, source_key, identity, child.target, fields, policy, provenance, dict(child.writes)
        )

    # reverse -------------------------------------------------------------------------------------
    def reverse(self, ctx: dict[str, Any]) -> list[ReverseAction]:
        """The Jira actions the target record's state asks for; each has a stable idempotency key."""
        with _budget.opened(self.limits):
            return self._reverse(ctx)

    def _reverse(self, ctx: dict[str, Any]) -> list[ReverseAction]:
        self._require(ctx)
        target = ctx.get("target")
        if not isinstance(target, dict):
            self._fail(
                ctx, "reverse", "the context has no 'target' (the target record as connectors normalize it)"
            )
        variant = self.variant(ctx)
        scope = self._scope(ctx, variant)
        target = {**_EMPTY_TARGET, **target}
        target["fields"] = target["fields"] or {}
        scope["target"] = target
        given = {k: v for k, v in (ctx.get("link") or {}).items() if v is not None}
        scope["link"] = {**_default_link(target), **given}
        actions: list[ReverseAction] = []
        for rule in variant.rules:
            path = f"reverse.{rule.name}"
            try:
                fired = bool(rule.when.evaluate(scope))
            except Exception as exc:
                self._fail(ctx, f"{path}.when", describe(exc))
            if not fired:
                continue
            trigger = self._trigger(ctx, rule, scope, target)
            for index, action in enumerate(rule.actions):
                actions.extend(self._action(ctx, rule, index, action, scope, trigger))
        return actions

    # deployments ---------------------------------------------------------------------------------
    def deployment(self, ctx: dict[str, Any]) -> list[DeploymentPlan]:
        """What the deployment in ``ctx["deployment"]`` asks of the change and of Jira, rule by rule.

        ``ctx`` is a reverse context (``target``, ``link``) plus ``deployment`` (environment, state,
        run_id, run_url, commit...). Action keys name the run and its state: each lands once.
        """
        with _budget.opened(self.limits):
            return self._deployment(ctx)

    def _deployment(self, ctx: dict[str, Any]) -> list[DeploymentPlan]:
        self._require(ctx)
        deployment = ctx.get("deployment") or {}
        environment, state = str(deployment.get("environment") or ""), str(deployment.get("state") or "")
        variant = self.variant(ctx)
        scope = self._scope(ctx, variant)
        target = {**_EMPTY_TARGET, **(ctx.get("target") or {})}
        target["fields"] = target["fields"] or {}
        scope["target"] = target
        given = {k: v for k, v in (ctx.get("link") or {}).items() if v is not None}
        scope["link"] = {**_default_link(target), **given}
        trigger = f"{environment}:{deployment.get('run_id')}:{state}"
        plans: list[DeploymentPlan] = []
        for rule in self.deployment_rules_of((ctx.get("project") or {}).get("key")):
            if not rule.matches(environment, state):
                continue
            path = f"deployments.{rule.name}"
            change, _ = produce_all(
                rule.change,
                scope,
                target.get("system") or "servicenow",
                lambda f, why: self._fail(ctx, f, why),
            )
            as_rule = CompiledRule(f"deploy.{rule.name}", None, None, [], None, rule.actions)  # type: ignore[arg-type]
            actions: list[ReverseAction] = []
            for index, action in enumerate(rule.actions):
                actions.extend(self._action(ctx, as_rule, index, action, scope, trigger, path=path))
            plans.append(DeploymentPlan(rule.name, change, actions))
        return plans

    def _trigger(
        self, ctx: dict[str, Any], rule: CompiledRule, scope: dict[str, Any], target: dict[str, Any]
    ) -> str:
        if rule.trigger is not None:
            return self._text(ctx, rule.trigger, scope, f"reverse.{rule.name}.trigger")
        keys = rule.trigger_keys or ["state", "approval"]
        parts = []
        for key in keys:
            value: Any = target
            for part in key.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            parts.append(f"{key}={'' if value is None else value}")
        return ";".join(parts)

    def _action(
        self,
        ctx: dict[str, Any],
        rule: CompiledRule,
        index: int,
        action: CompiledAction,
        scope: dict[str, Any],
        trigger: str,
        *,
        path: str | None = None,
    ) -> list[ReverseAction]:
        path = f"{path}.actions[{index}]" if path else f"reverse.{rule.name}.actions[{index}]"
        trigger_key = trigger if len(trigger) <= 80 else hashlib.sha256(trigger.encode()).hexdigest()[:16]
        # the record the answer came from: an issue in two releases hears from both CABs
        link = scope.get("link") or {}
        record = str(link.get("number") or link.get("id") or "-")
        if action.scope == "version":
            versions = level_versions(scope) if self.source.entity == "train" else [ctx.get("version") or {}]
            out_v: list[ReverseAction] = []
            for version in versions:
                version_id = version.get("id")
                params = self._params(ctx, action, {**scope, "version": version}, path)
                if params is None:
                    continue
                key = f"{self.name}/{rule.name}/{action.label}/version:{version_id}/{record}/{trigger_key}"
                out_v.append(ReverseAction(rule.name, action.kind, "version", None, version_id, params, key))  # type: ignore[arg-type]
            return out_v
        if action.issues is not None:
            try:
                issues = list(action.issues.evaluate(scope) or ())
            except Exception as exc:
                self._fail(ctx, f"{path}.issues", describe(exc))
        elif self.source.entity == "issue":
            issues = [ctx["issue"]]
        else:
            issues = scope.get("issues") or []
        where = action.where or rule.where
        out: list[ReverseAction] = []
        for issue in issues:
            item_scope = {**scope, "issue": issue}
            if where is not None:
                try:
                    if not where.evaluate(item_scope):
                        continue
                except Exception as exc:
                    self._fail(ctx, f"{path}.where", describe(exc))
            params = self._params(ctx, action, item_scope, path)
            if params is None:
                continue
            issue_key = issue.get("key")
            key = f"{self.name}/{rule.name}/{action.label}/{issue_key}/{record}/{trigger_key}"
            version_id = (ctx.get("version") or {}).get("id") if self.source.entity == "version" else None
            out.append(ReverseAction(rule.name, action.kind, "issue", issue_key, version_id, params, key))  # type: ignore[arg-type]
        return out

    def _params(
        self, ctx: dict[str, Any], action: CompiledAction, scope: dict[str, Any], path: str
    ) -> dict[str, Any] | None:
        """The rendered parameters, or None when the action's main text renders empty (skip it)."""
        try:
            return render_params(action, scope)
        except ActionFailure as exc:
            self._fail(ctx, f"{path}.{exc.where}" if exc.where else path, exc.reason)
        except Exception as exc:
            self._fail(ctx, f"{path}.{action.kind}", describe(exc))

    # helpers -------------------------------------------------------------------------------------
    def _scope(self, ctx: dict[str, Any], variant: Variant) -> dict[str, Any]:
        scope = {**self.globals, "link": None, **ctx, "vars": variant.vars}
        src = self.source
        if src.entity in ("version", "train") and (src.issue_types is not None or src.labels is not None):
            scope["issues"] = [i for i in ctx.get("issues") or () if _issue_matches(i, src)]
        if src.entity == "train" and (src.issue_types is not None or src.labels is not None):
            scope["members"] = [
                {**m, "issues": [i for i in m["issues"] if _issue_matches(i, src)]}
                for m in ctx.get("members") or ()
            ]
            train = dict(ctx.get("train") or {})
            train["issues"] = [i for i in train.get("issues") or () if _issue_matches(i, src)]
            scope["train"] = train
        return scope

    def _text(self, ctx: dict[str, Any], text: Text, scope: dict[str, Any], path: str) -> str:
        try:
            return text.render(scope)
        except Exception as exc:
            self._fail(ctx, path, describe(exc))

    def _require(self, ctx: dict[str, Any]) -> None:
        entity = self.source.entity
        if not isinstance(ctx, dict) or entity not in ctx:
            article = "an" if entity == "issue" else "a"
            self._fail(
                ctx if isinstance(ctx, dict) else {},
                "source",
                f"{article} {entity} mapping needs a context with '{entity}' "
                f"(build it with {entity}_context)",
            )
        if entity == "train" and "members" not in ctx:
            self._fail(
                ctx, "source", "a train mapping needs a context with 'members' (build it with train_context)"
            )

    def _fail(self, ctx: dict[str, Any], path: str, reason: str) -> NoReturn:
        raise RenderError(self.name, path, reason, entity=entity_of(ctx, self.source.entity))


def entity_of(ctx: dict[str, Any], entity: str) -> str | None:
    obj = ctx.get(entity) if isinstance(ctx, dict) else None
    if isinstance(obj, dict) and obj.get("id") is not None:
        return f"jira:{entity}:{obj['id']}"
    return None


def _issue_matches(issue: dict[str, Any], src: SourceSpec) -> bool:
    if src.issue_types is not None and issue.get("type") not in src.issue_types:
        return False
    return not (src.labels is not None and not set(issue.get("labels") or ()) & set(src.labels))


_EMPTY_TARGET: dict[str, Any] = dict.fromkeys(TARGET_KEYS)


def _default_link(target: dict[str, Any]) -> dict[str, Any]:
    return {
        "system": target.get("system"),
        "record": target.get("record"),
        "number": target.get("number"),
        "url": target.get("url"),
        "id": None,
        "correlation_id": None,
    }
