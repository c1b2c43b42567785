"""Idempotency keys: remember that an intent was handled, so a redelivered Slack event (or a
double-clicked button) is not handled twice.

Keys come from the intent (envelope id, view id + callback, ``(incident, service)`` for a page).
Uniqueness is enforced by the primary key of ``idempotency_key``, never in memory, so it holds
across replicas and restarts. Call ``remember`` inside the transaction doing the work: if the work
rolls back, the key is forgotten too and a redelivery is handled again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot.domain.incident import JsonValue
from storage import models
from storage.db import resolve_now

MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Remembered:
    key: str
    created_at: datetime
    result: JsonValue


def _check(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"an idempotency key has 1 to {MAX_KEY_LENGTH} characters, got {key!r}")
    return key


async def remember(key: str, *, result: JsonValue = None, now: datetime | None = None) -> bool:
    """True the first time ``key`` is seen, False on every repeat (concurrent ones included: the
    second insert waits for the first transaction and then fails on the unique key)."""
    _check(key)
    created_at = resolve_now(now)
    try:
        async with in_transaction():  # a savepoint: a repeat must not abort the caller's txn
            await models.IdempotencyKey.create(
                key=_check(key), created_at=created_at, result=result
            )
    except IntegrityError:
        return False
    return True


async def recall(key: str) -> Remembered | None:
    """What was remembered for ``key`` (with its result), if anything."""
    row = await models.IdempotencyKey.get_or_none(key=key)
    if row is None:
        return None
    return Remembered(row.key, row.created_at, row.result)  # type: ignore[arg-type]


async def store_result(key: str, result: JsonValue) -> bool:
    """Attach the outcome (e.g. the incident id created) to an already remembered key."""
    updated = await models.IdempotencyKey.filter(key=key).update(result=result)
    return bool(updated)


async def forget_before(cutoff: datetime) -> int:
    """Drop keys remembered before ``cutoff`` (Slack stops redelivering after minutes)."""
    deleted: int = await models.IdempotencyKey.filter(created_at__lt=cutoff).delete()
    return deleted
