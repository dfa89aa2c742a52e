"""From a validated mapping document to a compiled :class:`Mapping`, collecting every problem on the way.

Each template is compiled with the names its place in the mapping may read (``issue`` only inside
children and issue-scoped reverse actions, ``target``/``link`` only in reverse rules), so a name
used in the wrong place is refused here, with its file, line and path.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from bridgeline.mapping import _dates
from bridgeline.mapping._actions import CompiledAction
from bridgeline.mapping._context import ISSUE_KEYS, LINK_KEYS, PROJECT_KEYS, TARGET_KEYS, VERSION_KEYS
from bridgeline.mapping._fields import CompiledField
from bridgeline.mapping._language import (
    ACTION_KINDS,
    VERSION_SCOPED,
    Child,
    DeploymentRule,
    FieldSpec,
    MappingDocument,
    ReleaseParams,
    RemedyTarget,
    RemoteLinkParams,
    RemovePolicySpec,
    ReverseRule,
    ServiceNowTarget,
)
from bridgeline.mapping._language import Gate as GateSpec
from bridgeline.mapping._mapping import CompiledChild, CompiledDeploymentRule, CompiledRule, Mapping, Variant
from bridgeline.mapping._problems import Path, Problem, did_you_mean, dotted
from bridgeline.mapping._results import SourceSpec, TargetSpec
from bridgeline.mapping._templates import CompileError, Compiler, Expr, Names, Text, is_template
from bridgeline.mapping._trains import LEVEL_NAMES, MEMBER_KEYS, SERVICE_KEYS, TRAIN_KEYS
from bridgeline.mapping._yaml import SourceMap

_KEYS = {
    "version": VERSION_KEYS,
    "project": PROJECT_KEYS,
    "target": TARGET_KEYS,
    "link": LINK_KEYS,
}
# the planned window of each kind of record: its end must come after its start, declared or not
PLANNED_WINDOWS: dict[tuple[str, str], tuple[str, str]] = {
    ("servicenow", "change_request"): ("start_date", "end_date"),
    ("servicenow", "change_task"): ("planned_start_date", "planned_end_date"),
    ("remedy", "change"): ("Scheduled Start Date", "Scheduled End Date"),
    ("remedy", "task"): ("Scheduled Start Date", "Scheduled End Date"),
}
_ISSUE_HINT = "`issue` exists inside children and in issue-scoped reverse actions"
_TRAIN_HINT = "a train mapping reads `members` (each with version, project and issues) and `train`"
DEFAULT_TRAIN_KEY = "{{ version.name }}"
_REVERSE_HINT = "`target` exists only in reverse rules"
_PRESERVING = re.compile(
    r"^issues(\s*\|\s*(sort_by_priority|sort|selectattr|rejectattr|reverse|unique_values|list|select|reject)"
    r"(\([^|]*\))?)*$"
)


def writes_of(fields: list[CompiledField]) -> dict[str, str]:
    """Fields sent otherwise than on every change -> their write policy."""
    return {f.name: f.write for f in fields if f.write != "always"}


def target_spec(target: ServiceNowTarget | RemedyTarget) -> TargetSpec:
    if isinstance(target, RemedyTarget):
        return TargetSpec("remedy", target.record)
    kind = target.type or ("normal" if target.record == "change_request" else None)
    return TargetSpec("servicenow", target.record, target.api, kind, target.template)


class Compilation:
    """Compiles one mapping (or one project variant of it); problems accumulate instead of raising."""

    def __init__(self, compiler: Compiler, where: SourceMap, entity: str) -> None:
        self.compiler = compiler
        self.where = where
        self.entity = entity
        self.problems: list[Problem] = []

    # names available at each place ------------------------------------------------------------
    def names(self, *, item: str | None = None, item_is_issue: bool = False, reverse: bool = False) -> Names:
        # `link`: the record bridgeline already made for this entity (None before the first write)
        if self.entity == "version":
            allowed = {"version", "project", "issues", "now", "vars", "link"}
            hints = {"issue": _ISSUE_HINT, "target": _REVERSE_HINT}
            where = "a version mapping"
        elif self.entity == "train":
            allowed = {"train", "members", "issues", "services", "now", "vars", "link"}
            hints = {
                "version": _TRAIN_HINT,
                "project": _TRAIN_HINT,
                "issue": _ISSUE_HINT,
                "target": _REVERSE_HINT,
            }
            where = "a train mapping"
        else:
            allowed = {"issue", "project", "now", "vars", "link"}
            hints = {
                "version": "an issue mapping reads `issue`; releases are mapped by version mappings",
                "issues": "an issue mapping reads `issue`; releases are mapped by version mappings",
                "target": _REVERSE_HINT,
            }
            where = "an issue mapping"
        keys: dict[str, tuple[str, ...]] = {k: v for k, v in _KEYS.items() if k in allowed}
        keys["link"] = LINK_KEYS
        if self.entity == "issue":
            keys["issue"] = ISSUE_KEYS
        if self.entity == "train":
            keys["train"] = TRAIN_KEYS
        if reverse:
            allowed |= {"target", "link"}
            keys.update(target=TARGET_KEYS, link=LINK_KEYS)
            if self.entity == "train":
                allowed |= set(LEVEL_NAMES)
                keys.update(member=MEMBER_KEYS, service=SERVICE_KEYS)
            where += " reverse rule"
        if item:
            allowed.add(item)
            if item_is_issue:
                keys[item] = ISSUE_KEYS
            else:
                keys.pop(item, None)
            where += " child" if not reverse else ""
        return Names(
            frozenset(allowed), keys, where, {k: v for k, v in hints.items() if k not in allowed}, ISSUE_KEYS
        )

    # compiling ----------------------------------------------------------------------------------
    def problem(self, path: Path, message: str, *, key: bool = False) -> None:
        file, line, column = self.where.at(path, key=key)
        self.problems.append(Problem(file, line, column, dotted(path), message))

    def origin(self, path: Path) -> str:
        file, line, _ = self.where.at(path)
        return f"{file}:{line}"

    def text(self, source: str, path: Path, names: Names) -> Text | None:
        try:
            return self.compiler.text(source, names)
        except CompileError as exc:
            self._template_problem(path, exc)
            return None

    def expr(self, source: str | bool, path: Path, names: Names) -> Expr | None:
        try:
            return self.compiler.expr(source, names)
        except CompileError as exc:
            self._template_problem(path, exc)
            return None

    def _template_problem(self, path: Path, exc: CompileError) -> None:
        file, line, column = self.where.template_line(path, exc.line)
        self.problems.append(Problem(file, line, column, dotted(path), exc.message))

    def fields(
        self,
        fields: dict[str, Any],
        path: Path,
        names: Names,
        vars: dict[str, Any],
        target: TargetSpec | None = None,
    ) -> list[CompiledField]:
        """The compiled fields of one record (``target``: the record's own, for its planned window)."""
        out: list[CompiledField] = []
        for name, spec in fields.items():
            here = (*path, name)
            origin = self.origin(here)
            label = dotted(here)
            if isinstance(spec, FieldSpec):
                table, table_name = self._table(spec.map, (*here, "map"), vars)
                if spec.tz is not None:
                    try:
                        _dates.zone(spec.tz)
                    except ValueError as exc:
                        self.problem((*here, "tz"), str(exc))
                value, constant = self._value(spec.value, (*here, "value"), names)
                out.append(
                    CompiledField(
                        name, label, origin, value, constant, table, table_name, spec.default, spec.required,
                        spec.type, spec.tz, spec.max_length, spec.conflict, spec.after, spec.write,
                    )
                )  # fmt: skip
            else:
                value, constant = self._value(spec, here, names)
                out.append(CompiledField(name, label, origin, value, constant))
        self._order(out, path, target)
        return out

    def _order(self, fields: list[CompiledField], path: Path, target: TargetSpec | None) -> None:
        """Check each ``after``, and make a planned window's end come after its start."""
        by_name = {f.name: f for f in fields}
        window = PLANNED_WINDOWS.get((target.system, target.record)) if target is not None else None
        if window is not None and window[0] in by_name and window[1] in by_name:
            end = by_name[window[1]]
            if end.after is None:
                end.after = window[0]
        for f in fields:
            if f.after is None:
                continue
            where = (*path, f.name, "after")
            if f.after == f.name:
                self.problem(where, "a field cannot come after itself")
                f.after = None
            elif f.after not in by_name:
                others = [n for n in by_name if n != f.name]
                self.problem(
                    where, f"no field named '{f.after}' in this record{did_you_mean(f.after, others)}"
                )
                f.after = None
        for f in fields:
            chain, current = [f.name], f.after
            while current is not None and current not in chain:
                chain.append(current)
                current = by_name[current].after
            if current == f.name:
                self.problem(
                    (*path, f.name, "after"), "after goes round in a circle: " + " -> ".join([*chain, f.name])
                )
                f.after = None

    def _value(self, value: Any, path: Path, names: Names) -> tuple[Text | None, Any]:
        if isinstance(value, str) and is_template(value):
            text = self.text(value, path, names)
            return (text, None) if text is not None else (None, value)
        return None, value.strip() if isinstance(value, str) else value

    def _table(self, spec: Any, path: Path, vars: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        if spec is None:
            return None, None
        if isinstance(spec, str):
            table = vars.get(spec)
            if not isinstance(table, dict):
                known = [k for k, v in vars.items() if isinstance(v, dict)]
                hint = did_you_mean(spec, known) or (f" (maps in vars: {', '.join(known)})" if known else "")
                self.problem(path, f"no map named '{spec}' in vars{hint}")
                return None, None
            return {str(k): v for k, v in table.items()}, spec
        return {str(k): v for k, v in spec.items()}, None

    # the document ---------------------------------------------------------------------------------
    def variant(self, doc: MappingDocument) -> Variant:
        assert doc.target is not None
        names = self.names()
        target = target_spec(doc.target)
        if target.record in ("change_task", "task"):
            self.problem(
                ("target", "record"),
                f"a {target.record} belongs to a change: write it as a child of the change's mapping",
            )
        fields = self.fields(doc.fields, ("fields",), names, doc.vars, target)
        children = [self.child(name, child, target, doc.vars) for name, child in doc.children.items()]
        rules = self.rules(doc.reverse)
        conflicts: dict[str, str] = {}
        for f in fields:
            policy = f.conflict or doc.conflict
            if policy:
                conflicts[f.name] = policy
        return Variant(
            target, doc.vars, fields, [c for c in children if c is not None], rules, doc.on_error, conflicts,
            writes_of(fields),
        )  # fmt: skip

    def child(
        self, name: str, child: Child, parent: TargetSpec, vars: dict[str, Any]
    ) -> CompiledChild | None:
        base: Path = ("children", name)
        spec = target_spec(child.target)
        if spec.system == "servicenow" and spec.api is None and parent.api is not None:
            # tasks go in through the same API as their change request
            spec = TargetSpec(spec.system, spec.record, parent.api, spec.type, spec.template)
        if spec.system != parent.system:
            self.problem(
                (*base, "target"), f"children are written to {parent.system}, like their parent record"
            )
        elif spec.system == "remedy" and spec.record != "task":
            self.problem((*base, "target", "record"), "a child of a Remedy change is a task (TMS:Task)")
        elif spec.system == "servicenow" and spec.record != "change_task" and self.entity != "train":
            self.problem((*base, "target", "record"), "a child of a change_request is a change_task")
        elif spec.system == "servicenow" and parent.record != "change_request":
            self.problem((*base, "target", "record"), "a train's parent record is a change_request")
        parent_names = self.names()
        if isinstance(child.for_each, str) and child.for_each.strip() == "":
            self.problem((*base, "for_each"), "empty expression")
        item_is_issue = bool(_PRESERVING.match(child.for_each.strip()))
        item_names = self.names(item=child.as_, item_is_issue=item_is_issue)
        for_each = self.expr(child.for_each, (*base, "for_each"), parent_names)
        where = self.expr(child.where, (*base, "where"), item_names) if child.where is not None else None
        identity = self.text(child.identity, (*base, "identity"), item_names)
        source_key = (
            self.text(child.source_key, (*base, "source_key"), item_names)
            if child.source_key is not None
            else None
        )
        fields = self.fields(child.fields, (*base, "fields"), item_names, vars, spec)
        for f in fields:
            if f.write == "until_approved" and spec.record != "change_request":
                self.problem(
                    (*base, "fields", f.name, "write"),
                    f"a {spec.record} has no approval of its own: until_approved is for the change record; "
                    "use once",
                )
        if isinstance(child.on_remove, RemovePolicySpec):
            action = child.on_remove.action
            remove = self.fields(child.on_remove.fields, (*base, "on_remove", "fields"), parent_names, vars)
            if action == "keep" and remove:
                self.problem((*base, "on_remove", "fields"), "fields are written only with cancel or close")
        else:
            action, remove = child.on_remove, []
        if for_each is None or identity is None:
            return None
        return CompiledChild(
            name, for_each, child.as_, where, identity, source_key, spec, fields, action, remove,
            writes_of(fields),
        )  # fmt: skip

    def rules(self, rules: list[ReverseRule]) -> list[CompiledRule]:
        out: list[CompiledRule] = []
        seen: set[str] = set()
        names = self.names(reverse=True)
        issue_names = self.names(reverse=True, item="issue", item_is_issue=True)
        for index, rule in enumerate(rules):
            base: Path = ("reverse", index)
            if rule.name in seen:
                self.problem((*base, "name"), f"duplicate reverse rule name '{rule.name}'")
            seen.add(rule.name)
            when = self.expr(rule.when, (*base, "when"), names)
            trigger = self.text(rule.trigger, (*base, "trigger"), names) if rule.trigger is not None else None
            where = self.expr(rule.where, (*base, "where"), issue_names) if rule.where is not None else None
            actions: list[CompiledAction] = []
            counts: dict[str, int] = {}
            for a_index, action in enumerate(rule.actions):
                compiled = self.action(action, (*base, "actions", a_index), names, issue_names, counts)
                if compiled is not None:
                    actions.append(compiled)
            if when is not None:
                keys = [] if rule.trigger is not None else list(when.reads.target_keys)
                out.append(CompiledRule(rule.name, when, trigger, keys, where, actions))
        return out

    def deployment_rules(self, rules: list[DeploymentRule], gate: GateSpec) -> list[CompiledDeploymentRule]:
        """``deployments:``: reverse-like rules whose templates may also read ``deployment``."""
        out: list[CompiledDeploymentRule] = []
        seen: set[str] = set()
        names = _with_deployment(self.names(reverse=True))
        issue_names = _with_deployment(self.names(reverse=True, item="issue", item_is_issue=True))
        for index, rule in enumerate(rules):
            base: Path = ("deployments", index)
            if rule.name in seen:
                self.problem((*base, "name"), f"duplicate deployment rule name '{rule.name}'")
            seen.add(rule.name)
            if self.entity != "version":
                self.problem(base, "deployment rules need a release: only version mappings have them")
                continue
            change = self.fields(rule.change, (*base, "change"), names, {})
            actions: list[CompiledAction] = []
            counts: dict[str, int] = {}
            for a_index, action in enumerate(rule.actions):
                compiled = self.action(action, (*base, "actions", a_index), names, issue_names, counts)
                if compiled is not None:
                    actions.append(compiled)
            environments = (
                tuple(rule.environments) if rule.environments is not None else tuple(gate.environments)
            )
            out.append(CompiledDeploymentRule(rule.name, environments, tuple(rule.states), change, actions))
        return out

    def action(
        self, action: Any, path: Path, names: Names, issue_names: Names, counts: dict[str, int]
    ) -> CompiledAction | None:
        kind = next(k for k in ACTION_KINDS if k in type(action).model_fields)
        counts[kind] = counts.get(kind, 0) + 1
        label = kind if counts[kind] == 1 else f"{kind}#{counts[kind]}"
        scope = "version" if kind in VERSION_SCOPED else "issue"
        if scope == "version" and self.entity == "train" and kind != "release_version":
            self.problem(
                (*path, kind), f"{kind} is for one release: train mappings release their versions only"
            )
            return None
        if scope == "version" and self.entity not in ("version", "train"):
            self.problem((*path, kind), f"{kind} needs a release: it is only available in version mappings")
            return None
        here: Path = (*path, kind)
        tn = names if scope == "version" else issue_names
        where_src = getattr(action, "where", None)
        where = self.expr(where_src, (*path, "where"), issue_names) if where_src is not None else None
        issues_src = getattr(action, "issues", None)
        issues = self.expr(issues_src, (*path, "issues"), names) if issues_src is not None else None
        value = getattr(action, kind)
        params: dict[str, Any] = {}
        if kind == "transition":
            if isinstance(value, str):
                params = {"to": self.text(value, here, tn), "comment": None}
            else:
                params = {
                    "to": self.text(value.to, (*here, "to"), tn),
                    "comment": self.text(value.comment, (*here, "comment"), tn) if value.comment else None,
                }
        elif kind == "comment":
            params = {"body": self.text(value, here, tn)}
        elif kind == "version_description":
            params = {"description": self.text(value, here, tn)}
        elif kind == "remote_link":
            spec = value if isinstance(value, RemoteLinkParams) else RemoteLinkParams()
            if value is False:
                return None
            params = {
                "global_id": self.text(spec.global_id, (*here, "global_id"), tn),
                "url": self.text(spec.url, (*here, "url"), tn),
                "title": self.text(spec.title, (*here, "title"), tn),
                "summary": self.text(spec.summary, (*here, "summary"), tn) if spec.summary else None,
                "relationship": self.text(spec.relationship, (*here, "relationship"), tn)
                if spec.relationship
                else None,
                "icon_url": self.text(spec.icon_url, (*here, "icon_url"), tn) if spec.icon_url else None,
                "resolved": self.expr(spec.resolved, (*here, "resolved"), tn)
                if spec.resolved is not None
                else None,
            }
        elif kind == "label":
            params = {
                "add": [self.text(t, (*here, "add", i), tn) for i, t in enumerate(value.add)],
                "remove": [self.text(t, (*here, "remove", i), tn) for i, t in enumerate(value.remove)],
            }
            if not value.add and not value.remove:
                self.problem(here, "a label action needs add or remove")
        elif kind == "field":
            params = {"fields": self.fields(value, here, tn, {})}
        elif kind in ("issue_property", "version_property"):
            params = {
                "key": self.text(value.key, (*here, "key"), tn),
                "value": self._tree(value.value, (*here, "value"), tn),
            }
        elif kind == "release_version":
            if value is False:
                return None
            spec_r = value if isinstance(value, ReleaseParams) else ReleaseParams()
            params = {"release_date": self.text(spec_r.release_date, (*here, "release_date"), tn)}
        if _has_none(params):
            return None
        return CompiledAction(kind, label, scope, where, params, issues)

    def _tree(self, value: Any, path: Path, names: Names) -> Any:
        if isinstance(value, str):
            return self.text(value, path, names)
        if isinstance(value, dict):
            return {str(k): self._tree(v, (*path, str(k)), names) for k, v in value.items()}
        if isinstance(value, list):
            return [self._tree(v, (*path, i), names) for i, v in enumerate(value)]
        return value


DEPLOYMENT_KEYS = (
    "environment", "state", "run_id", "run_url", "commit", "source", "pipeline", "authorized", "reasons",
)  # fmt: skip


def _with_deployment(names: Names) -> Names:
    """``names`` plus ``deployment`` (the pipeline's report being applied)."""
    keys = {**names.keys, "deployment": DEPLOYMENT_KEYS}
    return replace(
        names, allowed=names.allowed | {"deployment"}, keys=keys, where=names.where + " deployment"
    )


_OPTIONAL = frozenset({"comment", "summary", "relationship", "icon_url", "resolved"})


def _has_none(params: dict[str, Any]) -> bool:
    """True when a required template failed to compile (its problem is already recorded)."""
    for name, value in params.items():
        if value is None and name not in _OPTIONAL:
            return True
        if isinstance(value, list) and any(v is None for v in value):
            return True
    return False


def compile_mapping(
    doc: MappingDocument,
    where: SourceMap,
    compiler: Compiler,
    variants: dict[str, tuple[MappingDocument, SourceMap]],
) -> tuple[Mapping | None, list[Problem]]:
    """The compiled mapping, or None and the problems (``variants``: project key -> merged document)."""
    assert doc.source is not None and doc.identity is not None
    entity = doc.source.entity
    c = Compilation(compiler, where, entity)
    names = c.names()
    identity = c.text(doc.identity, ("identity",), names)
    when = c.expr(doc.source.when, ("source", "when"), names) if doc.source.when is not None else None
    train_key = None
    if entity == "train":
        key_names = Names(
            frozenset({"version", "project", "now", "vars"}),
            {"version": VERSION_KEYS, "project": PROJECT_KEYS},
            "a train key",
            {"issues": "the train key is rendered from the version alone, before its issues are read"},
            ISSUE_KEYS,
        )
        train_key = c.text(doc.source.key or DEFAULT_TRAIN_KEY, ("source", "key"), key_names)
    base = c.variant(doc)
    gate = doc.gate or GateSpec()
    deployment_rules = c.deployment_rules(doc.deployments, gate)
    problems = list(c.problems)
    overrides: dict[str, Variant] = {}
    project_gates: dict[str, tuple[GateSpec, list[CompiledDeploymentRule]]] = {}
    for key, (variant_doc, variant_where) in variants.items():
        if doc.source.projects is not None and key not in doc.source.projects:
            file, line, column = where.at(("overrides", key), key=True)
            problems.append(
                Problem(
                    file,
                    line,
                    column,
                    f"overrides.{key}",
                    f"never applies: source.projects is {doc.source.projects}",
                )
            )
        vc = Compilation(compiler, variant_where, entity)
        overrides[key] = vc.variant(variant_doc)
        if variant_doc.gate != doc.gate or variant_doc.deployments != doc.deployments:
            variant_gate = variant_doc.gate or GateSpec()
            project_gates[key] = (variant_gate, vc.deployment_rules(variant_doc.deployments, variant_gate))
        problems.extend(vc.problems)
    if problems or identity is None:
        return None, problems
    src = doc.source
    source = SourceSpec(
        src.system,
        src.entity,
        tuple(src.projects) if src.projects is not None else None,
        tuple(src.issue_types) if src.issue_types is not None else None,
        tuple(src.labels) if src.labels is not None else None,
        src.when if isinstance(src.when, str) or src.when is None else str(src.when).lower(),
    )
    file, line, _ = where.root
    mapping = Mapping(
        doc.metadata.name, doc.metadata.description, file, line, source, identity, when, base, overrides,
        compiler.globals, doc.extends, where, compiler.limits, gate, deployment_rules, train_key,
        project_gates,
    )  # fmt: skip
    return mapping, []
