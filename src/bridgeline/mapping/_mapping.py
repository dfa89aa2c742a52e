"""A compiled mapping: decides whether it applies, renders the desired records, derives reverse actions.

Pure: dicts in, frozen values out. Everything that can be decided at load was decided there
(templates compiled, value maps resolved, per-project overrides merged), so a render only evaluates.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, NoReturn

from bridgeline.errors import RenderError
from bridgeline.mapping._actions import ActionFailure, CompiledAction, render_params
from bridgeline.mapping._context import TARGET_KEYS
from bridgeline.mapping._fields import CompiledField, describe, produce_all
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


@dataclass(slots=True)
class CompiledRule:
    name: str
    when: Expr
    trigger: Text | None
    trigger_keys: list[str]
    where: Expr | None
    actions: list[CompiledAction]


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
        if src.projects is not None and (ctx.get("project") or {}).get("key") not in src.projects:
            return False
        if src.entity == "issue" and not _issue_matches(ctx["issue"], src):
            return False
        if self.when is None:
            return True
        scope = self._scope(ctx, self.variant(ctx))
        try:
            return bool(self.when.evaluate(scope))
        except Exception as exc:
            self._fail(ctx, "source.when", describe(exc))

    def render(self, ctx: dict[str, Any]) -> Rendered:
        """The desired record and children. Raises RenderError naming the mapping and the field."""
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
            item_scope = {**scope, child.as_name: item}
            if child.where is not None:
                try:
                    if not child.where.evaluate(item_scope):
                        continue
                except Exception as exc:
                    fail(f"{base}.where", describe(exc))
            identity = self._text(ctx, child.identity, item_scope, f"{base}.identity")
            if not identity:
                fail(f"{base}.identity", "the correlation id rendered empty")
            if child.source_key is not None:
                source_key = self._text(ctx, child.source_key, item_scope, f"{base}.source_key")
                if not source_key:
                    fail(f"{base}.source_key", "rendered empty")
            else:
                item_id = item.get("id") if isinstance(item, dict) else None
                if item_id is None:
                    fail(f"{base}.source_key", "the item has no id; set source_key")
                source_key = f"jira:issue:{item_id}"
            if identity in seen:
                fail(
                    f"{base}.identity", f"{identity!r} is rendered for both {seen[identity]} and {source_key}"
                )
            seen[identity] = source_key
            fields, provenance = produce_all(child.fields, item_scope, child.target.system, fail)
            out.append(
                RenderedChild(child.name, source_key, identity, child.target, fields, policy, provenance)
            )
        return out

    # reverse -------------------------------------------------------------------------------------
    def reverse(self, ctx: dict[str, Any]) -> list[ReverseAction]:
        """The Jira actions the target record's state asks for; each has a stable idempotency key."""
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
    ) -> list[ReverseAction]:
        path = f"reverse.{rule.name}.actions[{index}]"
        trigger_key = trigger if len(trigger) <= 80 else hashlib.sha256(trigger.encode()).hexdigest()[:16]
        # the record the answer came from: an issue in two releases hears from both CABs
        link = scope.get("link") or {}
        record = str(link.get("number") or link.get("id") or "-")
        if action.scope == "version":
            version_id = (ctx.get("version") or {}).get("id")
            params = self._params(ctx, action, scope, path)
            if params is None:
                return []
            key = f"{self.name}/{rule.name}/{action.label}/version:{version_id}/{record}/{trigger_key}"
            return [ReverseAction(rule.name, action.kind, "version", None, version_id, params, key)]  # type: ignore[arg-type]
        issues = [ctx["issue"]] if self.source.entity == "issue" else scope.get("issues") or []
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
        if src.entity == "version" and (src.issue_types is not None or src.labels is not None):
            scope["issues"] = [i for i in ctx.get("issues") or () if _issue_matches(i, src)]
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
