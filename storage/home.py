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
from datetime import UTC, datetime, timedelta

from tortoise.expressions import Q, Subquery

from bot.domain.incident import Incident, Priority, RoleAssignment, Status
from bot.domain.metrics import MetricSample
from storage import models
from storage.db import connection, dialect
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
        """Every incident declared since ``since``, and every open post-mortem: the panel's few
        figures per incident, newest first, at most ``limit``. Private incidents are included:
        the panel shows counts and medians only, never a title (as the stats report does).

        One raw statement: the spans are computed by the database and come back as seconds, so
        reading a thousand rows costs little (the ORM would decode and convert five timestamps
        per row)."""
        del query  # the panel is the same for every viewer
        moment = since.astimezone(UTC)
        if dialect() == "postgres":
            # Values are written into the statement: our own clock's moment (ISO-formatted), an
            # enum value and an int, nothing user-typed. As parameters of a prepared statement,
            # PostgreSQL soon switches to a generic plan that cannot know the window is small and
            # scans the whole history (9 ms at 50,000 incidents instead of 3 ms).
            sql = _METRIC_SQL_POSTGRES.format(
                since=moment.isoformat(), status=Status.POSTMORTEM.value, limit=int(limit)
            )
            rows = await connection().execute_query_dict(sql)
        else:
            rows = await connection().execute_query_dict(
                _METRIC_SQL_SQLITE, [moment, Status.POSTMORTEM.value, limit]
            )
        return [
            MetricSample(
                priority=Priority(int(row["priority"])),
                status=Status(row["status"]),
                created_at=_aware(row["created_at"]),
                time_to_acknowledge=_seconds(row["tta"]),
                time_to_mitigate=_seconds(row["ttm"]),
            )
            for row in rows
        ]

    async def overdue_followups(self, *, now: datetime) -> int:
        """Follow-ups past their due time and not done, of every incident (the panel's figure is
        an aggregate, as its counts are). Not only those of the incidents declared in the window:
        a follow-up falls due weeks after its incident (30 days by default), when the incident
        has often left the window. One ``COUNT`` on the ``due_at`` index."""
        return await models.FollowUp.filter(done_at__isnull=True, due_at__lt=now).count()

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


_METRIC_COLUMNS = "priority, status, created_at"
_METRIC_SQL_POSTGRES = (
    f"SELECT {_METRIC_COLUMNS},"
    " EXTRACT(EPOCH FROM acknowledged_at - declared_at) AS tta,"
    " EXTRACT(EPOCH FROM mitigated_at - started_at) AS ttm"
    " FROM incident WHERE created_at >= '{since}'::timestamptz OR status = '{status}'"
    " ORDER BY created_at DESC LIMIT {limit}"
)
_METRIC_SQL_SQLITE = (
    f"SELECT {_METRIC_COLUMNS},"
    " (julianday(acknowledged_at) - julianday(declared_at)) * 86400.0 AS tta,"
    " (julianday(mitigated_at) - julianday(started_at)) * 86400.0 AS ttm"
    " FROM incident WHERE created_at >= ? OR status = ?"
    " ORDER BY created_at DESC LIMIT ?"
)


def _seconds(value: object) -> timedelta | None:
    # Rounded to the millisecond: SQLite's julianday arithmetic is only that precise.
    return None if value is None else timedelta(seconds=round(float(value), 3))  # type: ignore[arg-type]


def _aware(value: object) -> datetime:
    """asyncpg gives aware datetimes; SQLite gives the stored ISO text."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
