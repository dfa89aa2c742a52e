"""Templates and conditions: compiled once at load in an immutable sandbox, checked before they run.

Strings without ``{{``/``{%``/``{#`` never reach Jinja. Everything else is compiled by one sandbox
per mapping set (``_sandbox.py``: ``StrictUndefined``, a reduced set of globals, our filters, every
costly step under the render's budget). Before anything runs, the compiler refuses names that are
not in the entity's context, unknown keys of known objects (``version.nmae``) and any attribute
starting with ``_`` (the classic ``''.__class__.__mro__`` escape); the sandbox refuses the rest at
render time. What reads nothing from the context (``{{ 'a' * 10**9 }}``, a loop over ``range``) is
tried once at load, under the budget, so a template too costly for any entity never goes live.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import TemplateAssertionError, TemplateSyntaxError
from jinja2.meta import find_undeclared_variables
from jinja2.parser import Parser
from jinja2.runtime import Context

from bridgeline.mapping import _budget
from bridgeline.mapping._budget import BudgetExceeded, Limits
from bridgeline.mapping._problems import did_you_mean
from bridgeline.mapping._sandbox import MappingEnvironment, budgeted, make_environment

_MARKERS = ("{{", "{%", "{#")


def is_template(text: str) -> bool:
    return any(marker in text for marker in _MARKERS)


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
    """Compiles templates and conditions of one mapping set in one sandbox, under one set of limits."""

    def __init__(self, env: MappingEnvironment | None = None, limits: Limits | None = None) -> None:
        self.env = env or make_environment()
        self.limits = limits or Limits()
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
        template = self._compile(ast, reads)
        root = template.root_render_func
        new_context = template.new_context
        limits = self.limits

        def render(scope: dict[str, Any]) -> str:
            token = _budget.enter(limits)  # a render of one record opened its budget already
            try:
                return "".join(root(new_context(scope, shared=True))).strip()
            finally:
                _budget.leave(token)

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
        except (ValueError, RecursionError, MemoryError) as exc:
            raise CompileError(_unparsable(exc)) from None
        ast = nodes.Template([nodes.Assign(nodes.Name("result", "store"), body, lineno=1)], lineno=1)
        ast.set_environment(self.env)
        reads = self._check(ast, names)
        template = self._compile(ast, reads)
        root = template.root_render_func
        new_context = template.new_context
        limits = self.limits

        def evaluate(scope: dict[str, Any]) -> Any:
            token = _budget.enter(limits)
            try:
                context: Context = new_context(scope, shared=True)
                for _ in root(context):
                    pass
                return context.vars["result"]
            finally:
                _budget.leave(token)

        return Expr(text, evaluate, reads)

    # internals ----------------------------------------------------------------------------------
    def _parse(self, source: str) -> nodes.Template:
        try:
            return self.env.parse(source)
        except TemplateSyntaxError as exc:
            raise CompileError(_syntax_message(exc), exc.lineno or 1) from None
        except (ValueError, RecursionError, MemoryError) as exc:
            raise CompileError(_unparsable(exc)) from None

    def _compile(self, ast: nodes.Template, reads: Reads) -> Any:
        """Compile ``ast`` under the budget; what reads nothing from the context is tried at once."""
        budgeted(ast, self.env)
        constant = not (reads.names - self._globals)
        if not constant:
            self._try_literal_parts(ast)
        try:
            template = self.env.from_string(ast)
        except TemplateAssertionError as exc:
            raise CompileError(self._assertion_message(exc), exc.lineno or 1) from None
        except TemplateSyntaxError as exc:
            raise CompileError(_syntax_message(exc), exc.lineno or 1) from None
        except (RecursionError, MemoryError, SyntaxError) as exc:
            raise CompileError(_unparsable(exc)) from None
        if constant:
            self._try(template, 1)
        return template

    def _try_literal_parts(self, ast: nodes.Template) -> None:
        """Evaluate, once, each expression that reads nothing from the context (``'a' * 10**9``)."""
        for part in _literal_parts(ast, self._globals):
            probe = nodes.Template([nodes.Assign(nodes.Name("result", "store"), part)], lineno=part.lineno)
            probe.set_environment(self.env)
            try:
                template = self.env.from_string(probe)
            except Exception:  # the whole template's compilation reports it
                continue
            self._try(template, part.lineno)

    def _try(self, template: Any, line: int) -> None:
        """Run ``template`` on nothing but the globals, under the budget: too costly is a CompileError."""
        try:
            with _budget.opened(self.limits):
                for _ in template.root_render_func(template.new_context(dict(self.env.globals), shared=True)):
                    pass
        except BudgetExceeded as exc:
            raise CompileError(str(exc), _line_of(exc, template) or line) from None
        except Exception:
            return  # not a cost problem: the render reports it, on the entity it fails for

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


def _unparsable(exc: BaseException) -> str:
    if isinstance(exc, RecursionError | MemoryError | SyntaxError):
        return "the template is nested too deeply to compile; split it into simpler expressions"
    return f"template syntax error: {exc}"  # e.g. a number literal too long to read


_COMPUTING = (nodes.BinExpr, nodes.UnaryExpr, nodes.Filter, nodes.Call)
_CONTEXTUAL = (
    nodes.ContextReference,
    nodes.DerivedContextReference,
    nodes.InternalName,
    nodes.ImportedName,
    nodes.NSRef,
)


def _literal_parts(node: nodes.Node, globals_: frozenset[str]) -> Iterator[nodes.Expr]:
    """The largest sub-expressions that read nothing from the context and compute something."""
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.Expr) and _reads_nothing(child, globals_):
            if isinstance(child, _COMPUTING) or any(True for _ in child.find_all(_COMPUTING)):
                yield child
        else:
            yield from _literal_parts(child, globals_)


def _reads_nothing(expr: nodes.Expr, globals_: frozenset[str]) -> bool:
    for node in (expr, *expr.find_all(nodes.Node)):
        if isinstance(node, nodes.Name) and node.name not in globals_:
            return False
        if isinstance(node, _CONTEXTUAL) or (isinstance(node, nodes.Filter) and node.node is None):
            return False
    return True


def _line_of(exc: BaseException, template: Any) -> int | None:
    """The template line the budget ran out on, read from the traceback of the compiled code."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = template.get_corresponding_lineno(tb.tb_lineno)
        tb = tb.tb_next
    return line
