"""AR System qualifications (the ``q`` of a GET list), parsed once into a predicate over entries.

::

    'Infrastructure Change ID' = "CRQ000000000123"
    ('Change Request Status' = "Scheduled" OR 'Change Request Status' >= "Completed")
        AND NOT 'Description' LIKE "%firewall%" AND 'Vendor Ticket Number' != $NULL$

Field names in single quotes (or a field id, ``'1'``), text in double quotes, numbers bare,
``$NULL$``, ``$USER$``, ``$DATE$``/``$TIMESTAMP$`` (now). ``AND OR NOT`` (also ``& | !``),
``= != < > <= >= LIKE`` with ``%`` and ``_``. As in AR System, selection fields compare by their
position in the list of labels (``'Change Request Status' < "Scheduled"``), date-times by time
(a literal may be a date-time text or epoch seconds), and a comparison with a NULL value is false
except ``= $NULL$`` / ``!= $NULL$``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bridgeline.sim.remedy import _errors as err
from bridgeline.sim.remedy._clock import parse_ar
from bridgeline.sim.remedy._forms import Field, Form

Predicate = Callable[[Mapping[str, Any]], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<field>'[^']*')
      | (?P<string>"(?:[^"\\]|\\.|"")*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<keyword>\$[A-Za-z_]+\$)
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<punct>[()&|!])
      | (?P<word>[A-Za-z]+)
    )""",
    re.VERBOSE,
)
_WORDS = {"AND", "OR", "NOT", "LIKE"}
_NULL = object()


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    at: int


@dataclass(frozen=True)
class _Operand:
    """A field of the entry, or a literal already known at parse time."""

    spec: Field | None
    literal: Any = None


