"""The Jira side effects, performed by the outbox worker after commit (job kinds in
``bot.ticket``).

``jira.sync`` is a reconciler like ``slack.sync``: it reads the incident as it is now and brings its
ticket in step. The first sync that wants a ticket opens it (found again by its marker label if a
crash lost Jira's answer); later ones write only the fields whose Jira value differs (title,
priority, commander, description) and walk the workflow to the status mapped for the incident's
status. After each sync the agreed values are remembered (``Ticket.written``): the pull drops a
change that only brings back one of them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot import ticket
from bot.config import Catalog
from bot.domain.incident import BuiltinRole, Incident
from bot.ports import Chat, FieldValue, Tracker, TrackerError
from bot.service import IncidentService
from storage.outbox import OutboxJob
from storage.tickets import Ticket

log = logging.getLogger("firefighter.jira")

SLACK_CHANNEL_LINK = "https://slack.com/app_redirect?channel={channel_id}"


def channel_url(channel_id: str | None) -> str | None:
    return SLACK_CHANNEL_LINK.format(channel_id=channel_id) if channel_id else None


class TicketEffects:
    def __init__(self, tracker: Tracker, chat: Chat, service: IncidentService) -> None:
        self.tracker = tracker
        self.chat = chat
        self.service = service
        self._accounts: dict[str, str | None] = {}

    @property
    def catalog(self) -> Catalog:
        return self.service.catalog

    async def perform(self, job: OutboxJob) -> None:
        handlers: dict[str, Callable[[OutboxJob], Awaitable[None]]] = {
            ticket.SYNC: self.sync,
            ticket.ATTACH: self.attach,
            ticket.FOLLOWUP: self.followup,
        }
        handler = handlers.get(job.kind)
        if handler is None:
            raise TrackerError(f"unknown job kind {job.kind}", transient=False)
        await handler(job)

    # --- the incident's ticket ------------------------------------------------------------------

    async def sync(self, job: OutboxJob) -> None:
        incident = await self.service.require(int(job.payload["incident_id"]))
        current = await self.service.ticket_of(incident.id)
        if current is not None and current.deleted_at is not None:
            return
        context = await self._context(incident)
        if current is None:
            if not ticket.wants_ticket(self.catalog, incident):
                return
            current = await self._open(incident, context)
        await self._reconcile(incident, current, context)

    async def _open(self, incident: Incident, context: ticket.TicketContext) -> Ticket:
        routed = ticket.route(self.catalog, incident)
        assert routed is not None  # wants_ticket checked it
        project, issue_type = routed
        marker = ticket.marker(incident.id)
        ref = await self.tracker.find_by_label(marker)
        refused: dict[str, str] = {}
        if ref is None:
            fields = ticket.creation_fields(self.catalog, incident, context)
            try:
                ref = await self.tracker.create_issue(project, issue_type, fields, marker=marker)
            except TrackerError as error:
                # A mapped field Jira refuses (a wrong id, a value it does not allow) must not
                # cost the incident its ticket: open it without them, and say which.
                refused = dict(error.field_errors)
                if error.code != "invalid" or not refused or refused.keys() & ticket.REQUIRED:
                    raise
                kept = {k: v for k, v in fields.items() if k not in refused}
                ref = await self.tracker.create_issue(project, issue_type, kept, marker=marker)
            log.info("jira ticket opened", extra={"incident_id": incident.id, "jira_key": ref.key})
        opened = await self.service.ticket_opened(
            incident.id, key=ref.key, issue_id=ref.id, url=ref.url, project=project, written={}
        )
        if refused:
            await self.service.ticket_fields_refused(incident.id, ref.key, refused)
        return opened

    async def _reconcile(
        self, incident: Incident, current: Ticket, context: ticket.TicketContext
    ) -> None:
        jira = self.catalog.jira
        snapshot = await self.tracker.issue(current.key)
        if snapshot is None:
            await self.service.ticket_lost(incident.id, current.key)
            return
        wanted = ticket.synced_fields(self.catalog, incident, context)
        changes = ticket.differences(wanted, snapshot, jira.priority_field)
        for pulled in (jira.priority_field, "assignee"):
            # Changed in Jira since the last sync while the incident kept the value agreed then:
            # a person's change the next pull brings to the incident. Writing the incident's value
            # now would undo it unseen (the pull would then find only the bot's change).
            if pulled in changes and current.written.get(pulled) == _plain(wanted[pulled]):
                del changes[pulled]
        document = ticket.description(self.catalog, incident, context)
        digest = ticket.digest(document)
        if current.written.get(ticket.DESCRIPTION_KEY) not in (None, digest):
            changes["description"] = document
        agreed: dict[str, object] = {k: _plain(v) for k, v in wanted.items()}
        agreed[ticket.DESCRIPTION_KEY] = digest
        if changes:
            await self.tracker.update_issue(current.key, changes)
            log.info(
                "jira ticket updated",
                extra={
                    "incident_id": incident.id,
                    "jira_key": current.key,
                    "fields": list(changes),
                },
            )
        target = ticket.target_status(jira, current.project, incident.status)
        if target is not None:
            if snapshot.status.casefold() != target.casefold():
                await self.tracker.transition_to(current.key, target)
            agreed["status"] = target
        link = context.channel_url
        if link and current.written.get("channel_link") != link:
            await self.tracker.add_remote_link(
                current.key, link, ticket.channel_label(self.catalog, incident)
            )
            agreed["channel_link"] = link
        await self.service.ticket_written(incident.id, agreed)

    async def _context(self, incident: Incident) -> ticket.TicketContext:
        holders = await self.service.role_holders(incident.id)
        commander = holders.get(BuiltinRole.COMMANDER)
        return ticket.TicketContext(
            channel_url=channel_url(incident.channel_id),
            commander=commander,
            commander_account=await self._account(commander) if commander else None,
        )

    async def _account(self, user_id: str) -> str | None:
        """The Jira account of a Slack user, matched by e-mail (cached for the process)."""
        if user_id not in self._accounts:
            email = await self.chat.user_email(user_id)
            self._accounts[user_id] = await self.tracker.account_for_email(email) if email else None
        return self._accounts[user_id]

    # --- files and follow-ups -------------------------------------------------------------------

    async def attach(self, job: OutboxJob) -> None:
        incident_id = int(job.payload["incident_id"])
        current = await self.service.ticket_of(incident_id)
        if current is None or current.deleted_at is not None:
            raise TrackerError(
                "no_ticket", transient=False, detail="the incident has no Jira ticket"
            )
        name, content = await self.chat.file_content(str(job.payload["file_id"]))
        await self.tracker.attach(current.key, name, content)

    async def followup(self, job: OutboxJob) -> None:
        followup_id = int(job.payload["followup_id"])
        incident_id = int(job.payload["incident_id"])
        followup = await self.service.followup(followup_id)
        if followup is None or followup.key is not None:
            return
        incident = await self.service.require(incident_id)
        parent = await self.service.ticket_of(incident_id)
        jira = self.catalog.jira
        routed = ticket.route(self.catalog, incident)
        project = jira.followup_project or (
            parent.project if parent else routed[0] if routed else None
        )
        if project is None:
            raise TrackerError(
                "no_project", transient=False, detail="no Jira project is configured for it"
            )
        marker = ticket.followup_marker(followup_id)
        ref = await self.tracker.find_by_label(marker)
        if ref is None:
            fields: dict[str, FieldValue] = {
                "summary": followup.text,
                "description": ticket.followup_description(
                    self.catalog, incident, parent, followup.text
                ),
                "labels": (ticket.FOLLOWUP_LABEL,),
            }
            if followup.due_at is not None:
                fields["duedate"] = followup.due_at.date().isoformat()
            ref = await self.tracker.create_issue(
                project, jira.followup_issue_type, fields, marker=marker
            )
        if parent is not None and parent.deleted_at is None:
            await self.tracker.link_issues(parent.key, ref.key)
        snapshot = await self.tracker.issue(ref.key)
        await self.service.followup_created(
            followup_id,
            key=ref.key,
            issue_id=ref.id,
            url=ref.url,
            status=snapshot.status if snapshot else "",
        )


def _plain(value: FieldValue) -> object:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, str | float) or value is None:
        return value
    return value.plain()
