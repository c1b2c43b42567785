"""The Slack side effects of the lifecycle, performed by the outbox worker after commit.

Job kinds (``SYNC``, ``CHANGE``…) are what the service enqueues; ``SlackEffects.perform`` runs one.
``SYNC`` is a reconciler: it reads the incident as it is now and brings Slack in step (channel,
members, topic, pinned summary, announcement, deploy warning, the reply in the source thread),
recording every message it owns in ``slack_ref``. It is therefore idempotent and resumable: after a
crash it finds what was done (and, for a call whose answer was lost, looks its message up by its
metadata before posting again), so there is exactly one channel, announcement and summary.

The path of a new critical incident is three dependent rounds of Slack calls, everything else
concurrent: create the channel (the incident and its slack refs read first, the rest of what the
messages need read beside the call) → {invite (once the channel is recorded on the incident), post
the summary, set the topic, announce, reply in the source thread, warn the deploy channel} → {pin
the summary, delete the topic notice}. ``docs/benchmarks.md`` has the trace of one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot import page, postmortem, ticket
from bot.blocks.home import PriorityStyle
from bot.blocks.incident import (
    IncidentView,
    announcement_message,
    change_reply,
    closing_summary_message,
    deploy_warning_message,
    incident_notice_message,
    private_announcement_for_outsiders,
    role_assigned_dm,
    side_effect_failed_message,
    status_update_message,
    summary_message,
    topic_text,
)
from bot.blocks.reminders import (
    postmortem_due_message,
    role_gap_message,
    stale_mitigated_message,
    update_reminder_message,
)
from bot.chart import render_chart
from bot.config import Catalog
from bot.domain.incident import Actor, Incident, Priority, ResponseType, Status, TimelineKind
from bot.domain.naming import channel_name, with_suffix
from bot.domain.reminders import UPDATE_TIMELINE_KINDS, ReminderKind
from bot.domain.stats import weeks_from_json
from bot.ports import Chat, ChatError, Clock
from storage.outbox import OutboxJob
from storage.pages import PageRepository
from storage.postmortems import PostmortemRepository
from storage.reminders import ReminderRepository
from storage.repository import (
    IncidentRepository,
    ParticipantRepository,
    RoleRepository,
    SlackRef,
    SlackRefRepository,
    TimelineRepository,
)
from storage.tickets import TicketRepository

log = logging.getLogger("firefighter.effects")

SYNC = "slack.sync"
CHANGE = "slack.change"
ROLE_DM = "slack.role_dm"
BROADCAST = "slack.broadcast"
NOTICE = "slack.notice"
CLOSING = "slack.closing"
ARCHIVE = "slack.archive"
INVITE = "slack.invite"
DIGEST = "slack.digest"
REMINDER = "slack.reminder"
POST = "slack.post"

# slack_ref kinds
SUMMARY = "summary"
ANNOUNCEMENT = "announcement"
PUBLIC_SAFE = "public_safe"
"""An announcement ref's data flag: it is the outsiders' version (no thread replies under it)."""
TOPIC = "topic"
MEMBERS = "members"
DEPLOY_WARNING = "deploy_warning"
SOURCE = "source"
ARCHIVED = "archived"
CHANNEL_INTENT = "channel_intent"
DIGEST_REF = "digest"
BOOKMARK = "bookmark"

PINNED = "pinned"
"""In the summary's ref: False until Slack pinned it, then True, or the error that refused it for
good (refs older than this key were pinned)."""

ANNOUNCED_KINDS = frozenset(
    {
        TimelineKind.STATUS_CHANGE,
        TimelineKind.PRIORITY_CHANGE,
        TimelineKind.CLOSED,
        TimelineKind.REOPENED,
        TimelineKind.CONVERTED,
    }
)
"""Timeline kinds told in the announcement's thread."""

_DESCRIPTIONS = {
    SYNC: "update the incident's Slack channel and announcement",
    CHANGE: "announce the change",
    ROLE_DM: "send the role's duties by direct message",
    BROADCAST: "broadcast the status update",
    NOTICE: "report a failure",
    CLOSING: "post the closing summary",
    ARCHIVE: "archive the channel",
    INVITE: "invite you to the channel",
    DIGEST: "post the weekly digest",
    REMINDER: "send a reminder",
    POST: "post in the incident's channel",
}

MAX_NAME_ATTEMPTS = 20
CHANNEL_LOST = frozenset({"is_archived", "not_in_channel", "channel_not_found"})
"""Errors meaning the incident's channel is not usable as it is (see ``_recover_channel``)."""
IGNORED_INVITE_ERRORS = frozenset({"already_in_channel", "cant_invite_self"})


