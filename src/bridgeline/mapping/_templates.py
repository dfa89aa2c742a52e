"""Templates and conditions: compiled once at load in an immutable sandbox, checked before they run.

Strings without ``{{``/``{%``/``{#`` never reach Jinja. Everything else is compiled by one
:class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` per mapping set with ``StrictUndefined``, a
reduced set of globals and our filters. Before anything runs, :func:`analyse` refuses names that are
not in the entity's context, unknown keys of known objects (``version.nmae``) and any attribute
starting with ``_`` (the classic ``''.__class__.__mro__`` escape); the sandbox refuses the rest at
render time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import TemplateAssertionError, TemplateSyntaxError
from jinja2.meta import find_undeclared_variables
from jinja2.parser import Parser
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bridgeline.mapping import _filters
from bridgeline.mapping._problems import did_you_mean

_MARKERS = ("{{", "{%", "{#")


def is_template(text: str) -> bool:
    return any(marker in text for marker in _MARKERS)


def _finalize(value: Any) -> Any:
    """``None`` renders as an empty string, not as the word None."""
    return "" if value is None else value


def make_environment() -> ImmutableSandboxedEnvironment:
    """A fresh sandbox with bridgeline's filters; no state is shared between mapping sets."""
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        finalize=_finalize,
        auto_reload=False,
        cache_size=0,
    )
    env.filters = {k: v for k, v in env.filters.items() if k in _filters.KEPT_BUILTIN_FILTERS}
    env.filters.update(_filters.FILTERS)
    env.tests = {k: v for k, v in env.tests.items() if k in _filters.KEPT_BUILTIN_TESTS}
    safe_range = env.globals["range"]
    env.globals.clear()
    env.globals.update({"range": safe_range, "dict": dict, **_filters.GLOBALS})
    return env


def _constant(value: Any) -> Callable[[dict[str, Any]], Any]:
    def constant(_scope: dict[str, Any]) -> Any:
        return value

    return constant


class CompileError(Exception):
    """A template or condition that cannot be compiled; ``line`` is within the template (1-based)."""

    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(slots=True)
class Reads:
    """What a template reads, for jira_fields() and for default reverse triggers."""

    names: set[str] = field(default_factory=set)
    attrs: set[str] = field(default_factory=set)  # attribute names read on anything but target/link
    jira_fields: set[str] = field(default_factory=set)  # issue.fields.<id>
    all_fields: bool = False  # issue.fields used as a whole
    target_keys: list[str] = field(default_factory=list)  # target.<key> read, in order
    filters: set[str] = field(default_factory=set)
    filter_args: set[str] = field(default_factory=set)  # constant first arguments (count_by('component'))


class Text:
    """A compiled template (or a plain string) that renders to text."""

    __slots__ = ("_render", "reads", "source")

    def __init__(self, source: str, render: Callable[[dict[str, Any]], str], reads: Reads) -> None:
        self.source = source
        self._render = render
        self.reads = reads

    def render(self, scope: dict[str, Any]) -> str:
        return self._render(scope)

    @property
    def is_plain(self) -> bool:
        return not is_template(self.source)


class Expr:
    """A compiled bare expression (a condition, a for_each) that evaluates to a Python value."""

    __slots__ = ("_eval", "reads", "source")

    def __init__(self, source: str, evaluate: Callable[[dict[str, Any]], Any], reads: Reads) -> None:
        self.source = source
        self._eval = evaluate
        self.reads = reads

    def evaluate(self, scope: dict[str, Any]) -> Any:
        return self._eval(scope)


@dataclass(frozen=True, slots=True)
class Names:
    """The names a template may read at one place in a mapping, and the known keys of each."""

    allowed: frozenset[str]
    keys: Mapping[str, tuple[str, ...]]  # name -> known keys (only names whose keys are fixed)
    where: str  # "a version mapping", used in messages
    hints: Mapping[str, str] = field(default_factory=dict)  # name -> where it is available instead
    item_keys: tuple[str, ...] = ()  # keys of the items of `issues` (checked on loop variables)