def _syntax(detail: str) -> err.ARError:
    return err.ARError(400, err.QUALIFICATION_ERROR, "Error in qualification", detail)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise _syntax(f"unexpected character at position {pos}: {text[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "word":
            if value.upper() not in _WORDS:
                raise _syntax(f"unexpected word {value!r} at position {match.start(kind)}")
            value = value.upper()
        tokens.append(_Token(kind, value, match.start(kind)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str, form: Form, user: str, now: int, case_sensitive: bool) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.form = form
        self.user = user
        self.now = now
        self.case_sensitive = case_sensitive

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise _syntax("the qualification ends too early")
        self.pos += 1
        return token

    def at_word(self, *words: str) -> bool:
        token = self.peek()
        if token is None:
            return False
        symbols = {"AND": "&", "OR": "|", "NOT": "!"}
        return any(token.text == w or (token.kind == "punct" and token.text == symbols.get(w)) for w in words)

    def parse(self) -> Predicate:
        if not self.tokens:
            return lambda values: True
        predicate = self.disjunction()
        if self.peek() is not None:
            token = self.take()
            raise _syntax(f"unexpected {token.text!r} at position {token.at}")
        return predicate

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.at_word("OR"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda values: any(p(values) for p in parts))

    def conjunction(self) -> Predicate:
        parts = [self.negation()]
        while self.at_word("AND"):
            self.take()
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else (lambda values: all(p(values) for p in parts))

    def negation(self) -> Predicate:
        if self.at_word("NOT"):
            self.take()
            inner = self.negation()
            return lambda values: not inner(values)
        token = self.peek()
        if token is not None and token.text == "(":
            self.take()
            inner = self.disjunction()
            closing = self.take()
            if closing.text != ")":
                raise _syntax(f"expected ')' at position {closing.at}")
            return inner
        return self.comparison()

    def operand(self) -> _Operand:
        token = self.take()
        if token.kind == "field":
            name = token.text[1:-1]
            spec = self.form.resolve(name)
            if spec is None:
                raise err.ARError(
                    400,
                    err.QUALIFICATION_ERROR,
                    "Unknown field referenced in query line",
                    f"{self.form.name} : <{name}>",
                )
            return _Operand(spec)
        if token.kind == "string":
            body = token.text[1:-1].replace('""', '"')
            return _Operand(None, re.sub(r"\\(.)", r"\1", body))
        if token.kind == "number":
            return _Operand(None, float(token.text) if "." in token.text else int(token.text))
        if token.kind == "keyword":
            word = token.text.upper()
            if word == "$NULL$":
                return _Operand(None, _NULL)
            if word in ("$DATE$", "$TIMESTAMP$", "$TIME$"):
                return _Operand(None, self.now)
            if word == "$USER$":
                return _Operand(None, self.user)
            raise _syntax(f"unknown keyword {token.text}")
        raise _syntax(f"expected a field, a value or '(' at position {token.at}, found {token.text!r}")

    def comparison(self) -> Predicate:
        left = self.operand()
        token = self.take()
        if token.kind == "op":
            op = "!=" if token.text == "<>" else token.text
        elif token.text == "LIKE":
            op = "LIKE"
        else:
            raise _syntax(f"expected an operator at position {token.at}, found {token.text!r}")
        right = self.operand()
        return self.compile(left, op, right)

    def compile(self, left: _Operand, op: str, right: _Operand) -> Predicate:
        if left.spec is None and right.spec is None:
            raise _syntax("a comparison needs at least one field")
        if left.spec is None:  # literal op field -> field (mirrored op) literal
            mirror = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}
            if op == "LIKE":
                raise _syntax("LIKE needs the field on its left")
            left, right, op = right, left, mirror.get(op, op)
        spec = left.spec
        assert spec is not None
        if right.literal is _NULL and right.spec is None:
            if op == "=":
                return lambda values: values.get(spec.name) is None
            if op == "!=":
                return lambda values: values.get(spec.name) is not None
            return lambda values: False
        left_key = self.keyer(spec)
        if right.spec is not None:
            other = right.spec
            right_key = self.keyer(other)

            def get_right(values: Mapping[str, Any]) -> Any:
                return right_key(values.get(other.name))
        else:
            constant = self.literal_key(spec, right.literal, like=op == "LIKE")

            def get_right(values: Mapping[str, Any]) -> Any:
                return constant

        if op == "LIKE":
            pattern_of = self.like_pattern

            def like(values: Mapping[str, Any]) -> bool:
                value, pattern = values.get(spec.name), get_right(values)
                if value is None or pattern is None:
                    return False
                return pattern_of(str(pattern)).fullmatch(str(left_key(value))) is not None

            return like
        compare = _COMPARE[op]

        def predicate(values: Mapping[str, Any]) -> bool:
            value, target = values.get(spec.name), get_right(values)
            if value is None or target is None:
                return False
            try:
                return compare(left_key(value), target)
            except TypeError:  # two fields of different kinds
                return False

        return predicate

    def keyer(self, spec: Field) -> Callable[[Any], Any]:
        """How a stored value of this field compares: enum by position, text by (folded) text."""
        if spec.kind == "enum":
            order = {label: i for i, label in enumerate(spec.labels)}
            return lambda value: None if value is None else order.get(value, -1)
        if spec.kind == "char" and not self.case_sensitive:
            return lambda value: None if value is None else str(value).lower()
        return lambda value: value

    def literal_key(self, spec: Field, literal: Any, *, like: bool) -> Any:
        if spec.kind == "enum" and not like:
            if isinstance(literal, int):
                return literal
            if literal in spec.labels:
                return spec.labels.index(literal)
            raise err.out_of_limits(spec.name, f"{literal!r} is not one of: {', '.join(spec.labels)}")
        if spec.kind == "datetime":
            try:
                return parse_ar(literal)
            except ValueError:
                raise err.out_of_limits(spec.name, f"{literal!r} is not a date-time") from None
        if spec.kind == "int":
            try:
                return int(literal)
            except (TypeError, ValueError):
                raise err.out_of_limits(spec.name, f"{literal!r} is not an integer") from None
        text = str(literal)
        return text if self.case_sensitive else text.lower()

    def like_pattern(self, pattern: str) -> re.Pattern[str]:
        parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern]
        return re.compile("".join(parts), re.DOTALL if self.case_sensitive else re.DOTALL | re.IGNORECASE)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def compile_qualification(
    text: str, form: Form, *, user: str = "", now: int = 0, case_sensitive: bool = True
) -> Predicate:
    """A predicate over stored entry values; raises :class:`ARError` as AR System would."""
    return _Parser(text, form, user, now, case_sensitive).parse()
