"""Storage fixtures: repositories, a fixed clock, and throw-away databases for the migration tests
(which need an empty database, not the schema the `db` fixture generates)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from tortoise.backends.base import executor

from storage.repository import (
    IncidentRepository,
    ParticipantRepository,
    RoleRepository,
    TimelineRepository,
)

T0 = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
def incidents() -> IncidentRepository:
    return IncidentRepository()


@pytest.fixture
def timeline() -> TimelineRepository:
    return TimelineRepository()


@pytest.fixture
def roles() -> RoleRepository:
    return RoleRepository()


@pytest.fixture
def participants() -> ParticipantRepository:
    return ParticipantRepository()


def _server_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")


@pytest_asyncio.fixture
async def empty_postgres_url() -> AsyncIterator[str]:
    """A brand-new, empty PostgreSQL database, dropped afterwards."""
    server = _server_url()
    base, _, _ = server.rpartition("/")
    name = f"ff_migrate_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"{base}/{name}"
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def empty_sqlite_url(tmp_path: Path) -> Iterator[str]:
    """A SQLite file that does not exist yet.

    Tortoise 1.1.9 caches each model's INSERT/UPDATE SQL per connection *name*, not per dialect, so
    SQLite statements would leak into the PostgreSQL tests that follow: start and end clean.
    """
    executor.EXECUTOR_CACHE.clear()
    yield f"sqlite://{tmp_path / 'firefighter.sqlite3'}"
    executor.EXECUTOR_CACHE.clear()