class Compiler:
    """Compiles templates and conditions of one mapping set in one sandbox."""

    def __init__(self, env: ImmutableSandboxedEnvironment | None = None) -> None:
        self.env = env or make_environment()
        self._globals = frozenset(self.env.globals)

    @property
    def globals(self) -> dict[str, Any]:
        return dict(self.env.globals)

    # templates ----------------------------------------------------------------------------------
    def text(self, source: str, names: Names | None) -> Text:
        if not is_template(source):
            return Text(source, _constant(source.strip()), Reads())
        ast = self._parse(source)
        reads = self._check(ast, names)
        template = self._compile(ast, source)
        root = template.root_render_func
        new_context = template.new_context

        def render(scope: dict[str, Any]) -> str:
            return "".join(root(new_context(scope, shared=True))).strip()

        return Text(source, render, reads)

    # expressions --------------------------------------------------------------------------------
    def expr(self, source: str | bool, names: Names | None) -> Expr:
        if isinstance(source, bool):
            return Expr(str(source).lower(), _constant(source), Reads())
        text = source.strip()
        if text.startswith("{{") or text.startswith("{%"):
            raise CompileError(
                "conditions are bare expressions: write "
                f"`{text.strip('{}% ').strip()}` without the surrounding {{{{ }}}}"
            )
        if not text:
            raise CompileError("empty expression")
        try:
            parser = Parser(self.env, text, state="variable")
            body = parser.parse_expression()
            if not parser.stream.eos:
                token = parser.stream.current
                raise TemplateSyntaxError(f"unexpected {token.value!r} after the expression", token.lineno)
        except TemplateSyntaxError as exc:
            raise CompileError(_syntax_message(exc), exc.lineno or 1) from None
        ast = nodes.Template([nodes.Assign(nodes.Name("result", "store"), body, lineno=1)], lineno=1)
        ast.set_environment(self.env)
        reads = self._check(ast, names)
        template = self._compile(ast, text)
        root = template.root_render_func
        new_context = template.new_context

        def evaluate(scope: dict[str, Any]) -> Any:
            context: Context = new_context(scope, shared=True)
            for _ in root(context):
                pass
            return context.vars["result"]

        return Expr(text, evaluate, reads)

    # internals ----------------------------------------------------------------------------------
    def _parse(self, source: str) -> nodes.Template:
        try:
            return self.env.parse(source)
        except TemplateSyntaxError as exc:
            raise CompileError(_syntax_message(exc), exc.lineno or 1) from None

    def _compile(self, ast: nodes.Template, source: str) -> Any:
        try:
            return self.env.from_string(ast)
        except TemplateAssertionError as exc:
            raise CompileError(self._assertion_message(exc), exc.lineno or 1) from None
        except TemplateSyntaxError as exc:
            raise CompileError(_syntax_message(exc), exc.lineno or 1) from None

    def _assertion_message(self, exc: TemplateAssertionError) -> str:
        message = str(exc.message or exc)
        for kind, table in (("filter", self.env.filters), ("test", self.env.tests)):
            prefix = f"No {kind} named '"
            if message.startswith(prefix):
                name = message[len(prefix) :].split("'", 1)[0]
                return f"unknown {kind} '{name}'{did_you_mean(name, table)}"
        return message

    def _check(self, ast: nodes.Template, names: Names | None) -> Reads:
        try:
            reads = _collect_reads(ast)
        except TemplateAssertionError as exc:
            raise CompileError(self._assertion_message(exc), exc.lineno or 1) from None
        problems: list[tuple[int, str]] = []
        for kind, node_type, table in (
            ("filter", nodes.Filter, self.env.filters),
            ("test", nodes.Test, self.env.tests),
        ):
            for used in _all(ast, node_type):
                if used.name not in table:  # Jinja defers these to render time inside conditions
                    problems.append(
                        (used.lineno, f"unknown {kind} '{used.name}'{did_you_mean(used.name, table)}")
                    )
        for node in _all(ast, nodes.Getattr, nodes.Getitem):
            attr = node.attr if isinstance(node, nodes.Getattr) else _const_str(node.arg)
            if isinstance(attr, str) and attr.startswith("_"):
                problems.append(
                    (node.lineno, f"'{attr}' is not allowed: templates cannot reach private attributes")
                )
        for call in _all(ast, nodes.Filter):
            name = _const_str(call.args[0]) if call.name == "attr" and call.args else None
            if isinstance(name, str) and name.startswith("_"):
                problems.append((call.lineno, "attr() of a private attribute is not allowed"))
        if names is not None:
            undeclared = reads.names - self._globals
            for name in sorted(undeclared):
                if name not in names.allowed:
                    line = next((n.lineno for n in ast.find_all(nodes.Name) if n.name == name), 1)
                    hint = names.hints.get(name)
                    extra = f"; {hint}" if hint else did_you_mean(name, names.allowed)
                    available = ", ".join(sorted(names.allowed))
                    message = (
                        f"'{name}' is not in the context of {names.where} (available: {available}){extra}"
                    )
                    problems.append((line, message))
            problems.extend(_check_keys(ast, names, undeclared))
        if problems:
            line, message = problems[0]
            raise CompileError(message, line)
        return reads


