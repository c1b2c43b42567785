"""The transactional outbox: side effects (Slack, Jira, PagerDuty, Confluence calls) recorded in the
same transaction as the state change, performed after commit by workers, exactly once per
idempotency key, with retries.

Life of a job: ``enqueue`` (pending) -> ``claim`` (in_progress, leased to one worker until
``locked_until``) -> ``complete`` (done) | ``retry`` (pending again after a delay) | ``fail``
(failed, permanently). A worker that crashes never completes its jobs: once the lease expires they
are claimable again (``attempts`` counts every claim).

Claiming uses ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number of workers and
replicas claim disjoint jobs without waiting on each other. SQLite (single process, embedded default)
has no row locks: there each candidate is taken with a conditional ``UPDATE … WHERE <still
claimable>``, which is atomic and therefore also safe.

``complete``/``retry``/``fail`` are conditional on the job still being leased to the same worker
(``locked_by``); they return False when the lease was lost (the job expired and was claimed again),
in which case the worker must drop its result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from bot.domain.incident import JsonValue
from storage import models
from storage.db import dialect, resolve_now

MAX_ERROR_LENGTH = 4000


class OutboxStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class OutboxJob:
    id: int
    kind: str
    payload: Mapping[str, Any]
    idempotency_key: str
    incident_id: int | None
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    last_error: str | None = None
    locked_by: str | None = None
    locked_until: datetime | None = None
    done_at: datetime | None = None


def _to_job(row: models.OutboxItem) -> OutboxJob:
    return OutboxJob(
        id=row.id,
        kind=row.kind,
        payload=row.payload,
        idempotency_key=row.idempotency_key,
        incident_id=row.incident_id,
        status=OutboxStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        last_error=row.last_error,
        locked_by=row.locked_by,
        locked_until=row.locked_until,
        done_at=row.done_at,
    )


def _seconds(delay: timedelta | float) -> timedelta:
    return delay if isinstance(delay, timedelta) else timedelta(seconds=delay)


async def enqueue(
    kind: str,
    payload: Mapping[str, JsonValue],
    *,
    idempotency_key: str,
    incident_id: int | None = None,
    not_before: datetime | None = None,
    now: datetime | None = None,
) -> OutboxJob:
    """Record a side effect to perform (inside the caller's transaction, if any).

    A second enqueue with the same ``idempotency_key`` (whatever its state) changes nothing and
    returns the existing job. ``not_before`` delays the first attempt.
    """
    existing = await models.OutboxItem.get_or_none(idempotency_key=idempotency_key)
    if existing is not None:
        return _to_job(existing)
    created = resolve_now(now)
    try:
        async with in_transaction():  # a savepoint: a duplicate must not abort the caller's txn
            row = await models.OutboxItem.create(
                kind=kind,
                payload=dict(payload),
                idempotency_key=idempotency_key,
                incident_id=incident_id,
                status=OutboxStatus.PENDING.value,
                attempts=0,
                next_attempt_at=resolve_now(not_before) if not_before else created,
                created_at=created,
            )
    except IntegrityError:
        raced = await models.OutboxItem.get_or_none(idempotency_key=idempotency_key)
        if raced is None:  # not a duplicate key: e.g. the incident does not exist
            raise
        return _to_job(raced)
    return _to_job(row)


def _claimable(now: datetime) -> Q:
    return Q(status=OutboxStatus.PENDING.value, next_attempt_at__lte=now) | Q(
        status=OutboxStatus.IN_PROGRESS.value, locked_until__lte=now
    )


async def claim(
    worker_id: str,
    limit: int = 10,
    lease_seconds: float = 60.0,
    *,
    now: datetime | None = None,
) -> list[OutboxJob]:
    """Lease up to ``limit`` due jobs (oldest due first) to ``worker_id`` for ``lease_seconds``.

    Due: pending with ``next_attempt_at <= now``, or in progress with an expired lease.
    """
    current = resolve_now(now)
    leased: dict[str, Any] = {
        "status": OutboxStatus.IN_PROGRESS.value,
        "locked_by": worker_id,
        "locked_until": current + timedelta(seconds=lease_seconds),
        "attempts": F("attempts") + 1,
    }
    due = models.OutboxItem.filter(_claimable(current)).order_by("next_attempt_at", "id")
    if dialect() == "postgres":
        async with in_transaction():
            rows = await due.limit(limit).select_for_update(skip_locked=True)
            ids = [row.id for row in rows]
            if ids:
                await models.OutboxItem.filter(id__in=ids).update(**leased)
    else:
        ids = []
        for row in await due.limit(limit):
            taken = await models.OutboxItem.filter(_claimable(current), id=row.id).update(**leased)
            if taken:
                ids.append(row.id)
    if not ids:
        return []
    claimed = await models.OutboxItem.filter(id__in=ids).order_by("next_attempt_at", "id")
    return [_to_job(row) for row in claimed]


async def _finish(job: OutboxJob, **changes: Any) -> bool:
    updated = await models.OutboxItem.filter(
        id=job.id, status=OutboxStatus.IN_PROGRESS.value, locked_by=job.locked_by
    ).update(**changes)
    return bool(updated)


async def complete(job: OutboxJob, *, now: datetime | None = None) -> bool:
    """The side effect was performed. False when the lease was lost meanwhile."""
    return await _finish(
        job,
        status=OutboxStatus.DONE.value,
        done_at=resolve_now(now),
        locked_by=None,
        locked_until=None,
    )


async def retry(
    job: OutboxJob, error: str, delay: timedelta | float, *, now: datetime | None = None
) -> bool:
    """A transient failure: try again after ``delay`` (e.g. a 429's ``Retry-After``)."""
    return await _finish(
        job,
        status=OutboxStatus.PENDING.value,
        next_attempt_at=resolve_now(now) + _seconds(delay),
        last_error=error[:MAX_ERROR_LENGTH],
        locked_by=None,
        locked_until=None,
    )


async def postpone(
    job: OutboxJob, delay: timedelta | float, *, now: datetime | None = None
) -> bool:
    """Hand the job back untried (e.g. its incident is busy on another worker): pending again
    after ``delay``, and the claim does not count as an attempt."""
    return await _finish(
        job,
        status=OutboxStatus.PENDING.value,
        next_attempt_at=resolve_now(now) + _seconds(delay),
        attempts=F("attempts") - 1,
        locked_by=None,
        locked_until=None,
    )


async def fail(job: OutboxJob, error: str, *, now: datetime | None = None) -> bool:
    """A permanent failure: the job is never tried again (the caller reports it)."""
    return await _finish(
        job,
        status=OutboxStatus.FAILED.value,
        done_at=resolve_now(now),
        last_error=error[:MAX_ERROR_LENGTH],
        locked_by=None,
        locked_until=None,
    )


async def get(job_id: int) -> OutboxJob | None:
    row = await models.OutboxItem.get_or_none(id=job_id)
    return _to_job(row) if row else None


async def get_by_key(idempotency_key: str) -> OutboxJob | None:
    row = await models.OutboxItem.get_or_none(idempotency_key=idempotency_key)
    return _to_job(row) if row else None


async def next_due_at() -> datetime | None:
    """When the earliest pending job becomes due (for a worker to sleep until then)."""
    row = (
        await models.OutboxItem.filter(status=OutboxStatus.PENDING.value)
        .order_by("next_attempt_at")
        .first()
    )
    return row.next_attempt_at if row else None


async def count_by_status() -> dict[OutboxStatus, int]:
    """Jobs per status (every status present), for metrics and the health view."""
    counts = dict.fromkeys(OutboxStatus, 0)
    for status in OutboxStatus:
        counts[status] = await models.OutboxItem.filter(status=status.value).count()
    return counts
