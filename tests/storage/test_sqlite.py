"""The embedded default (SQLite, one process) runs the same storage code as PostgreSQL.

SQLite on purpose: it is the zero-setup database of `firefighter demo` and small installs, and it
takes the other branch of the outbox claim (no row locks there).
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from bot.domain.incident import Actor, Status, TimelineKind
from storage import db, idempotency, lock, outbox
from storage.errors import ConcurrentUpdate
from storage.repository import IncidentRepository, TimelineRepository
from tests.domain.test_incident import new_incident
from tests.storage.conftest import T0


async def test_the_storage_works_on_a_migrated_sqlite_file(empty_sqlite_url: str) -> None:
    await db.apply_migrations(empty_sqlite_url)
    async with db.database(empty_sqlite_url):
        assert db.dialect() == "sqlite"
        incidents = IncidentRepository()
        incident = await incidents.create(new_incident(dedup_key="k"))
        assert await incidents.get(incident.id) == incident
        saved = await incidents.update(
            dataclasses.replace(incident, status=Status.CLOSED), expected_version=1
        )
        assert (await incidents.require(incident.id)).milestones == saved.milestones
        with pytest.raises(ConcurrentUpdate):
            await incidents.update(incident, expected_version=1)

        entry = await TimelineRepository().append(
            incident.id, TimelineKind.NOTE, actor=Actor.user("U1"), happened_at=T0, text="hi"
        )
        assert await TimelineRepository().list(incident.id) == [entry]

        for n in range(3):
            await outbox.enqueue("slack.post", {"n": n}, idempotency_key=f"j{n}", now=T0)
        first = await outbox.claim("w1", limit=2, lease_seconds=10, now=T0)
        rest = await outbox.claim("w2", limit=10, now=T0)
        assert len(first) == 2
        assert len(rest) == 1
        [expired] = await outbox.claim("w3", limit=1, now=T0 + timedelta(seconds=10))
        assert expired.id == first[0].id
        assert await outbox.complete(expired)

        assert await lock.try_acquire("job", "a", 60, now=T0)
        assert not await lock.try_acquire("job", "b", 60, now=T0)
        assert await idempotency.remember("ev", now=T0)
        assert not await idempotency.remember("ev", now=T0)
