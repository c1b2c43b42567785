"""Named leases in the ``job_lock`` table, so that N replicas run each scheduled job once.

A lease is held by ``owner`` until ``expires_at``; an expired lease is free for anyone. Every
operation is a single conditional statement (or an insert guarded by the primary key), so it is
portable across PostgreSQL and SQLite and safe when replicas race: of two concurrent
``try_acquire`` calls exactly one returns True.

Pick ``ttl`` longer than the job normally takes; use a unique ``owner`` per process (e.g. host +
pid + random suffix). ``leased`` wraps take-run-give-back, and when given the caller's clock it
also renews the lease while the body runs, so a job that runs longer than ``ttl`` (a slow vendor, a
busy machine) keeps it; a lease lost all the same (the process stalled past ``ttl`` and another
took it) stops the body with ``LeaseLost`` rather than let two replicas run it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from storage import models
from storage.db import resolve_now

log = logging.getLogger("firefighter.lock")


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


class LeaseLost(Exception):
    """The lease ran out while its body ran and another owner took it: the body was stopped."""

    def __init__(self, name: str) -> None:
        super().__init__(f"lease {name!r} was lost while its job ran; the job was stopped")
        self.name = name


@dataclass(slots=True)
class Lease:
    """One ``leased`` block: whether the lease was taken, and while it was held, when (the
    process's wall clock, so that the runs of several processes on one host can be laid side by
    side: the body started after ``started_at`` and ended before ``ended_at``, both inside the
    holding)."""

    name: str
    owner: str
    held: bool
    started_at: datetime | None = None
    """When the lease was taken (wall clock), before the body started."""
    ended_at: datetime | None = None
    """When the body ended (wall clock), before the lease was given back."""
    renewals: int = 0
    lost: bool = False

    def __bool__(self) -> bool:
        return self.held


RENEWALS_PER_TTL = 3
"""A held lease is renewed this many times per ``ttl`` (of the caller's clock) while its body
runs: two renewals may be missed before it runs out."""
FIRST_RENEWAL_LOOK = 0.05
"""Real seconds before the heartbeat first reads the caller's clock, to learn its pace (a test's
accelerated clock runs faster than real time; the system clock at pace 1)."""


@asynccontextmanager
async def leased(
    name: str,
    owner: str,
    ttl: timedelta | float,
    *,
    now: datetime | None = None,
    clock: Callable[[], datetime] | None = None,
) -> AsyncIterator[Lease]:
    """``async with leased(...) as lease:`` runs the body with ``lease`` true when the lease was
    taken (it is given back when the body ends, however it ends) and false when another owner
    holds it (the body decides what skipping means; nothing is given back).

    With ``clock`` (the caller's, which ``now`` then defaults to) the lease is renewed every
    ``ttl / RENEWALS_PER_TTL`` of that clock while the body runs; should a renewal find it taken,
    the body is cancelled and ``LeaseLost`` raised. Without it the lease lasts ``ttl`` at most."""
    if now is None and clock is not None:
        now = clock()
    lease = Lease(name, owner, await try_acquire(name, owner, ttl, now=now))
    if not lease.held:
        yield lease
        return
    lease.started_at = datetime.now(UTC)
    body, keeper, done = asyncio.current_task(), None, asyncio.Event()
    if clock is not None and body is not None:
        keeper = asyncio.create_task(
            _keep(lease, _ttl(ttl), clock, body, done), name=f"lease-{name}"
        )
    try:
        yield lease
    except asyncio.CancelledError:
        if lease.lost and body is not None and body.uncancel() == 0:
            raise LeaseLost(name) from None
        raise
    finally:
        lease.ended_at = datetime.now(UTC)
        if keeper is not None:
            # Told to stop rather than cancelled: a renewal in flight ends first (a query
            # cancelled half-way costs the pool its connection).
            done.set()
            await keeper
        if not lease.lost:
            try:
                await release(name, owner)
            except Exception:
                # A body cancelled inside a transaction (at shutdown) can leave its task unable
                # to query: the lease then runs out by itself, and what ended the body goes on.
                log.warning(
                    "lease not given back; it runs out", extra={"lease": name}, exc_info=True
                )


async def _keep(
    lease: Lease,
    ttl: timedelta,
    clock: Callable[[], datetime],
    body: asyncio.Task[object],
    done: asyncio.Event,
) -> None:
    """Renew ``lease`` every ``ttl / RENEWALS_PER_TTL`` of ``clock`` until ``done``; cancel
    ``body`` when the lease turns out to be someone else's."""
    every = ttl / RENEWALS_PER_TTL
    wait = min(every.total_seconds(), FIRST_RENEWAL_LOOK)
    while True:
        real, clocked = time.monotonic(), clock()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), timeout=wait)
            return
        pace = (clock() - clocked) / max(time.monotonic() - real, 1e-6) / timedelta(seconds=1)
        wait = every.total_seconds() / max(pace, 1e-6)
        try:
            renewed = await renew(lease.name, lease.owner, ttl, now=clock())
        except Exception:  # the database away for a moment: the lease has two more chances
            log.warning("lease renewal failed", extra={"lease": lease.name}, exc_info=True)
            continue
        if not renewed:
            lease.lost = True
            fields = {"lease": lease.name, "owner": lease.owner}
            if done.is_set():  # the job ended while this renewal was on its way: nothing to stop
                log.warning("lease ran out as its job ended: its ttl is too short", extra=fields)
                return
            log.error("lease lost while its job ran; stopping the job", extra=fields)
            body.cancel()
            return
        lease.renewals += 1


async def holder(name: str, *, now: datetime | None = None) -> str | None:
    """Who holds an unexpired lease on ``name``, if anyone."""
    row = await models.JobLock.get_or_none(name=name, expires_at__gt=resolve_now(now))
    return row.owner if row else None
