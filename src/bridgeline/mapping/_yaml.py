"""YAML reading that remembers where every key and value came from.

Each document becomes plain Python data plus a :class:`SourceMap` from paths
(``("fields", "risk", "map")``) to ``(file, line, column)``, so that every later problem - a schema
error, a bad template, a name collision - points at the line to fix. Dates stay strings and only
``true``/``false`` are booleans (YAML 1.2), so ``projects: [NO]`` means Norway, not ``false``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bridgeline.mapping._problems import Path, Problem
from bridgeline.mapping._problems import dotted as _dotted
from bridgeline.yaml12 import Loader

Pos = tuple[str, int, int]

_Loader = Loader  # YAML 1.2's booleans, no timestamps (bridgeline.yaml12)


@dataclass(slots=True)
class SourceMap:
    """Where each path of one (possibly merged) document was written."""

    root: Pos
    values: dict[Path, Pos] = field(default_factory=dict)
    keys: dict[Path, Pos] = field(default_factory=dict)
    block: set[Path] = field(default_factory=set)  # values written as block scalars (| or >)

    def at(self, path: Path, *, key: bool = False) -> Pos:
        """The position of ``path``, or of its nearest written ancestor."""
        table = self.keys if key else self.values
        probe = tuple(path)
        if key and probe in table:
            return table[probe]
        while probe:
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.root

    def template_line(self, path: Path, line_in_template: int) -> Pos:
        """The position of line ``line_in_template`` (1-based) of the template written at ``path``."""
        file, line, column = self.at(path)
        if path in self.block:
            return file, line + line_in_template, column
        return file, line + line_in_template - 1, column

    def overlaid(self, top: SourceMap) -> SourceMap:
        """This map with ``top``'s entries winning (``top`` extends or overrides this one)."""
        return SourceMap(
            top.root,
            {**self.values, **top.values},
            {**self.keys, **top.keys},
            self.block | top.block,
        )

    def reindexed(self, prefix: Path, moves: dict[int, int]) -> SourceMap:
        """List items under ``prefix`` renumbered (``moves``: old index -> new index)."""
        n = len(prefix)

        def move(path: Path) -> Path:
            index = path[n] if len(path) > n and path[:n] == prefix else None
            if isinstance(index, int) and index in moves:
                return (*prefix, moves[index], *path[n + 1 :])
            return path

        return SourceMap(
            self.root,
            {move(p): v for p, v in self.values.items()},
            {move(p): v for p, v in self.keys.items()},
            {move(p) for p in self.block},
        )

    def rebased(self, prefix: Path) -> SourceMap:
        """Entries under ``prefix`` moved to the root (a per-project override applied to its mapping)."""
        n = len(prefix)
        return SourceMap(
            self.values.get(prefix, self.root),
            {p[n:]: v for p, v in self.values.items() if p[:n] == prefix and len(p) > n},
            {p[n:]: v for p, v in self.keys.items() if p[:n] == prefix and len(p) > n},
            {p[n:] for p in self.block if p[:n] == prefix and len(p) > n},
        )


@dataclass(slots=True)
class Document:
    """One YAML document of one file."""

    file: str
    index: int
    data: Any
    where: SourceMap


def load_documents(text: str, file: str) -> tuple[list[Document], list[Problem]]:
    """Every non-empty document in ``text``, or the problems that stopped reading it."""
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = exc.problem or exc.context or "malformed YAML"
        return [], [Problem(file, line, column, "", f"malformed YAML: {reason}")]
    except yaml.YAMLError as exc:
        return [], [Problem(file, 1, 1, "", f"malformed YAML: {exc}")]
    docs: list[Document] = []
    problems: list[Problem] = []
    for index, node in enumerate(nodes):
        if node is None:
            continue
        builder = _Builder(file)
        root = (file, node.start_mark.line + 1, node.start_mark.column + 1)
        where = SourceMap(root)
        data = builder.build(node, (), where, set())
        problems.extend(builder.problems)
        if data is None:
            continue
        docs.append(Document(file, index, data, where))
    return docs, problems


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.constructor = yaml.constructor.SafeConstructor()
        self.merged: dict[int, int] = {}

    def flatten(self, node: MappingNode, path: Path) -> int:
        """Resolve ``<<: *anchor`` merge keys; returns how many leading pairs came from merges."""
        if id(node) not in self.merged:  # an aliased node is flattened once, then remembered
            own = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
            try:
                self.constructor.flatten_mapping(node)
            except yaml.YAMLError as exc:
                self.problems.append(Problem(*self.pos(node), _dotted(path), f"bad merge key: {exc}"))
            self.merged[id(node)] = len(node.value) - own
        return self.merged[id(node)]

    def pos(self, node: Node) -> Pos:
        return self.file, node.start_mark.line + 1, node.start_mark.column + 1

    def build(self, node: Node, path: Path, where: SourceMap, stack: set[int]) -> Any:
        where.values[path] = self.pos(node)
        if id(node) in stack:
            self.problems.append(Problem(*self.pos(node), _dotted(path), "an alias refers to itself"))
            return None
        if isinstance(node, ScalarNode):
            if node.style in ("|", ">"):
                where.block.add(path)
            try:
                return self.constructor.construct_object(node, deep=True)
            except yaml.YAMLError as exc:
                self.problems.append(Problem(*self.pos(node), _dotted(path), f"bad value: {exc}"))
                return None
        stack = stack | {id(node)}
        if isinstance(node, SequenceNode):
            return [self.build(child, (*path, i), where, stack) for i, child in enumerate(node.value)]
        if isinstance(node, MappingNode):
            merged = self.flatten(node, path)
            result: dict[str, Any] = {}
            written: set[str] = set()
            for index, (key_node, value_node) in enumerate(node.value):
                if not isinstance(key_node, ScalarNode):
                    self.problems.append(
                        Problem(*self.pos(key_node), _dotted(path), "keys must be plain text")
                    )
                    continue
                raw_key = self.constructor.construct_object(key_node)
                key = _key_text(raw_key)
                child = (*path, key)
                if index < merged:
                    if key in result:
                        continue  # the first merged mapping wins, as in YAML
                elif key in written:
                    self.problems.append(
                        Problem(
                            *self.pos(key_node), _dotted(child), f"duplicate key '{key}' (written twice here)"
                        )
                    )
                else:
                    written.add(key)
                where.keys[child] = self.pos(key_node)
                result[key] = self.build(value_node, child, where, stack)
            return result
        return None


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)
