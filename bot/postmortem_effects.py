"""The Confluence side effects, performed by the outbox worker after commit (lane ``confluence``;
job kinds in ``bot.postmortem``).

``confluence.create`` writes the page from the catalog's template filled with the incident as it
is now; Confluence titles are unique per space, so a retry after a lost answer finds the page by
its title instead of writing a second one (``Docs.create_page``).

``confluence.sync`` is a reconciler: it renders the generated sections from the incident as it is
now and, when they differ from what the bot last wrote (``Postmortem.digest``: no request at all
otherwise), reads the page, replaces those sections and nothing else, and writes it back only if
the page is still at the version it read (a person publishing in between makes it read again).
A page that has become ready is left alone, a deleted one is reported once.

``confluence.jira_link`` puts the page on the incident's Jira ticket (a remote link).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot import postmortem, ticket
from bot.config import Catalog
from bot.domain.incident import Incident
from bot.ports import Chat, ChatError, Docs, DocsError, PageSnapshot, Tracker
from bot.service import IncidentService
from bot.ticket_effects import channel_url
from storage.outbox import OutboxJob
from storage.postmortems import Postmortem

log = logging.getLogger("firefighter.confluence")

CONFLICT_ATTEMPTS = 3
"""Reads and writes of one sync before it gives the page up to a later retry (people keep editing)."""
SYNC_MESSAGE = "FireFighter: the timeline, roles and milestones, as in Slack"
"""The version comment of the bot's writes (the page history says who changed what)."""