def describe(kind: str, error: str = "", *, private: bool = False) -> str:
    """What failed, for "Could not <describe>" messages: the job kind's purpose, or the step
    the error names (``"conversations.create: restricted_action"``)."""
    if error.startswith("conversations.create"):
        if private:
            return "create the incident's private channel (it is never replaced by a public one)"
        return "create the incident's channel"
    return (
        _DESCRIPTIONS.get(kind)
        or ticket.DESCRIPTIONS.get(kind)
        or page.DESCRIPTIONS.get(kind)
        or postmortem.DESCRIPTIONS.get(kind, kind)
    )


def _metadata(kind: str, incident_id: int) -> dict[str, Any]:
    return {"event_type": f"firefighter_{kind}", "event_payload": {"incident_id": incident_id}}


async def _gather(calls: Sequence[Awaitable[None]]) -> None:
    """Run independent calls concurrently; raise the most retryable error (transient first)."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if not errors:
        return
    for error in errors:
        if not isinstance(error, ChatError) or error.transient:
            raise error
    raise errors[0]


class SlackEffects:
    def __init__(
        self,
        chat: Chat,
        catalog: Catalog,
        clock: Clock,
        *,
        incidents: IncidentRepository | None = None,
        roles: RoleRepository | None = None,
        timeline: TimelineRepository | None = None,
        participants: ParticipantRepository | None = None,
        refs: SlackRefRepository | None = None,
    ) -> None:
        self.chat = chat
        self.catalog = catalog
        self.clock = clock
        self.incidents = incidents or IncidentRepository()
        self.roles = roles or RoleRepository()
        self.timeline = timeline or TimelineRepository()
        self.participants = participants or ParticipantRepository()
        self.refs = refs or SlackRefRepository()
        self.tickets = TicketRepository()
        self.after_sync: Callable[[int], None] | None = None
        """Told the incident id after each SYNC (the App Home publisher's refresh)."""
        self.channel_ready: Callable[[int], Awaitable[None]] | None = None
        """Told the incident id once its channel exists (the Jira ticket then links to it)."""

    async def perform(self, job: OutboxJob) -> None:
        handler = {
            SYNC: self.sync,
            CHANGE: self.change,
            ROLE_DM: self.role_dm,
            BROADCAST: self.broadcast,
            NOTICE: self.notice,
            CLOSING: self.closing,
            ARCHIVE: self.archive,
            INVITE: self.invite,
            DIGEST: self.digest,
            REMINDER: self.reminder,
            POST: self.post,
        }.get(job.kind)
        if handler is None:
            raise ChatError(f"unknown job kind {job.kind}", transient=False)
        try:
            await handler(job)
        finally:
            if job.kind == SYNC and self.after_sync is not None:
                # The incident changed (even if Slack did not follow yet): refresh the Homes.
                self.after_sync(int(job.payload["incident_id"]))

    # --- the view every message is built from -----------------------------------------------

    async def _view(self, incident: Incident) -> IncidentView:
        priority = self.catalog.priority(incident.priority.label)
        assignments, links = await asyncio.gather(
            self.roles.list(incident.id), self._links(incident)
        )
        names = {role.key: role.name for role in self.catalog.roles}
        commander = next((a.user_id for a in assignments if a.role == "commander"), None)
        try:
            category_name = self.catalog.category(incident.category).name
        except KeyError:
            category_name = incident.category
        return IncidentView(
            incident=incident,
            style=PriorityStyle(emoji=priority.emoji, name=priority.name),
            tz=self.catalog.reminders.tz,
            now=self.clock.now(),
            command=self.catalog.slack.command,
            commander=commander,
            roles=[(names.get(a.role, a.role), a.user_id) for a in assignments],
            category_name=category_name,
            links=links,
        )

    async def _links(self, incident: Incident) -> dict[str, str]:
        """The incident's pages elsewhere (its Jira ticket…), for the summary and bookmarks."""
        links: dict[str, str] = {}
        tickets, postmortems, pages = await asyncio.gather(
            self.tickets.links([incident.id]),
            PostmortemRepository().links([incident.id]),
            PageRepository().list(incident.id),
        )
        ticket_link = tickets.get(incident.id)
        if ticket_link is not None:
            key, url = ticket_link
            links[f"Jira {key}"] = url
        postmortem_link = postmortems.get(incident.id)
        if postmortem_link is not None:
            links["Post-mortem"] = postmortem_link
        for paged in pages:
            if paged.url:
                links[f"{paged.reference} ({paged.service_key})"] = paged.url
        return links

    async def _bookmarks(
        self,
        incident: Incident,
        channel_id: str,
        refs: Mapping[str, SlackRef],
        links: Mapping[str, str],
    ) -> None:
        """Each link bookmarked once in the channel (a ref per link remembers it)."""
        for title, url in links.items():
            slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
            kind = f"{BOOKMARK}:{slug}"[:32]
            ref = refs.get(kind)
            if ref is not None and ref.data.get("url") == url:
                continue
            await self.chat.add_bookmark(channel_id, title, url)
            await self._put(
                SlackRef(
                    incident_id=incident.id, kind=kind, channel_id=channel_id, data={"url": url}
                )
            )

    async def _put(self, ref: SlackRef) -> None:
        await self.refs.put(ref, at=self.clock.now())

    # --- SYNC ---------------------------------------------------------------------------------

    async def sync(self, job: OutboxJob) -> None:
        incident_id = int(job.payload["incident_id"])
        incident, refs = await asyncio.gather(
            self.incidents.require(incident_id), self.refs.all(incident_id)
        )
        retrying = job.attempts > 1
        channel_id = incident.channel_id
        wants_channel = incident.response_type is ResponseType.CRITICAL and incident.is_open
        creating = wants_channel and channel_id is None
        # The channel is the first dependent call: it leaves now, while the view (roles, links)
        # and the wanted members are read beside it.
        created: asyncio.Task[tuple[str, str]] | None = None
        if creating:
            created = asyncio.create_task(self._create_channel(incident, refs))
        try:
            view = await self._view(incident)
            wanted = (
                await self._wanted_members(incident, [user for _, user in view.roles])
                if wants_channel
                else []
            )
        except BaseException:
            if created is not None:
                created.cancel()
                await asyncio.gather(created, return_exceptions=True)
            raise
        round_two: list[Awaitable[None]] = []
        if created is not None:
            channel_id, name = await created
            incident = dataclasses.replace(incident, channel_id=channel_id, channel_name=name)
            view = dataclasses.replace(view, incident=incident)
        if wants_channel and channel_id is not None and ARCHIVED in refs:
            # Reopened after its channel was archived: the responders need it back.
            await self.chat.unarchive(channel_id)
            await self.refs.delete(incident.id, ARCHIVED)
            refs = {k: v for k, v in refs.items() if k != ARCHIVED}
        has_live_channel = channel_id is not None and ARCHIVED not in refs
        if has_live_channel and channel_id is not None:
            if incident.response_type is ResponseType.CRITICAL:
                round_two += [
                    self._members(incident, channel_id, refs, wanted, new=creating),
                    self._summary(view, channel_id, refs, retrying=retrying),
                    self._topic(view, channel_id, refs),
                    self._bookmarks(incident, channel_id, refs, view.links),
                ]
            else:
                round_two.append(self._archive_converted(incident, channel_id))
        round_two += [
            self._announce(view, refs, retrying=retrying),
            self._deploy_warning(incident, view.style, refs),
            self._source_reply(incident, refs),
        ]
        try:
            await _gather(round_two)
        except ChatError as error:
            if wants_channel and channel_id is not None and error.code in CHANNEL_LOST:
                await self._recover_channel(incident, channel_id, error)
            raise

    async def _members(
        self,
        incident: Incident,
        channel_id: str,
        refs: Mapping[str, SlackRef],
        wanted: list[str],
        *,
        new: bool,
    ) -> None:
        """A new channel is recorded on the incident first (the invitees' ``member_joined``
        events are then matched to it), and only then are people invited: the summary, topic
        and announcement need not wait for the database and leave beside it."""
        if new:
            await self.incidents.set_channel(incident.id, channel_id, incident.channel_name)
            if self.channel_ready is not None:
                await self.channel_ready(incident.id)
        await self._invite(incident, channel_id, refs, wanted)

    async def _recover_channel(self, incident: Incident, channel_id: str, error: ChatError) -> None:
        """The incident's channel was archived, the bot removed from it, or the channel deleted
        by someone while the incident is open: bring it back, then retry at once (by raising a
        transient error). What cannot be brought back (a private channel the bot was removed
        from) stays a permanent failure, reported to the channel's people."""
        info = await self.chat.channel_info(channel_id)
        if info is None:
            log.warning(
                "the incident channel is gone; making a new one", extra={"incident_id": incident.id}
            )
            await self.incidents.set_channel(incident.id, None, None)
            for kind in (SUMMARY, TOPIC, MEMBERS, CHANNEL_INTENT):
                await self.refs.delete(incident.id, kind)
        elif info.is_archived:
            log.warning(
                "the incident channel was archived while open; unarchiving",
                extra={"incident_id": incident.id},
            )
            await self.chat.unarchive(channel_id)
        elif error.code == "not_in_channel" and not info.is_private:
            await self.chat.join(channel_id)
        else:
            return
        raise ChatError(error.code, method=error.method, retry_after=0.05, transient=True)

    async def _create_channel(
        self, incident: Incident, refs: Mapping[str, SlackRef]
    ) -> tuple[str, str]:
        """The incident's channel, created under the first free name. Each name is recorded as
        intended before it is asked for, so an attempt after a lost answer looks for the channel
        it may have made (and only then: the look-up is ``conversations.list``, tier 2, the same
        budget of 20 a minute as creating)."""
        base = channel_name(
            self.catalog.slack.channel_name_template,
            incident_id=incident.id,
            title=incident.title,
            priority_label=incident.priority.label,
            category=incident.category,
            environment=incident.primary_environment,
            date=incident.created_at.astimezone(self.catalog.reminders.tz).date(),
        )
        tried = refs.get(CHANNEL_INTENT)
        for attempt in range(1, MAX_NAME_ATTEMPTS + 1):
            name = base if attempt == 1 else with_suffix(base, attempt)
            if tried is not None and tried.data.get("name") == name:
                adopted = await self._adopt(incident, name)
                if adopted is not None:
                    return adopted, name
            await self._put(
                SlackRef(
                    incident_id=incident.id,
                    kind=CHANNEL_INTENT,
                    channel_id="",
                    data={"name": name},
                )
            )
            try:
                channel_id = await self.chat.create_channel(name, private=incident.private)
            except ChatError as error:
                if error.code == "ratelimited":
                    # Refused before anything was made: the next attempt need not look for it.
                    await self.refs.delete(incident.id, CHANNEL_INTENT)
                    raise
                if error.code != "name_taken":
                    raise
                adopted = await self._adopt(incident, name)
                if adopted is not None:
                    return adopted, name
                continue
            return channel_id, name  # recorded on the incident by ``_members``
        raise ChatError("name_taken", method="conversations.create", transient=False)

    async def _adopt(self, incident: Incident, name: str) -> str | None:
        """A channel of that name the bot itself created for this incident (its answer was
        lost in a crash): take it rather than creating a second one."""
        found = await self.chat.find_channel(name)
        if found is None or found.creator != self.chat.bot_user_id or found.is_archived:
            return None
        owner = await self.incidents.get_by_channel(found.id)
        if owner is not None and owner.id != incident.id:
            return None
        await self.incidents.set_channel(incident.id, found.id, found.name)
        return found.id

    async def _wanted_members(self, incident: Incident, role_holders: list[str]) -> list[str]:
        """Who belongs in the channel: the declarer, the role holders, the category's
        responders and the all-hands group for its priorities, minus those who left."""
        wanted: list[str] = [incident.created_by, *role_holders]
        try:
            category = self.catalog.category(incident.category)
        except KeyError:
            category = None
        groups: list[str] = list(category.responders.usergroups) if category else []
        users: list[str] = list(category.responders.users) if category else []
        all_hands = self.catalog.slack.all_hands_usergroup
        if all_hands and incident.priority.label in self.catalog.slack.all_hands_priorities:
            groups.append(all_hands)
        resolved = await asyncio.gather(
            *(self.chat.usergroup_members(g) for g in groups),
            *(self.chat.resolve_user(u) for u in users),
        )
        for item in resolved:
            if isinstance(item, list):
                wanted += item
            elif item:
                wanted.append(item)
        left = {p.user_id for p in await self.participants.list(incident.id) if p.has_left}
        return [u for u in dict.fromkeys(wanted) if u not in left and u != self.chat.bot_user_id]

    async def _invite(
        self,
        incident: Incident,
        channel_id: str,
        refs: Mapping[str, SlackRef],
        wanted: list[str],
    ) -> None:
        done = refs.get(MEMBERS)
        listed = done.data.get("invited") if done else None
        invited = {str(u) for u in listed} if isinstance(listed, list) else set()
        new = [u for u in wanted if u not in invited]
        if not new:
            return
        refused = await self.chat.invite(channel_id, new)
        refused = {u: e for u, e in refused.items() if e not in IGNORED_INVITE_ERRORS}
        await self._put(
            SlackRef(
                incident_id=incident.id,
                kind=MEMBERS,
                channel_id=channel_id,
                data={"invited": list(sorted(invited | set(new)))},
            )
        )
        if refused:
            listed = ", ".join(f"<@{u}> ({e})" for u, e in refused.items())
            log.warning(
                "some responders could not be invited",
                extra={"incident_id": incident.id, "refused": refused},
            )
            await self.chat.post(channel_id, {"text": f"I could not invite {listed}."})

    async def _summary(
        self, view: IncidentView, channel_id: str, refs: Mapping[str, SlackRef], *, retrying: bool
    ) -> None:
        incident = view.incident
        message = summary_message(view)
        ref = refs.get(SUMMARY)
        if ref is not None and ref.ts:
            await self.chat.update(ref.channel_id, ref.ts, message)
            if ref.data.get(PINNED) is False:
                await self._pin_summary(ref)  # the pin was refused (a 429…) after the post
            return
        ts = None
        if retrying:
            ts = await self.chat.find_message(channel_id, f"firefighter_{SUMMARY}", incident.id)
        if ts is None:
            ts = await self.chat.post(channel_id, message, metadata=_metadata(SUMMARY, incident.id))
        # Recorded and pinned at once (a crash in between: the retry finds it by its metadata,
        # and pinning twice is harmless); recorded as pinned once Slack said so, or a pin
        # refused now would never be asked again.
        ref = SlackRef(
            incident_id=incident.id,
            kind=SUMMARY,
            channel_id=channel_id,
            ts=ts,
            data={PINNED: False},
        )
        await self._pin_summary(ref, self._put(ref))

    async def _pin_summary(self, ref: SlackRef, *alongside: Awaitable[None]) -> None:
        """Pin the summary (beside ``alongside``: its first record), then record the outcome
        once both are done, so the last word is the pin's: pinned, or refused for good (reported
        once, not at every sync); a transient refusal leaves it to be asked again."""
        assert ref.ts is not None
        try:
            await _gather([self.chat.pin(ref.channel_id, ref.ts), *alongside])
        except ChatError as error:
            if not error.transient and error.code not in CHANNEL_LOST:
                await self._put(dataclasses.replace(ref, data={**ref.data, PINNED: error.code}))
            raise
        await self._put(dataclasses.replace(ref, data={**ref.data, PINNED: True}))

    async def _topic(
        self, view: IncidentView, channel_id: str, refs: Mapping[str, SlackRef]
    ) -> None:
        text = topic_text(view)
        ref = refs.get(TOPIC)
        if ref is not None and ref.data.get("text") == text:
            return
        await self.chat.set_topic(channel_id, text)
        await self._put(
            SlackRef(
                incident_id=view.incident.id, kind=TOPIC, channel_id=channel_id, data={"text": text}
            )
        )
        # Slack leaves a "set the channel topic" notice: the bot's own are noise, delete them.
        for ts in await self.chat.topic_notices(channel_id):
            await self.chat.delete(channel_id, ts)

    async def _announcement_channel(self, incident: Incident) -> str | None:
        slack = self.catalog.slack
        if incident.private:
            reference = slack.private_digest_channel
        else:
            reference = self.catalog.announcement_channel_for(incident.priority.label)
        if not reference:
            return None
        return await self.chat.resolve_channel(reference)

    async def _outsiders_may_read(self, incident: Incident, channel_id: str) -> bool:
        """A private incident's announcement channel (the private digest) that is not private
        after all: its details must not go there. Asked of Slack at each post (a channel can be
        made public at any time); the operator is told which setting to fix."""
        if not incident.private:
            return False
        info = await self.chat.channel_info(channel_id)
        if info is None or info.is_private:
            return False
        log.warning(
            "slack.private_digest_channel is not a private channel: private incidents are "
            "announced there without their details; make the channel private or name a private one",
            extra={
                "setting": "slack.private_digest_channel",
                "channel": self.catalog.slack.private_digest_channel,
                "channel_id": channel_id,
                "incident_id": incident.id,
            },
        )
        return True

    async def _details_go_to(self, incident: Incident, ref: SlackRef) -> bool:
        """Whether a private incident's details may be posted in the thread of ``ref``."""
        if ref.kind != ANNOUNCEMENT or not incident.private:
            return True
        if ref.data.get(PUBLIC_SAFE):
            return False
        return not await self._outsiders_may_read(incident, ref.channel_id)

    async def _announce(
        self, view: IncidentView, refs: Mapping[str, SlackRef], *, retrying: bool
    ) -> None:
        incident = view.incident
        ref = refs.get(ANNOUNCEMENT)
        message = announcement_message(view, incident.channel_id)
        if ref is not None and ref.ts:
            if ref.data.get(PUBLIC_SAFE) or await self._outsiders_may_read(
                incident, ref.channel_id
            ):
                # Once outsiders may read it, it says no more (a full one made public is redacted).
                await self.chat.update(
                    ref.channel_id, ref.ts, private_announcement_for_outsiders(incident)
                )
                if not ref.data.get(PUBLIC_SAFE):
                    await self._put(dataclasses.replace(ref, data={**ref.data, PUBLIC_SAFE: True}))
                return
            await self.chat.update(ref.channel_id, ref.ts, message)
            return
        channel = await self._announcement_channel(incident)
        if channel is None:
            return
        data: dict[str, Any] = {}
        if await self._outsiders_may_read(incident, channel):
            message, data = private_announcement_for_outsiders(incident), {PUBLIC_SAFE: True}
        ts = None
        if retrying:
            ts = await self.chat.find_message(channel, f"firefighter_{ANNOUNCEMENT}", incident.id)
        if ts is None:
            ts = await self.chat.post(
                channel, message, metadata=_metadata(ANNOUNCEMENT, incident.id)
            )
        await self._put(
            SlackRef(
                incident_id=incident.id, kind=ANNOUNCEMENT, channel_id=channel, ts=ts, data=data
            )
        )

    def _needs_deploy_warning(self, incident: Incident) -> bool:
        try:
            category = self.catalog.category(incident.category)
        except KeyError:
            return False
        return (
            incident.priority is Priority.P1
            and not incident.private
            and category.deploy_warning
            and self.catalog.is_production(incident.primary_environment)
            and self.catalog.slack.deploy_warning_channel is not None
        )

    async def _deploy_warning(
        self, incident: Incident, style: PriorityStyle, refs: Mapping[str, SlackRef]
    ) -> None:
        ref = refs.get(DEPLOY_WARNING)
        active = self._needs_deploy_warning(incident) and not incident.status.is_mitigated_or_later
        if ref is None:
            if not active:
                return
            reference = self.catalog.slack.deploy_warning_channel
            channel = await self.chat.resolve_channel(reference) if reference else None
            if channel is None:
                return
            ts = await self.chat.post(
                channel,
                deploy_warning_message(incident, style, lifted=False),
                metadata=_metadata(DEPLOY_WARNING, incident.id),
            )
            await self._put(
                SlackRef(incident_id=incident.id, kind=DEPLOY_WARNING, channel_id=channel, ts=ts)
            )
            return
        lifted = bool(ref.data.get("lifted"))
        if lifted == (not active) or not ref.ts:
            return
        await self.chat.update(
            ref.channel_id, ref.ts, deploy_warning_message(incident, style, lifted=not active)
        )
        await self._put(
            SlackRef(
                incident_id=incident.id,
                kind=DEPLOY_WARNING,
                channel_id=ref.channel_id,
                ts=ref.ts,
                data={"lifted": not active},
            )
        )

    async def _source_reply(self, incident: Incident, refs: Mapping[str, SlackRef]) -> None:
        ref = refs.get(SOURCE)
        if ref is None or ref.data.get("replied") or not ref.ts:
            return
        if incident.response_type is ResponseType.CRITICAL and incident.channel_id is None:
            return
        where = f" in <#{incident.channel_id}>" if incident.channel_id else ""
        text = f"Incident {incident.reference} was declared from this message{where}."
        try:
            await self.chat.post(ref.channel_id, {"text": text}, thread_ts=ref.ts)
        except ChatError as error:
            if error.transient:
                raise
            log.warning(
                "could not reply in the source thread",
                extra={"incident_id": incident.id, "error": error.code},
            )
        await self._put(
            SlackRef(
                incident_id=incident.id,
                kind=SOURCE,
                channel_id=ref.channel_id,
                ts=ref.ts,
                data={"replied": True},
            )
        )

    async def _archive_converted(self, incident: Incident, channel_id: str) -> None:
        await self.chat.post(
            channel_id,
            {
                "text": f"{incident.reference} is now tracked without a channel "
                "(normal incident): this channel is archived."
            },
        )
        await self._archive_channel(incident, channel_id)

    async def _archive_channel(self, incident: Incident, channel_id: str) -> None:
        try:
            await self.chat.archive(channel_id)
        except ChatError as error:
            if error.code not in ("channel_not_found", "is_archived"):
                raise
        await self._put(SlackRef(incident_id=incident.id, kind=ARCHIVED, channel_id=channel_id))

    # --- one-shot effects -----------------------------------------------------------------------

    async def change(self, job: OutboxJob) -> None:
        incident = await self.incidents.require(int(job.payload["incident_id"]))
        refs = await self.refs.all(incident.id)
        actor = str(job.payload.get("actor") or "") or None
        texts = [str(t) for t in job.payload.get("texts") or []]
        actor_name = str(job.payload.get("actor_name") or "") or None
        message = change_reply(incident, "\n".join(texts), actor=actor, actor_name=actor_name)
        calls: list[Awaitable[Any]] = []
        for kind in (ANNOUNCEMENT, SOURCE):
            ref = refs.get(kind)
            if ref is not None and ref.ts and await self._details_go_to(incident, ref):
                calls.append(self.chat.post(ref.channel_id, message, thread_ts=ref.ts))
        if incident.channel_id and ARCHIVED not in refs:
            calls.append(self.chat.post(incident.channel_id, message))
        await _gather(calls)

    async def role_dm(self, job: OutboxJob) -> None:
        incident = await self.incidents.require(int(job.payload["incident_id"]))
        role = self.catalog.role(str(job.payload["role"]))
        user_id = str(job.payload["user_id"])
        actor = str(job.payload.get("actor") or "")
        message = role_assigned_dm(
            incident, role.name, role.duties, incident.channel_id, Actor.user(actor or user_id)
        )
        try:
            await self.chat.dm(user_id, message)
        except ChatError as error:
            if error.transient or incident.channel_id is None:
                raise
            # DMs refused (messages tab disabled, a bot…): say it in the incident channel, which
            # is private for private incidents (never a public fallback).
            await self.chat.post(
                incident.channel_id,
                {
                    "text": f"<@{user_id}>: {message.get('text', '')}",
                    "blocks": message.get("blocks", []),
                },
            )

    async def broadcast(self, job: OutboxJob) -> None:
        incident = await self.incidents.require(int(job.payload["incident_id"]))
        entry = await self.timeline.get(int(job.payload["entry_id"]))
        if entry is None:
            return
        author = str(entry.data.get("author") or entry.actor.id)
        message = status_update_message(incident, entry.text, author, entry.source_permalink)
        refs = await self.refs.all(incident.id)
        calls: list[Awaitable[Any]] = []
        announced = False
        for kind in (ANNOUNCEMENT, SOURCE):
            ref = refs.get(kind)
            if ref is not None and ref.ts:
                announced = True
                if await self._details_go_to(incident, ref):
                    calls.append(self.chat.post(ref.channel_id, message, thread_ts=ref.ts))
        if not announced:
            channel = await self._announcement_channel(incident)
            if channel is not None and not await self._outsiders_may_read(incident, channel):
                calls.append(self.chat.post(channel, message))
        await _gather(calls)

    async def notice(self, job: OutboxJob) -> None:
        incident = await self.incidents.require(int(job.payload["incident_id"]))
        message = side_effect_failed_message(
            incident.reference, str(job.payload["what"]), str(job.payload["error"])
        )
        calls: list[Awaitable[Any]] = []
        if incident.channel_id:
            calls.append(self.chat.post(incident.channel_id, message))
        actor = str(job.payload.get("actor") or "")
        if actor:
            calls.append(self.chat.dm(actor, message))
        results = await asyncio.gather(*calls, return_exceptions=True)
        if calls and all(isinstance(r, BaseException) for r in results):
            raise next(r for r in results if isinstance(r, BaseException))

    async def post(self, job: OutboxJob) -> None:
        """A line for the responders (a change made in Jira the incident did not follow, a
        follow-up created…): in the incident channel, else in the announcement's thread."""
        incident = await self.incidents.require(int(job.payload["incident_id"]))
        message = incident_notice_message(incident, str(job.payload["text"]))
        refs = await self.refs.all(incident.id)
        if incident.channel_id and ARCHIVED not in refs:
            await self.chat.post(incident.channel_id, message)
            return
        announcement = refs.get(ANNOUNCEMENT)
        if (
            announcement is not None
            and announcement.ts
            and await self._details_go_to(incident, announcement)
        ):
            await self.chat.post(announcement.channel_id, message, thread_ts=announcement.ts)

    async def closing(self, job: OutboxJob) -> None:
        incident = await self.incidents.require(int(job.payload["incident_id"]))
        if incident.channel_id is None or incident.status is not Status.CLOSED:
            return
        view = await self._view(incident)
        entries = await self.timeline.list(incident.id, limit=10_000)
        message = closing_summary_message(
            view,
            len(entries),
            archive_after=timedelta(hours=self.catalog.slack.archive_delay_hours),
        )
        await self.chat.post(incident.channel_id, message)

    async def archive(self, job: OutboxJob) -> None:
        incident = await self.incidents.require(int(job.payload["incident_id"]))
        refs = await self.refs.all(incident.id)
        if incident.status is not Status.CLOSED or incident.channel_id is None or ARCHIVED in refs:
            return  # reopened meanwhile, no channel, or already archived
        await self._archive_channel(incident, incident.channel_id)

    async def invite(self, job: OutboxJob) -> None:
        """Invite people to a channel (the duplicate guard's Join)."""
        channel_id = str(job.payload["channel_id"])
        users = [str(u) for u in job.payload.get("users") or []]
        refused = await self.chat.invite(channel_id, users)
        problems = {u: e for u, e in refused.items() if e not in IGNORED_INVITE_ERRORS}
        if problems:
            raise ChatError(
                next(iter(problems.values())), method="conversations.invite", transient=False
            )

    async def reminder(self, job: OutboxJob) -> None:
        """A reminder in the incident channel (the post-mortem one also to the commander). The
        message carries its due time in its metadata: a retry after a lost answer finds it
        instead of posting it twice."""
        incident = await self.incidents.require(int(job.payload["incident_id"]))
        if not incident.is_open:
            return  # closed since it was due
        kind = ReminderKind(str(job.payload["kind"]))
        due_at = datetime.fromisoformat(str(job.payload["due_at"]))
        now = self.clock.now()
        if kind is ReminderKind.UPDATE:
            last = await ReminderRepository().last_update_at(incident.id, UPDATE_TIMELINE_KINDS)
            message = update_reminder_message(
                incident,
                last_update=last,
                now=now,
                snooze_minutes=self.catalog.reminders.snooze_minutes,
            )
        elif kind is ReminderKind.STALE_MITIGATED:
            message = stale_mitigated_message(incident, now=now)
        elif kind is ReminderKind.POSTMORTEM_DUE:
            message = postmortem_due_message(incident, due_at=due_at, tz=self.catalog.reminders.tz)
        else:
            roles = [str(r) for r in job.payload.get("roles") or []]
            names = {role.key: role.name for role in self.catalog.roles}
            message = role_gap_message(incident, [names.get(r, r) for r in roles])
        retrying = job.attempts > 1
        calls: list[Awaitable[Any]] = []
        if incident.channel_id:
            calls.append(
                self._post_reminder(
                    incident, incident.channel_id, kind, due_at, message, retrying=retrying
                )
            )
        if kind is ReminderKind.POSTMORTEM_DUE:
            commander = await self.roles.holder(incident.id, "commander")
            if commander is not None:
                calls.append(self._dm_reminder(incident, commander.user_id, kind, due_at, message))
        await _gather(calls)

    async def _post_reminder(
        self,
        incident: Incident,
        channel_id: str,
        kind: ReminderKind,
        due_at: datetime,
        message: Mapping[str, Any],
        *,
        retrying: bool,
    ) -> None:
        event_type = f"firefighter_reminder_{kind.value}_{int(due_at.timestamp())}"
        if retrying and await self.chat.find_message(channel_id, event_type, incident.id):
            return  # posted by an attempt whose answer was lost
        metadata = {
            "event_type": event_type,
            "event_payload": {
                "incident_id": incident.id,
                "kind": kind.value,
                "due_at": due_at.isoformat(),
            },
        }
        await self.chat.post(channel_id, message, metadata=metadata)

    async def _dm_reminder(
        self,
        incident: Incident,
        user_id: str,
        kind: ReminderKind,
        due_at: datetime,
        message: Mapping[str, Any],
    ) -> None:
        key = f"dm_{kind.value[:10]}:{int(due_at.timestamp())}"  # slack_ref kinds: 32 chars
        if await self.refs.get(incident.id, key) is not None:
            return
        await self.chat.dm(user_id, message)
        await self._put(SlackRef(incident_id=incident.id, kind=key, channel_id=user_id))

    # --- DIGEST -------------------------------------------------------------------------------

    async def digest(self, job: OutboxJob) -> None:
        """The weekly digest: its message, then its chart, in the announcement channel. A retry
        finds the message it already posted (by its metadata) instead of posting it twice."""
        payload = job.payload
        week = str(payload["week"])
        channel = await self.chat.resolve_channel(str(payload["channel"]))
        if channel is None:
            raise ChatError("channel_not_found", method="digest", transient=False)
        event_type = f"firefighter_{DIGEST_REF}"
        ts = None
        if job.attempts > 1:
            ts = await self.chat.find_message(
                channel, event_type, 0, oldest=f"{job.created_at.timestamp():.6f}"
            )
        if ts is None:
            metadata = {"event_type": event_type, "event_payload": {"incident_id": 0, "week": week}}
            await self.chat.post(channel, payload["message"], metadata=metadata)
        title = str(payload.get("chart_title") or f"Incidents, week {week}")
        png = await asyncio.to_thread(
            render_chart, weeks_from_json(payload.get("chart")), title=title
        )
        await self.chat.upload(channel, f"incidents-{week}.png", png, title=title)
