"""Counting SQL statements (benchmarks and one test): every statement Tortoise sends to PostgreSQL
goes through one of the asyncpg client's ``execute_*`` methods, which are wrapped while counting."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_METHODS = (
    "execute_query",
    "execute_query_dict",
    "execute_insert",
    "execute_many",
    "execute_script",
)


@contextmanager
def counting_queries() -> Iterator[list[str]]:
    """Within the block, the SQL of every statement sent (the list grows as they are sent)."""
    from tortoise.backends.asyncpg.client import AsyncpgDBClient

    sent: list[str] = []
    own = {name for name in _METHODS if name in AsyncpgDBClient.__dict__}
    originals = {name: getattr(AsyncpgDBClient, name) for name in _METHODS}

    def wrap(original: Any) -> Any:
        def counted(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
            sent.append(query)
            return original(self, query, *args, **kwargs)

        return counted

    for name, original in originals.items():
        setattr(AsyncpgDBClient, name, wrap(original))
    try:
        yield sent
    finally:
        for name, original in originals.items():
            if name in own:
                setattr(AsyncpgDBClient, name, original)
            else:
                delattr(AsyncpgDBClient, name)