class PostmortemEffects:
    def __init__(
        self,
        docs: Docs,
        chat: Chat,
        service: IncidentService,
        *,
        tracker: Tracker | None = None,
    ) -> None:
        self.docs = docs
        self.chat = chat
        self.service = service
        self.tracker = tracker

    @property
    def catalog(self) -> Catalog:
        return self.service.catalog

    async def perform(self, job: OutboxJob) -> None:
        handlers: dict[str, Callable[[OutboxJob], Awaitable[None]]] = {
            postmortem.CREATE: self.create,
            postmortem.SYNC: self.sync,
            postmortem.JIRA_LINK: self.jira_link,
        }
        handler = handlers.get(job.kind)
        if handler is None:
            raise DocsError(f"unknown job kind {job.kind}", transient=False)
        await handler(job)

    # --- what the page says ----------------------------------------------------------------------

    async def facts(self, incident: Incident) -> postmortem.PageFacts:
        """The incident, its timeline, roles, follow-ups and links, as the page shows them."""
        service = self.service
        entries = await service.timeline.list(incident.id, limit=100_000)
        assignments = await service.role_assignments(incident.id)
        users = {a.user_id for a in assignments} | {e.actor.id for e in entries if e.actor.is_user}
        for entry in entries:
            users |= postmortem.slack_mentions(entry.text)
        followups = [
            postmortem.FollowUpLine(
                text=f.text, key=f.key, url=f.url, status=f.status, due=f.due_at, done=f.done
            )
            for f in await service.followups.list(incident.id)
        ]
        return postmortem.facts_of(
            self.catalog,
            incident,
            timeline=entries,
            roles=[(a.role, a.user_id) for a in assignments],
            people=await self._people(users),
            followups=followups,
            links=await self._links(incident),
        )

    async def _people(self, user_ids: set[str]) -> dict[str, str]:
        """How the page names people: their e-mail (Slack ids mean nothing in Confluence); a
        person Slack does not answer for keeps the fallback."""

        async def email(user_id: str) -> tuple[str, str | None]:
            try:
                return user_id, await self.chat.user_email(user_id)
            except ChatError:
                return user_id, None

        found = await asyncio.gather(*(email(u) for u in sorted(user_ids)))
        return {user_id: address for user_id, address in found if address}

    async def _links(self, incident: Incident) -> list[tuple[str, str]]:
        links: list[tuple[str, str]] = []
        channel = channel_url(incident.channel_id)
        if channel:
            links.append(
                (f"Slack channel #{incident.channel_name or incident.channel_id}", channel)
            )
        current = await self.service.ticket_of(incident.id)
        if current is not None and current.deleted_at is None:
            links.append((f"Jira ticket {current.key}", current.url))
        for page in await self.service.pages.list(incident.id):
            if page.url:
                number = f" #{page.pd_number}" if page.pd_number else ""
                links.append((f"PagerDuty incident{number} ({page.service_key})", page.url))
        return links

    async def sections(self, incident: Incident) -> dict[str, str]:
        """The generated sections the page carries (those of the template), as they should be."""
        template = postmortem.template_of(self.catalog.confluence)
        return postmortem.used_sections(template, postmortem.sections(await self.facts(incident)))

    async def behind(self, incident_id: int) -> str | None:
        """The digest of the sections as they should be, when the page is behind them (None when
        it is up to date, ready, gone or absent): the pull's safety net for timeline changes that
        enqueue nothing (an entry struck out by a 📌 removed in Slack)."""
        current = await self.service.postmortem_of(incident_id)
        if current is None or not current.live or current.ready:
            return None
        wanted = await self.sections(await self.service.require(incident_id))
        digest = postmortem.digest(wanted)
        return digest if wanted and digest != current.digest else None

    # --- writing the page ------------------------------------------------------------------------

    async def create(self, job: OutboxJob) -> None:
        incident_id = int(job.payload["incident_id"])
        current = await self.service.postmortem_of(incident_id)
        if current is not None and current.live:
            return
        incident = await self.service.require(incident_id)
        if incident.private:
            return  # never in the shared space (the service refuses to ask for it)
        section = self.catalog.confluence
        if not section.space_key:
            raise DocsError(
                "no_space",
                transient=False,
                detail="confluence.space_key is not set in the FireFighter catalog",
            )
        template = postmortem.template_of(section)
        facts = await self.facts(incident)
        generated = postmortem.used_sections(template, postmortem.sections(facts))
        title = postmortem.page_title(self.catalog, incident)
        ref = await self.docs.create_page(
            section.space_key,
            title,
            postmortem.page_body(template, facts),
            parent_id=section.parent_page_id,
        )
        log.info(
            "post-mortem page %s",
            "written" if ref.created else "found by its title",
            extra={"incident_id": incident_id, "page_id": ref.id},
        )
        await self.service.postmortem_created(
            incident_id,
            page_id=ref.id,
            title=ref.title,
            url=ref.url,
            version=ref.version,
            # A page found by its title (a lost answer, or one written by hand) may say anything:
            # no digest, so the next sync compares it.
            digest=postmortem.digest(generated) if ref.created else "",
        )
        if not ref.created:
            await self.service.resync_postmortem(incident_id, token=f"found-{ref.id}")

    async def sync(self, job: OutboxJob) -> None:
        incident_id = int(job.payload["incident_id"])
        current = await self.service.postmortem_of(incident_id)
        if current is None or not current.live or current.ready:
            return
        wanted = await self.sections(await self.service.require(incident_id))
        digest = postmortem.digest(wanted)
        if not wanted or digest == current.digest:
            return
        for _ in range(CONFLICT_ATTEMPTS):
            page = await self.docs.page(current.page_id)
            if page is None:
                await self.service.postmortem_lost(incident_id, page_id=current.page_id)
                return
            if self.ready_by_label(page):
                # Marked ready meanwhile: the authors' page from now on.
                await self.service.postmortem_readiness(
                    incident_id, page_id=current.page_id, ready=True
                )
                return
            if await self._write(current, page, wanted, digest):
                return
        raise DocsError(
            "conflict",
            method="updatePage",
            transient=True,
            detail="the page kept changing while FireFighter updated it",
        )

    async def _write(
        self, current: Postmortem, page: PageSnapshot, wanted: dict[str, str], digest: str
    ) -> bool:
        """Replace the generated sections of ``page`` as read; False when someone published a
        new version in between (read again)."""
        incident_id = current.incident_id
        splice = postmortem.replace_sections(page.body, wanted)
        if splice is None:
            log.warning(
                "the post-mortem page does not parse as storage format: left as it is",
                extra={"incident_id": incident_id, "page_id": current.page_id},
            )
        if splice is None or not splice.changed:
            # Nothing of the bot's left to write (unparseable, its panels deleted, or already
            # saying this): remember it, so the same timeline costs no request again.
            await self.service.postmortem_synced(
                incident_id, page_id=current.page_id, version=page.ref.version, digest=digest
            )
            return True
        try:
            version = await self.docs.update_body(
                current.page_id, splice.body, if_version=page.ref.version, message=SYNC_MESSAGE
            )
        except DocsError as error:
            if error.code == "conflict":
                return False
            if error.code == "not_found":
                await self.service.postmortem_lost(incident_id, page_id=current.page_id)
                return True
            raise
        log.info(
            "post-mortem page updated",
            extra={"incident_id": incident_id, "page_id": current.page_id, "version": version},
        )
        await self.service.postmortem_synced(
            incident_id, page_id=current.page_id, version=version, digest=digest
        )
        return True

    def ready_by_label(self, page: PageSnapshot) -> bool:
        """Whether the page carries the configured ready label (``ready_via: label`` only)."""
        section = self.catalog.confluence
        wanted = section.ready_label.lower()
        return section.ready_via == "label" and any(lab.lower() == wanted for lab in page.labels)

    # --- the Jira ticket -------------------------------------------------------------------------

    async def jira_link(self, job: OutboxJob) -> None:
        if self.tracker is None:
            return
        incident_id = int(job.payload["incident_id"])
        current = await self.service.postmortem_of(incident_id)
        if current is None or not current.live:
            return
        issue = await self.service.ticket_of(incident_id)
        if issue is None:
            incident = await self.service.require(incident_id)
            if self.service.jira and ticket.wants_ticket(self.catalog, incident):
                # Its opening is queued (Jira may be down): link once it exists.
                raise DocsError(
                    "ticket_pending", transient=True, detail="the Jira ticket is not open yet"
                )
            return
        if issue.deleted_at is not None:
            return
        await self.tracker.add_remote_link(issue.key, current.url, f"Post-mortem: {current.title}")