_PRESERVING_FILTERS = frozenset(
    {
        "sort_by_priority",
        "sort",
        "selectattr",
        "rejectattr",
        "reverse",
        "unique_values",
        "list",
        "select",
        "reject",
    }
)


def _iterates_issues(node: nodes.Node) -> bool:
    while isinstance(node, nodes.Filter) and node.name in _PRESERVING_FILTERS:
        node = node.node  # type: ignore[assignment]
    return isinstance(node, nodes.Name) and node.name == "issues"


def _check_keys(ast: nodes.Template, names: Names, undeclared: set[str]) -> list[tuple[int, str]]:
    """``version.nmae``: a key that the context object does not have."""
    problems: list[tuple[int, str]] = []
    item_vars: set[str] = set()
    for loop in _all(ast, nodes.For):
        if isinstance(loop.target, nodes.Name) and _iterates_issues(loop.iter):
            item_vars.add(loop.target.name)
    for node in _all(ast, nodes.Getattr):
        base = node.node
        if not isinstance(base, nodes.Name):
            continue
        if base.name in names.keys and base.name in undeclared:
            known = names.keys[base.name]
        elif base.name in item_vars:
            known = names.item_keys
        else:
            continue
        if known and node.attr not in known and not node.attr.startswith("_"):
            problems.append(
                (node.lineno, f"{base.name} has no key '{node.attr}'{did_you_mean(node.attr, known)}")
            )
    return problems


def _all(ast: nodes.Node, *types: type[nodes.Node]) -> Iterator[Any]:
    """Every node of the given types (typed loosely: Jinja's node attributes are dynamic)."""
    return ast.find_all(types)


def _const_str(node: nodes.Node) -> Any:
    return node.value if isinstance(node, nodes.Const) else None


def _root_name(node: nodes.Node) -> str | None:
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        node = node.node
    return node.name if isinstance(node, nodes.Name) else None


def _collect_reads(ast: nodes.Template) -> Reads:
    reads = Reads()
    reads.names = set(find_undeclared_variables(ast))
    parents: dict[int, nodes.Node] = {}
    for parent in _all(ast, nodes.Node):
        for child in parent.iter_child_nodes():
            parents[id(child)] = parent
    for node in _all(ast, nodes.Getattr, nodes.Getitem):
        key = node.attr if isinstance(node, nodes.Getattr) else _const_str(node.arg)
        root = _root_name(node)
        if root == "target" and isinstance(node.node, nodes.Name) and isinstance(key, str):
            if key not in reads.target_keys:
                reads.target_keys.append(key)
            continue
        if (
            root == "target"
            and isinstance(node.node, nodes.Getattr)
            and node.node.attr == "fields"
            and isinstance(node.node.node, nodes.Name)
            and isinstance(key, str)
        ):
            name = f"fields.{key}"
            if name not in reads.target_keys:
                reads.target_keys.append(name)
            continue
        if root in ("target", "link"):
            continue
        if not isinstance(key, str):
            if isinstance(node.node, nodes.Getattr) and node.node.attr == "fields":
                reads.all_fields = True
            continue
        reads.attrs.add(key)
        if isinstance(node.node, nodes.Getattr) and node.node.attr == "fields":
            reads.jira_fields.add(key)
        if key == "fields":
            parent = parents.get(id(node))
            used_whole = not (isinstance(parent, nodes.Getattr | nodes.Getitem) and parent.node is node)
            if used_whole:
                reads.all_fields = True
    for call in _all(ast, nodes.Filter, nodes.Call):
        called = call.name if isinstance(call, nodes.Filter) else getattr(call.node, "name", None)
        if isinstance(called, str):
            reads.filters.add(called)
        for arg in [*call.args, *(kw.value for kw in call.kwargs)]:
            value = _const_str(arg)
            if isinstance(value, str):
                reads.filter_args.add(value)
    return reads


def merge_reads(all_reads: Iterable[Reads]) -> Reads:
    out = Reads()
    for r in all_reads:
        out.names |= r.names
        out.attrs |= r.attrs
        out.jira_fields |= r.jira_fields
        out.all_fields = out.all_fields or r.all_fields
        out.filters |= r.filters
        out.filter_args |= r.filter_args
    return out


def _syntax_message(exc: TemplateSyntaxError) -> str:
    return f"template syntax error: {exc.message}"
