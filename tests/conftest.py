"""Shared fixtures: a real PostgreSQL database per test (Tortoise's isolated test context)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

# slack_sdk reads these and ignores NO_PROXY; every server in the suite is on loopback.
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
    os.environ.pop(_var, None)


def postgres_url() -> str:
    """Base URL of the test PostgreSQL server; tests fail (never skip) when it is unreachable."""
    return os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")


def fresh_database_url() -> str:
    """A URL whose database name Tortoise replaces with a unique one (`{}` is filled with a uuid)."""
    base, _, _name = postgres_url().rpartition("/")
    return f"{base}/ff_test_{{}}"


@pytest.fixture(scope="session")
def database_url() -> str:
    return fresh_database_url()


@pytest_asyncio.fixture
async def db(database_url: str) -> AsyncIterator[object]:
    """A fresh, migrated-by-schema PostgreSQL database, dropped after the test."""
    from tortoise.context import tortoise_test_context

    from storage.db import MODEL_MODULES

    async with tortoise_test_context(list(MODEL_MODULES), db_url=database_url) as ctx:
        yield ctx
