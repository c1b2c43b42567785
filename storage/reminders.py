"""Reminder rows (one per incident and kind): due times, snoozes, mutes, and what was sent.

``schedule`` is called inside the transaction of every incident change; ``list_due`` and
``mark_sent`` by the sweep. ``mark_sent`` is conditional on the row still being due at the time the
sweep read (a change or another replica that moved it wins), and records the due time sent in
``sent_for``: a later ``schedule`` computing that same (or an earlier) due time does not re-arm it,
so each due time is announced once.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Collection
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from bot.domain.incident import TimelineKind
from bot.domain.reminders import ReminderKind
from storage import models
from storage.errors import IncidentNotFound


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Reminder:
    incident_id: int
    kind: ReminderKind
    due_at: datetime | None = None
    snoozed_until: datetime | None = None
    muted: bool = False
    sent_for: datetime | None = None
    sent_count: int = 0


def _to_reminder(row: models.Reminder) -> Reminder:
    return Reminder(
        incident_id=row.incident_id,
        kind=ReminderKind(row.kind),
        due_at=row.due_at,
        snoozed_until=row.snoozed_until,
        muted=row.muted,
        sent_for=row.sent_for,
        sent_count=row.sent_count,
    )


class ReminderRepository:
    async def get(self, incident_id: int, kind: ReminderKind) -> Reminder | None:
        row = await models.Reminder.get_or_none(incident_id=incident_id, kind=kind.value)
        return _to_reminder(row) if row else None

    async def all(self, incident_id: int) -> dict[ReminderKind, Reminder]:
        rows = await models.Reminder.filter(incident_id=incident_id)
        return {ReminderKind(row.kind): _to_reminder(row) for row in rows}

    async def schedule(
        self, incident_id: int, kind: ReminderKind, due_at: datetime | None, *, at: datetime
    ) -> None:
        """Set the next due time computed from the incident as it is now. A due time already
        sent (``<= sent_for``) keeps the row as it is (its repeat, or nothing)."""
        row = await models.Reminder.get_or_none(incident_id=incident_id, kind=kind.value)
        if row is None:
            if due_at is None:
                return
            await self._insert(incident_id, kind, {"due_at": due_at, "updated_at": at})
            return
        if due_at is not None and row.sent_for is not None and due_at <= row.sent_for:
            return
        if row.due_at != due_at:
            await models.Reminder.filter(id=row.id).update(due_at=due_at, updated_at=at)

    async def list_due(
        self, kind: ReminderKind, now: datetime, *, limit: int = 200
    ) -> builtins.list[Reminder]:
        rows = (
            await models.Reminder.filter(
                Q(kind=kind.value, due_at__lte=now, muted=False)
                & (Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now))
            )
            .order_by("due_at", "id")
            .limit(limit)
        )
        return [_to_reminder(row) for row in rows]

    async def mark_sent(
        self, reminder: Reminder, next_due: datetime | None, *, at: datetime
    ) -> bool:
        """The reminder due at ``reminder.due_at`` is being sent: move to ``next_due``. False when
        the row changed since it was read (someone else sent it, or a change moved it)."""
        updated = await models.Reminder.filter(
            incident_id=reminder.incident_id, kind=reminder.kind.value, due_at=reminder.due_at
        ).update(
            due_at=next_due,
            sent_for=reminder.due_at,
            sent_count=F("sent_count") + 1,
            snoozed_until=None,
            updated_at=at,
        )
        return bool(updated)

    async def snooze(
        self, incident_id: int, kind: ReminderKind, until: datetime, *, at: datetime
    ) -> None:
        await self._set(incident_id, kind, {"snoozed_until": until, "updated_at": at})

    async def mute(self, incident_id: int, kind: ReminderKind, *, at: datetime) -> None:
        await self._set(incident_id, kind, {"muted": True, "updated_at": at})

    async def last_update_at(
        self, incident_id: int, kinds: Collection[TimelineKind]
    ) -> datetime | None:
        """When the latest timeline entry of one of ``kinds`` was recorded."""
        row = (
            await models.TimelineEntry.filter(
                incident_id=incident_id, kind__in=[k.value for k in kinds]
            )
            .order_by("-created_at", "-id")
            .first()
        )
        return row.created_at if row else None

    async def _set(self, incident_id: int, kind: ReminderKind, columns: dict[str, Any]) -> None:
        same = models.Reminder.filter(incident_id=incident_id, kind=kind.value)
        if not await same.update(**columns):
            await self._insert(incident_id, kind, columns)

    async def _insert(self, incident_id: int, kind: ReminderKind, columns: dict[str, Any]) -> None:
        same = models.Reminder.filter(incident_id=incident_id, kind=kind.value)
        try:
            async with in_transaction():  # a savepoint: a racing insert must not abort the caller
                await models.Reminder.create(incident_id=incident_id, kind=kind.value, **columns)
        except IntegrityError:
            if not await same.update(**columns):
                raise IncidentNotFound(incident_id) from None
