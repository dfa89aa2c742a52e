"""Loading a mapping set: files -> documents -> extends/overrides merged -> validated -> compiled -> checked.

Loading has no side effects (no global state, no I/O but reading the files), so a daemon can load a
new set, keep the old one when this raises :class:`MappingSetError`, and swap atomically.
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from bridgeline.mapping._budget import Limits
from bridgeline.mapping._compile import compile_mapping
from bridgeline.mapping._language import REQUIRED_UNLESS_ABSTRACT, MappingDocument, TestCase
from bridgeline.mapping._mapping import Mapping
from bridgeline.mapping._problems import MappingSetError, Problem, did_you_mean, dotted
from bridgeline.mapping._sets import MappingSet, set_problems
from bridgeline.mapping._templates import Compiler
from bridgeline.mapping._validation import validate
from bridgeline.mapping._yaml import Document, SourceMap, load_documents

_NOT_INHERITED = ("metadata", "abstract", "extends", "tests")
_SKIPPED_DIRS = ("fixtures",)


@dataclass(slots=True)
class _Entry:
    doc: Document
    name: str | None
    raw: dict[str, Any]


@dataclass(frozen=True, slots=True)
class MappingTest:
    """One ``tests:`` case of a mapping, with the file it was written in (inputs are relative to it)."""

    mapping: str
    file: str
    index: int
    case: TestCase
    where: SourceMap

    @property
    def line(self) -> int:
        return self.where.at(("tests", self.index))[1]


def load_mapping_set(paths: Iterable[str | os.PathLike[str]], *, limits: Limits | None = None) -> MappingSet:
    """Load every mapping in ``paths`` (files or directories of ``*.yaml``/``*.yml``).

    Raises :class:`MappingSetError` listing every problem in every file at once. ``limits``: the
    budget of each record's render (and of each template tried at load); the defaults suit real mappings.
    """
    files, problems = _collect(paths)
    entries: list[_Entry] = []
    digest = hashlib.sha256()
    for display, path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            problems.append(Problem(display, 1, 1, "", f"cannot read: {exc.strerror or exc}"))
            continue
        digest.update(display.encode() + b"\0" + data + b"\0")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(Problem(display, 1, 1, "", "not UTF-8 text"))
            continue
        docs, found = load_documents(text, display)
        problems.extend(found)
        for document in docs:
            if not isinstance(document.data, dict):
                message = "a mapping document is a mapping of keys to values"
                problems.append(Problem(*document.where.root, "", message))
                continue
            meta = document.data.get("metadata")
            name = meta.get("name") if isinstance(meta, dict) and isinstance(meta.get("name"), str) else None
            entries.append(_Entry(document, name, document.data))
    by_name = _unique_names(entries, problems)
    compiler = Compiler(limits=limits)
    mappings: list[Mapping] = []
    tests: list[MappingTest] = []
    for entry in entries:
        if entry.name is not None and by_name.get(entry.name) is not entry:
            continue
        merged = _resolve(entry, by_name, problems)
        if merged is None:
            continue
        raw, where = merged
        doc, found = validate(raw, where)
        problems.extend(found)
        missing = [k for k in REQUIRED_UNLESS_ABSTRACT if raw.get(k) is None]
        if missing and raw.get("abstract") is not True:
            what = ", ".join(f"'{k}'" for k in missing)
            problems.append(Problem(*where.root, "", f"missing {what} (or mark it abstract: true)"))
            continue
        if doc is None or doc.abstract:
            continue
        variants: dict[str, tuple[MappingDocument, SourceMap]] = {}
        overrides = raw.get("overrides") or {}
        for key, override in overrides.items():
            base = {k: v for k, v in raw.items() if k not in ("overrides", "tests")}
            v_raw, v_where = merge(base, where, override, where.rebased(("overrides", key)))
            v_doc, found = validate(v_raw, v_where)
            problems.extend(found)
            if v_doc is not None:
                variants[key] = (v_doc, v_where)
        mapping, found = compile_mapping(doc, where, compiler, variants)
        problems.extend(found)
        if mapping is not None:
            mappings.append(mapping)
            own = entry.doc.where
            for index, case in enumerate(doc.tests):
                tests.append(MappingTest(mapping.name, entry.doc.file, index, case, own))
    problems.extend(set_problems(mappings))
    if problems:
        raise MappingSetError(problems)
    return MappingSet(mappings, digest.hexdigest(), [d for d, _ in files], tests)


def _collect(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[tuple[str, FsPath]], list[Problem]]:
    files: list[tuple[str, FsPath]] = []
    problems: list[Problem] = []
    seen: set[FsPath] = set()
    for given in paths:
        path = FsPath(given)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.suffix in (".yaml", ".yml")
                and p.is_file()
                and not any(
                    part in _SKIPPED_DIRS or part.startswith((".", "_"))
                    for part in p.relative_to(path).parts[:-1]
                )
            )
        elif path.is_file():
            found = [path]
        else:
            problems.append(Problem(str(path), 1, 1, "", "no such file or directory"))
            continue
        for file in found:
            real = file.resolve()
            if real not in seen:
                seen.add(real)
                files.append((str(file), file))
    return files, problems


def _unique_names(entries: list[_Entry], problems: list[Problem]) -> dict[str, _Entry]:
    by_name: dict[str, _Entry] = {}
    for entry in entries:
        if entry.name is None:
            continue
        first = by_name.get(entry.name)
        if first is not None:
            file, line, column = entry.doc.where.at(("metadata", "name"))
            at = first.doc.where.at(("metadata", "name"))
            problems.append(
                Problem(
                    file,
                    line,
                    column,
                    "metadata.name",
                    f"duplicate mapping name '{entry.name}' (also at {at[0]}:{at[1]})",
                )
            )
            continue
        by_name[entry.name] = entry
    return by_name


def _resolve(
    entry: _Entry, by_name: dict[str, _Entry], problems: list[Problem]
) -> tuple[dict[str, Any], SourceMap] | None:
    """The entry with its ``extends`` chain merged in (base first), or None after a problem."""
    chain = [entry]
    current = entry
    while isinstance(current.raw.get("extends"), str):
        parent_name = current.raw["extends"]
        parent = by_name.get(parent_name)
        file, line, column = current.doc.where.at(("extends",))
        if parent is None:
            hint = did_you_mean(parent_name, by_name)
            problems.append(Problem(file, line, column, "extends", f"no mapping named '{parent_name}'{hint}"))
            return None
        if parent in chain:
            names = " -> ".join([*(c.name or "?" for c in chain), parent_name])
            file, line, column = entry.doc.where.at(("extends",))
            problems.append(
                Problem(file, line, column, "extends", f"extends goes round in a circle: {names}")
            )
            return None
        chain.append(parent)
        current = parent
    raw: dict[str, Any] = copy.deepcopy(chain[-1].raw)
    where = chain[-1].doc.where
    for child in reversed(chain[:-1]):
        inherited = {k: v for k, v in raw.items() if k not in _NOT_INHERITED}
        raw, where = merge(inherited, where, child.raw, child.doc.where)
    return raw, where


def merge(
    base: dict[str, Any], base_where: SourceMap, top: dict[str, Any], top_where: SourceMap
) -> tuple[dict[str, Any], SourceMap]:
    """``top`` deep-merged over ``base``: mappings merge, lists are replaced, reverse and deployment
    rules merge by name."""
    merged = _deep_merge(base, top)
    for ruled in ("reverse", "deployments"):
        if isinstance(base.get(ruled), list) and isinstance(top.get(ruled), list):
            rules, moves = _merge_rules(base[ruled], top[ruled])
            merged[ruled] = rules
            top_where = top_where.reindexed((ruled,), moves)
    return merged, base_where.overlaid(top_where)


def _deep_merge(base: Any, top: Any) -> Any:
    if isinstance(base, dict) and isinstance(top, dict):
        out = dict(base)
        for key, value in top.items():
            out[key] = _deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(top)


def _merge_rules(base: list[Any], top: list[Any]) -> tuple[list[Any], dict[int, int]]:
    rules = list(base)
    moves: dict[int, int] = {}
    index = {r.get("name"): i for i, r in enumerate(rules) if isinstance(r, dict)}
    for j, rule in enumerate(top):
        name = rule.get("name") if isinstance(rule, dict) else None
        if name is not None and name in index:
            rules[index[name]] = _deep_merge(rules[index[name]], rule)
            moves[j] = index[name]
        else:
            moves[j] = len(rules)
            rules.append(copy.deepcopy(rule))
    return rules, moves


def iter_mapping_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[str]:
    """The files ``load_mapping_set(paths)`` would read."""
    files, _ = _collect(paths)
    for display, _path in files:
        yield display


__all__ = ["MappingTest", "dotted", "iter_mapping_files", "load_mapping_set", "merge"]
