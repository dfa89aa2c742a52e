"""Jira rich text to plain text and markdown.

Jira Cloud REST v3 gives descriptions and comments as Atlassian Document Format (ADF), a JSON tree;
REST v2 and every webhook give wiki markup strings. ITSM records want plain text. These converters
never raise: an odd or partial document yields whatever text it holds.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

_MAX_DEPTH = 100


def adf_to_text(doc: Any) -> str:
    """Plain text of an ADF document: paragraphs separated by a blank line, lists as ``- item``."""
    return _tidy(_Renderer(markdown=False).block(doc, 0))


def adf_to_markdown(doc: Any) -> str:
    """Markdown of an ADF document (headings, emphasis, links, lists, code, quotes, tables)."""
    return _tidy(_Renderer(markdown=True).block(doc, 0))


def rich_to_text(value: Any) -> str:
    """Plain text of a Jira description in either form: ADF (dict) or wiki markup (string)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return wiki_to_text(value)
    return adf_to_text(value)


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.split("\n")]
    out = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return out.strip("\n")


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [value]
    return []


def _attrs(node: dict[str, Any]) -> dict[str, Any]:
    attrs = node.get("attrs")
    return attrs if isinstance(attrs, dict) else {}


def _kind(node: dict[str, Any]) -> str | None:
    kind = node.get("type")
    return kind if isinstance(kind, str) else None


