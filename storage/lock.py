"""Named leases in the ``job_lock`` table, so that N replicas run each scheduled job once.

A lease is held by ``owner`` until ``expires_at``; an expired lease is free for anyone. Every
operation is a single conditional statement (or an insert guarded by the primary key), so it is
portable across PostgreSQL and SQLite and safe when replicas race: of two concurrent
``try_acquire`` calls exactly one returns True.

Pick ``ttl`` longer than the job normally takes and ``renew`` during long jobs; use a unique
``owner`` per process (e.g. host + pid + random suffix). ``leased`` wraps take-run-give-back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from storage import models
from storage.db import resolve_now


def _ttl(ttl: timedelta | float) -> timedelta:
    return ttl if isinstance(ttl, timedelta) else timedelta(seconds=ttl)


async def try_acquire(
    name: str, owner: str, ttl: timedelta | float, *, now: datetime | None = None
) -> bool:
    """Take the lease ``name`` for ``ttl`` if it is free, expired, or already ours (extended)."""
    current = resolve_now(now)
    expires_at = current + _ttl(ttl)
    taken = await models.JobLock.filter(
        Q(name=name) & (Q(expires_at__lte=current) | Q(owner=owner))
    ).update(owner=owner, expires_at=expires_at)
    if taken:
        return True
    try:
        async with in_transaction():  # a savepoint, in case the caller is in a transaction
            await models.JobLock.create(name=name, owner=owner, expires_at=expires_at)
    except IntegrityError:
        return False  # someone else holds it (or just took it)
    return True


async def renew(
    name: str, owner: str, ttl: timedelta | float, *, now: datetime | None = None
) -> bool:
    """Extend our lease; False when it is no longer ours (it expired and was taken)."""
    expires_at = resolve_now(now) + _ttl(ttl)
    renewed = await models.JobLock.filter(name=name, owner=owner).update(expires_at=expires_at)
    return bool(renewed)


async def release(name: str, owner: str) -> bool:
    """Give the lease back; False when it was not ours (any more)."""
    deleted = await models.JobLock.filter(name=name, owner=owner).delete()
    return bool(deleted)


@asynccontextmanager
async def leased(
    name: str, owner: str, ttl: timedelta | float, *, now: datetime | None = None
) -> AsyncIterator[bool]:
    """``async with leased(...) as held:`` runs the body with ``held`` True when the lease was
    taken (it is given back when the body ends, however it ends) and False when another owner
    holds it (the body decides what skipping means; nothing is given back)."""
    held = await try_acquire(name, owner, ttl, now=now)
    try:
        yield held
    finally:
        if held:
            await release(name, owner)


async def holder(name: str, *, now: datetime | None = None) -> str | None:
    """Who holds an unexpired lease on ``name``, if anyone."""
    row = await models.JobLock.get_or_none(name=name, expires_at__gt=resolve_now(now))
    return row.owner if row else None
