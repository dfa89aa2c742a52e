"""A small stand-in for Helm's template engine, for machines without Helm.

It implements the part of Go templates and Sprig the chart uses - actions with ``{{-``/``-}}``
trimming, comments, ``if/else if/else``, ``with``, ``range`` (with ``$k, $v :=`` and ``else``),
``define`` and ``include``, variables (``:=`` and ``=``), pipelines, parentheses, ``required``,
``fail``, ``toYaml``, ``sha256sum``, ``dig``, ``lookup`` (empty, as in ``helm template``) - and
fails loudly on anything else, so the chart stays within what is checked here. Like Helm it drops
a default that a supplied value sets to null and validates the values against
``values.schema.json``. Where Helm is installed (the Helm SDK, ``helm_python``), the tests render
with it and check that this stand-in renders the same manifests.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class TemplateError(Exception):
    pass


class Fail(TemplateError):
    """The chart called ``fail`` (or ``required`` found nothing)."""


class InvalidValues(TemplateError):
    """The values do not match the chart's ``values.schema.json``."""


_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)


@dataclass
class Node:
    kind: str  # text | out | if | range | with | define | assign
    arg: str = ""
    body: list[Node] = field(default_factory=list)
    orelse: list[Node] = field(default_factory=list)


def _tokens(source: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    trim_next = False
    for m in _ACTION.finditer(source):
        text = source[pos : m.start()]
        if trim_next:
            text = text.lstrip()
        if m.group(1):
            text = text.rstrip()
        out.append(("text", text))
        out.append(("action", m.group(2).strip()))
        trim_next = bool(m.group(3))
        pos = m.end()
    tail = source[pos:]
    out.append(("text", tail.lstrip() if trim_next else tail))
    return out


def parse(source: str) -> tuple[list[Node], dict[str, list[Node]]]:
    defines: dict[str, list[Node]] = {}
    root: list[Node] = []
    stack: list[tuple[Node | None, list[Node]]] = [(None, root)]
    for kind, value in _tokens(source):
        current = stack[-1][1]
        if kind == "text":
            if value:
                current.append(Node("text", value))
            continue
        if value.startswith("/*"):
            continue
        word, _, rest = value.partition(" ")
        if word in ("if", "range", "with", "define"):
            node = Node(word, rest.strip())
            current.append(node)
            stack.append((node, node.body))
        elif word == "else":
            owner = stack[-1][0]
            if owner is None:
                raise TemplateError("else without if")
            if rest.startswith("if "):  # else if: one more if in the else branch, closed by the same end
                nested = Node("if", rest[3:].strip())
                owner.orelse.append(nested)
                stack[-1] = (nested, nested.body)
            else:
                stack[-1] = (owner, owner.orelse)
        elif word == "end":
            owner = stack.pop()[0]
            if owner is None:
                raise TemplateError("end without a block")
            if owner.kind == "define":
                defines[_string(owner.arg)] = owner.body
                stack[-1][1].remove(owner)
        elif re.match(r"^\$\w+\s*:?=", value):
            current.append(Node("assign", value))
        else:
            current.append(Node("out", value))
    if len(stack) != 1:
        raise TemplateError("unclosed block")
    return root, defines


def _string(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return bytes(text[1:-1], "utf-8").decode("unicode_escape")
    raise TemplateError(f"expected a string, got {text!r}")


def _empty(value: Any) -> bool:
    return value is None or value is False or value == 0 or (hasattr(value, "__len__") and len(value) == 0)


def _split_args(text: str) -> list[str]:
    """Words of a command: strings, parenthesised groups and plain words."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
        elif c == '"':
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif c == "(":
            depth, j = 0, i
            while True:
                depth += {"(": 1, ")": -1}.get(text[j], 0)
                if depth == 0:
                    break
                j += 1
            out.append(text[i : j + 1])
            i = j + 1
        else:
            j = i
            while j < len(text) and not text[j].isspace():
                j += 1
            out.append(text[i:j])
            i = j
    return out


def _split_pipe(text: str) -> list[str]:
    parts, depth, quoted, start = [], 0, False, 0
    for i, c in enumerate(text):
        if c == '"' and (i == 0 or text[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and c in "()":
            depth += 1 if c == "(" else -1
        elif not quoted and depth == 0 and c == "|":
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


class Renderer:
    def __init__(self, defines: dict[str, list[Node]]) -> None:
        self.defines = defines

    # -- values ------------------------------------------------------------------------------------
    def operand(self, word: str, dot: Any, scope: dict[str, Any]) -> Any:
        if word.startswith("("):
            return self.pipeline(word[1:-1], dot, scope)
        if word.startswith('"'):
            return _string(word)
        if word in ("true", "false"):
            return word == "true"
        if word == "nil":
            return None
        if re.fullmatch(r"-?\d+", word):
            return int(word)
        if word == ".":
            return dot
        if word.startswith("$"):
            name, _, path = word.partition(".")
            value = scope[name] if name != "$" else scope["$"]
            return self.lookup(value, path)
        if word.startswith("."):
            return self.lookup(dot, word[1:])
        if word in FUNCTIONS:  # a function named as an argument is called with none (Go's rule)
            return FUNCTIONS[word]()
        raise TemplateError(f"unknown operand {word!r}")

    @staticmethod
    def lookup(value: Any, path: str) -> Any:
        for key in filter(None, path.split(".")):
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def pipeline(self, text: str, dot: Any, scope: dict[str, Any]) -> Any:
        value: Any = _NOTHING
        for command in _split_pipe(text):
            words = _split_args(command)
            head, args = words[0], [self.operand(w, dot, scope) for w in words[1:]]
            if value is not _NOTHING:
                args.append(value)
            if head in FUNCTIONS:
                value = FUNCTIONS[head](*args)
            elif head == "include":
                value = self.render(self.defines[args[0]], args[1], {"$": args[1]})
            elif args:
                raise TemplateError(f"unknown function {head!r}")
            else:
                value = self.operand(head, dot, scope)
        return value

    # -- nodes -------------------------------------------------------------------------------------
    def render(self, nodes: list[Node], dot: Any, scope: dict[str, Any]) -> str:
        out: list[str] = []
        for node in nodes:
            if node.kind == "text":
                out.append(node.arg)
            elif node.kind == "out":
                value = self.pipeline(node.arg, dot, scope)
                out.append("" if value is None else _text(value))
            elif node.kind == "assign":
                name, _, expr = node.arg.partition("=")
                scope[name.rstrip(":").strip()] = self.pipeline(expr, dot, scope)
            elif node.kind == "if":
                chosen = node.body if not _empty(self.pipeline(node.arg, dot, scope)) else node.orelse
                out.append(self.render(chosen, dot, scope))
            elif node.kind == "with":
                value = self.pipeline(node.arg, dot, scope)
                out.append(
                    self.render(node.orelse, dot, scope)
                    if _empty(value)
                    else self.render(node.body, value, scope)
                )
            elif node.kind == "range":
                out.append(self._range(node, dot, scope))
        return "".join(out)

    def _range(self, node: Node, dot: Any, scope: dict[str, Any]) -> str:
        names: list[str] = []
        expr = node.arg
        if ":=" in expr:
            left, expr = expr.split(":=", 1)
            names = [n.strip() for n in left.split(",")]
        value = self.pipeline(expr, dot, scope)
        items = sorted(value.items()) if isinstance(value, dict) else list(enumerate(value or []))
        if not items:
            return self.render(node.orelse, dot, scope)
        out = []
        for key, item in items:
            inner = dict(scope)
            if len(names) == 2:
                inner[names[0]], inner[names[1]] = key, item
            elif len(names) == 1:
                inner[names[0]] = item
            out.append(self.render(node.body, item, inner))
        return "".join(out)


_NOTHING = object()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        raise TemplateError("a map or list printed without toYaml")
    return str(value)


def _to_yaml(value: Any) -> str:
    """Like Helm's: keys sorted, no trailing newline, ``{}``/``[]``/``null`` for empty values."""
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        if not value:
            return "{}" if isinstance(value, dict) else "[]"
        return yaml.safe_dump(value, sort_keys=True, default_flow_style=False).rstrip("\n")
    text = yaml.safe_dump(value, default_flow_style=False)
    return text.removesuffix("\n").removesuffix("\n...").rstrip("\n")


def _indent(n: int, text: str) -> str:
    return "\n".join(" " * n + line for line in str(text).split("\n"))


def _default(fallback: Any, value: Any = None) -> Any:
    return fallback if _empty(value) else value


def _fail(message: str) -> Any:
    raise Fail(message)


def _required(message: str, value: Any = None) -> Any:
    if _empty(value):
        raise Fail(message)
    return value


def _dig(*args: Any) -> Any:
    """``dig "a" "b" default map``: the nested value, or the default where a key is missing."""
    *keys, fallback, value = args
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return fallback
        value = value[key]
    return value


FUNCTIONS: dict[str, Any] = {
    "printf": lambda fmt, *a: re.sub(r"%[sdv]", "{}", fmt).format(*a),
    "print": lambda *a: "".join(str(x) for x in a),
    "quote": lambda v: '"' + str("" if v is None else v).replace("\\", "\\\\").replace('"', '\\"') + '"',
    "squote": lambda v: "'" + str(v) + "'",
    "default": _default,
    "toYaml": _to_yaml,
    "nindent": lambda n, text: "\n" + _indent(n, text),
    "indent": _indent,
    "trunc": lambda n, s: str(s)[:n],
    "trimSuffix": lambda suffix, s: str(s)[: -len(suffix)] if suffix and str(s).endswith(suffix) else str(s),
    "upper": lambda s: str(s).upper(),
    "lower": lambda s: str(s).lower(),
    "replace": lambda old, new, s: str(s).replace(old, new),
    "contains": lambda sub, s: sub in str(s),
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "lt": lambda a, b: a < b,
    "and": lambda *a: next((x for x in a if _empty(x)), a[-1]),
    "or": lambda *a: next((x for x in a if not _empty(x)), a[-1]),
    "not": _empty,
    "int": lambda v: int(v or 0),
    "fail": _fail,
    "required": _required,
    "sha256sum": lambda s: hashlib.sha256(str(s).encode()).hexdigest(),
    "list": lambda *a: list(a),
    "dict": lambda *a: {str(a[i]): a[i + 1] for i in range(0, len(a) - 1, 2)},
    "get": lambda d, key: (d or {}).get(key, ""),
    "dig": _dig,
    # no cluster is asked, as with `helm template`: every lookup finds nothing
    "lookup": lambda api_version, kind, namespace, name: {},
}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's coalescing: maps merge, anything else replaces, null removes the default."""
    out = dict(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def validate_values(chart: Path, values: dict[str, Any]) -> None:
    """Refuse values that ``values.schema.json`` rejects, each error at its JSON pointer."""
    path = chart / "values.schema.json"
    if not path.exists():
        return
    import json

    import jsonschema

    schema = json.loads(path.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(values), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"- at '/{'/'.join(str(p) for p in e.absolute_path)}': {e.message}" for e in errors]
        raise InvalidValues("values don't meet the chart's schema:\n" + "\n".join(lines))


def render_chart(
    chart: Path, values: dict[str, Any] | None = None, release: str = "bridgeline"
) -> dict[str, str]:
    """Rendered templates by file name (``deployment.yaml``, ``NOTES.txt``), like ``helm template``."""
    meta = yaml.safe_load((chart / "Chart.yaml").read_text(encoding="utf-8"))
    merged = deep_merge(yaml.safe_load((chart / "values.yaml").read_text(encoding="utf-8")), values or {})
    validate_values(chart, merged)
    context = {
        "Values": merged,
        "Chart": {"Name": meta["name"], "Version": meta["version"], "AppVersion": meta["appVersion"]},
        "Release": {"Name": release, "Namespace": "default", "Service": "Helm"},
    }
    defines: dict[str, list[Node]] = {}
    parsed: dict[str, list[Node]] = {}
    for path in sorted((chart / "templates").iterdir()):
        nodes, found = parse(path.read_text(encoding="utf-8"))
        defines.update(found)
        if path.suffix == ".yaml" or path.name == "NOTES.txt":
            parsed[path.name] = nodes
    renderer = Renderer(defines)
    return {name: renderer.render(nodes, context, {"$": context}) for name, nodes in parsed.items()}
