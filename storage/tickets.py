"""Jira tickets of incidents, follow-up issues, and the pull's watermark.

A ``Ticket`` row is written once the issue exists in Jira (the outbox job that creates it records
it); ``written`` holds, per synced field, the value the bot last wrote there, so that when the pull
reads that same value back (an echo) nothing happens. ``last_change_id`` is the newest changelog
entry the pull has handled for the issue: entries are applied once even though pull windows
overlap.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Collection, Mapping
from datetime import datetime

from tortoise.exceptions import IntegrityError

from storage import models


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Ticket:
    incident_id: int
    key: str
    issue_id: str
    url: str
    project: str
    written: Mapping[str, object] = dataclasses.field(default_factory=dict)
    last_change_id: int = 0
    remote_updated: datetime | None = None
    deleted_at: datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FollowUp:
    id: int
    incident_id: int
    text: str
    created_by: str
    created_at: datetime
    due_at: datetime | None = None
    key: str | None = None
    url: str | None = None
    status: str | None = None
    status_category: str | None = None
    done_at: datetime | None = None

    @property
    def done(self) -> bool:
        return self.done_at is not None

    def overdue(self, now: datetime) -> bool:
        return self.done_at is None and self.due_at is not None and self.due_at < now


def _ticket(row: models.Ticket) -> Ticket:
    return Ticket(
        incident_id=row.incident_id,
        key=row.key,
        issue_id=row.issue_id,
        url=row.url,
        project=row.project,
        written=dict(row.written or {}),
        last_change_id=row.last_change_id,
        remote_updated=row.remote_updated,
        deleted_at=row.deleted_at,
    )


def _followup(row: models.FollowUp) -> FollowUp:
    return FollowUp(
        id=row.id,
        incident_id=row.incident_id,
        text=row.text,
        created_by=row.created_by,
        created_at=row.created_at,
        due_at=row.due_at,
        key=row.key,
        url=row.url,
        status=row.status,
        status_category=row.status_category,
        done_at=row.done_at,
    )


class TicketRepository:
    async def get(self, incident_id: int) -> Ticket | None:
        row = await models.Ticket.get_or_none(incident_id=incident_id)
        return _ticket(row) if row else None

    async def by_keys(self, keys: Collection[str]) -> dict[str, Ticket]:
        if not keys:
            return {}
        rows = await models.Ticket.filter(key__in=list(keys))
        return {row.key: _ticket(row) for row in rows}

    async def links(self, incident_ids: Collection[int]) -> dict[int, tuple[str, str]]:
        """``{incident_id: (key, url)}`` of the live tickets of these incidents."""
        if not incident_ids:
            return {}
        rows = await models.Ticket.filter(
            incident_id__in=list(incident_ids), deleted_at__isnull=True
        ).values_list("incident_id", "key", "url")
        return {int(i): (str(k), str(u)) for i, k, u in rows}

    async def record(
        self,
        incident_id: int,
        *,
        key: str,
        issue_id: str,
        url: str,
        project: str,
        written: Mapping[str, object],
        at: datetime,
    ) -> tuple[Ticket, bool]:
        """Remember the incident's ticket; the first one recorded wins (a retried job finds it).
        Returns the ticket and whether it was recorded now."""
        existing = await models.Ticket.get_or_none(incident_id=incident_id)
        if existing is not None:
            return _ticket(existing), False
        try:
            row = await models.Ticket.create(
                incident_id=incident_id,
                key=key,
                issue_id=issue_id,
                url=url,
                project=project,
                written=dict(written),
                created_at=at,
                updated_at=at,
            )
        except IntegrityError:
            return _ticket(await models.Ticket.get(incident_id=incident_id)), False
        return _ticket(row), True

    async def remember_written(
        self, incident_id: int, values: Mapping[str, object], *, at: datetime
    ) -> None:
        """Merge what the bot just wrote to Jira into ``written``."""
        row = await models.Ticket.get_or_none(incident_id=incident_id)
        if row is None:
            return
        merged = {**(row.written or {}), **values}
        await models.Ticket.filter(id=row.id).update(written=merged, updated_at=at)

    async def mark_pulled(
        self, incident_id: int, *, last_change_id: int, remote_updated: datetime, at: datetime
    ) -> None:
        await models.Ticket.filter(
            incident_id=incident_id, last_change_id__lte=last_change_id
        ).update(last_change_id=last_change_id, remote_updated=remote_updated, updated_at=at)

    async def mark_deleted(self, incident_id: int, *, at: datetime) -> bool:
        """The issue is gone from Jira; True the first time."""
        updated = await models.Ticket.filter(
            incident_id=incident_id, deleted_at__isnull=True
        ).update(deleted_at=at, updated_at=at)
        return bool(updated)


class FollowUpRepository:
    async def create(
        self,
        incident_id: int,
        text: str,
        *,
        intent_key: str,
        created_by: str,
        due_at: datetime | None,
        at: datetime,
    ) -> tuple[FollowUp, bool]:
        """The follow-up for this intent, and whether it was created now (False: a repeat)."""
        existing = await models.FollowUp.get_or_none(intent_key=intent_key)
        if existing is not None:
            return _followup(existing), False
        try:
            row = await models.FollowUp.create(
                incident_id=incident_id,
                text=text,
                intent_key=intent_key,
                created_by=created_by,
                due_at=due_at,
                created_at=at,
                updated_at=at,
            )
        except IntegrityError:
            return _followup(await models.FollowUp.get(intent_key=intent_key)), False
        return _followup(row), True

    async def get(self, followup_id: int) -> FollowUp | None:
        row = await models.FollowUp.get_or_none(id=followup_id)
        return _followup(row) if row else None

    async def list(self, incident_id: int) -> builtins.list[FollowUp]:
        rows = await models.FollowUp.filter(incident_id=incident_id).order_by("id")
        return [_followup(row) for row in rows]

    async def by_keys(self, keys: Collection[str]) -> dict[str, FollowUp]:
        if not keys:
            return {}
        rows = await models.FollowUp.filter(key__in=list(keys))
        return {str(row.key): _followup(row) for row in rows}

    async def record_issue(
        self, followup_id: int, *, key: str, issue_id: str, url: str, status: str, at: datetime
    ) -> None:
        await models.FollowUp.filter(id=followup_id, key__isnull=True).update(
            key=key, issue_id=issue_id, url=url, status=status, updated_at=at
        )

    async def record_status(
        self, key: str, *, status: str, category: str, at: datetime
    ) -> FollowUp | None:
        """Jira's status of a follow-up; ``done_at`` follows the ``done`` category. Returns the
        follow-up when something changed."""
        row = await models.FollowUp.get_or_none(key=key)
        if row is None or (row.status == status and row.status_category == category):
            return None
        done_at = row.done_at or at if category == "done" else None
        await models.FollowUp.filter(id=row.id).update(
            status=status, status_category=category, done_at=done_at, updated_at=at
        )
        return _followup(await models.FollowUp.get(id=row.id))

    async def overdue_counts(
        self, now: datetime, incident_ids: Collection[int] | None = None
    ) -> dict[int, int]:
        """``{incident_id: number of overdue follow-ups}`` (only incidents that have some)."""
        query = models.FollowUp.filter(done_at__isnull=True, due_at__lt=now)
        if incident_ids is not None:
            query = query.filter(incident_id__in=list(incident_ids))
        counts: dict[int, int] = {}
        for incident_id in await query.values_list("incident_id", flat=True):
            counts[int(incident_id)] = counts.get(int(incident_id), 0) + 1  # type: ignore[call-overload]
        return counts


class CursorRepository:
    async def get(self, name: str) -> datetime | None:
        row = await models.SyncCursor.get_or_none(name=name)
        return row.position if row else None

    async def set(self, name: str, position: datetime, *, at: datetime) -> None:
        updated = await models.SyncCursor.filter(name=name).update(position=position, updated_at=at)
        if not updated:
            try:
                await models.SyncCursor.create(name=name, position=position, updated_at=at)
            except IntegrityError:
                await models.SyncCursor.filter(name=name).update(position=position, updated_at=at)
