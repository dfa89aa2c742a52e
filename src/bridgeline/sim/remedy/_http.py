"""Reading AR REST query strings the way a forgiving server must, and writing its links.

Some clients (remedy-py's ``advanced_query``) put the qualification into the URL unencoded, so a
``q`` may hold a raw ``&`` (``LIKE "%R&D%"``) or a ``%`` that is not an escape (``LIKE "%x%"``).
:func:`parse_query` keeps such text inside ``q``, and :func:`unquote_tolerant` decodes only the
escapes that make valid UTF-8, leaving the rest as typed.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from bridgeline.sim.remedy import _errors as err
from bridgeline.sim.remedy._forms import Form

KNOWN_PARAMS = ("q", "fields", "sort", "offset", "limit", "expand", "options", "dataPageSize")
_HEX = re.compile(r"%([0-9A-Fa-f]{2})")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ENTRY_PREFIX = "/api/arsys/v1/entry/"


def unquote_tolerant(text: str) -> str:
    """Percent-decode (``+`` is a space); an escape that does not form valid UTF-8 stays literal."""
    text = text.replace("+", " ")
    out: list[str] = []
    i = 0
    while i < len(text):
        run: list[tuple[int, int]] = []  # (byte, position) of consecutive %XX escapes
        j = i
        while (m := _HEX.match(text, j)) is not None:
            run.append((int(m.group(1), 16), j))
            j = m.end()
        if not run:
            out.append(text[i])
            i += 1
            continue
        k = 0
        while k < len(run):
            byte, position = run[k]
            size = _utf8_length(byte)
            if size and k + size <= len(run):
                try:
                    out.append(bytes(b for b, _ in run[k : k + size]).decode("utf-8"))
                    k += size
                    continue
                except UnicodeDecodeError:
                    pass
            out.append(text[position : position + 3])
            k += 1
        i = j
    return "".join(out)


def _utf8_length(lead: int) -> int:
    """How many bytes a UTF-8 sequence starting with ``lead`` has; 0 if it cannot start one."""
    for size, (mask, value) in enumerate(((0x80, 0x00), (0xE0, 0xC0), (0xF0, 0xE0), (0xF8, 0xF0)), 1):
        if lead & mask == value:
            return size
    return 0


def parse_query(raw: bytes | str) -> dict[str, str]:
    """Query parameters, with an unencoded ``q`` kept whole even when it contains ``&``."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    params: dict[str, str] = {}
    current: str | None = None
    for segment in text.split("&") if text else []:
        name, sep, value = segment.partition("=")
        key = unquote_tolerant(name)
        starts_param = bool(sep) and _NAME.match(key) is not None and (current != "q" or key in KNOWN_PARAMS)
        if starts_param or current is None:
            current = key
            params[key] = value
        else:
            params[current] += "&" + segment
    return {key: unquote_tolerant(value) for key, value in params.items()}


def parse_fields(spec: str | None, form: Form) -> list[str] | None:
    """``values(A, B)`` -> ``["A", "B"]`` (checked against the form); ``None`` when absent.

    Field names may hold parentheses themselves (``Product Cat Tier 1(2)``); ``assoc(...)`` is ignored.
    """
    if spec is None:
        return None
    start = spec.find("values(")
    if start < 0:
        return None
    depth, names, current = 0, [], ""
    for ch in spec[start + len("values(") :]:
        if ch == ")" and depth == 0:
            break
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            names.append(current)
            current = ""
        else:
            current += ch
    names = [name.strip() for name in [*names, current] if name.strip()]
    for name in names:
        form.spec(name)
    return names


def parse_int(params: dict[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise err.workflow(f"Query parameter {name} must be a whole number", value) from None
    if number < 0:
        raise err.workflow(f"Query parameter {name} cannot be negative", value)
    return number


def form_path(form_name: str) -> str:
    return ENTRY_PREFIX + quote(form_name, safe=":")


def entry_path(form_name: str, entry_id: str) -> str:
    return f"{form_path(form_name)}/{quote(entry_id, safe='')}"


def encode_query(params: dict[str, str]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='(),:')}" for k, v in params.items())
