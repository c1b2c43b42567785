"""The PagerDuty side effects, performed by the outbox worker after commit (lane ``pagerduty``;
job kinds in ``bot.page``).

``pagerduty.page`` sends one recorded page and finishes what goes with it, each step idempotent so
a retry (a 429, PagerDuty down, a crash mid-request) resumes where the last attempt stopped:

1. open the PagerDuty incident. ``Pager.trigger`` looks the page's key up before creating and
   again after a refusal, so a retry after a lost answer finds the incident instead of opening a
   second one;
2. record it (who was notified, matched to Slack accounts by e-mail): the timeline and the
   channel are told once;
3. invite the notified responders to the incident channel, and give the PagerDuty incident the
   channel's link if the page left before the channel existed.

A page asked for at declaration waits a little for the channel (created by the Slack lane at the
same moment) so the link travels with the page; it never waits for long: paging comes first.

``pagerduty.resolve`` resolves the pages still open once the incident is mitigated (reading the
incident as it is when it runs: a reopen meanwhile leaves them open).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence

from bot import page as paging
from bot.config import PagerDutyService
from bot.domain.incident import Incident, ResponseType
from bot.ports import Chat, ChatError, OnCall, Pager, PagerError, PagerIncident
from bot.service import IncidentService
from storage.outbox import OutboxJob
from storage.pages import PageRecord, Responder

log = logging.getLogger("firefighter.pagerduty")

CHANNEL_WAIT_SECONDS = 3.0
"""How long a page waits for its incident's channel before leaving without the link."""
CHANNEL_POLL_SECONDS = 0.1
IGNORED_INVITE_ERRORS = frozenset({"already_in_channel", "cant_invite_self"})


