"""The App Home's reads: a bounded number of queries per render, whatever the size of the history.

Access (PRODUCT.md §5, ``bot.domain.policy.may_see``) is applied in SQL so that a page, a "show
more" offset and a limit mean the same thing for every viewer: a private incident is returned only
to its declarer, its role holders, its present channel members, or to a viewer who sees every
private incident (the incident managers, decided by the service). Each read is one statement; the
membership sub-selects use the ``user_id`` indexes of ``role_assignment`` and ``participant``.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import Q, Subquery

from bot.domain.incident import Incident, Milestones, Priority, RoleAssignment, Status
from bot.domain.metrics import MetricSample
from storage import models
from storage.repository import _OPEN, _to_incident, _to_role

_ORDER = ("priority", "-created_at", "-id")


@dataclass(frozen=True, slots=True, kw_only=True)
class HomeQuery:
    """Whose Home, with which filters."""

    viewer: str
    sees_all_private: bool = False
    category: str | None = None
    priority: Priority | None = None
    mine: bool = False


def _member(viewer: str) -> Q:
    """Declared by, holding a role in, or present in the channel of the incident."""
    roles = Subquery(models.RoleAssignment.filter(user_id=viewer).values("incident_id"))
    present = Subquery(
        models.Participant.filter(user_id=viewer, left_at__isnull=True).values("incident_id")
    )
    return Q(created_by=viewer) | Q(id__in=roles) | Q(id__in=present)


def _visible(query: HomeQuery) -> Q:
    if query.sees_all_private:
        return Q()
    return Q(private=False) | _member(query.viewer)


def _filtered(query: HomeQuery) -> Q:
    condition = _visible(query)
    if query.category:
        condition &= Q(category=query.category)
    if query.priority is not None:
        condition &= Q(priority=int(query.priority))
    if query.mine:
        condition &= _member(query.viewer)
    return condition


class HomeRepository:
    async def mine(self, query: HomeQuery, *, limit: int) -> builtins.list[Incident]:
        """The viewer's open incidents (category/priority filters applied), worst first."""
        condition = _member(query.viewer)
        if query.category:
            condition &= Q(category=query.category)
        if query.priority is not None:
            condition &= Q(priority=int(query.priority))
        rows = (
            await models.Incident.filter(condition, status__in=_OPEN).order_by(*_ORDER).limit(limit)
        )
        return [_to_incident(row) for row in rows]

    async def open_page(
        self, query: HomeQuery, *, offset: int, limit: int
    ) -> builtins.list[Incident]:
        """One page of the open incidents the viewer may see, filters applied, worst first."""
        rows = (
            await models.Incident.filter(_filtered(query), status__in=_OPEN)
            .order_by(*_ORDER)
            .offset(offset)
            .limit(limit)
        )
        return [_to_incident(row) for row in rows]

    async def recently_closed(self, query: HomeQuery, *, limit: int) -> builtins.list[Incident]:
        """The last closed incidents the viewer may see (filters applied), newest closure first
        (``incident.closed_at`` is indexed)."""
        rows = (
            await models.Incident.filter(_filtered(query), status=Status.CLOSED.value)
            .order_by("-closed_at", "-id")
            .limit(limit)
        )
        return [_to_incident(row) for row in rows]

    async def roles_of(self, incident_ids: Collection[int]) -> builtins.list[RoleAssignment]:
        """Every role assignment of these incidents, in one query."""
        if not incident_ids:
            return []
        rows = await models.RoleAssignment.filter(incident_id__in=list(incident_ids)).order_by(
            "incident_id", "id"
        )
        return [_to_role(row) for row in rows]

    async def metric_samples(
        self, query: HomeQuery, *, since: datetime, limit: int
    ) -> builtins.list[MetricSample]:
        """Every incident declared since ``since``, and every open post-mortem: only the columns
        the period panel needs, newest first, at most ``limit``. Private incidents are included:
        the panel shows counts and medians only, never a title (as the stats report does)."""
        del query  # the panel is the same for every viewer
        rows = (
            await models.Incident.filter(
                Q(created_at__gte=since) | Q(status=Status.POSTMORTEM.value)
            )
            .order_by("-created_at")
            .limit(limit)
            .values_list(
                "priority",
                "status",
                "created_at",
                "declared_at",
                "acknowledged_at",
                "started_at",
                "mitigated_at",
            )
        )
        return [
            MetricSample(
                priority=Priority(int(priority)),
                status=Status(status),
                created_at=created_at,
                milestones=Milestones(
                    declared_at=declared_at,
                    acknowledged_at=acknowledged_at,
                    started_at=started_at,
                    mitigated_at=mitigated_at,
                ),
            )
            for priority, status, created_at, declared_at, acknowledged_at, started_at, mitigated_at in rows
        ]

    async def audience(self, incident_ids: Collection[int]) -> set[str]:
        """Who sees these incidents as theirs on the Home: declarers and role holders."""
        if not incident_ids:
            return set()
        ids = list(incident_ids)
        declarers = await models.Incident.filter(id__in=ids).values_list("created_by", flat=True)
        holders = await models.RoleAssignment.filter(incident_id__in=ids).values_list(
            "user_id", flat=True
        )
        return {str(user) for user in [*declarers, *holders]}
