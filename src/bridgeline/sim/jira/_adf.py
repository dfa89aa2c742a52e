"""Rich text both ways: Atlassian Document Format (API v3) and wiki markup (API v2, webhooks).

The simulator stores ADF and converts on the way out, as Jira does. The subset covered is what
issue descriptions and CAB comments use: paragraphs, headings, bullet and numbered lists (nested),
code blocks, quotes, rules, hard breaks, and the marks strong, em, strike, code and link, plus
mentions. ``wiki_to_adf(adf_to_wiki(doc)) == doc`` holds for documents inside that subset.
"""

from __future__ import annotations

import html
import re
from typing import Any

Node = dict[str, Any]


def doc(*content: Node) -> Node:
    return {"type": "doc", "version": 1, "content": list(content)}


def text(value: str, *marks: str, href: str | None = None) -> Node:
    node: Node = {"type": "text", "text": value}
    mark_list: list[Node] = [{"type": m} for m in marks]
    if href:
        mark_list.append({"type": "link", "attrs": {"href": href}})
    if mark_list:
        node["marks"] = mark_list
    return node


def paragraph(*content: Node) -> Node:
    return {"type": "paragraph", "content": list(content)}


def is_adf(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "doc"


# -- ADF -> wiki -----------------------------------------------------------------------------------

_MARK_WRAP = {"strong": "*", "em": "_", "strike": "-", "underline": "+"}


def adf_to_wiki(document: Node | None) -> str | None:
    if document is None:
        return None
    blocks = [_block_to_wiki(node) for node in document.get("content", [])]
    return "\n\n".join(b for b in blocks if b is not None)


def _block_to_wiki(node: Node, depth: str = "") -> str | None:
    kind = node.get("type")
    content = node.get("content", [])
    if kind == "paragraph":
        return _inline_to_wiki(content)
    if kind == "heading":
        level = int(node.get("attrs", {}).get("level", 1))
        return f"h{level}. {_inline_to_wiki(content)}"
    if kind in ("bulletList", "orderedList"):
        marker = depth + ("*" if kind == "bulletList" else "#")
        lines: list[str] = []
        for item in content:
            for child in item.get("content", []):
                if child.get("type") in ("bulletList", "orderedList"):
                    nested = _block_to_wiki(child, marker)
                    if nested:
                        lines.append(nested)
                else:
                    lines.append(f"{marker} {_inline_to_wiki(child.get('content', []))}")
        return "\n".join(lines)
    if kind == "codeBlock":
        language = node.get("attrs", {}).get("language")
        body = "".join(c.get("text", "") for c in content)
        opener = f"{{code:{language}}}" if language else "{code}"
        return f"{opener}\n{body}\n{{code}}"
    if kind == "blockquote":
        inner = "\n\n".join(b for b in (_block_to_wiki(c) for c in content) if b is not None)
        return f"{{quote}}\n{inner}\n{{quote}}"
    if kind == "rule":
        return "----"
    if kind == "panel":
        inner = "\n\n".join(b for b in (_block_to_wiki(c) for c in content) if b is not None)
        return f"{{panel}}\n{inner}\n{{panel}}"
    return _inline_to_wiki(content) if content else None


def _inline_to_wiki(nodes: list[Node]) -> str:
    parts: list[str] = []
    for node in nodes:
        kind = node.get("type")
        if kind == "text":
            value = node.get("text", "")
            href = None
            for mark in node.get("marks", []):
                mtype = mark.get("type")
                if mtype == "code":
                    value = "{{" + value + "}}"
                elif mtype == "link":
                    href = mark.get("attrs", {}).get("href")
                elif mtype in _MARK_WRAP:
                    value = _MARK_WRAP[mtype] + value + _MARK_WRAP[mtype]
            if href:
                value = f"[{href}]" if value == href else f"[{value}|{href}]"
            parts.append(value)
        elif kind == "hardBreak":
            parts.append("\n")
        elif kind == "mention":
            parts.append(f"[~accountid:{node.get('attrs', {}).get('id', '')}]")
        elif kind in ("inlineCard", "blockCard"):
            url = node.get("attrs", {}).get("url", "")
            parts.append(f"[{url}|{url}|smart-link]")
        elif kind == "emoji":
            parts.append(node.get("attrs", {}).get("text") or node.get("attrs", {}).get("shortName", ""))
    return "".join(parts)


# -- wiki -> ADF -----------------------------------------------------------------------------------

_HEADING = re.compile(r"^h([1-6])\.\s+(.*)$")
_LIST_ITEM = re.compile(r"^([*#-]+)\s+(.*)$")
_CODE_OPEN = re.compile(r"^\{(code|noformat)(?::([^}|]*))?[^}]*\}(.*)$")
_INLINE = re.compile(
    r"\{\{(?P<code>.+?)\}\}"
    r"|\[~accountid:(?P<mention>[^\]]+)\]"
    r"|\[~(?P<username>[^\]]+)\]"
    r"|\[(?P<label>[^\]|]+)\|(?P<href>[^\]|]+)(?:\|smart-link)?\]"
    r"|\[(?P<bare>(?:https?|mailto):[^\]]+)\]"
    r"|(?<![\w*])\*(?P<strong>[^*\s](?:[^*]*[^*\s])?)\*(?![\w*])"
    r"|(?<![\w_])_(?P<em>[^_\s](?:[^_]*[^_\s])?)_(?![\w_])"
    r"|(?<![\w-])-(?P<strike>[^-\s](?:[^-]*[^-\s])?)-(?![\w-])"
    r"|(?<![\w+])\+(?P<underline>[^+\s](?:[^+]*[^+\s])?)\+(?![\w+])"
)


def wiki_to_adf(markup: str | None) -> Node | None:
    if markup is None:
        return None
    lines = markup.replace("\r\n", "\n").split("\n")
    blocks, _ = _parse_blocks(lines, 0, None)
    return doc(*blocks)


def _parse_blocks(lines: list[str], i: int, until: str | None) -> tuple[list[Node], int]:
    blocks: list[Node] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            blocks.append(paragraph(*_inline_from_lines(para)))
            para.clear()

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if until is not None and stripped == until:
            flush()
            return blocks, i + 1
        code = _CODE_OPEN.match(stripped)
        if code:
            flush()
            tag, language, rest = code.group(1), (code.group(2) or "").strip(), code.group(3)
            body: list[str] = [rest] if rest else []
            i += 1
            while i < len(lines) and lines[i].strip() != f"{{{tag}}}":
                body.append(lines[i])
                i += 1
            node: Node = {"type": "codeBlock", "content": [{"type": "text", "text": "\n".join(body)}]}
            if language and tag == "code":
                node["attrs"] = {"language": language}
            if not body:
                node.pop("content")
            blocks.append(node)
            i += 1
            continue
        if stripped in ("{quote}", "{panel}"):
            flush()
            inner, i = _parse_blocks(lines, i + 1, stripped)
            blocks.append({"type": "blockquote" if stripped == "{quote}" else "panel", "content": inner})
            if stripped == "{panel}":
                blocks[-1]["attrs"] = {"panelType": "info"}
            continue
        if not stripped:
            flush()
            i += 1
            continue
        heading = _HEADING.match(stripped)
        if heading:
            flush()
            level = int(heading.group(1))
            blocks.append(
                {"type": "heading", "attrs": {"level": level}, "content": _inline(heading.group(2))}
            )
            i += 1
            continue
        if stripped == "----":
            flush()
            blocks.append({"type": "rule"})
            i += 1
            continue
        if stripped.startswith("bq. "):
            flush()
            blocks.append({"type": "blockquote", "content": [paragraph(*_inline(stripped[4:]))]})
            i += 1
            continue
        item = _LIST_ITEM.match(stripped)
        if item and not para and set(item.group(1)) <= {"*", "#"}:
            flush()
            items: list[tuple[str, str]] = []
            while i < len(lines):
                m = _LIST_ITEM.match(lines[i].strip())
                if not m or not set(m.group(1)) <= {"*", "#"}:
                    break
                items.append((m.group(1), m.group(2)))
                i += 1
            blocks.append(_build_list(items, 0)[0])
            continue
        para.append(line)
        i += 1
    flush()
    return blocks, i


def _build_list(items: list[tuple[str, str]], start: int) -> tuple[Node, int]:
    marker = items[start][0]
    depth = len(marker)
    kind = "bulletList" if marker[-1] == "*" else "orderedList"
    node: Node = {"type": kind, "content": []}
    i = start
    while i < len(items):
        current, body = items[i]
        if len(current) < depth:
            break
        if len(current) == depth:
            node["content"].append({"type": "listItem", "content": [paragraph(*_inline(body))]})
            i += 1
        else:
            nested, i = _build_list(items, i)
            if node["content"]:
                node["content"][-1]["content"].append(nested)
            else:
                node["content"].append({"type": "listItem", "content": [nested]})
    return node, i


def _inline_from_lines(lines: list[str]) -> list[Node]:
    nodes: list[Node] = []
    for n, line in enumerate(lines):
        if n:
            nodes.append({"type": "hardBreak"})
        nodes.extend(_inline(line))
    return nodes


def _inline(source: str) -> list[Node]:
    nodes: list[Node] = []
    pos = 0
    for match in _INLINE.finditer(source):
        if match.start() > pos:
            nodes.append(text(source[pos : match.start()]))
        groups = match.groupdict()
        if groups["code"] is not None:
            nodes.append(text(groups["code"], "code"))
        elif groups["mention"] is not None:
            nodes.append({"type": "mention", "attrs": {"id": groups["mention"]}})
        elif groups["username"] is not None:
            nodes.append({"type": "mention", "attrs": {"id": groups["username"]}})
        elif groups["href"] is not None:
            nodes.append(text(groups["label"], href=groups["href"]))
        elif groups["bare"] is not None:
            nodes.append(text(groups["bare"], href=groups["bare"]))
        else:
            for mark in ("strong", "em", "strike", "underline"):
                if groups[mark] is not None:
                    for inner in _inline(groups[mark]):
                        if inner.get("type") == "text":
                            inner.setdefault("marks", []).insert(0, {"type": mark})
                        nodes.append(inner)
                    break
        pos = match.end()
    if pos < len(source):
        nodes.append(text(source[pos:]))
    return nodes


# -- ADF -> plain text and HTML ------------------------------------------------------------------


def adf_to_text(document: Node | None) -> str:
    """The words of a document, for ``text ~`` searches and the HTML index."""
    if not document:
        return ""
    out: list[str] = []

    def walk(node: Node) -> None:
        if node.get("type") == "text":
            out.append(node.get("text", ""))
        for child in node.get("content", []):
            walk(child)
        if node.get("type") in ("paragraph", "heading", "listItem", "codeBlock"):
            out.append("\n")

    walk(document)
    return "".join(out).strip()


def adf_to_html(document: Node | None) -> str | None:
    """``renderedFields``: what Jira's renderer would show."""
    if document is None:
        return None
    return "".join(_node_html(n) for n in document.get("content", []))


def _node_html(node: Node) -> str:
    kind = node.get("type")
    inner = "".join(_node_html(c) for c in node.get("content", []))
    if kind == "text":
        value = html.escape(node.get("text", ""))
        for mark in node.get("marks", []):
            tag = {"strong": "b", "em": "em", "strike": "del", "code": "tt", "underline": "ins"}.get(
                mark.get("type", "")
            )
            if tag:
                value = f"<{tag}>{value}</{tag}>"
            elif mark.get("type") == "link":
                href = html.escape(mark.get("attrs", {}).get("href", ""), quote=True)
                value = f'<a href="{href}" class="external-link" rel="nofollow noreferrer">{value}</a>'
        return value
    simple = {
        "paragraph": "p",
        "bulletList": "ul",
        "orderedList": "ol",
        "listItem": "li",
        "blockquote": "blockquote",
    }
    if kind in simple:
        tag = simple[kind]
        return f"<{tag}>{inner}</{tag}>"
    if kind == "heading":
        level = int(node.get("attrs", {}).get("level", 1))
        return f"<h{level}>{inner}</h{level}>"
    if kind == "codeBlock":
        return f'<div class="code panel"><pre>{inner}</pre></div>'
    if kind == "hardBreak":
        return "<br/>"
    if kind == "rule":
        return "<hr/>"
    if kind == "mention":
        return html.escape(str(node.get("attrs", {}).get("text") or node.get("attrs", {}).get("id", "")))
    return inner