def _str(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


class _Renderer:
    """One pass over an ADF tree; ``markdown`` decides whether marks and structure are kept."""

    def __init__(self, *, markdown: bool) -> None:
        self.md = markdown

    # blocks -------------------------------------------------------------------------------------
    def block(self, node: Any, depth: int) -> str:
        if depth > _MAX_DEPTH:
            return ""
        if isinstance(node, str):
            return node
        if isinstance(node, list):
            return self.blocks(node, depth)
        if not isinstance(node, dict):
            return ""
        kind = _kind(node)
        content = _as_list(node.get("content"))
        if kind == "paragraph":  # by far the most common block
            return self.inline(content, depth + 1)
        attrs = _attrs(node)
        if kind in _CONTAINERS:
            title = _str(attrs.get("title")) if kind in ("expand", "nestedExpand") else ""
            body = self.blocks(content, depth + 1)
            if title:
                return f"{'**' + title + '**' if self.md else title}\n\n{body}"
            return body
        if kind == "heading":
            text = self.inline(content, depth + 1)
            level = attrs.get("level")
            level = level if isinstance(level, int) and 1 <= level <= 6 else 1
            return f"{'#' * level} {text}" if self.md else text
        if kind in ("bulletList", "orderedList", "taskList"):
            return self.list_block(node, depth)
        if kind == "codeBlock":
            text = "".join(_str(c.get("text")) for c in content if isinstance(c, dict))
            if self.md:
                lang = _str(attrs.get("language"))
                return f"```{lang}\n{text}\n```"
            return text
        if kind == "blockquote":
            body = self.blocks(content, depth + 1)
            return "\n".join(f"> {line}" if line else ">" for line in body.split("\n")) if self.md else body
        if kind == "rule":
            return "---" if self.md else ""
        if kind == "table":
            return self.table(content, depth)
        if kind in _ITEMS:
            return (
                self.blocks(content, depth + 1)
                if content and _is_block_list(content)
                else self.inline(content, depth + 1)
            )
        if kind in ("media", "extension", "embedCard"):
            return ""
        if kind == "blockCard":
            return _str(attrs.get("url"))
        # an inline node where a block was expected, or an unknown block: keep its text
        return (
            self.inline([node], depth + 1)
            if "text" in node or kind in _INLINE
            else self.blocks(content, depth)
        )

    def blocks(self, nodes: list[Any], depth: int, sep: str = "\n\n") -> str:
        parts: list[str] = []
        run: list[Any] = []  # inline nodes at block level are gathered into one paragraph
        for child in nodes:
            if isinstance(child, dict) and _kind(child) in _INLINE:
                run.append(child)
                continue
            if run:
                parts.append(self.inline(run, depth + 1))
                run = []
            text = self.block(child, depth + 1)
            if text:
                parts.append(text)
        if run:
            parts.append(self.inline(run, depth + 1))
        return sep.join(p for p in parts if p)

    def list_block(self, node: dict[str, Any], depth: int) -> str:
        kind = _kind(node)
        start = _attrs(node).get("order", 1)
        number = start if isinstance(start, int) and not isinstance(start, bool) else 1
        lines: list[str] = []
        for item in _as_list(node.get("content")):
            if not isinstance(item, dict):
                continue
            if kind == "orderedList":
                bullet = f"{number}."
                number += 1
            elif kind == "taskList" or _kind(item) == "taskItem":
                bullet = "- [x]" if _attrs(item).get("state") == "DONE" else "- [ ]"
            else:
                bullet = "-"
            content = _as_list(item.get("content"))
            if _kind(item) == "taskItem" or not _is_block_list(content):
                text = self.inline(content, depth + 1)
            else:  # a list item's paragraphs and nested lists sit on consecutive lines
                text = self.blocks(content, depth + 1, sep="\n")
            first, *rest = (text or "").split("\n") or [""]
            lines.append(f"{bullet} {first}".rstrip())
            pad = " " * (len(bullet) + 1)
            lines.extend(f"{pad}{line}" if line else "" for line in rest)
        return "\n".join(lines)

    def table(self, rows: list[Any], depth: int) -> str:
        grid: list[list[str]] = []
        for row in rows:
            if not isinstance(row, dict):
                continue
            cells = [
                self.block(cell, depth + 1).replace("\n", " ")
                for cell in _as_list(row.get("content"))
                if isinstance(cell, dict)
            ]
            grid.append(cells)
        if not grid:
            return ""
        if not self.md:
            return "\n".join(" | ".join(cells) for cells in grid)
        width = max(len(r) for r in grid) or 1
        lines = []
        for i, cells in enumerate(grid):
            cells = cells + [""] * (width - len(cells))
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
            if i == 0:
                lines.append("|" + "|".join([" --- "] * width) + "|")
        return "\n".join(lines)

    # inline -------------------------------------------------------------------------------------
    def inline(self, nodes: list[Any], depth: int) -> str:
        if depth > _MAX_DEPTH:
            return ""
        out: list[str] = []
        for node in nodes:
            if isinstance(node, str):
                out.append(node)
                continue
            if not isinstance(node, dict):
                continue
            kind = _kind(node)
            if kind == "text" or (kind is None and "text" in node):
                text = node.get("text")
                marks = node.get("marks")
                if isinstance(text, str) and not (marks and self.md):
                    out.append(text)
                else:
                    out.append(self.marked(_str(text), marks))
                continue
            attrs = _attrs(node)
            if kind == "hardBreak":
                out.append("\n")
            elif kind == "mention":
                text = _str(attrs.get("text") or attrs.get("id"))
                out.append(text if text.startswith("@") or not text else f"@{text}")
            elif kind == "emoji":
                out.append(_str(attrs.get("text") or attrs.get("shortName")))
            elif kind in ("inlineCard", "blockCard"):
                url = _str(attrs.get("url"))
                out.append(f"<{url}>" if self.md and url else url)
            elif kind == "status":
                out.append(_str(attrs.get("text")))
            elif kind == "date":
                out.append(_epoch_date(attrs.get("timestamp")))
            elif kind in ("media", "mediaInline"):
                continue
            else:
                out.append(self.block(node, depth + 1) if node.get("content") else "")
        return "".join(out)

    def marked(self, text: str, marks: Any) -> str:
        if not self.md or not text or not isinstance(marks, list):
            return text
        link = None
        for mark in marks:
            if not isinstance(mark, dict):
                continue
            kind = _kind(mark)
            if kind == "strong":
                text = f"**{text}**"
            elif kind == "em":
                text = f"*{text}*"
            elif kind == "code":
                text = f"`{text}`"
            elif kind == "strike":
                text = f"~~{text}~~"
            elif kind == "link":
                link = _str(_attrs(mark).get("href"))
        return f"[{text}]({link})" if link else text


_INLINE = frozenset({"text", "hardBreak", "mention", "emoji", "inlineCard", "status", "date", "mediaInline"})
_CONTAINERS = frozenset(
    {"doc", "panel", "expand", "nestedExpand", "layoutSection", "layoutColumn", "bodiedExtension",
     "decisionList", "mediaSingle", "mediaGroup"}
)  # fmt: skip
_ITEMS = frozenset({"listItem", "taskItem", "decisionItem", "tableCell", "tableHeader", "tableRow"})


def _is_block_list(nodes: list[Any]) -> bool:
    return any(isinstance(n, dict) and _kind(n) not in _INLINE and _kind(n) != "text" for n in nodes)


def _epoch_date(value: Any) -> str:
    try:
        millis = int(value)
        return datetime.fromtimestamp(millis / 1000, UTC).strftime("%Y-%m-%d")
    except (TypeError, ValueError, OverflowError, OSError):
        return _str(value)


# --- Jira wiki markup -----------------------------------------------------------------------------

_WIKI_BLOCK = re.compile(r"\{(code|noformat)(?::[^}]*)?\}(.*?)\{\1\}", re.DOTALL)
_WIKI_PANEL = re.compile(r"\{(panel|quote|color)(?::[^}]*)?\}")
_WIKI_LINK = re.compile(r"\[([^\[\]|]*?)\|([^\[\]]+?)\]")
_WIKI_BARE_LINK = re.compile(r"\[((?:https?|mailto|ftp):[^\[\]\s]+|~[^\[\]]+|#[^\[\]]+)\]")
_WIKI_IMAGE = re.compile(r"!([^!\s][^!\n]*?)(\|[^!\n]*)?!")
_WIKI_HEADING = re.compile(r"^[ \t]*h[1-6]\.[ \t]+", re.MULTILINE)
_WIKI_BQ = re.compile(r"^[ \t]*bq\.[ \t]+", re.MULTILINE)
_WIKI_LIST = re.compile(r"^[ \t]*([*#-]+)[ \t]+")
_WIKI_TABLE = re.compile(r"^[ \t]*\|\|?(.*?)\|?\|?[ \t]*$", re.MULTILINE)
_WIKI_RULE = re.compile(r"^[ \t]*-{4,}[ \t]*$", re.MULTILINE)
_WIKI_MONO = re.compile(r"\{\{(.+?)\}\}")
_WIKI_EMPH = [
    re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"),
    re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])"),
    re.compile(r"(?<![\w-])-(?=\S)([^-\n]+?)(?<=\S)-(?![\w-])"),
    re.compile(r"(?<![\w+])\+(?=\S)([^+\n]+?)(?<=\S)\+(?![\w+])"),
    re.compile(r"(?<![\w^])\^(?=\S)([^^\n]+?)(?<=\S)\^(?![\w^])"),
    re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])"),
    re.compile(r"\?\?(?=\S)(.+?)(?<=\S)\?\?"),
]


