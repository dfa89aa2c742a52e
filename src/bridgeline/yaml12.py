"""YAML as people mean it: the YAML 1.2 core schema's booleans and no timestamps, with positions.

PyYAML implements YAML 1.1, where ``NO`` and ``on`` are booleans and ``2024-05-03`` is a date, so
``projects: [PAY, NO, ON]`` would be ``['PAY', False, True]``. Here only ``true``/``false`` are
booleans and dates stay strings. :func:`load` also says where each value and each key was
written::

    doc = load("jira:\\n  url: example.atlassian.net\\n", "bridgeline.yaml")
    doc.values[("jira", "url")]   # ('bridgeline.yaml', 2, 8): line and column, 1-based
    doc.keys[("jira", "url")]     # ('bridgeline.yaml', 2, 3)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Position = tuple[str, int, int]

_Base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Loader(_Base):  # type: ignore[misc]
    """Safe loading without YAML 1.1 surprises (timestamps, yes/no/on/off booleans)."""


Loader.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def safe_load(text: str) -> Any:
    """Like :func:`yaml.safe_load`, with YAML 1.2's booleans and no timestamps."""
    return yaml.load(text, Loader=Loader)  # a SafeLoader


@dataclass(frozen=True, slots=True)
class Document:
    data: Any
    values: dict[tuple[Any, ...], Position] = field(default_factory=dict)
    keys: dict[tuple[Any, ...], Position] = field(default_factory=dict)

    def at(self, path: tuple[Any, ...], *, key: bool = False) -> Position | None:
        """Where ``path`` (its key, or its value) was written, or its nearest written ancestor."""
        if key and path in self.keys:
            return self.keys[path]
        probe = path
        while probe:
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return None


def load(text: str, name: str) -> Document:
    """The document and where each of its keys and values was written (``name``, line, column).

    Raises :class:`yaml.YAMLError` for text that is not YAML (its mark says where)."""
    node = yaml.compose(text, Loader=Loader)
    doc = Document(yaml.load(text, Loader=Loader))  # a SafeLoader
    if node is not None:
        _walk(node, (), name, doc)
    return doc


def _walk(node: Node, path: tuple[Any, ...], name: str, doc: Document) -> None:
    doc.values[path] = (name, node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode):
                child = (*path, key.value)
                doc.keys[child] = (name, key.start_mark.line + 1, key.start_mark.column + 1)
                _walk(value, child, name, doc)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), name, doc)
