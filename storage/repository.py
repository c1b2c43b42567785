"""Repositories: rows <-> the frozen dataclasses of ``bot.domain.incident``.

Every method is async and works inside ``storage.db.transaction()`` (queries of the task then use
the transaction's connection). Writes that may hit a unique constraint run in a savepoint so that a
conflict is reported as a domain error without aborting the caller's transaction on PostgreSQL.
Times are always given by the caller (its clock); nothing here reads the system time.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from bot.domain.incident import (
    OPEN_STATUSES,
    Actor,
    ActorKind,
    ClosureReason,
    Incident,
    JsonValue,
    Milestones,
    NewIncident,
    Participant,
    Priority,
    ResponseType,
    RoleAssignment,
    Status,
    TimelineEntry,
    TimelineKind,
)
from storage import models
from storage.errors import ConcurrentUpdate, DedupKeyInUse, IncidentNotFound, TimelineEntryNotFound

_OPEN = [status.value for status in OPEN_STATUSES]


# --- incidents --------------------------------------------------------------------------------


def _incident_columns(incident: Incident) -> dict[str, Any]:
    m = incident.milestones
    return {
        "title": incident.title,
        "summary": incident.summary,
        "priority": int(incident.priority),
        "category": incident.category,
        "environments": list(incident.environments),
        "status": incident.status.value,
        "response_type": incident.response_type.value,
        "private": incident.private,
        "custom_fields": dict(incident.custom_fields),
        "created_by": incident.created_by,
        "channel_id": incident.channel_id,
        "channel_name": incident.channel_name,
        "dedup_key": incident.dedup_key,
        "active_dedup_key": incident.active_dedup_key,
        "started_at": m.started_at,
        "detected_at": m.detected_at,
        "declared_at": m.declared_at,
        "acknowledged_at": m.acknowledged_at,
        "mitigated_at": m.mitigated_at,
        "resolved_at": m.resolved_at,
        "closed_at": m.closed_at,
        "closure_reason": incident.closure_reason.value if incident.closure_reason else None,
        "closure_reference": incident.closure_reference,
        "created_at": incident.created_at,
        "updated_at": incident.updated_at,
    }


def _to_incident(row: models.Incident) -> Incident:
    return Incident(
        id=row.id,
        title=row.title,
        summary=row.summary,
        priority=Priority(row.priority),
        category=row.category,
        environments=tuple(row.environments),
        status=Status(row.status),
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        response_type=ResponseType(row.response_type),
        private=row.private,
        custom_fields=row.custom_fields,  # type: ignore[arg-type]
        channel_id=row.channel_id,
        channel_name=row.channel_name,
        dedup_key=row.dedup_key,
        milestones=Milestones(
            started_at=row.started_at,
            detected_at=row.detected_at,
            declared_at=row.declared_at,
            acknowledged_at=row.acknowledged_at,
            mitigated_at=row.mitigated_at,
            resolved_at=row.resolved_at,
            closed_at=row.closed_at,
        ),
        closure_reason=ClosureReason(row.closure_reason) if row.closure_reason else None,
        closure_reference=row.closure_reference,
        version=row.version,
    )


class IncidentRepository:
    async def create(self, draft: NewIncident) -> Incident:
        """Insert a new incident (version 1) and return it with its sequential id.

        Raises ``DedupKeyInUse`` when an incident not yet past Mitigated holds the same
        ``dedup_key``; the caller's transaction stays usable.
        """
        incident = draft.to_incident(0)
        columns = _incident_columns(incident)
        if incident.active_dedup_key is None:
            row = await models.Incident.create(**columns, version=1)
        else:
            try:
                async with in_transaction():
                    row = await models.Incident.create(**columns, version=1)
            except IntegrityError:
                await self._raise_if_dedup_conflict(incident)
                raise
        return dataclasses.replace(incident, id=row.id)

    async def update(self, incident: Incident, *, expected_version: int) -> Incident:
        """Write every field of ``incident`` if the stored version is still ``expected_version``
        (``UPDATE … WHERE id = ? AND version = ?``); returns it with the version bumped.

        Raises ``ConcurrentUpdate`` when someone else wrote first, ``IncidentNotFound`` when the
        incident does not exist, ``DedupKeyInUse`` when reopening it would clash with a newer
        incident holding the same ``dedup_key``. ``created_at`` is never rewritten.
        """
        columns = _incident_columns(incident)
        del columns["created_at"]
        query = models.Incident.filter(id=incident.id, version=expected_version)
        new_version = expected_version + 1
        if incident.active_dedup_key is None:
            updated = await query.update(**columns, version=new_version)
        else:
            try:
                async with in_transaction():
                    updated = await query.update(**columns, version=new_version)
            except IntegrityError:
                await self._raise_if_dedup_conflict(incident)
                raise
        if updated == 0:
            if await models.Incident.exists(id=incident.id):
                raise ConcurrentUpdate(incident.id, expected_version)
            raise IncidentNotFound(incident.id)
        return dataclasses.replace(incident, version=new_version)

    async def _raise_if_dedup_conflict(self, incident: Incident) -> None:
        key = incident.active_dedup_key
        if key is None:
            return
        holder = await models.Incident.filter(active_dedup_key=key).exclude(id=incident.id).first()
        if holder is not None:
            raise DedupKeyInUse(key, holder.id)

    async def get(self, incident_id: int) -> Incident | None:
        row = await models.Incident.get_or_none(id=incident_id)
        return _to_incident(row) if row else None

    async def require(self, incident_id: int) -> Incident:
        """Like ``get`` but raises ``IncidentNotFound``."""
        incident = await self.get(incident_id)
        if incident is None:
            raise IncidentNotFound(incident_id)
        return incident

    async def get_by_channel(self, channel_id: str) -> Incident | None:
        row = await models.Incident.get_or_none(channel_id=channel_id)
        return _to_incident(row) if row else None

    async def get_by_active_dedup_key(self, dedup_key: str) -> Incident | None:
        """The incident not yet past Mitigated that holds ``dedup_key``, if any."""
        row = await models.Incident.get_or_none(active_dedup_key=dedup_key)
        return _to_incident(row) if row else None

    async def list_open(self, limit: int = 50, offset: int = 0) -> builtins.list[Incident]:
        """Incidents not closed, worst priority first, then newest first."""
        rows = (
            await models.Incident.filter(status__in=_OPEN)
            .order_by("priority", "-created_at", "-id")
            .offset(offset)
            .limit(limit)
        )
        return [_to_incident(row) for row in rows]

    async def list_recent_closed(self, limit: int = 10) -> builtins.list[Incident]:
        """Closed incidents, most recently closed first."""
        rows = (
            await models.Incident.filter(status=Status.CLOSED.value)
            .order_by("-closed_at", "-id")
            .limit(limit)
        )
        return [_to_incident(row) for row in rows]

    async def list_for_user(
        self, user_id: str, *, open_only: bool = True, limit: int = 100
    ) -> builtins.list[Incident]:
        """Incidents the user declared, holds a role in, or is a (present) participant of; worst
        priority first, then newest first."""
        roles = await models.RoleAssignment.filter(user_id=user_id).values("incident_id")
        members = await models.Participant.filter(user_id=user_id, left_at__isnull=True).values(
            "incident_id"
        )
        ids = sorted({int(row["incident_id"]) for row in [*roles, *members]})
        query = models.Incident.filter(Q(id__in=ids) | Q(created_by=user_id))
        if open_only:
            query = query.filter(status__in=_OPEN)
        rows = await query.order_by("priority", "-created_at", "-id").limit(limit)
        return [_to_incident(row) for row in rows]

    async def set_channel(self, incident_id: int, channel_id: str | None, name: str | None) -> None:
        """Record the incident's Slack channel (a side effect's result: no version bump, so it
        never conflicts with a person editing the incident meanwhile)."""
        updated = await models.Incident.filter(id=incident_id).update(
            channel_id=channel_id, channel_name=name
        )
        if not updated:
            raise IncidentNotFound(incident_id)

    async def list_declared_since(
        self, since: datetime, *, worst: Priority = Priority.P1, least: Priority = Priority.P3
    ) -> builtins.list[Incident]:
        """Open incidents declared at or after ``since`` with a priority between ``worst`` and
        ``least`` (the declare modal's duplicate guard), newest first."""
        rows = (
            await models.Incident.filter(
                status__in=_OPEN,
                created_at__gte=since,
                priority__gte=int(worst),
                priority__lte=int(least),
            )
            .order_by("-created_at", "-id")
            .limit(20)
        )
        return [_to_incident(row) for row in rows]

    async def count_open_by_priority(self) -> dict[Priority, int]:
        """Open incidents per priority (every priority present, zero included)."""
        counts = dict.fromkeys(Priority, 0)
        rows = (
            await models.Incident.filter(status__in=_OPEN)
            .annotate(n=Count("id"))
            .group_by("priority")
            .values_list("priority", "n")
        )
        for priority, n in rows:
            counts[Priority(int(priority))] = int(n)
        return counts


# --- timeline ---------------------------------------------------------------------------------


def _to_entry(row: models.TimelineEntry) -> TimelineEntry:
    return TimelineEntry(
        id=row.id,
        incident_id=row.incident_id,
        kind=TimelineKind(row.kind),
        happened_at=row.happened_at,
        actor=Actor(ActorKind(row.actor_kind), row.actor_id, row.actor_name),
        created_at=row.created_at,
        text=row.text,
        data=row.data,  # type: ignore[arg-type]
        source_permalink=row.source_permalink,
        source_channel=row.source_channel,
        source_ts=row.source_ts,
        edited=row.edited,
        struck_out=row.struck_out,
    )


class TimelineRepository:
    async def append(
        self,
        incident_id: int,
        kind: TimelineKind,
        *,
        actor: Actor,
        happened_at: datetime,
        text: str = "",
        data: Mapping[str, JsonValue] | None = None,
        source_permalink: str | None = None,
        source_channel: str | None = None,
        source_ts: str | None = None,
        created_at: datetime | None = None,
    ) -> TimelineEntry:
        """Add an entry; ``created_at`` (when it was recorded) defaults to ``happened_at``."""
        entry = TimelineEntry(
            id=0,
            incident_id=incident_id,
            kind=kind,
            happened_at=happened_at,
            actor=actor,
            created_at=created_at or happened_at,
            text=text,
            data=data or {},
            source_permalink=source_permalink,
            source_channel=source_channel,
            source_ts=source_ts,
        )
        row = await models.TimelineEntry.create(
            incident_id=incident_id,
            kind=kind.value,
            happened_at=entry.happened_at,
            actor_kind=actor.kind.value,
            actor_id=actor.id,
            actor_name=actor.display_name,
            text=text,
            data=dict(entry.data),
            source_permalink=source_permalink,
            source_channel=source_channel,
            source_ts=source_ts,
            created_at=entry.created_at,
        )
        return dataclasses.replace(entry, id=row.id)

    async def get(self, entry_id: int, *, for_update: bool = False) -> TimelineEntry | None:
        """The entry; ``for_update`` locks its row until the caller's transaction ends (an edit
        and a strike-out racing on one entry are then done one after the other)."""
        query = models.TimelineEntry.filter(id=entry_id)
        if for_update:
            query = query.select_for_update()
        row = await query.first()
        return _to_entry(row) if row else None

    async def list(
        self,
        incident_id: int,
        limit: int = 200,
        offset: int = 0,
        *,
        include_struck_out: bool = True,
    ) -> builtins.list[TimelineEntry]:
        """The incident's entries in the order they happened."""
        query = models.TimelineEntry.filter(incident_id=incident_id)
        if not include_struck_out:
            query = query.filter(struck_out=False)
        rows = await query.order_by("happened_at", "id").offset(offset).limit(limit)
        return [_to_entry(row) for row in rows]

    async def find_by_source(self, channel_id: str, ts: str) -> builtins.list[TimelineEntry]:
        """Entries made from the Slack message ``(channel_id, ts)`` (to follow its edits)."""
        rows = await models.TimelineEntry.filter(source_channel=channel_id, source_ts=ts).order_by(
            "id"
        )
        return [_to_entry(row) for row in rows]

    async def edit(
        self,
        entry_id: int,
        *,
        text: str | None = None,
        happened_at: datetime | None = None,
        data: Mapping[str, JsonValue] | None = None,
    ) -> TimelineEntry:
        """Change the text, the time it happened and/or the data; marks the entry edited."""
        changes: dict[str, Any] = {"edited": True}
        if text is not None:
            changes["text"] = text
        if happened_at is not None:
            if happened_at.utcoffset() is None:
                raise ValueError("happened_at must be a timezone-aware datetime")
            changes["happened_at"] = happened_at
        if data is not None:
            changes["data"] = dict(data)
        return await self._change(entry_id, changes)

    async def strike_out(
        self, entry_id: int, *, data: Mapping[str, JsonValue] | None = None
    ) -> TimelineEntry:
        """Mark the entry struck out (its source was deleted, or someone struck it out: ``data``
        then records who and why); it stays for audit."""
        changes: dict[str, Any] = {"struck_out": True}
        if data is not None:
            changes["data"] = dict(data)
        return await self._change(entry_id, changes)

    async def _change(self, entry_id: int, changes: dict[str, Any]) -> TimelineEntry:
        updated = await models.TimelineEntry.filter(id=entry_id).update(**changes)
        if updated == 0:
            raise TimelineEntryNotFound(entry_id)
        entry = await self.get(entry_id)
        if entry is None:  # pragma: no cover - deleted in between
            raise TimelineEntryNotFound(entry_id)
        return entry


# --- roles ------------------------------------------------------------------------------------


def _to_role(row: models.RoleAssignment) -> RoleAssignment:
    return RoleAssignment(
        incident_id=row.incident_id,
        role=row.role,
        user_id=row.user_id,
        assigned_at=row.assigned_at,
        assigned_by=Actor(
            ActorKind(row.assigned_by_kind), row.assigned_by_id, row.assigned_by_name
        ),
    )


class RoleRepository:
    async def assign(
        self, incident_id: int, role: str, user_id: str, *, by: Actor, at: datetime
    ) -> RoleAssignment:
        """Give ``role`` to ``user_id``, replacing the previous holder (one holder per role)."""
        assignment = RoleAssignment(
            incident_id=incident_id, role=str(role), user_id=user_id, assigned_at=at, assigned_by=by
        )
        columns: dict[str, Any] = {
            "user_id": user_id,
            "assigned_at": at,
            "assigned_by_kind": by.kind.value,
            "assigned_by_id": by.id,
            "assigned_by_name": by.display_name,
        }
        same_role = models.RoleAssignment.filter(incident_id=incident_id, role=assignment.role)
        if await same_role.update(**columns):
            return assignment
        try:
            async with in_transaction():
                await models.RoleAssignment.create(
                    incident_id=incident_id, role=assignment.role, **columns
                )
        except IntegrityError:
            # Someone assigned it concurrently (then ours wins), or the incident does not exist.
            if not await same_role.update(**columns):
                raise IncidentNotFound(incident_id) from None
        return assignment

    async def holder(self, incident_id: int, role: str) -> RoleAssignment | None:
        row = await models.RoleAssignment.get_or_none(incident_id=incident_id, role=str(role))
        return _to_role(row) if row else None

    async def unassign(self, incident_id: int, role: str) -> bool:
        deleted = await models.RoleAssignment.filter(
            incident_id=incident_id, role=str(role)
        ).delete()
        return bool(deleted)

    async def list(self, incident_id: int) -> builtins.list[RoleAssignment]:
        rows = await models.RoleAssignment.filter(incident_id=incident_id).order_by(
            "assigned_at", "id"
        )
        return [_to_role(row) for row in rows]

    async def list_for_user(self, user_id: str) -> builtins.list[RoleAssignment]:
        rows = await models.RoleAssignment.filter(user_id=user_id).order_by("incident_id", "id")
        return [_to_role(row) for row in rows]


# --- participants -----------------------------------------------------------------------------


def _to_participant(row: models.Participant) -> Participant:
    return Participant(
        incident_id=row.incident_id,
        user_id=row.user_id,
        joined_at=row.joined_at,
        left_at=row.left_at,
    )


class ParticipantRepository:
    async def joined(self, incident_id: int, user_id: str, *, at: datetime) -> Participant:
        """Record that the user is in the channel. Rejoining keeps the first ``joined_at`` and
        clears ``left_at``."""
        member = models.Participant.filter(incident_id=incident_id, user_id=user_id)
        if not await member.update(left_at=None):
            await self._insert(incident_id, user_id, joined_at=at, left_at=None)
        return await self._require(incident_id, user_id)

    async def left(self, incident_id: int, user_id: str, *, at: datetime) -> Participant:
        """Record that the user left (also when we never saw them join)."""
        member = models.Participant.filter(incident_id=incident_id, user_id=user_id)
        if not await member.update(left_at=at):
            await self._insert(incident_id, user_id, joined_at=at, left_at=at)
        return await self._require(incident_id, user_id)

    async def get(self, incident_id: int, user_id: str) -> Participant | None:
        row = await models.Participant.get_or_none(incident_id=incident_id, user_id=user_id)
        return _to_participant(row) if row else None

    async def list(
        self, incident_id: int, *, present_only: bool = False
    ) -> builtins.list[Participant]:
        query = models.Participant.filter(incident_id=incident_id)
        if present_only:
            query = query.filter(left_at__isnull=True)
        rows = await query.order_by("joined_at", "id")
        return [_to_participant(row) for row in rows]

    async def has_left(self, incident_id: int, user_id: str) -> bool:
        """True when the user left the channel (never re-invite them automatically)."""
        return await models.Participant.exists(
            incident_id=incident_id, user_id=user_id, left_at__isnull=False
        )

    async def _insert(
        self, incident_id: int, user_id: str, *, joined_at: datetime, left_at: datetime | None
    ) -> None:
        try:
            async with in_transaction():
                await models.Participant.create(
                    incident_id=incident_id, user_id=user_id, joined_at=joined_at, left_at=left_at
                )
        except IntegrityError:
            # A concurrent join/leave inserted it first (fine), or the incident does not exist.
            if not await models.Incident.exists(id=incident_id):
                raise IncidentNotFound(incident_id) from None

    async def _require(self, incident_id: int, user_id: str) -> Participant:
        participant = await self.get(incident_id, user_id)
        if participant is None:  # pragma: no cover - deleted in between
            raise IncidentNotFound(incident_id)
        return participant


# --- Slack references -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SlackRef:
    """A Slack message (or setting) the bot keeps in step with an incident: ``kind`` is e.g.
    ``summary``, ``announcement``, ``deploy_warning``, ``source``, ``topic``."""

    incident_id: int
    kind: str
    channel_id: str
    ts: str | None = None
    data: Mapping[str, JsonValue] = dataclasses.field(default_factory=dict)


def _to_ref(row: models.SlackRef) -> SlackRef:
    return SlackRef(
        incident_id=row.incident_id,
        kind=row.kind,
        channel_id=row.channel_id,
        ts=row.ts,
        data=row.data,  # type: ignore[arg-type]
    )


class SlackRefRepository:
    async def get(self, incident_id: int, kind: str) -> SlackRef | None:
        row = await models.SlackRef.get_or_none(incident_id=incident_id, kind=kind)
        return _to_ref(row) if row else None

    async def all(self, incident_id: int) -> dict[str, SlackRef]:
        rows = await models.SlackRef.filter(incident_id=incident_id)
        return {row.kind: _to_ref(row) for row in rows}

    async def put(self, ref: SlackRef, *, at: datetime) -> SlackRef:
        """Insert or replace the incident's reference of this kind."""
        columns: dict[str, Any] = {
            "channel_id": ref.channel_id,
            "ts": ref.ts,
            "data": dict(ref.data),
            "updated_at": at,
        }
        same = models.SlackRef.filter(incident_id=ref.incident_id, kind=ref.kind)
        if await same.update(**columns):
            return ref
        try:
            async with in_transaction():
                await models.SlackRef.create(incident_id=ref.incident_id, kind=ref.kind, **columns)
        except IntegrityError:
            if not await same.update(**columns):
                raise IncidentNotFound(ref.incident_id) from None
        return ref

    async def delete(self, incident_id: int, kind: str) -> bool:
        deleted = await models.SlackRef.filter(incident_id=incident_id, kind=kind).delete()
        return bool(deleted)

    async def find(self, channel_id: str, ts: str) -> builtins.list[SlackRef]:
        """References pointing at the message ``(channel_id, ts)``."""
        rows = await models.SlackRef.filter(channel_id=channel_id, ts=ts)
        return [_to_ref(row) for row in rows]
