"""The reads of the reports (``/incident stats``, ``/incident export``, the weekly digest)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from tortoise.expressions import Q
from tortoise.functions import Count

from bot.domain.incident import Incident, Status
from bot.domain.stats import FollowUpCounts
from storage import models
from storage.repository import _to_incident

MAX_REPORTED = 5000
"""A bound on one report's incidents (a bad year is a few hundred)."""


class ReportRepository:
    async def declared_between(self, start: datetime, end: datetime) -> list[Incident]:
        """Incidents declared in ``[start, end)``, oldest first (one query)."""
        rows = (
            await models.Incident.filter(created_at__gte=start, created_at__lt=end)
            .order_by("created_at", "id")
            .limit(MAX_REPORTED)
        )
        return [_to_incident(row) for row in rows]

    async def count_with_status(self, status: Status) -> int:
        return await models.Incident.filter(status=status.value).count()

    async def member_of(self, user_id: str, incident_ids: list[int]) -> set[int]:
        """Which of ``incident_ids`` ``user_id`` declared, holds a role in or is (still) in the
        channel of: the incidents whose private details they may see."""
        if not incident_ids:
            return set()
        declared = await models.Incident.filter(
            id__in=incident_ids, created_by=user_id
        ).values_list("id", flat=True)
        roles = await models.RoleAssignment.filter(
            incident_id__in=incident_ids, user_id=user_id
        ).values_list("incident_id", flat=True)
        members = await models.Participant.filter(
            incident_id__in=incident_ids, user_id=user_id, left_at__isnull=True
        ).values_list("incident_id", flat=True)
        return {int(i) for i in [*declared, *roles, *members]}  # type: ignore[call-overload]

    async def followup_counts(
        self, incident_ids: Collection[int], *, now: datetime
    ) -> dict[int, FollowUpCounts]:
        """``{incident_id: its follow-ups (total, overdue now, done)}`` for those of
        ``incident_ids`` that have some: one grouped count."""
        if not incident_ids:
            return {}
        rows = (
            await models.FollowUp.filter(incident_id__in=list(incident_ids))
            .annotate(
                total=Count("id"),
                overdue=Count("id", _filter=Q(done_at__isnull=True, due_at__lt=now)),
                done=Count("id", _filter=Q(done_at__isnull=False)),
            )
            .group_by("incident_id")
            .values("incident_id", "total", "overdue", "done")
        )
        return {
            int(row["incident_id"]): FollowUpCounts(
                total=int(row["total"]), overdue=int(row["overdue"]), done=int(row["done"])
            )
            for row in rows
        }
