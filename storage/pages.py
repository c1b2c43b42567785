"""Pages of on-call through PagerDuty (``pagerduty_page``): one row per (incident, service, round).

A row is created in the transaction that decides to page (a declaration, ``/incident page``, a
reopen), with status ``requested`` and its deterministic ``key``; the outbox job that reaches
PagerDuty records the PagerDuty incident on it (``triggered``), the pull moves it on
(``acknowledged``, ``resolved``). Every transition is a conditional update that says whether it
happened, so a retried job or an overlapping pull changes nothing the second time.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from storage import models

REQUESTED = "requested"
TRIGGERED = "triggered"
ACKNOWLEDGED = "acknowledged"
RESOLVED = "resolved"
CANCELLED = "cancelled"
FAILED = "failed"
OPEN = (TRIGGERED, ACKNOWLEDGED)
LIVE = (REQUESTED, TRIGGERED, ACKNOWLEDGED)


@dataclasses.dataclass(frozen=True, slots=True)
class Responder:
    """Someone PagerDuty notified, and their Slack account when their e-mail has one."""

    id: str
    name: str
    email: str | None = None
    slack_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "email": self.email, "slack_id": self.slack_id}

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Responder:
        return cls(
            id=str(data.get("id") or ""),
            name=str(data.get("name") or ""),
            email=data.get("email") or None,
            slack_id=data.get("slack_id") or None,
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PageRecord:
    id: int
    incident_id: int
    service_key: str
    service_id: str
    escalation_policy_id: str | None
    round: int
    key: str
    urgency: str
    status: str
    automatic: bool
    requested_by: str
    created_at: datetime
    pd_incident_id: str | None = None
    pd_number: int | None = None
    url: str | None = None
    responders: tuple[Responder, ...] = ()
    invited: bool = False
    channel_linked: bool = False
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def is_live(self) -> bool:
        return self.status in LIVE

    @property
    def reference(self) -> str:
        """``PagerDuty #12`` once PagerDuty numbered it."""
        return f"PagerDuty #{self.pd_number}" if self.pd_number else "PagerDuty"


def _record(row: models.PagerDutyPage) -> PageRecord:
    return PageRecord(
        id=row.id,
        incident_id=row.incident_id,
        service_key=row.service_key,
        service_id=row.service_id,
        escalation_policy_id=row.escalation_policy_id,
        round=row.round,
        key=row.key,
        urgency=row.urgency,
        status=row.status,
        automatic=row.automatic,
        requested_by=row.requested_by,
        created_at=row.created_at,
        pd_incident_id=row.pd_incident_id,
        pd_number=row.pd_number,
        url=row.url,
        responders=tuple(Responder.of(r) for r in row.responders or []),
        invited=row.invited,
        channel_linked=row.channel_linked,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        resolved_at=row.resolved_at,
    )


