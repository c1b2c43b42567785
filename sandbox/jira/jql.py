"""The JQL subset the bot needs (INTEGRATION_NOTES §4.1 and §4.2), parsed for real; anything else is a 400.

Supported: `key in (A-1, "A-2")`, `key = A-1`, `project = X` / `project in (X, Y)`,
`labels = "x"` / `labels in ("a", "b")` (an issue matches when it carries any of them),
`updated >= "yyyy-MM-dd HH:mm"` (also `>`, `<=`, `<`, `=`; `yyyy/MM/dd [HH:mm]` too), joined by `AND`,
then `ORDER BY updated|created|key [ASC|DESC], ...`. Date literals have minute granularity and are read
in UTC (the bot's profile time zone is pinned to UTC, §4.2); the issues' `updated` keeps milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(?P<op>>=|<=|!=|[=<>(),])'
    r"|(?P<word>[A-Za-z0-9_.\-/:]+))"
)
_DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d")
_SORTABLE = {"updated", "created", "key"}


class JqlError(ValueError):
    """The query is outside the supported subset or malformed: Jira answers 400 with the message."""


@dataclass
class Query:
    """A parsed query: predicates over an issue view, and the sort order."""

    predicates: list[Callable[[dict[str, Any]], bool]] = field(default_factory=list)
    order_by: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)

    @property
    def bounded(self) -> bool:
        """Cloud's `/search/jql` refuses queries without a restriction (§4.1)."""
        return bool(self.predicates)

    def matches(self, issue: dict[str, Any]) -> bool:
        return all(predicate(issue) for predicate in self.predicates)


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise JqlError(f"Error in the JQL Query: unexpected character at position {pos}.")
        out.append(match.group(match.lastgroup or "word"))
        pos = match.end()
    return out


def _literal(token: str) -> str:
    if token[:1] in {'"', "'"}:
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    return token


def parse_date(value: str) -> datetime:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise JqlError(
        f"Date value '{value}' for field 'updated' is invalid. Valid formats include: "
        "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd'."
    )


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "=": lambda a, b: a == b,
}


def parse(text: str) -> Query:
    tokens = _tokens(text)
    query = Query()
    i = 0

    def peek(offset: int = 0) -> str | None:
        return tokens[i + offset] if i + offset < len(tokens) else None

    def is_word(token: str | None, word: str) -> bool:
        return token is not None and token.lower() == word

    while i < len(tokens) and not is_word(peek(), "order"):
        name = peek()
        op = peek(1)
        if name is None or op is None:
            raise JqlError("Error in the JQL Query: the query is incomplete.")
        name_l = name.lower()
        i += 2
        if op.lower() == "in":
            if peek() != "(":
                raise JqlError("Error in the JQL Query: expecting '(' after 'in'.")
            i += 1
            values: list[str] = []
            while peek() not in (")", None):
                token = peek()
                assert token is not None
                if token != ",":
                    values.append(_literal(token))
                i += 1
            if peek() != ")":
                raise JqlError("Error in the JQL Query: expecting ')'.")
            i += 1
            query.predicates.append(_membership(name_l, values))
        elif op == "=" and name_l in {"key", "issuekey", "project", "labels"}:
            value = peek()
            if value is None:
                raise JqlError("Error in the JQL Query: expecting a value.")
            i += 1
            query.predicates.append(_membership(name_l, [_literal(value)]))
        elif op in _COMPARE and name_l == "updated":
            value = peek()
            if value is None or value[:1] not in {'"', "'"}:
                raise JqlError(
                    "Error in the JQL Query: the sandbox only supports quoted date literals "
                    "for 'updated' (unquoted numbers are epoch milliseconds)."
                )
            i += 1
            bound = parse_date(_literal(value))
            # The literal is a whole minute; the issue's `updated` keeps its milliseconds.
            query.predicates.append(_compare_updated(_COMPARE[op], bound))
        else:
            raise JqlError(f"Error in the JQL Query: '{name} {op}' is not supported here.")
        if peek() is None or is_word(peek(), "order"):
            break
        if not is_word(peek(), "and"):
            raise JqlError(f"Error in the JQL Query: expecting 'AND' but got '{peek()}'.")
        i += 1
    if is_word(peek(), "order"):
        if not is_word(peek(1), "by"):
            raise JqlError("Error in the JQL Query: expecting 'by' after 'order'.")
        i += 2
        while i < len(tokens):
            name = (peek() or "").lower()
            if name not in _SORTABLE:
                raise JqlError(f"Error in the JQL Query: cannot order by '{peek()}' here.")
            i += 1
            descending = False
            if is_word(peek(), "desc") or is_word(peek(), "asc"):
                descending = is_word(peek(), "desc")
                i += 1
            query.order_by.append((name, descending))
            if peek() == ",":
                i += 1
    return query


def _membership(name: str, values: list[str]) -> Callable[[dict[str, Any]], bool]:
    if name in {"key", "issuekey"}:
        wanted = {v.upper() for v in values}
        return lambda issue: str(issue["key"]).upper() in wanted or str(issue["id"]) in wanted
    if name == "project":
        wanted = {v.upper() for v in values}
        return lambda issue: (
            str(issue["project_key"]).upper() in wanted or str(issue["project_id"]) in wanted
        )
    if name == "labels":
        wanted = {v.lower() for v in values}
        return lambda issue: any(label.lower() in wanted for label in issue["labels"])
    raise JqlError(f"Error in the JQL Query: field '{name}' is not supported with 'in'.")


def _compare_updated(
    compare: Callable[[Any, Any], bool], bound: datetime
) -> Callable[[dict[str, Any]], bool]:
    return lambda issue: compare(issue["updated"], bound)
