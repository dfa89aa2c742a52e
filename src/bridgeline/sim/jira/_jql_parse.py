"""JQL, read properly: a tokenizer and a small recursive-descent parser.

Grammar (the subset bridgeline and its peers send)::

    query    := [or_expr] [ORDER BY sort ("," sort)*]
    or_expr  := and_expr (OR and_expr)*
    and_expr := not_expr (AND not_expr)*
    not_expr := NOT not_expr | "(" or_expr ")" | clause
    clause   := field operator operand
    operator := = != > >= < <= ~ !~ | IN | NOT IN | IS | IS NOT
    operand  := value | "quoted value" | function() | "(" operand ("," operand)* ")" | EMPTY | NULL

Syntax errors carry Jira's own wording, e.g. ``Error in the JQL Query: Expecting ')' before the
end of the query.``
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bridgeline.sim.jira._errors import JiraError

OPERATORS_TEXT = (
    "The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'."
)
_SYMBOL_OPS = ("!=", ">=", "<=", "!~", "=", ">", "<", "~")
_STOP = set(" \t\r\n\"'(),=!<>~&|")


@dataclass(frozen=True)
class Token:
    kind: str  # word | quoted | op | lparen | rparen | comma | and | or | not | eof
    text: str
    pos: int  # 0-based offset in the query


@dataclass(frozen=True)
class Operand:
    kind: str  # value | function | empty | list
    text: str = ""
    quoted: bool = False
    args: tuple[str, ...] = ()
    items: tuple[Operand, ...] = ()


@dataclass(frozen=True)
class Clause:
    field: str
    op: str  # = != > >= < <= ~ !~ in "not in" is "is not"
    operand: Operand
    pos: int


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


Node = Clause | And | Or | Not


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool
    pos: int


@dataclass
class Query:
    where: Node | None
    order_by: list[SortKey] = field(default_factory=list)
    text: str = ""


def _where(source: str, pos: int) -> str:
    line = source.count("\n", 0, pos) + 1
    column = pos - (source.rfind("\n", 0, pos) + 1) + 1
    return f"(line {line}, character {column})"


def syntax_error(message: str) -> JiraError:
    return JiraError(400, f"Error in the JQL Query: {message}")


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    n = len(source)
    while i < n:
        ch = source[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "\"'":
            quote, start = ch, i
            i += 1
            chars: list[str] = []
            while i < n and source[i] != quote:
                if source[i] == "\\" and i + 1 < n:
                    nxt = source[i + 1]
                    chars.append({"n": "\n", "t": "\t", "r": "\r"}.get(nxt, nxt))
                    i += 2
                    continue
                chars.append(source[i])
                i += 1
            if i >= n:
                shown = "".join(chars)
                raise syntax_error(
                    f"The quoted string '{shown}' has not been completed. {_where(source, start)}"
                )
            tokens.append(Token("quoted", "".join(chars), start))
            i += 1
            continue
        if ch == "(":
            tokens.append(Token("lparen", ch, i))
            i += 1
            continue
        if ch == ")":
            tokens.append(Token("rparen", ch, i))
            i += 1
            continue
        if ch == ",":
            tokens.append(Token("comma", ch, i))
            i += 1
            continue
        if source.startswith("&&", i) or source.startswith("||", i):
            tokens.append(Token("and" if ch == "&" else "or", source[i : i + 2], i))
            i += 2
            continue
        if ch in "&|":
            tokens.append(Token("and" if ch == "&" else "or", ch, i))
            i += 1
            continue
        matched = next((op for op in _SYMBOL_OPS if source.startswith(op, i)), None)
        if matched:
            tokens.append(Token("op", matched, i))
            i += len(matched)
            continue
        if ch == "!":
            tokens.append(Token("not", ch, i))
            i += 1
            continue
        start = i
        while i < n and source[i] not in _STOP:
            if source[i] == "\\" and i + 1 < n:
                i += 2
                continue
            i += 1
        word = source[start:i].replace("\\", "")
        lowered = word.lower()
        kind = {"and": "and", "or": "or", "not": "not"}.get(lowered, "word")
        tokens.append(Token(kind, word, start))
    tokens.append(Token("eof", "", n))
    return tokens


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        if token.kind != "eof":
            self.i += 1
        return token

    def is_word(self, *words: str) -> bool:
        return self.tok.kind == "word" and self.tok.text.lower() in words

    def got(self, token: Token | None = None) -> str:
        token = token or self.tok
        return f"but got '{token.text}'. {_where(self.source, token.pos)}"

    def parse(self) -> Query:
        where: Node | None = None
        if self.tok.kind != "eof" and not self._at_order_by():
            where = self.or_expr()
        order: list[SortKey] = []
        if self._at_order_by():
            self.advance()
            if not self.is_word("by"):
                if self.tok.kind == "eof":
                    raise syntax_error("Expecting 'by' before the end of the query.")
                raise syntax_error(f"Expecting 'by' {self.got()}")
            self.advance()
            order.append(self.sort_key())
            while self.tok.kind == "comma":
                self.advance()
                order.append(self.sort_key())
        if self.tok.kind != "eof":
            if where is not None and not order:
                raise syntax_error(f"Expecting either 'OR' or 'AND' {self.got()}")
            raise syntax_error(f"Expecting either ',' or the end of the query {self.got()}")
        return Query(where, order, self.source)

    def _at_order_by(self) -> bool:
        return (
            self.is_word("order")
            and self.tokens[self.i + 1].kind == "word"
            and (self.tokens[self.i + 1].text.lower() == "by")
        )

    def sort_key(self) -> SortKey:
        token = self.tok
        if token.kind not in ("word", "quoted"):
            if token.kind == "eof":
                raise syntax_error("Expecting a field name before the end of the query.")
            raise syntax_error(f"Expecting a field name {self.got()}")
        self.advance()
        descending = False
        if self.is_word("asc", "desc"):
            descending = self.advance().text.lower() == "desc"
        return SortKey(token.text, descending, token.pos)

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while self.tok.kind == "or":
            self.advance()
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> Node:
        children = [self.not_expr()]
        while self.tok.kind == "and":
            self.advance()
            children.append(self.not_expr())
        return children[0] if len(children) == 1 else And(tuple(children))

    def not_expr(self) -> Node:
        if self.tok.kind == "not":
            self.advance()
            return Not(self.not_expr())
        if self.tok.kind == "lparen":
            self.advance()
            inner = self.or_expr()
            if self.tok.kind != "rparen":
                if self.tok.kind == "eof":
                    raise syntax_error("Expecting ')' before the end of the query.")
                raise syntax_error(f"Expecting ')' {self.got()}")
            self.advance()
            return inner
        return self.clause()

    def clause(self) -> Clause:
        token = self.tok
        if token.kind not in ("word", "quoted"):
            if token.kind == "eof":
                raise syntax_error("Expecting a field name before the end of the query.")
            raise syntax_error(f"Expecting a field name {self.got()}")
        self.advance()
        op = self.operator()
        operand = self.operand(op)
        return Clause(token.text, op, operand, token.pos)

    def operator(self) -> str:
        token = self.tok
        if token.kind == "op":
            self.advance()
            return token.text
        if self.is_word("in"):
            self.advance()
            return "in"
        if self.is_word("is"):
            self.advance()
            if self.tok.kind == "not":
                self.advance()
                return "is not"
            return "is"
        following = self.tokens[self.i + 1] if token.kind == "not" else None
        if following is not None and following.kind == "word" and following.text.lower() == "in":
            self.advance()
            self.advance()
            return "not in"
        if token.kind == "eof":
            raise syntax_error(f"Expecting operator before the end of the query. {OPERATORS_TEXT}")
        raise syntax_error(
            f"Expecting operator but got '{token.text}'. {OPERATORS_TEXT} {_where(self.source, token.pos)}"
        )

    def operand(self, op: str) -> Operand:
        token = self.tok
        if op in ("in", "not in"):
            if token.kind != "lparen":
                if token.kind == "word" and self.tokens[self.i + 1].kind == "lparen":
                    return self.single()
                if token.kind == "eof":
                    raise syntax_error("Expecting '(' before the end of the query.")
                raise syntax_error(f"Expecting '(' {self.got()}")
            self.advance()
            items = [self.single()]
            while self.tok.kind == "comma":
                self.advance()
                items.append(self.single())
            if self.tok.kind != "rparen":
                if self.tok.kind == "eof":
                    raise syntax_error("Expecting ')' before the end of the query.")
                raise syntax_error(f"Expecting ')' {self.got()}")
            self.advance()
            return Operand("list", items=tuple(items))
        return self.single()

    def single(self) -> Operand:
        token = self.tok
        if token.kind == "quoted":
            self.advance()
            return Operand("value", token.text, quoted=True)
        if token.kind == "word":
            self.advance()
            if token.text.lower() in ("empty", "null"):
                return Operand("empty", token.text)
            if self.tok.kind == "lparen":
                self.advance()
                args: list[str] = []
                while self.tok.kind not in ("rparen", "eof"):
                    if self.tok.kind in ("word", "quoted"):
                        args.append(self.tok.text)
                    self.advance()
                if self.tok.kind != "rparen":
                    raise syntax_error("Expecting ')' before the end of the query.")
                self.advance()
                return Operand("function", token.text, args=tuple(args))
            return Operand("value", token.text)
        if token.kind == "eof":
            raise syntax_error("Expecting either a value, list or function before the end of the query.")
        raise syntax_error(f"Expecting either a value, list or function {self.got()}")


def parse(source: str) -> Query:
    """Parse a JQL string; raises :class:`JiraError` (400) with Jira's wording when it cannot."""
    return _Parser(source or "").parse()