class PageEffects:
    def __init__(self, pager: Pager, chat: Chat, service: IncidentService) -> None:
        self.pager = pager
        self.chat = chat
        self.service = service

    async def perform(self, job: OutboxJob) -> None:
        if job.kind == paging.PAGE:
            await self.page(job)
        elif job.kind == paging.RESOLVE:
            await self.resolve(job)
        else:
            raise PagerError(f"unknown job kind {job.kind}", transient=False)

    # --- pagerduty.page ---------------------------------------------------------------------

    async def page(self, job: OutboxJob) -> None:
        record = await self.service.pages.get(int(job.payload["page_id"]))
        if record is None or not record.is_live:
            return  # resolved or cancelled meanwhile
        incident = await self.service.require(record.incident_id)
        if record.status == "requested":
            if incident.status.is_mitigated_or_later:
                await self._cancel(record, incident)
                return
            incident = await self._with_channel(incident)
            opened = await self.pager.trigger(self._request(record, incident))
            responders = await self._responders(record, opened)
            stored = await self.service.page_triggered(
                record.id, opened, responders, channel_linked=bool(incident.channel_id)
            )
            if stored is None:
                return
            record = stored
        await self._follow_up(record, incident)

    def _request(self, record: PageRecord, incident: Incident) -> paging.Page:
        catalog = self.service.catalog
        try:
            service = catalog.pagerduty.service(record.service_key)
        except KeyError:
            # Removed from the catalog since it was asked for: page what was recorded.
            service = PagerDutyService(
                key=record.service_key,
                service_id=record.service_id,
                escalation_policy_id=record.escalation_policy_id,
            )
        request = paging.request(catalog, incident, service, round_=record.round)
        if request.urgency != record.urgency:
            # The urgency recorded when it was asked (the priority may have moved since).
            request = paging.Page(
                incident_id=request.incident_id,
                service_id=request.service_id,
                title=request.title,
                details=request.details,
                channel_url=request.channel_url,
                urgency=record.urgency,
                escalation_policy_id=request.escalation_policy_id,
                round=request.round,
            )
        return request

    async def _with_channel(self, incident: Incident) -> Incident:
        """The incident once its channel exists, waiting ``CHANNEL_WAIT_SECONDS`` at most (a
        page asked for at declaration runs while the Slack lane creates the channel)."""
        if incident.channel_id or incident.response_type is not ResponseType.CRITICAL:
            return incident
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CHANNEL_WAIT_SECONDS
        while incident.channel_id is None and loop.time() < deadline:
            await asyncio.sleep(CHANNEL_POLL_SECONDS)
            incident = await self.service.require(incident.id)
        return incident

    async def _responders(self, record: PageRecord, opened: PagerIncident) -> list[Responder]:
        """Who PagerDuty notified, with e-mails (from the on-call of the page's policy) and the
        Slack account of each e-mail. Someone assigned who is not on call (assigned by hand in
        PagerDuty) is listed by id: PagerDuty's incident only names them."""
        if not opened.assignees:
            return []
        on_call: OnCall | None
        try:
            if record.escalation_policy_id:
                on_call = await self.pager.on_call(escalation_policy_id=record.escalation_policy_id)
            else:
                on_call = await self.pager.on_call(service_id=record.service_id)
        except PagerError as error:
            if error.transient:
                raise
            on_call = None
        users = {shift.user.id: shift.user for shift in on_call.shifts} if on_call else {}
        found: list[Responder] = []
        for user_id in opened.assignees:
            user = users.get(user_id)
            if user is None:
                found.append(Responder(user_id, f"PagerDuty user {user_id}"))
                continue
            slack_id = await self.chat.user_by_email(user.email) if user.email else None
            found.append(Responder(user.id, user.name, user.email, slack_id))
        return found

    async def _follow_up(self, record: PageRecord, incident: Incident) -> None:
        """Invite the notified responders to the channel; link the channel from PagerDuty."""
        incident = await self.service.require(incident.id)
        channel_id = incident.channel_id
        if channel_id is None:
            if incident.response_type is ResponseType.CRITICAL and incident.is_open:
                # Slack has not made the channel yet (or is down): come back for the rest.
                raise PagerError(
                    "no_channel_yet",
                    method="page",
                    transient=True,
                    detail="the page is sent; its responders join once the channel exists",
                )
            return
        if not record.invited:
            await self._invite(incident.id, channel_id, record)
            await self.service.page_marked(record.id, invited=True)
        if not record.channel_linked and record.pd_incident_id:
            try:
                await self.pager.add_note(
                    record.pd_incident_id,
                    f"Slack channel of {incident.reference}: {paging.channel_link(channel_id)}",
                )
            except PagerError as error:
                if error.transient:
                    raise
                # PagerDuty refuses the note for good (its incident gone…): the page went out.
                log.warning(
                    "the channel's link could not be added to the page",
                    extra={"incident_id": incident.id, "error": str(error)},
                )
            await self.service.page_marked(record.id, channel_linked=True)

    async def _invite(self, incident_id: int, channel_id: str, record: PageRecord) -> None:
        """The notified responders with a Slack account, into the channel. Slack refusing for
        good (an archived channel…) is logged, not a failed page: the page itself went out."""
        slack_ids = [r.slack_id for r in record.responders if r.slack_id]
        if not slack_ids:
            return
        try:
            refused = await self.chat.invite(channel_id, slack_ids)
        except ChatError as error:
            if error.transient:
                raise
            refused = dict.fromkeys(slack_ids, error.code)
        problems = {u: e for u, e in refused.items() if e not in IGNORED_INVITE_ERRORS}
        if problems:
            log.warning(
                "some paged responders could not be invited",
                extra={"incident_id": incident_id, "refused": problems},
            )

    async def _cancel(self, record: PageRecord, incident: Incident) -> None:
        """Mitigated before the page left: send nothing; but an attempt whose answer was lost
        may have opened the PagerDuty incident, which is then resolved."""
        existing = await self.pager.find_incident(record.key, service_id=record.service_id)
        if existing is not None and existing.status != "resolved":
            await self.pager.resolve(existing.id, resolution=paging.resolution(incident))
        await self.service.page_cancelled(record.id)

    # --- pagerduty.resolve ------------------------------------------------------------------

    async def resolve(self, job: OutboxJob) -> None:
        incident = await self.service.require(int(job.payload["incident_id"]))
        if not incident.status.is_mitigated_or_later:
            return  # reopened before this ran: the pages stay open
        pages = [p for p in await self.service.pages_of(incident.id) if p.is_open]
        await _each([self._resolve_one(record, incident) for record in pages])

    async def _resolve_one(self, record: PageRecord, incident: Incident) -> None:
        assert record.pd_incident_id is not None
        try:
            await self.pager.resolve(record.pd_incident_id, resolution=paging.resolution(incident))
        except PagerError as error:
            if error.code != "not_found":
                raise
            log.warning(
                "a paged PagerDuty incident no longer exists",
                extra={"incident_id": incident.id, "pagerduty_id": record.pd_incident_id},
            )
        # On the incident's clock: this follows the mitigation, which is on that clock too.
        await self.service.page_resolved(
            record.id, at=self.service.clock.now(), by_name=None, by_bot=True
        )


async def _each(calls: Sequence[Awaitable[None]]) -> None:
    """Run independent calls concurrently; raise the most retryable failure (transient first)."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    for error in errors:
        if not isinstance(error, PagerError | ChatError) or error.transient:
            raise error
    if errors:
        raise errors[0]
