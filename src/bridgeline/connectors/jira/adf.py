"""Atlassian Document Format: Cloud's API v3 speaks it for descriptions and comments; v2 speaks wiki text.

::

    text_to_adf("CAB approved.\\n\\nImplementation window: Saturday")
    adf_to_text(comment["body"])  # "CAB approved.\\n\\nImplementation window: Saturday"
"""

from __future__ import annotations

from typing import Any


def text_to_adf(text: str) -> dict[str, Any]:
    """Plain text (paragraphs split on blank lines, line breaks kept) as an ADF document."""
    content = []
    for para in text.replace("\r\n", "\n").split("\n\n"):
        inline: list[dict[str, Any]] = []
        for i, line in enumerate(para.split("\n")):
            if i:
                inline.append({"type": "hardBreak"})
            if line:
                inline.append({"type": "text", "text": line})
        content.append({"type": "paragraph", "content": inline} if inline else {"type": "paragraph"})
    return {"type": "doc", "version": 1, "content": content}


_BLOCKS = frozenset(
    {"paragraph", "heading", "blockquote", "codeBlock", "listItem", "panel", "rule", "tableRow"}
)


def adf_to_text(value: Any) -> str:
    """The text of an ADF document (or a v2 wiki string, returned as it is), blocks on their own lines.

    Good enough to recognise a comment bridgeline wrote; not a renderer.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    blocks: list[str] = []
    current: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for child in node:
                walk(child)
            return
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        if kind == "text":
            current.append(str(node.get("text", "")))
        elif kind == "hardBreak":
            current.append("\n")
        elif kind in ("mention", "emoji", "inlineCard"):
            attrs = node.get("attrs") or {}
            current.append(str(attrs.get("text") or attrs.get("shortName") or attrs.get("url") or ""))
        walk(node.get("content"))
        if kind in _BLOCKS and current:
            blocks.append("".join(current))
            current.clear()

    walk(value)
    if current:
        blocks.append("".join(current))
    return "\n\n".join(blocks)
