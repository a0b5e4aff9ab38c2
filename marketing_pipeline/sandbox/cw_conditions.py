"""A parser and evaluator for ConnectWise `conditions` / `childConditions`, for the sandbox.

Grammar: expr := term (OR term)* ; term := factor (AND factor)* ; factor := '(' expr ')' | comparison ;
comparison := field op value ; field := name ('/' name)* ;
op := = != < <= > >= | [not] contains | [not] like | [not] in ;
value := "string" | number | true/false | null | [datetime] | '(' value (',' value)* ')'.
Keywords and field names are case-insensitive; string comparison is case-insensitive (SQL Server).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any


class ConditionError(ValueError):
    """Becomes a 400 with ConnectWise's `{"code": "ApiFindCondition", "message": ...}`."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<datetime>\[[^\]]*\])
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op><=|>=|!=|=|<|>)
      | (?P<paren>[(),])
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE,
)


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ConditionError(f"Unexpected character at position {position}: {text[position : position + 10]!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


@dataclass(frozen=True)
class Comparison:
    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" / "or"
    parts: tuple[Any, ...]


def _literal(kind: str, text: str) -> Any:
    if kind == "string":
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    if kind == "number":
        return float(text) if "." in text else int(text)
    if kind == "datetime":
        try:
            return datetime.strptime(text[1:-1], "%Y-%m-%dT%H:%M:%SZ")
        except ValueError as exc:
            raise ConditionError(f"{text} is not a valid date") from exc
    if kind == "word":
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered == "null":
            return None
    raise ConditionError(f"{text} is not a valid value")


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ConditionError("Unexpected end of condition")
        self.i += 1
        return token

    def is_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "word" and token[1].lower() in words

    def parse(self) -> Any:
        tree = self.expr()
        if self.peek() is not None:
            raise ConditionError(f"Unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return tree

    def expr(self) -> Any:
        parts = [self.term()]
        while self.is_word("or"):
            self.take()
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else BoolOp("or", tuple(parts))

    def term(self) -> Any:
        parts = [self.factor()]
        while self.is_word("and"):
            self.take()
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def factor(self) -> Any:
        token = self.peek()
        if token == ("paren", "("):
            self.take()
            inner = self.expr()
            if self.take() != ("paren", ")"):
                raise ConditionError("Missing )")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        kind, name = self.take()
        if kind != "word":
            raise ConditionError(f"Expected a field name, found {name!r}")
        negate = False
        if self.is_word("not"):
            self.take()
            negate = True
        kind, op = self.take()
        if kind == "op" and not negate:
            return Comparison(name, op, self.value())
        if kind == "word" and op.lower() in ("contains", "like", "in"):
            op = ("not " if negate else "") + op.lower()
            return Comparison(name, op, self.list_value() if op.endswith("in") else self.value())
        raise ConditionError(f"{op!r} is not a valid operator")

    def value(self) -> Any:
        kind, text = self.take()
        return _literal(kind, text)

    def list_value(self) -> tuple[Any, ...]:
        if self.take() != ("paren", "("):
            raise ConditionError("Expected ( after in")
        values = [self.value()]
        while self.peek() == ("paren", ","):
            self.take()
            values.append(self.value())
        if self.take() != ("paren", ")"):
            raise ConditionError("Missing ) after in list")
        return tuple(values)


def parse(text: str) -> Any:
    return _Parser(text).parse()


def fields_in(tree: Any) -> Iterable[str]:
    if isinstance(tree, Comparison):
        yield tree.field
    else:
        for part in tree.parts:
            yield from fields_in(part)


def _fold(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


@lru_cache(maxsize=1024)
def _folded(values: tuple[Any, ...]) -> frozenset[Any]:
    """An `in (...)` list as a set, once per list: contacts x company ids would dominate the benchmarks."""
    return frozenset(_fold(v) for v in values)


def _like(pattern: str) -> re.Pattern[str]:
    regex = "".join(".*" if ch in "%*" else re.escape(ch) for ch in pattern)
    return re.compile(f"^{regex}$", re.IGNORECASE | re.DOTALL)


def compare(actual: Any, op: str, expected: Any) -> bool:
    if op in ("in", "not in"):
        hit = _fold(actual) in _folded(expected)
        return hit if op == "in" else not hit
    if op in ("contains", "not contains"):
        hit = actual is not None and str(expected).lower() in str(actual).lower()
        return hit if op == "contains" else not hit
    if op in ("like", "not like"):
        hit = actual is not None and bool(_like(str(expected)).match(str(actual)))
        return hit if op == "like" else not hit
    if isinstance(expected, datetime) and isinstance(actual, str):
        try:
            actual = datetime.strptime(actual, "%Y-%m-%dT%H:%M:%SZ")
        except ValueError as exc:
            raise ConditionError(f"Cannot compare {actual!r} with a date") from exc
    a, e = _fold(actual), _fold(expected)
    if op == "=":
        return a == e
    if op == "!=":
        return a != e
    if a is None or e is None:
        return False
    try:
        return {"<": a < e, "<=": a <= e, ">": a > e, ">=": a >= e}[op]
    except TypeError as exc:
        raise ConditionError(f"Cannot compare {actual!r} with {expected!r}") from exc


def lookup(record: Any, path: str) -> Any:
    """Follow `a/b/c` through nested objects, case-insensitively."""
    value = record
    for part in path.split("/"):
        if not isinstance(value, dict):
            return None
        key = next((k for k in value if k.lower() == part.lower()), None)
        value = value.get(key) if key is not None else None
    return value


def evaluate(tree: Any, resolve: Callable[[Comparison], bool]) -> bool:
    if isinstance(tree, Comparison):
        return resolve(tree)
    results = (evaluate(part, resolve) for part in tree.parts)
    return all(results) if tree.op == "and" else any(results)


def matcher(
    text: str,
    *,
    scalar_fields: set[str],
    array_fields: set[str],
    child: bool,
    aliases: dict[str, str] | None = None,
) -> Callable[[dict], bool]:
    """A predicate for `conditions` (child=False) or `childConditions` (child=True) on one endpoint.

    Field names are checked up front, as ConnectWise does: an unknown one is a 400. `aliases` name
    condition fields that live elsewhere in the record (lower-cased name -> path, e.g. `lastUpdated` ->
    `_info/lastUpdated`).
    """
    aliases = aliases or {}
    tree = parse(text)
    for name in fields_in(tree):
        lowered = name.lower()
        head = lowered.split("/")[0]
        if child:
            if head not in array_fields or "/" not in lowered:
                raise ConditionError(f"{name} is not a recognized name.")
        elif lowered not in scalar_fields and lowered not in aliases:
            raise ConditionError(f"{name} is not a recognized name.")

    def resolve_scalar(record: dict) -> Callable[[Comparison], bool]:
        return lambda c: compare(lookup(record, aliases.get(c.field.lower(), c.field)), c.op, c.value)

    def resolve_child(record: dict) -> Callable[[Comparison], bool]:
        def check(c: Comparison) -> bool:
            head, rest = c.field.split("/", 1)
            children = lookup(record, head) or []
            return any(compare(lookup(item, rest), c.op, c.value) for item in children)

        return check

    resolver = resolve_child if child else resolve_scalar
    return lambda record: evaluate(tree, resolver(record))
