"""A small, safe filter language mapped onto whitelisted SQLAlchemy columns.

Users type filters such as ``g2_zero < 0.2 and lifetime_ns between 10 and 20``
or ``sample in ('A', "B") and not flag = true``; :func:`parse_filter` turns the
text into a SQLAlchemy boolean expression over the columns the caller allows.

Grammar (keywords case-insensitive)::

    expr       := or_expr
    or_expr    := and_expr ('or' and_expr)*
    and_expr   := not_expr ('and' not_expr)*
    not_expr   := 'not' not_expr | atom
    atom       := '(' expr ')' | comparison
    comparison := FIELD OP value
                | FIELD 'between' value 'and' value
                | FIELD 'in' '(' value (',' value)* ')'
                | FIELD 'is' ['not'] 'null'
                | FIELD ('like' | 'ilike') STRING
    OP         := '<' | '<=' | '>' | '>=' | '=' | '==' | '!=' | '<>'
    value      := NUMBER | STRING | 'true' | 'false'

NUMBER is an optionally signed integer or decimal with an optional exponent
(``2e-14``); STRING is single- or double-quoted, a backslash escapes the quote
character or a backslash. Every comparison has a whitelisted field on the left
and a literal on the right; literals always travel as bound parameters, and no
SQL text is ever assembled from the input. Comparisons follow SQL: one with a
missing (NULL) value is never true, so test for it with ``is null``. Whether
``like`` is case-sensitive depends on the database (SQLite: not for ASCII);
``ilike`` never is.

Why a hand-written tokenizer and recursive-descent parser: no dependency gives
a whitelisted, SQL-free expression language mapped to SQLAlchemy columns, and
Python's ``ast`` would accept far more syntax (calls, attributes, arithmetic,
comprehensions) than we want to reason about. The whole language is the
grammar above, so everything else is rejected by construction.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement

from qdcat.errors import InvalidValueError

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "MAX_TOKENS", "FilterError", "field_names", "parse_filter"]

MAX_LENGTH = 2000
"""Longest filter text accepted, in characters."""
MAX_TOKENS = 200
"""Most tokens (fields, keywords, values, operators, parentheses, commas) accepted."""
MAX_DEPTH = 50
"""Deepest nesting of parentheses and ``not`` accepted."""

_KEYWORDS = frozenset({"and", "or", "not", "between", "in", "is", "null", "like", "ilike", "true", "false"})
_OPERATORS = ("<=", ">=", "==", "!=", "<>", "<", ">", "=")  # longest first
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_INT64 = 2**63
_SNIPPET = 60  # characters of context either side of the caret in long filters


class FilterError(InvalidValueError):
    """A filter expression is malformed, too long or names a field that does not exist.

    ``position`` is the 1-based character position of the problem, when there is one.
    """

    def __init__(self, message: str, *, position: int | None = None) -> None:
        self.position = position
        super().__init__(message)


def field_names(fields: Mapping[str, Any]) -> list[str]:
    """The names a filter over ``fields`` may use, sorted."""
    return sorted(fields)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "ident", "number", "string", "op", "(", ")", ",", "end"
    text: str  # as written
    value: Any  # the Python value of a number or string; the operator of an "op"
    pos: int  # 0-based index into the filter text

    @property
    def keyword(self) -> str | None:
        if self.kind == "ident" and self.text.lower() in _KEYWORDS:
            return self.text.lower()
        return None

    def describe(self) -> str:
        if self.kind == "end":
            return "end of filter"
        text = self.text if len(self.text) <= 30 else self.text[:27] + "..."
        if self.kind == "string":
            return f"text {text}"
        if self.keyword:
            return f"keyword '{text}'"
        return repr(text)


def _locate(text: str, pos: int, message: str) -> FilterError:
    """A FilterError for ``message`` at 0-based ``pos`` with the filter and a caret under the spot."""
    shown = "".join(ch if ch.isprintable() else " " for ch in text)  # one column per character
    start = 0
    if len(shown) > 2 * _SNIPPET:
        start = max(0, pos - _SNIPPET)
        end = min(len(shown), pos + _SNIPPET)
        prefix = "..." if start > 0 else ""
        suffix = "..." if end < len(shown) else ""
        shown = prefix + shown[start:end] + suffix
        start -= len(prefix)
    caret = " " * (pos - start) + "^"
    return FilterError(f"{message}\n  {shown}\n  {caret}", position=pos + 1)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if len(tokens) >= MAX_TOKENS:
            raise _locate(
                text,
                i,
                f"the filter has more than {MAX_TOKENS} tokens (position {i + 1}); "
                "simplify it, e.g. use 'in (...)' instead of many 'or' clauses",
            )
        if ch in "(),":
            tokens.append(_Token(ch, ch, ch, i))
            i += 1
            continue
        op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
        if op is not None:
            tokens.append(_Token("op", op, op, i))
            i += len(op)
            continue
        if ch in "'\"":
            tokens.append(_read_string(text, i))
            i += len(tokens[-1].text)
            continue
        number = _NUMBER.match(text, i)
        if number is not None:
            end = number.end()
            if end < n and (text[end].isalnum() or text[end] in "_."):
                raise _locate(
                    text,
                    i,
                    f"malformed number {text[i : end + 1]!r} at position {i + 1}; "
                    "write numbers like 12, -0.5 or 2e-14",
                )
            tokens.append(_Token("number", number.group(), _number_value(text, i, number.group()), i))
            i = end
            continue
        ident = _IDENT.match(text, i)
        if ident is not None:
            tokens.append(_Token("ident", ident.group(), ident.group(), i))
            i = ident.end()
            continue
        raise _locate(
            text,
            i,
            f"unexpected {ch!r} at position {i + 1}; a filter is comparisons such as "
            "g2_zero < 0.5 joined by and / or / not — no ';', comments, '*' or other SQL",
        )
    tokens.append(_Token("end", "", None, n))
    return tokens


def _read_string(text: str, start: int) -> _Token:
    quote = text[start]
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in (quote, "\\"):
            chars.append(text[i + 1])
            i += 2
            continue
        if ch == quote:
            return _Token("string", text[start : i + 1], "".join(chars), start)
        chars.append(ch)
        i += 1
    raise _locate(
        text,
        start,
        f"unterminated text starting at position {start + 1}; close it with {quote} "
        f"(write \\{quote} for a {quote} inside the text)",
    )


def _number_value(text: str, pos: int, literal: str) -> int | float:
    value: int | float
    if re.fullmatch(r"[+-]?\d+", literal):
        value = int(literal)
        if -_INT64 <= value < _INT64:
            return value
    else:
        value = float(literal)
        if math.isfinite(value):
            return value
    raise _locate(text, pos, f"number {literal} at position {pos + 1} is out of range; use a smaller number")


class _Parser:
    def __init__(self, text: str, tokens: list[_Token], fields: Mapping[str, Any]) -> None:
        self.text = text
        self.tokens = tokens
        self.fields = fields
        self.i = 0
        self.depth = 0
        self.field_name = "the field"  # as the user named it, for messages

    # -- token helpers -----------------------------------------------------

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def advance(self) -> _Token:
        tok = self.tokens[self.i]
        if tok.kind != "end":
            self.i += 1
        return tok

    def accept_keyword(self, word: str) -> bool:
        if self.peek().keyword == word:
            self.advance()
            return True
        return False

    def error(self, tok: _Token, expected: str) -> FilterError:
        return _locate(
            self.text, tok.pos, f"unexpected {tok.describe()} at position {tok.pos + 1}; {expected}"
        )

    def expect(self, kind: str, expected: str) -> _Token:
        tok = self.advance()
        if tok.kind != kind:
            raise self.error(tok, expected)
        return tok

    def expect_keyword(self, word: str, expected: str) -> None:
        tok = self.advance()
        if tok.keyword != word:
            raise self.error(tok, expected)

    def nest(self, tok: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _locate(
                self.text,
                tok.pos,
                f"the filter nests parentheses and 'not' more than {MAX_DEPTH} deep "
                f"(at position {tok.pos + 1}); simplify it",
            )

    # -- grammar -----------------------------------------------------------

    def parse(self) -> ColumnElement[bool]:
        if self.peek().kind == "end":
            raise FilterError("the filter is empty; write a condition such as: g2_zero < 0.5")
        expr = self.or_expr()
        tok = self.peek()
        if tok.kind != "end":
            hint = "expected 'and', 'or' or the end of the filter"
            if tok.kind == ")":
                hint += " (this ')' has no matching '(')"
            raise self.error(tok, hint)
        return expr

    def or_expr(self) -> ColumnElement[bool]:
        parts = [self.and_expr()]
        while self.accept_keyword("or"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else sa.or_(*parts)

    def and_expr(self) -> ColumnElement[bool]:
        parts = [self.not_expr()]
        while self.accept_keyword("and"):
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else sa.and_(*parts)

    def not_expr(self) -> ColumnElement[bool]:
        tok = self.peek()
        if tok.keyword == "not":
            self.advance()
            self.nest(tok)
            inner = self.not_expr()
            self.depth -= 1
            return sa.not_(inner)
        return self.atom()

    def atom(self) -> ColumnElement[bool]:
        tok = self.peek()
        if tok.kind == "(":
            self.advance()
            self.nest(tok)
            expr = self.or_expr()
            closing = self.advance()
            if closing.kind != ")":
                raise self.error(
                    closing, f"expected 'and', 'or' or ')' to close the '(' at position {tok.pos + 1}"
                )
            self.depth -= 1
            return expr
        return self.comparison()

    def comparison(self) -> ColumnElement[bool]:
        column = self.field()
        tok = self.advance()
        if tok.kind == "op":
            value = self.typed_value(column)
            return _compare(column, tok.value, value)
        word = tok.keyword
        if word == "between":
            low = self.typed_value(column)
            self.expect_keyword("and", "expected 'and' between the two bounds: FIELD between LOW and HIGH")
            high = self.typed_value(column)
            return column.between(low, high)
        if word == "in":
            self.expect("(", "expected '(' after 'in': FIELD in (VALUE, VALUE, ...)")
            values = [self.typed_value(column)]
            while True:
                sep = self.advance()
                if sep.kind == ")":
                    break
                if sep.kind != ",":
                    raise self.error(sep, "expected ',' or ')' in the list after 'in'")
                values.append(self.typed_value(column))
            return column.in_(values)
        if word == "is":
            negate = self.accept_keyword("not")
            self.expect_keyword("null", "expected 'null' after 'is' / 'is not'")
            return column.is_not(None) if negate else column.is_(None)
        if word in ("like", "ilike"):
            pattern = self.advance()
            if pattern.kind != "string":
                raise self.error(pattern, f"expected a quoted pattern after '{word}', e.g. 'd1%'")
            kind = _kind_of(column)
            if kind is not None and kind != "text":
                raise _locate(
                    self.text,
                    tok.pos,
                    f"'{word}' at position {tok.pos + 1} matches text, but {self.field_name} is "
                    f"{_KIND_WORDS[kind]}; compare it with < > = or 'between'",
                )
            op = column.like if word == "like" else column.ilike
            return op(sa.literal(pattern.value))
        raise self.error(
            tok,
            "expected a comparison after the field: one of < <= > >= = == != <>, "
            "'between', 'in', 'is [not] null', 'like' or 'ilike'",
        )

    def field(self) -> Any:
        tok = self.advance()
        if tok.kind != "ident" or tok.keyword is not None:
            hint = "expected a field name"
            if tok.kind in ("number", "string") or tok.keyword in ("true", "false"):
                hint += (
                    " (a comparison has a field on the left, e.g. g2_zero < 0.5; bare values are not allowed)"
                )
            raise self.error(tok, hint)
        name = tok.text
        if name in self.fields:
            self.field_name = name
            return _as_column(name, self.fields[name])
        folded = [f for f in self.fields if f.lower() == name.lower()]
        if len(folded) == 1:
            self.field_name = folded[0]
            return _as_column(folded[0], self.fields[folded[0]])
        raise _unknown_field(self.text, tok, self.fields)

    def typed_value(self, column: Any) -> Any:
        """The next literal, checked against the column's type and bound with it.

        Checked here, before any SQL is built, so that SQLite (which compares anything
        with anything) and PostgreSQL (which refuses ``text = integer``) give the same
        verdict with the same message.
        """
        tok = self.peek()
        value = self.value()
        kind = _kind_of(column)
        name = self.field_name
        if kind is None:
            return sa.literal(value)
        ok = {
            "number": isinstance(value, int | float) and not isinstance(value, bool),
            "text": isinstance(value, str),
            "boolean": isinstance(value, bool),
            "time": isinstance(value, str),
        }[kind]
        if not ok:
            hint = {
                "number": "write a number such as 0.5 (without quotes)",
                "text": f"quote it: {name} = '{tok.text}'",
                "boolean": f"write {name} = true or {name} = false",
                "time": "write a date as '2024-05-31' or a time as '2024-05-31 14:00'",
            }[kind]
            raise _locate(
                self.text,
                tok.pos,
                f"{name} is {_KIND_WORDS[kind]} but {tok.describe()} "
                f"at position {tok.pos + 1} is not; {hint}",
            )
        if kind == "time" and isinstance(value, str):
            value = _parse_time(self.text, tok, name, value)
        return sa.literal(value, column.type)

    def value(self) -> int | float | str | bool:
        tok = self.advance()
        if tok.kind in ("number", "string"):
            return tok.value
        if tok.keyword in ("true", "false"):
            return tok.keyword == "true"
        if tok.keyword == "null":
            raise self.error(tok, "test for missing values with 'FIELD is null' or 'FIELD is not null'")
        hint = "expected a value: a number, quoted text, true or false"
        if tok.kind == "ident" and tok.keyword is None:
            hint += " (quote text values; comparing two fields is not supported)"
        raise self.error(tok, hint)


_KIND_WORDS = {"number": "a number", "text": "text", "boolean": "true/false", "time": "a date/time"}


def _kind_of(column: Any) -> str | None:
    """What literals a column takes: number, text, boolean, time — None when unknown."""
    t = getattr(column, "type", None)
    if isinstance(t, sa.types.TypeDecorator):
        t = t.impl_instance
    if isinstance(t, sa.Boolean):
        return "boolean"
    if isinstance(t, sa.Integer | sa.Float | sa.Numeric):
        return "number"
    if isinstance(t, sa.DateTime | sa.Date):
        return "time"
    if isinstance(t, sa.String):  # Text and Enum are Strings
        return "text"
    return None


def _parse_time(text: str, tok: _Token, name: str, value: str) -> Any:
    import datetime as dt

    try:
        when = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise _locate(
            text,
            tok.pos,
            f"{name} is a date/time but {tok.describe()} at position {tok.pos + 1} is not one; "
            "write it as '2024-05-31' or '2024-05-31 14:00' (UTC unless it names its offset)",
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when


def _as_column(name: str, column: Any) -> Any:
    if hasattr(column, "__clause_element__"):  # ORM attributes such as Measurement.g2_zero
        return column
    if not isinstance(column, ColumnElement):
        raise InvalidValueError(
            f"filter field {name!r} maps to {type(column).__name__}, not a SQLAlchemy column; "
            "pass columns (table.c.x or Model.x) as the field values"
        )
    return column


def _unknown_field(text: str, tok: _Token, fields: Mapping[str, Any]) -> FilterError:
    names = field_names(fields)
    lowered = {n.lower(): n for n in names}
    close = [lowered[m] for m in difflib.get_close_matches(tok.text.lower(), list(lowered), n=3, cutoff=0.6)]
    message = f"unknown field {tok.text!r} at position {tok.pos + 1}"
    valid = ", ".join(names) if names else "(none)"
    if close:
        message += "; did you mean " + " or ".join(repr(c) for c in close) + f"? Valid fields: {valid}"
    else:
        message += f"; use one of the valid fields: {valid}"
    return _locate(text, tok.pos, message)


def _compare(column: Any, op: str, bound: Any) -> ColumnElement[bool]:
    if op in ("=", "=="):
        return column == bound
    if op in ("!=", "<>"):
        return column != bound
    if op == "<":
        return column < bound
    if op == "<=":
        return column <= bound
    if op == ">":
        return column > bound
    return column >= bound


def parse_filter(text: str, fields: Mapping[str, ColumnElement[Any]]) -> ColumnElement[bool]:
    """Parse a filter into a SQLAlchemy boolean expression over the whitelisted ``fields``.

    ``fields`` maps the names users may type to columns (``table.c.x``, ORM
    attributes or labelled expressions). Literal values become bound parameters;
    the input never becomes SQL text. See the module docstring for the grammar.

    Raises:
        FilterError: the text is empty, longer than :data:`MAX_LENGTH` characters,
            has more than :data:`MAX_TOKENS` tokens, is malformed (the message gives
            the 1-based position and a caret line) or names an unknown field (the
            message suggests close names and lists the valid ones).
    """
    if not isinstance(text, str):
        raise FilterError(f"a filter must be text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise FilterError(
            f"the filter is {len(text)} characters long, more than the {MAX_LENGTH} allowed; simplify it"
        )
    return _Parser(text, _tokenize(text), fields).parse()
