"""Jira → incident: the scheduled pull (``pull_jira_changes``).

One search per page (JQL on the sync label, ``updated`` from the watermark minus an overlap, with
the changelog expanded): no request per issue. JQL compares ``updated`` at minute granularity
(INTEGRATION_NOTES §4.2), so windows overlap by ``OVERLAP`` and the watermark is Jira's own
``updated`` of the newest issue seen, never our clock (the two can disagree). Re-read issues are
de-duplicated by changelog id (``Ticket.last_change_id``). Changes by the bot's own account, tagged
as its sync, or equal to the agreed values are not applied (``bot.ticket.remote_changes``); the
rest go through the service, like a click in Slack. One replica pulls at a time (a lease).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Unpack

from bot import ticket
from bot.ports import IssueSnapshot, Tracker
from bot.pull import LeasedPull, LeaseTerms, Report, gather_bounded
from bot.service import IncidentService
from storage.tickets import (
    CursorRepository,
    FollowUp,
    FollowUpRepository,
    Ticket,
    TicketRepository,
)

log = logging.getLogger("firefighter.jira")

CURSOR = "jira.pull"
OVERLAP = timedelta(minutes=2)
FIRST_LOOKBACK = timedelta(days=1)
CONCURRENCY = 8
"""Issues handled at once (each a few short transactions; below the database pool's size)."""


@dataclass(frozen=True, slots=True)
class PullReport(Report):
    issues: int
    applied: int
    followups: int

    @property
    def noteworthy(self) -> bool:
        return bool(self.applied or self.followups)


class TicketPull(LeasedPull[PullReport]):
    lease = "pull:jira"

    def __init__(
        self,
        tracker: Tracker,
        service: IncidentService,
        *,
        page_size: int = 100,
        **terms: Unpack[LeaseTerms],
    ) -> None:
        super().__init__(**terms)
        self.tracker = tracker
        self.service = service
        self.page_size = page_size
        self.tickets = TicketRepository()
        self.followups = FollowUpRepository()
        self.cursors = CursorRepository()

    async def cycle(self) -> PullReport:
        cursor = await self.cursors.get(CURSOR)
        since = (cursor or self.clock.now() - FIRST_LOOKBACK) - OVERLAP
        snapshots = await self.tracker.search_updated(
            since, labels=[self.tracker.sync_label], page_size=self.page_size
        )
        keys = [s.ref.key for s in snapshots]
        tickets = await self.tickets.by_keys(keys)
        followups = await self.followups.by_keys(keys)
        bot_account = await self.tracker.account_id()
        priority_field = self.service.catalog.jira.priority_field
        newest: datetime | None = cursor
        for snapshot in snapshots:
            newest = max(newest, snapshot.updated) if newest else snapshot.updated

        async def handle(snapshot: IssueSnapshot) -> tuple[int, int]:
            return await self._handle(
                snapshot,
                tickets,
                followups,
                bot_account=bot_account,
                priority_field=priority_field,
            )

        # Issues are independent (each its own incident): applied concurrently, a few at a time.
        results = await gather_bounded(snapshots, handle, at_once=CONCURRENCY)
        applied = sum(a for a, _ in results)
        followed = sum(f for _, f in results)
        if newest is not None and newest != cursor:
            await self.cursors.set(CURSOR, newest, at=self.clock.now())
        return PullReport(
            issues=len(snapshots),
            applied=applied,
            followups=followed,
        )

    async def _handle(
        self,
        snapshot: IssueSnapshot,
        tickets: dict[str, Ticket],
        followups: dict[str, FollowUp],
        *,
        bot_account: str,
        priority_field: str,
    ) -> tuple[int, int]:
        """One issue read by the pull: a follow-up's status, or an incident ticket's changes.
        Returns (changes applied, follow-ups updated)."""
        key = snapshot.ref.key
        followed = 0
        if key in followups:
            await self.service.followup_status(key, snapshot.status, snapshot.status_category)
            followed = 1
        current = tickets.get(key)
        if current is None or current.deleted_at is not None:
            return 0, followed
        last = max((c.id for c in snapshot.changes), default=current.last_change_id)
        if last <= current.last_change_id:
            return 0, followed  # seen in an earlier, overlapping window
        changes = ticket.remote_changes(
            snapshot,
            after=current.last_change_id,
            bot_account=bot_account,
            priority_field=priority_field,
            written=current.written,
        )
        if changes:
            log.info(
                "jira changes pulled",
                extra={
                    "incident_id": current.incident_id,
                    "jira_key": key,
                    "fields": [c.field.value for c in changes],
                },
            )
            await self.service.apply_ticket_changes(
                current.incident_id, key, current.project, changes
            )
        await self.tickets.mark_pulled(
            current.incident_id,
            last_change_id=last,
            remote_updated=snapshot.updated,
            at=self.clock.now(),
        )
        return len(changes), followed
