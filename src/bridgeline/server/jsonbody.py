"""JSON request bodies read safely: every way a body can be wrong is a :class:`BadBody` with a
sentence for the sender, never an exception that would become a 500.

Python's parser accepts what the answer could not carry back or the database could not store:
nesting deep enough to exhaust the stack, and lone UTF-16 surrogates (``"\\ud800"``), which no
UTF-8 encoder takes. Both are refused here, before anything looks at the payload. ::

    try:
        payload = parse_json(raw)
    except BadBody as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64  # Jira's deepest payloads (ADF descriptions inside issues inside a list) stay under 30

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class BadBody(ValueError):
    """A body that is not the JSON the endpoint takes; the message says what is wrong."""


def parse_json(raw: bytes | str, what: str = "the body") -> Any:
    """The JSON value of ``raw``; :class:`BadBody` when it is not UTF-8, not JSON, nested deeper
    than :data:`MAX_DEPTH` levels, or holds a lone surrogate. ``what`` names it in the message."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadBody(f"{what} is not UTF-8 text (byte {exc.start} is not valid UTF-8)") from None
    else:
        text = raw
    # the usual case first: with this few brackets, the body cannot nest too deeply
    depth = nesting(text) if text.count("[") + text.count("{") > MAX_DEPTH else 0
    if depth > MAX_DEPTH:
        raise BadBody(f"{what} is JSON nested {depth} levels deep; at most {MAX_DEPTH} are accepted")
    try:
        value = json.loads(text)
    except RecursionError:  # pragma: no cover - refused above
        raise BadBody(f"{what} is JSON nested too deeply; at most {MAX_DEPTH} levels are accepted") from None
    except ValueError as exc:
        raise BadBody(f"{what} is not valid JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise BadBody(
            f"{what} holds a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape), which is not text"
        )
    return value


def nesting(text: str) -> int:
    """How deeply arrays and objects nest in the JSON ``text`` (brackets inside strings do not count)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    depth = deepest = 0
    for char in brackets:
        if char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        else:
            depth -= 1
    return deepest


def _has_lone_surrogate(value: Any) -> bool:
    """Whether a string anywhere in ``value`` (keys too) holds a surrogate: the parser joins valid
    pairs into one character, so any left is unpaired."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
