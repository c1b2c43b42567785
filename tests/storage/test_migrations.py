"""The committed migrations build the schema on PostgreSQL and SQLite and match the models."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tortoise.context import TortoiseContext
from tortoise.migrations.autodetector import MigrationAutodetector

from storage import db
from storage.repository import IncidentRepository
from tests.domain.test_incident import new_incident

TABLES = {
    "incident",
    "ticket",
    "followup",
    "sync_cursor",
    "timeline_entry",
    "role_assignment",
    "participant",
    "outbox_item",
    "job_lock",
    "idempotency_key",
}


async def _tables() -> set[str]:
    if db.dialect() == "postgres":
        sql = "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    _, rows = await db.connection().execute_query(sql)
    return {row["name"] for row in rows}


MIGRATIONS = sorted(
    path.stem
    for path in (Path(__file__).resolve().parents[2] / "storage" / "migrations").glob("0*.py")
)


async def _migrate_and_check(url: str) -> None:
    assert MIGRATIONS[:5] == [
        "0001_initial",
        "0002_slack_refs",
        "0003_reminders_and_costs",
        "0004_home_closed_at_index",
        "0005_tickets_and_followups",
    ]
    assert await db.pending_migrations(url) == MIGRATIONS
    assert await db.apply_migrations(url) == MIGRATIONS
    assert await db.apply_migrations(url) == []
    assert await db.pending_migrations(url) == []
    async with db.database(url):
        assert await db.ping()
        assert await _tables() >= TABLES
        incident = await IncidentRepository().create(new_incident())
        assert await IncidentRepository().get(incident.id) == incident
    assert not await db.ping()


async def test_migrations_build_the_schema_on_a_fresh_postgresql_database(
    empty_postgres_url: str,
) -> None:
    await _migrate_and_check(empty_postgres_url)


async def test_migrations_build_the_schema_on_a_fresh_sqlite_file(empty_sqlite_url: str) -> None:
    await _migrate_and_check(empty_sqlite_url)


async def test_migrating_leaves_the_open_database_usable(empty_postgres_url: str) -> None:
    async with db.database(empty_postgres_url):
        await db.apply_migrations(empty_postgres_url)
        assert await db.ping()
        incident = await IncidentRepository().create(new_incident())
        assert incident.id == 1


async def test_the_committed_migrations_match_the_models() -> None:
    config = db.tortoise_config("sqlite://:memory:")
    async with TortoiseContext() as ctx:
        await ctx.init(config=config, init_connections=False)
        assert ctx.apps is not None
        writers = await MigrationAutodetector(ctx.apps, config["apps"]).changes()
    changes = [op.describe() for writer in writers for op in writer.operations]
    assert not changes, (
        "the models changed without a migration: run "
        "`.venv/bin/tortoise -c storage.db.TORTOISE_ORM makemigrations` and commit it"
    )


async def test_a_task_started_before_the_database_was_opened_still_reaches_it(
    empty_postgres_url: str,
) -> None:
    await db.apply_migrations(empty_postgres_url)
    opened = asyncio.Event()

    async def early_task() -> bool:
        await opened.wait()
        return await db.ping()

    task = asyncio.create_task(early_task())
    async with db.database(empty_postgres_url):
        opened.set()
        assert await task


async def test_replicas_starting_together_migrate_once(empty_postgres_url: str) -> None:
    """Three replicas started at once on a new database: one applies the migrations while the
    others wait for it (an advisory lock), then find nothing to do; none fails."""
    results = await asyncio.gather(*(db.apply_migrations(empty_postgres_url) for _ in range(3)))
    assert sorted(results, key=len) == [[], [], MIGRATIONS]
    assert await db.pending_migrations(empty_postgres_url) == []
