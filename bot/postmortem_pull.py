"""Confluence → incident: the scheduled read of open post-mortems (``pull_postmortems``), and the
close gate's fresh read of one (``refresh``, the service's ``postmortem_check``).

"Ready" is a state, not an event: the configured label on the page (``ready_via: label``), or the
incident ticket's Jira status (``ready_via: jira_status``). So there is no watermark to keep: each
cycle reads the page of every incident not closed yet (one request each, labels included) and
records what it sees; the service records only a change (the timeline and the channel hear of it
once, however many cycles see the same label). The same read notices a page deleted in Confluence
(and one restored from its trash), and, as a safety net, a page whose generated sections are
behind the timeline (changes that enqueue no sync job, e.g. an entry struck out in Slack).

One replica pulls at a time (a lease). Nothing here writes to Confluence.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Unpack

from bot.config import ConfluenceSection
from bot.ports import Docs, DocsError, PageSnapshot, Tracker, TrackerError
from bot.postmortem_effects import PostmortemEffects
from bot.pull import LeasedPull, LeaseTerms, Report, gather_bounded
from bot.service import IncidentService
from storage.postmortems import Postmortem, PostmortemRepository

log = logging.getLogger("firefighter.confluence")

CONCURRENCY = 4
"""Pages read at once (each a request and a short transaction)."""


@dataclass(frozen=True, slots=True)
class PullReport(Report):
    pages: int
    changed: int
    """Readiness changes, deletions and restorations recorded."""
    resynced: int

    @property
    def noteworthy(self) -> bool:
        return bool(self.changed or self.resynced)


class PostmortemPull(LeasedPull[PullReport]):
    lease = "pull:confluence"

    def __init__(
        self,
        docs: Docs,
        service: IncidentService,
        effects: PostmortemEffects,
        *,
        tracker: Tracker | None = None,
        **terms: Unpack[LeaseTerms],
    ) -> None:
        super().__init__(**terms)
        self.docs = docs
        self.service = service
        self.effects = effects
        self.tracker = tracker
        self.postmortems = PostmortemRepository()

    @property
    def section(self) -> ConfluenceSection:
        return self.service.catalog.confluence

    async def cycle(self) -> PullReport:
        """Every open post-mortem read. Raises the vendor's error when no page could be read at
        all (Confluence down: the next cycle reads them again); when some were read, the others are logged."""
        pages = await self.postmortems.of_open_incidents()

        async def one(current: Postmortem) -> tuple[bool, bool] | BaseException:
            try:
                changed = await self._check(current)
                resynced = await self._resync_if_behind(current)
            except (DocsError, TrackerError) as error:
                return error
            return changed, resynced

        results = await gather_bounded(pages, one, at_once=CONCURRENCY)
        failures = [r for r in results if isinstance(r, BaseException)]
        done = [r for r in results if not isinstance(r, BaseException)]
        if failures and not done:
            raise failures[0]
        for failure in failures:
            log.warning("a post-mortem page could not be read", extra={"error": str(failure)})
        return PullReport(
            pages=len(pages),
            changed=sum(1 for changed, _ in done if changed),
            resynced=sum(1 for _, resynced in done if resynced),
        )

    async def refresh(self, incident_id: int) -> bool:
        """Read one incident's post-mortem now and record what it says (the close gate, before
        it decides); False when Confluence (or Jira) did not answer."""
        current = await self.postmortems.get(incident_id)
        if current is None:
            return True
        try:
            await self._check(current)
        except (DocsError, TrackerError) as error:
            log.warning(
                "could not read the post-mortem page; the gate uses what was last read",
                extra={"incident_id": incident_id, "error": str(error)},
            )
            return False
        return True

    async def _check(self, current: Postmortem) -> bool:
        """Read the page; record a deletion, a restoration or a readiness change (True)."""
        incident_id, page_id = current.incident_id, current.page_id
        page = await self.docs.page(page_id)
        if page is None:
            if current.live:
                await self.service.postmortem_lost(incident_id, page_id=page_id)
                return True
            return False
        changed = False
        if not current.live:
            await self.service.postmortem_restored(incident_id, page_id=page_id)
            changed = True
        ready = await self._ready(incident_id, page)
        if await self.service.postmortem_readiness(incident_id, page_id=page_id, ready=ready):
            changed = True
        return changed

    async def _ready(self, incident_id: int, page: PageSnapshot) -> bool:
        section = self.section
        if section.ready_via == "label":
            return self.effects.ready_by_label(page)
        issue = await self.service.ticket_of(incident_id)
        if self.tracker is None or issue is None or issue.deleted_at is not None:
            return False
        snapshot = await self.tracker.issue(issue.key)
        wanted = (section.ready_jira_status or "").casefold()
        return snapshot is not None and snapshot.status.casefold() == wanted

    async def _resync_if_behind(self, current: Postmortem) -> bool:
        digest = await self.effects.behind(current.incident_id)
        if digest is None:
            return False
        await self.service.resync_postmortem(current.incident_id, token=f"pull-{digest}")
        return True