def _wiki_lists(text: str) -> str:
    """``* a`` -> ``- a`` and ``# a`` -> ``1. a``, ``2. b`` (numbered per level), nested by indentation."""
    levels: list[tuple[str, int]] = []  # (marker, count) per nesting level
    lines = []
    for line in text.split("\n"):
        match = _WIKI_LIST.match(line)
        if not match:
            levels = []
            lines.append(line)
            continue
        marks = match.group(1)
        depth = len(marks)
        levels = levels[:depth]
        while len(levels) < depth:
            levels.append((marks[len(levels)], 0))
        marker, count = levels[depth - 1]
        count = count + 1 if marker == marks[-1] else 1
        levels[depth - 1] = (marks[-1], count)
        bullet = f"{count}. " if marks.endswith("#") else "- "
        lines.append("  " * (depth - 1) + bullet + line[match.end() :])
    return "\n".join(lines)


def wiki_to_text(text: Any) -> str:
    """Plain text of Jira wiki markup: markup removed, links as ``text (url)``, lists as ``- item``."""
    if not isinstance(text, str):
        return rich_to_text(text) if isinstance(text, dict | list) else _str(text)
    blocks: list[str] = []

    def keep_block(match: re.Match[str]) -> str:
        blocks.append(match.group(2).strip("\n"))
        return f"\x00{len(blocks) - 1}\x00"

    out = text.replace("\r\n", "\n")
    out = _WIKI_BLOCK.sub(keep_block, out)
    out = _WIKI_PANEL.sub("", out)
    out = _WIKI_IMAGE.sub("", out)
    out = _WIKI_LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})" if m.group(1) else m.group(2), out)
    out = _WIKI_BARE_LINK.sub(lambda m: m.group(1).lstrip("~"), out)
    out = _WIKI_HEADING.sub("", out)
    out = _WIKI_BQ.sub("", out)
    out = _WIKI_RULE.sub("", out)
    out = _wiki_lists(out)
    out = _WIKI_TABLE.sub(lambda m: " | ".join(c.strip() for c in re.split(r"\|\|?", m.group(1))), out)
    out = _WIKI_MONO.sub(r"\1", out)
    for pattern in _WIKI_EMPH:
        out = pattern.sub(r"\1", out)
    out = out.replace("\\\\", "\n")
    out = re.sub(r"\x00(\d+)\x00", lambda m: blocks[int(m.group(1))], out)
    return _tidy(out)
