"""Costs recorded against incidents (``cost_entry``) <-> ``bot.domain.cost.CostEntry``."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from tortoise.exceptions import IntegrityError
from tortoise.functions import Count, Sum

from bot.domain.cost import CostDraft, CostEntry
from storage import models
from storage.errors import IncidentNotFound


def _to_cost(row: models.CostEntry) -> CostEntry:
    return CostEntry(
        id=row.id,
        incident_id=row.incident_id,
        kind=row.kind,
        amount=Decimal(row.amount).quantize(Decimal("0.01")),
        currency=row.currency,
        note=row.note,
        author_id=row.author_id,
        created_at=row.created_at,
    )


class CostRepository:
    async def add(
        self, incident_id: int, cost: CostDraft, *, author_id: str, at: datetime
    ) -> CostEntry:
        try:
            row = await models.CostEntry.create(
                incident_id=incident_id,
                kind=cost.kind,
                amount=cost.amount,
                currency=cost.currency,
                note=cost.note,
                author_id=author_id,
                created_at=at,
            )
        except IntegrityError:
            raise IncidentNotFound(incident_id) from None
        return _to_cost(row)

    async def list(self, incident_id: int) -> builtins.list[CostEntry]:
        """The incident's costs in the order they were recorded."""
        rows = await models.CostEntry.filter(incident_id=incident_id).order_by("created_at", "id")
        return [_to_cost(row) for row in rows]

    async def totals(
        self, incident_ids: Iterable[int]
    ) -> tuple[dict[int, dict[str, Decimal]], dict[int, int]]:
        """Per incident: the total per currency, and the number of entries (one query)."""
        ids = sorted(set(incident_ids))
        totals: dict[int, dict[str, Decimal]] = {}
        counts: dict[int, int] = {}
        if not ids:
            return totals, counts
        rows = (
            await models.CostEntry.filter(incident_id__in=ids)
            .annotate(total=Sum("amount"), n=Count("id"))
            .group_by("incident_id", "currency")
            .values_list("incident_id", "currency", "total", "n")
        )
        for incident_id, currency, total, n in rows:
            per_incident = totals.setdefault(int(incident_id), {})
            per_incident[str(currency)] = Decimal(str(total)).quantize(Decimal("0.01"))
            counts[int(incident_id)] = counts.get(int(incident_id), 0) + int(n)
        for per_incident in totals.values():
            ordered = dict(sorted(per_incident.items()))
            per_incident.clear()
            per_incident.update(ordered)
        return totals, counts