class PageRepository:
    async def get(self, page_id: int) -> PageRecord | None:
        row = await models.PagerDutyPage.get_or_none(id=page_id)
        return _record(row) if row else None

    async def list(self, incident_id: int) -> builtins.list[PageRecord]:
        rows = await models.PagerDutyPage.filter(incident_id=incident_id).order_by("id")
        return [_record(row) for row in rows]

    async def latest(self, incident_id: int, service_id: str) -> PageRecord | None:
        """The incident's last page of this service (its highest round)."""
        row = (
            await models.PagerDutyPage.filter(incident_id=incident_id, service_id=service_id)
            .order_by("-round")
            .first()
        )
        return _record(row) if row else None

    async def create(
        self,
        incident_id: int,
        *,
        service_key: str,
        service_id: str,
        escalation_policy_id: str | None,
        round_: int,
        key: str,
        urgency: str,
        automatic: bool,
        requested_by: str,
        at: datetime,
    ) -> tuple[PageRecord, bool]:
        """The page of this round; False when it existed already (two requests raced: the
        insert waits for the other transaction and then finds its row)."""
        existing = await models.PagerDutyPage.get_or_none(key=key)
        if existing is not None:
            return _record(existing), False
        try:
            async with in_transaction():  # a savepoint: a duplicate must not abort the caller's
                row = await models.PagerDutyPage.create(
                    incident_id=incident_id,
                    service_key=service_key,
                    service_id=service_id,
                    escalation_policy_id=escalation_policy_id,
                    round=round_,
                    key=key,
                    urgency=urgency,
                    status=REQUESTED,
                    automatic=automatic,
                    requested_by=requested_by,
                    created_at=at,
                    updated_at=at,
                )
        except IntegrityError:
            return _record(await models.PagerDutyPage.get(key=key)), False
        return _record(row), True

    async def open_pages(
        self, incident_ids: Collection[int] | None = None
    ) -> builtins.list[PageRecord]:
        """Pages open in PagerDuty (triggered or acknowledged), oldest first."""
        query = models.PagerDutyPage.filter(status__in=OPEN, pd_incident_id__isnull=False)
        if incident_ids is not None:
            query = query.filter(incident_id__in=builtins.list(incident_ids))
        return [_record(row) for row in await query.order_by("id")]

    async def by_pd_ids(self, pd_ids: Sequence[str]) -> dict[str, PageRecord]:
        if not pd_ids:
            return {}
        rows = await models.PagerDutyPage.filter(pd_incident_id__in=builtins.list(pd_ids))
        return {str(row.pd_incident_id): _record(row) for row in rows}

    async def triggered(
        self,
        page_id: int,
        *,
        pd_incident_id: str,
        pd_number: int,
        url: str,
        status: str,
        responders: Sequence[Responder],
        channel_linked: bool,
        at: datetime,
    ) -> bool:
        """PagerDuty opened (or already had) the incident; True the first time."""
        updated = await models.PagerDutyPage.filter(id=page_id, status=REQUESTED).update(
            pd_incident_id=pd_incident_id,
            pd_number=pd_number,
            url=url,
            status=status if status in OPEN else TRIGGERED,
            responders=[r.as_json() for r in responders],
            channel_linked=channel_linked,
            updated_at=at,
        )
        return bool(updated)

    async def acknowledged(self, page_id: int, *, by: str, at: datetime) -> bool:
        """Acknowledged in PagerDuty; True the first time (of this page)."""
        updated = await models.PagerDutyPage.filter(
            id=page_id, status=TRIGGERED, acknowledged_at__isnull=True
        ).update(status=ACKNOWLEDGED, acknowledged_at=at, acknowledged_by=by, updated_at=at)
        if updated:
            return True
        # Acknowledged again after an unacknowledgement: the status follows, the first ack stays.
        await models.PagerDutyPage.filter(id=page_id, status=TRIGGERED).update(
            status=ACKNOWLEDGED, updated_at=at
        )
        return False

    async def unacknowledged(self, page_id: int, *, at: datetime) -> bool:
        updated = await models.PagerDutyPage.filter(id=page_id, status=ACKNOWLEDGED).update(
            status=TRIGGERED, updated_at=at
        )
        return bool(updated)

    async def resolved(self, page_id: int, *, at: datetime) -> bool:
        """Resolved in PagerDuty; True the first time."""
        updated = await models.PagerDutyPage.filter(id=page_id, status__in=OPEN).update(
            status=RESOLVED, resolved_at=at, updated_at=at
        )
        return bool(updated)

    async def ended(self, page_id: int, status: str, *, at: datetime) -> bool:
        """A requested page that never reached PagerDuty: ``cancelled`` or ``failed``."""
        updated = await models.PagerDutyPage.filter(id=page_id, status=REQUESTED).update(
            status=status, updated_at=at
        )
        return bool(updated)

    async def mark(self, page_id: int, *, at: datetime, **flags: bool) -> None:
        """Set ``invited`` / ``channel_linked`` once done."""
        await models.PagerDutyPage.filter(id=page_id).update(**flags, updated_at=at)
