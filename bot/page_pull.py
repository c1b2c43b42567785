"""PagerDuty → incident: the scheduled pull (``pull_pagerduty_changes``).

What responders do in PagerDuty (acknowledge, resolve) is read from the log entries of the pages
still open (``Pager.events_since``: one request per open page, bounded by the pages the bot opened,
not by the account's traffic). The watermark is PagerDuty's own time of the newest entry applied,
never our clock; each read starts ``OVERLAP`` before it, and an entry read twice is applied once
(its id is remembered in the same transaction as its effect). The bot's own writes (its
resolution at mitigation) come back as entries by its ``From`` user and are skipped. One replica
pulls at a time (a lease).

An acknowledgement sets the incident's ``acknowledged_at`` through the service (the first-response
milestone rule) and is told in the channel; a resolution by someone in PagerDuty is told too, but
does not move the incident (PagerDuty's incident is the page, not the incident).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Unpack

from bot.ports import Pager, PagerEvent
from bot.pull import LeasedPull, LeaseTerms, Report
from bot.service import IncidentService
from storage.pages import PageRecord
from storage.tickets import CursorRepository

log = logging.getLogger("firefighter.pagerduty")

CURSOR = "pagerduty.pull"
OVERLAP = timedelta(minutes=2)
APPLIED = frozenset({"acknowledged", "unacknowledged", "resolved"})


@dataclass(frozen=True, slots=True)
class PullReport(Report):
    pages: int
    events: int
    applied: int

    @property
    def noteworthy(self) -> bool:
        return bool(self.applied)


class PagePull(LeasedPull[PullReport]):
    lease = "pull:pagerduty"

    def __init__(self, pager: Pager, service: IncidentService, **terms: Unpack[LeaseTerms]) -> None:
        super().__init__(**terms)
        self.pager = pager
        self.service = service
        self.cursors = CursorRepository()

    async def cycle(self) -> PullReport:
        pages = await self.service.pages.open_pages()
        if not pages:
            return PullReport(0, 0, 0)
        cursor = await self.cursors.get(CURSOR)
        # First pull: from the oldest open page (its whole log is short); then from the
        # watermark. Both minus the overlap: entries read twice are applied once.
        since = (cursor or min(p.created_at for p in pages)) - OVERLAP
        by_pd_id = {p.pd_incident_id: p for p in pages if p.pd_incident_id}
        events = await self.pager.events_since(list(by_pd_id), since)
        applied = 0
        newest: datetime | None = cursor
        for event in events:
            record = by_pd_id.get(event.incident_id)
            if record is not None and event.kind in APPLIED and not event.by_bot:
                try:
                    applied += await self._apply(record, event)
                except Exception:
                    # Left for the next pull (the watermark stays before it); the entries after it
                    # wait too, so that they are applied in PagerDuty's order.
                    log.exception(
                        "a PagerDuty change could not be applied; the next pull retries",
                        extra={"incident_id": record.incident_id, "entry": event.id},
                    )
                    break
            newest = max(newest, event.at) if newest else event.at
        if newest is not None and newest != cursor:
            await self.cursors.set(CURSOR, newest, at=self.clock.now())
        return PullReport(len(pages), len(events), applied)

    async def _apply(self, record: PageRecord, event: PagerEvent) -> int:
        """One log entry (its id is the intent: applied once). 1 when it changed something."""
        name = event.by.name if event.by else "PagerDuty"
        if event.kind == "acknowledged":
            done = await self.service.page_acknowledged(
                record.id,
                at=event.at,
                by_name=name,
                by_email=event.by.email if event.by else None,
                intent_key=event.id,
            )
        elif event.kind == "resolved":
            done = await self.service.page_resolved(
                record.id, at=event.at, by_name=name, by_bot=False, intent_key=event.id
            )
        else:
            await self.service.page_unacknowledged(record.id)
            done = False
        if done:
            log.info(
                "pagerduty change pulled",
                extra={"incident_id": record.incident_id, "kind": event.kind, "entry": event.id},
            )
        return int(done)
