"""IncidentService: the only way state changes (Slack handlers, jobs and syncs all call it).

Every command reads the incident, applies the pure rules of ``bot.domain``, and writes the new state,
its timeline entries and the outbox rows of its side effects in ONE transaction (optimistic locking on
``version``); the outbox worker is woken after commit and performs the Slack calls. Intents (a view
submission, a reaction on a message…) are remembered under an idempotency key in the same transaction,
so a redelivered or double-clicked request changes nothing the second time."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from bot import effects, postmortem, ticket
from bot import page as paging
from bot.blocks.home import HomeFilters, HomePage, PriorityStyle
from bot.blocks.report import chart_comment, digest_message
from bot.chart import render_chart
from bot.config import Catalog, PagerDutyService
from bot.domain.cost import CostDraft, CostEntry, format_money, totals_by_currency
from bot.domain.declaration import (
    Declaration,
    IncidentChanges,
    SourceMessage,
    require_valid_declaration,
)
from bot.domain.errors import AccessDenied, UserFacingError
from bot.domain.events import TimelineEvent
from bot.domain.export import export_rows, to_csv
from bot.domain.incident import (
    CONFLUENCE,
    JIRA,
    Actor,
    BuiltinRole,
    ClosureReason,
    Incident,
    JsonValue,
    Milestone,
    NewIncident,
    Priority,
    ResponseType,
    RoleAssignment,
    Status,
    TimelineEntry,
    TimelineKind,
)
from bot.domain.lifecycle import LifecycleRules, Reason, allowed_targets, close_blockers, transition
from bot.domain.metrics import summarize_period
from bot.domain.milestones import (
    declaration_milestones,
    record_first_response,
    set_milestone,
    set_milestones,
)
from bot.domain.policy import AccessPolicy, may_declare, may_see, require_may_manage
from bot.domain.priority import (
    PriorityChange,
    ResponseChange,
    change_priority,
    convert_to_normal,
    priority_from_impacts,
)
from bot.domain.reminders import (
    UPDATE_TIMELINE_KINDS,
    OfficeHours,
    ReminderKind,
    ReminderPolicy,
    due_times,
    missing_roles,
    next_update_due,
)
from bot.domain.stats import (
    FollowUpCounts,
    Period,
    Stats,
    compute_stats,
    last_week,
    parse_period,
    weeks_to_json,
)
from bot.domain.timeline import edit_entry, strike_entry
from bot.ports import Chat, ChatError, Clock, OnCall, Pager, PagerError, PagerIncident
from storage import idempotency, lock, outbox
from storage.costs import CostRepository
from storage.db import transaction
from storage.errors import ConcurrentUpdate, TimelineEntryNotFound
from storage.home import HomeQuery, HomeRepository
from storage.pages import PageRecord, PageRepository, Responder
from storage.postmortems import Postmortem, PostmortemRepository
from storage.reminders import Reminder, ReminderRepository
from storage.report import ReportRepository
from storage.repository import (
    IncidentRepository,
    ParticipantRepository,
    RoleRepository,
    SlackRef,
    SlackRefRepository,
    TimelineRepository,
)
from storage.tickets import FollowUp, FollowUpRepository, Ticket, TicketRepository

HOME_MINE_LIMIT = 10
HOME_PAGE_SIZE = 20
HOME_CLOSED_LIMIT = 5
HOME_METRICS_WINDOW = timedelta(days=30)
HOME_METRICS_SAMPLE_LIMIT = 5000
COMMANDER = "commander"


class IncidentFilter(StrEnum):
    OPEN = "open"
    MINE = "mine"
    CLOSED = "closed"


DUPLICATE_GUARD_WINDOW = timedelta(hours=1)
TIMELINE_PAGE_SIZE = 20
EDIT_TIMELINE = "edit the timeline of"
EDIT_MILESTONES = "edit the milestones of"
POSTMORTEM_REF = "postmortem"
POSTMORTEM_FRESH_READ_SECONDS = 1.5
"""How long the close gate waits for Confluence before it falls back on the recorded state (a
close modal must open within Slack's 3-second trigger window)."""
FOLLOWUP_MAX_LENGTH = 255
"""Jira's limit for a summary."""
DIGEST_LEASE = timedelta(hours=12)
"""How long the replica that took a week's digest keeps it (its outbox key guards it after)."""
UPLOAD_ELSEWHERE = frozenset(
    {"not_in_channel", "channel_not_found", "is_archived", "access_denied", "restricted_action"}
)
"""Errors meaning a file cannot go to the command's channel: it goes to the user's DM instead."""
PAGERDUTY_OFF = (
    "PagerDuty is not configured for FireFighter, so there is no on-call to show or page."
)
ON_CALL_MEMORY = timedelta(seconds=30)
"""How long an answer about who is on call is reused (the declare modal asks on every change)."""
GROUP_REREAD_SECONDS = 10.0
"""How often a refusal may ask Slack again for the user groups it rests on (see ``_forget_group``)."""
ACK_ATTEMPTS = 3
"""Tries to record an acknowledgement that races with a change made in Slack."""
FIREFIGHTER = Actor.system("firefighter", "FireFighter")


class IncidentChanged(UserFacingError):
    """A stale form: the incident changed since it was opened. ``current`` is its state now."""

    def __init__(self, current: Incident) -> None:
        super().__init__(
            f"{current.reference} changed while you were editing it: "
            "here is its current state. Check it and submit again."
        )
        self.current = current


class AlreadyDone(UserFacingError):
    """The intent was already carried out (a second 📣 on the same message, a double click…)."""


@dataclass(frozen=True, slots=True)
class Declared:
    incident: Incident
    created: bool
    """False when the same intent (a redelivered submission) had already declared it."""


@dataclass(frozen=True, slots=True)
class Updated:
    incident: Incident
    response_change: ResponseChange = ResponseChange.NONE


@dataclass
class IncidentService:
    catalog: Catalog
    clock: Clock
    chat: Chat | None = None
    """Slack look-ups the rules need (user groups of incident managers, declarers); None in
    unit tests of the read side."""
    wake: Callable[[], None] = lambda: None
    """Called after every commit that enqueued side effects (wakes the outbox worker)."""
    incidents: IncidentRepository = field(default_factory=IncidentRepository)
    roles: RoleRepository = field(default_factory=RoleRepository)
    timeline: TimelineRepository = field(default_factory=TimelineRepository)
    participants: ParticipantRepository = field(default_factory=ParticipantRepository)
    refs: SlackRefRepository = field(default_factory=SlackRefRepository)
    home: HomeRepository = field(default_factory=HomeRepository)
    reminders: ReminderRepository = field(default_factory=ReminderRepository)
    costs: CostRepository = field(default_factory=CostRepository)
    reports: ReportRepository = field(default_factory=ReportRepository)
    tickets: TicketRepository = field(default_factory=TicketRepository)
    followups: FollowUpRepository = field(default_factory=FollowUpRepository)
    jira: bool = False
    """Whether incidents get Jira tickets (Jira is configured: wiring decides, once)."""
    pages: PageRepository = field(default_factory=PageRepository)
    pager: Pager | None = None
    """PagerDuty, when it is configured (wiring decides, once): on-call is read through it, and
    pages are recorded for the outbox to send (``bot.page_effects``)."""
    _on_call_cache: dict[str, tuple[datetime, OnCall]] = field(
        default_factory=dict, init=False, repr=False
    )
    group_reread_seconds: float = GROUP_REREAD_SECONDS
    _groups_forgotten_at: float = field(default=float("-inf"), init=False, repr=False)
    """When a refusal last made the user groups be asked again (``time.monotonic``)."""
    postmortems: PostmortemRepository = field(default_factory=PostmortemRepository)
    confluence: bool = False
    """Whether post-mortems are Confluence pages (Confluence is configured: wiring decides)."""
    postmortem_check: Callable[[int], Awaitable[bool]] | None = None
    """Reads an incident's post-mortem page now and records its readiness (``bot.postmortem_pull``;
    True when Confluence answered): the close gate's fresh read, outside any transaction."""

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.catalog.reminders.timezone)

    @property
    def priority_styles(self) -> dict[Priority, PriorityStyle]:
        return {
            Priority.parse(p.key): PriorityStyle(emoji=p.emoji, name=p.name)
            for p in self.catalog.priorities
        }

    async def home_page(self, user_id: str, filters: HomeFilters | None = None) -> HomePage:
        """The App Home content for ``user_id`` (access rules and ``filters`` applied in SQL):
        five queries whatever the size of the history (storage.home), six with Jira (the
        overdue follow-ups)."""
        filters = filters or HomeFilters()
        if filters.category and filters.category not in {c.key for c in self.catalog.categories}:
            # Not a category of ours: a forged or stale click, or one removed from the catalog.
            filters = dataclasses.replace(filters, category=None)
        query = HomeQuery(
            viewer=user_id,
            sees_all_private=await self._sees_all_private(user_id),
            category=filters.category,
            priority=filters.priority,
            mine=filters.mine,
        )
        mine = [] if filters.mine else await self.home.mine(query, limit=HOME_MINE_LIMIT)
        rows = await self.home.open_page(
            query, offset=filters.page * HOME_PAGE_SIZE, limit=HOME_PAGE_SIZE + 1
        )
        shown = rows[:HOME_PAGE_SIZE]
        assignments = await self.home.roles_of({i.id for i in [*mine, *shown]})
        closed = await self.home.recently_closed(query, limit=HOME_CLOSED_LIMIT)
        now = self.clock.now()
        since = now - HOME_METRICS_WINDOW
        samples = await self.home.metric_samples(
            query, since=since, limit=HOME_METRICS_SAMPLE_LIMIT
        )
        overdue = await self.home.overdue_followups(now=now) if self.jira else None
        commanders: dict[int, str] = {}
        roles_of_viewer: dict[int, list[str]] = {}
        for assignment in assignments:
            if assignment.role == COMMANDER:
                commanders[assignment.incident_id] = assignment.user_id
            if assignment.user_id == user_id:
                roles_of_viewer.setdefault(assignment.incident_id, []).append(
                    self._role_name(assignment.role)
                )
        return HomePage(
            viewer_id=user_id,
            mine=mine,
            open=shown,
            recently_closed=closed,
            commanders=commanders,
            roles_of_viewer=roles_of_viewer,
            filters=filters,
            has_more=len(rows) > HOME_PAGE_SIZE,
            page_size=HOME_PAGE_SIZE,
            metrics=summarize_period(
                samples,
                since=since,
                partial=len(samples) >= HOME_METRICS_SAMPLE_LIMIT,
                overdue_followups=overdue,
            ),
        )

    async def home_audience(self, incident_ids: Collection[int]) -> set[str]:
        """Who has these incidents among theirs on the Home (declarers and role holders)."""
        return await self.home.audience(incident_ids)

    async def _sees_all_private(self, user_id: str) -> bool:
        if not self._policy().incident_managers_see_private:
            return False
        return user_id in await self._incident_managers()

    async def list_incidents(self, user_id: str, which: IncidentFilter) -> list[Incident]:
        """``/incident list [open|mine|closed]`` for ``user_id``, access rules applied."""
        mine_all = await self.incidents.list_for_user(user_id, open_only=False)
        member_of = {incident.id for incident in mine_all}
        if which is IncidentFilter.MINE:
            return [incident for incident in mine_all if incident.is_open]
        if which is IncidentFilter.CLOSED:
            closed = await self.incidents.list_recent_closed(limit=20)
            return self._visible(closed, user_id, member_of)
        return self._visible(await self.incidents.list_open(limit=50), user_id, member_of)

    @staticmethod
    def _visible(incidents: list[Incident], user_id: str, member_of: set[int]) -> list[Incident]:
        """The access rule of PRODUCT.md §5 (``policy.may_see``), with the user's memberships
        (declared, role, present channel member) already looked up as ``member_of``."""
        return [
            incident
            for incident in incidents
            if may_see(
                incident,
                user_id,
                role_holders=(),
                channel_members=(user_id,) if incident.id in member_of else (),
                incident_managers=(),
            )
        ]

    def _role_name(self, key: str) -> str:
        try:
            return self.catalog.role(key).name
        except KeyError:
            return key

    # ----------------------------------------------------------------------------------------
    # Reading for the Slack surfaces
    # ----------------------------------------------------------------------------------------

    async def require(self, incident_id: int) -> Incident:
        return await self.incidents.require(incident_id)

    async def incident_in_channel(self, channel_id: str) -> Incident | None:
        """The incident whose channel this is (None outside incident channels)."""
        if not channel_id:
            return None
        return await self.incidents.get_by_channel(channel_id)

    async def incidents_to_act_on(
        self, user_id: str, *, include_closed: bool = False
    ) -> list[Incident]:
        """What a picker offers ``user_id``: open incidents they may see (theirs first)."""
        mine = await self.incidents.list_for_user(user_id, open_only=not include_closed)
        member_of = {incident.id for incident in mine}
        others = self._visible(await self.incidents.list_open(limit=100), user_id, member_of)
        if include_closed:
            others += self._visible(
                await self.incidents.list_recent_closed(limit=25), user_id, member_of
            )
        merged = {incident.id: incident for incident in [*mine, *others]}
        return list(merged.values())[:100]

    async def recent_duplicates(self, user_id: str) -> list[Incident]:
        """P1-P3 incidents declared in the last hour that ``user_id`` may see (duplicate guard)."""
        since = self.clock.now() - DUPLICATE_GUARD_WINDOW
        recent = await self.incidents.list_declared_since(since)
        return self._visible(recent, user_id, set())

    async def role_holders(self, incident_id: int) -> dict[str, str]:
        """Role key → user id."""
        return {a.role: a.user_id for a in await self.roles.list(incident_id)}

    async def role_assignments(self, incident_id: int) -> list[RoleAssignment]:
        return await self.roles.list(incident_id)

    async def timeline_page(
        self, incident_id: int, page: int = 0
    ) -> tuple[list[TimelineEntry], bool]:
        """One page of the timeline and whether there is more."""
        entries = await self.timeline.list(
            incident_id, limit=TIMELINE_PAGE_SIZE + 1, offset=page * TIMELINE_PAGE_SIZE
        )
        return entries[:TIMELINE_PAGE_SIZE], len(entries) > TIMELINE_PAGE_SIZE

    def rules_for(self, incident: Incident) -> LifecycleRules:
        return LifecycleRules.for_(
            priority_needs_postmortem=self.catalog.priority(
                incident.priority.label
            ).needs_postmortem,
            production=self.catalog.is_production(incident.primary_environment),
        )

    async def postmortem_ready(self, incident_id: int) -> bool:
        if self.confluence:
            page = await self.postmortems.get(incident_id)
            if page is not None:
                return page.live and page.ready
            incident = await self.incidents.get(incident_id)
            if incident is not None and self._postmortem_in_confluence(incident):
                return False
        ref = await self.refs.get(incident_id, POSTMORTEM_REF)
        return bool(ref and ref.data.get("ready"))

    async def close_blockers(self, incident: Incident) -> list[Reason]:
        await self._refresh_postmortem(incident)
        return close_blockers(
            incident,
            self.rules_for(incident),
            postmortem_ready=await self.postmortem_ready(incident.id),
            postmortem_hint=await self.postmortem_hint(incident),
        )

    def status_targets(self, incident: Incident) -> list[Status]:
        return allowed_targets(incident, self.rules_for(incident))

    async def may_see(self, incident: Incident, user_id: str) -> bool:
        if not incident.private:
            return True
        holders = (await self.role_holders(incident.id)).values()
        members = await self._present_members(incident.id)
        return may_see(
            incident,
            user_id,
            role_holders=tuple(holders),
            channel_members=members,
            incident_managers=await self._incident_managers(),
            policy=self._policy(),
        )

    # ----------------------------------------------------------------------------------------
    # Declaring
    # ----------------------------------------------------------------------------------------

    async def declare(self, declaration: Declaration, *, by: Actor, intent_key: str) -> Declared:
        """Validate and store a new incident, its first timeline entries and its side effects.
        The same ``intent_key`` twice (a redelivered submission) returns the first incident."""
        if by.is_user and not await self._may_declare(by.id):
            raise AccessDenied("Declaring incidents is restricted to a user group you are not in.")
        try:
            category = self.catalog.category(declaration.category)
        except KeyError:
            raise UserFacingError(
                f"Unknown category {declaration.category!r}: choose one from the list."
            ) from None
        require_valid_declaration(
            title=declaration.title,
            summary=declaration.summary,
            environments=declaration.environments,
            known_environments=[env.key for env in self.catalog.environments],
        )
        decision = priority_from_impacts(
            declaration.impacts,
            self.catalog.impacts.table(),
            override=declaration.priority_override,
            reason=declaration.override_reason,
            impact_names=[t.name for t in self.catalog.impacts.types],
        )
        now = self.clock.now()
        draft = NewIncident(
            title=declaration.title.strip(),
            summary=declaration.summary.strip(),
            priority=decision.priority,
            category=category.key,
            environments=tuple(declaration.environments),
            created_by=by.id,
            created_at=now,
            response_type=ResponseType(
                self.catalog.priority(decision.priority.label).response_type
            ),
            private=declaration.private,
            custom_fields=dict(declaration.custom_fields),
            milestones=declaration_milestones(now, now=now),
        )
        key = f"declare:{intent_key}"
        async with transaction():
            if not await idempotency.remember(key, now=now):
                return Declared(await self._remembered_incident(key), created=False)
            incident = await self.incidents.create(draft)
            await idempotency.store_result(key, incident.id)
            impacts = ", ".join(f"{k}: {v}" for k, v in declaration.impacts.items())
            text = f"Declared {incident.priority.label}: {incident.title}"
            if decision.overridden:
                text += f" (priority set by hand from {decision.derived.label}: {decision.reason})"
            await self._append(
                incident,
                TimelineEvent(
                    TimelineKind.DECLARED,
                    text,
                    {
                        "impacts": dict(declaration.impacts),
                        "impacts_text": impacts,
                        "derived_priority": decision.derived.label,
                        "priority": decision.priority.label,
                        "override_reason": decision.reason,
                    },
                ),
                by=by,
                at=now,
            )
            if declaration.source is not None:
                await self._append_source(incident, declaration.source, by=by, at=now)
                await self.refs.put(
                    SlackRef(
                        incident_id=incident.id,
                        kind=effects.SOURCE,
                        channel_id=declaration.source.channel_id,
                        ts=declaration.source.thread_ts or declaration.source.ts,
                    ),
                    at=now,
                )
            await self.roles.assign(incident.id, BuiltinRole.COMMANDER, by.id, by=by, at=now)
            await self._enqueue_sync(incident, now=now)
            await self._auto_page(incident, by=by, now=now)
            await self._schedule_reminders(incident, now=now, new=True)
        self.wake()
        return Declared(incident, created=True)

    async def _remembered_incident(self, key: str) -> Incident:
        remembered = await idempotency.recall(key)
        if remembered is None or not isinstance(remembered.result, int):
            raise UserFacingError("This declaration is still being processed: check in a moment.")
        return await self.incidents.require(remembered.result)

    # ----------------------------------------------------------------------------------------
    # Changing an incident
    # ----------------------------------------------------------------------------------------

    async def change_status(
        self,
        incident_id: int,
        to: Status,
        *,
        by: Actor,
        justification: str | None = None,
        closure_reason: ClosureReason | None = None,
        closure_reference: str | None = None,
        expected_version: int | None = None,
        expected_state: str | None = None,
        intent_key: str | None = None,
    ) -> Incident:
        """Move the incident through the one transition table (closing, early closure and
        reopening included); refused moves raise ``TransitionRefused`` with every reason."""

        async def apply(incident: Incident) -> tuple[Incident, list[TimelineEvent]]:
            holders = await self.role_holders(incident.id)
            result = transition(
                incident,
                to,
                actor=by,
                now=self.clock.now(),
                rules=self.rules_for(incident),
                justification=justification,
                postmortem_ready=await self.postmortem_ready(incident.id),
                postmortem_hint=await self.postmortem_hint(incident),
                is_commander=holders.get(BuiltinRole.COMMANDER) == by.id,
                is_incident_manager=by.id in await self._incident_managers(),
                closure_reason=closure_reason,
                closure_reference=closure_reference,
            )
            return result.incident, list(result.events)

        action = "close" if to is Status.CLOSED else "change the status of"
        if to is Status.CLOSED and closure_reason is None:
            # The gate reads the post-mortem's readiness as recorded: read the page first.
            await self._refresh_postmortem(await self.incidents.require(incident_id))
        incident = await self._change(
            incident_id,
            by=by,
            action=action,
            expected_version=expected_version,
            expected_state=expected_state,
            apply=apply,
            intent_key=intent_key,
        )
        return incident

    async def update(
        self,
        incident_id: int,
        changes: IncidentChanges,
        *,
        by: Actor,
        expected_version: int | None = None,
        expected_state: str | None = None,
        intent_key: str | None = None,
    ) -> Updated:
        """Title, summary, category, environments, custom fields and priority in one change."""
        response_change = ResponseChange.NONE

        async def apply(incident: Incident) -> tuple[Incident, list[TimelineEvent]]:
            nonlocal response_change
            events: list[TimelineEvent] = []
            title = (changes.title or incident.title).strip()
            summary = (changes.summary or incident.summary).strip()
            environments = changes.environments or incident.environments
            require_valid_declaration(
                title=title,
                summary=summary,
                environments=environments,
                known_environments=[env.key for env in self.catalog.environments],
            )
            category = changes.category or incident.category
            try:
                self.catalog.category(category)
            except KeyError:
                raise UserFacingError(f"Unknown category {category!r}.") from None
            details: dict[str, JsonValue] = {}
            compared: list[tuple[str, JsonValue, JsonValue]] = [
                ("title", incident.title, title),
                ("summary", incident.summary, summary),
                ("category", incident.category, category),
                ("environments", list(incident.environments), list(environments)),
            ]
            for name, old, new in compared:
                if old != new:
                    details[name] = {"from": old, "to": new}
            custom = dict(incident.custom_fields)
            if changes.custom_fields is not None:
                for key, value in changes.custom_fields.items():
                    if value is None:
                        custom.pop(key, None)
                    else:
                        custom[key] = value
                if custom != dict(incident.custom_fields):
                    details["custom_fields"] = {"to": custom}
            changed = dataclasses.replace(
                incident,
                title=title,
                summary=summary,
                category=category,
                environments=tuple(environments),
                custom_fields=custom,
                updated_at=self.clock.now(),
            )
            if details:
                names = ", ".join(details)
                events.append(
                    TimelineEvent(TimelineKind.DETAILS_CHANGE, f"Updated {names}", details)
                )
            if changes.priority is not None and changes.priority is not incident.priority:
                moved: PriorityChange = change_priority(
                    changed,
                    changes.priority,
                    now=self.clock.now(),
                    reason=changes.priority_reason,
                    response_types=self._response_types(),
                )
                changed, response_change = moved.incident, moved.response_change
                events.append(moved.event)
            if not events:
                raise AlreadyDone(f"Nothing changed on {incident.reference}.")
            return changed, events

        incident = await self._change(
            incident_id,
            by=by,
            action="update",
            expected_version=expected_version,
            expected_state=expected_state,
            apply=apply,
            intent_key=intent_key,
        )
        return Updated(incident, response_change)

    async def change_priority(
        self, incident_id: int, priority: Priority, *, by: Actor, reason: str | None = None
    ) -> Updated:
        return await self.update(
            incident_id, IncidentChanges(priority=priority, priority_reason=reason), by=by
        )

    async def convert(
        self, incident_id: int, *, by: Actor, intent_key: str | None = None
    ) -> Incident:
        """Accept the conversion of a critical incident lowered to P4/P5: its channel is archived."""

        async def apply(incident: Incident) -> tuple[Incident, list[TimelineEvent]]:
            changed, event = convert_to_normal(incident, now=self.clock.now())
            return changed, [event]

        return await self._change(
            incident_id, by=by, action="convert", apply=apply, intent_key=intent_key
        )

    async def set_milestone(
        self,
        incident_id: int,
        milestone: Milestone,
        value: datetime | None,
        *,
        by: Actor,
        reason: str | None = None,
        intent_key: str | None = None,
    ) -> Incident:
        async def apply(incident: Incident) -> tuple[Incident, list[TimelineEvent]]:
            change = set_milestone(incident, milestone, value, now=self.clock.now(), reason=reason)
            return change.incident, [change.event]

        return await self._change(
            incident_id,
            by=by,
            action="edit the milestones of",
            apply=apply,
            intent_key=intent_key,
        )

    async def mark_postmortem_ready(
        self, incident_id: int, *, by: Actor, url: str | None = None
    ) -> None:
        incident = await self.incidents.require(incident_id)
        await self._require_manage(incident, by, "mark the post-mortem of")
        if self._postmortem_in_confluence(incident):
            await self._confirm_postmortem_ready(incident)
            return
        now = self.clock.now()
        async with transaction():
            current = await self.refs.get(incident_id, POSTMORTEM_REF)
            data: dict[str, JsonValue] = dict(current.data) if current else {}
            if data.get("ready"):
                raise AlreadyDone(
                    f"The post-mortem of {incident.reference} is already marked ready."
                )
            data["ready"] = True
            if url:
                data["url"] = url
            await self.refs.put(
                SlackRef(incident_id=incident_id, kind=POSTMORTEM_REF, channel_id="", data=data),
                at=now,
            )
            await self._append(
                incident,
                TimelineEvent(
                    TimelineKind.EXTERNAL_EVENT, "Post-mortem marked ready", {"ready": True}
                ),
                by=by,
                at=now,
            )
            await self._enqueue_sync(incident, now=now, token=f"pm{now.timestamp()}")
            await self._schedule_reminders(incident, now=now)
        self.wake()

    # ----------------------------------------------------------------------------------------
    # Roles, notes, the timeline from Slack messages
    # ----------------------------------------------------------------------------------------

    async def assign_roles(
        self,
        incident_id: int,
        holders: Mapping[str, str],
        *,
        by: Actor,
        intent_key: str | None = None,
    ) -> list[RoleAssignment]:
        """Give each role to a user; only real changes are recorded. The new holders get a DM
        with the role's duties and are invited to the channel."""
        incident = await self.incidents.require(incident_id)
        await self._require_manage(incident, by, "assign roles in")
        for role in holders:
            try:
                self.catalog.role(role)
            except KeyError:
                raise UserFacingError(f"Unknown role {role!r}.") from None
        now = self.clock.now()
        changed: list[RoleAssignment] = []
        async with transaction():
            if intent_key and not await idempotency.remember(f"roles:{intent_key}", now=now):
                return []
            current = await self.role_holders(incident_id)
            for role, user_id in holders.items():
                if not user_id or current.get(role) == user_id:
                    continue
                assignment = await self.roles.assign(incident_id, role, user_id, by=by, at=now)
                changed.append(assignment)
                role_name = self.catalog.role(role).name
                entry = await self._append(
                    incident,
                    TimelineEvent(
                        TimelineKind.ROLE_CHANGE,
                        f"{role_name}: <@{user_id}>",
                        {"role": role, "user_id": user_id, "previous": current.get(role)},
                    ),
                    by=by,
                    at=now,
                )
                await outbox.enqueue(
                    effects.ROLE_DM,
                    {"incident_id": incident_id, "role": role, "user_id": user_id, "actor": by.id},
                    idempotency_key=f"{effects.ROLE_DM}:{entry.id}",
                    incident_id=incident_id,
                    now=now,
                )
            if not changed:
                raise AlreadyDone("Those people already hold those roles.")
            await self._acknowledge(incident, by=by, at=now)
            await self._enqueue_sync(
                incident, now=now, token=f"r{changed[-1].assigned_at.timestamp()}"
            )
            await self._schedule_reminders(incident, now=now)
        self.wake()
        return changed

    async def add_note(
        self, incident_id: int, text: str, *, by: Actor, intent_key: str
    ) -> TimelineEntry:
        cleaned = text.strip()
        if not cleaned:
            raise UserFacingError("A note needs some text: `note <what happened>`.")
        if len(cleaned) > 3000:
            raise UserFacingError(
                f"A note can have at most 3000 characters ({len(cleaned)} given)."
            )
        incident = await self.incidents.require(incident_id)
        await self._require_manage(incident, by, "add notes to")
        now = self.clock.now()
        async with transaction():
            if not await idempotency.remember(f"note:{intent_key}", now=now):
                raise AlreadyDone("This note is already on the timeline.")
            entry = await self._append(
                incident, TimelineEvent(TimelineKind.NOTE, cleaned), by=by, at=now
            )
            await self._acknowledge(incident, by=by, at=now)
            await self._schedule_reminders(incident, now=now)
        self.wake()
        return entry

    async def pin_message(
        self, incident_id: int, source: SourceMessage, *, by: Actor, intent_key: str
    ) -> TimelineEntry | None:
        """Add a Slack message to the timeline (📌 or the message shortcut); None when that message
        is already on it."""
        incident = await self.incidents.require(incident_id)
        await self._require_manage(incident, by, "edit the timeline of")
        now = self.clock.now()
        async with transaction():
            if not await idempotency.remember(f"pin:{intent_key}", now=now):
                return None
            pinned = [
                e
                for e in await self.timeline.find_by_source(source.channel_id, source.ts)
                if e.kind is TimelineKind.PINNED_MESSAGE and e.incident_id == incident_id
            ]
            if any(not e.struck_out for e in pinned):
                return None
            # Two 📌 handled at once (two replicas) both find no entry: the key of the message's
            # next entry lets one of them add it (pinned again once struck out: the next key).
            nth = f"pinned:{incident_id}:{source.channel_id}:{source.ts}:{len(pinned)}"
            if not await idempotency.remember(nth, now=now):
                return None
            entry = await self._append_source(incident, source, by=by, at=now)
        return entry

    async def unpin_message(self, channel_id: str, ts: str, *, by: Actor) -> int:
        """The 📌 was removed: strike the message's timeline entries out (kept for audit)."""
        struck = 0
        for entry in await self.timeline.find_by_source(channel_id, ts):
            if entry.kind is TimelineKind.PINNED_MESSAGE and not entry.struck_out:
                incident = await self.incidents.require(entry.incident_id)
                await self._require_manage(incident, by, "edit the timeline of")
                await self.timeline.strike_out(entry.id)
                struck += 1
        return struck

    async def source_edited(self, channel_id: str, ts: str, text: str) -> int:
        """A pinned source message was edited in Slack: its entries follow (marked edited)."""
        count = 0
        for entry in await self.timeline.find_by_source(channel_id, ts):
            if (
                entry.kind is TimelineKind.PINNED_MESSAGE
                and not entry.struck_out
                and entry.text != text
            ):
                await self.timeline.edit(entry.id, text=text)
                count += 1
        return count

    async def source_deleted(self, channel_id: str, ts: str) -> int:
        count = 0
        for entry in await self.timeline.find_by_source(channel_id, ts):
            if entry.kind is TimelineKind.PINNED_MESSAGE and not entry.struck_out:
                await self.timeline.strike_out(entry.id)
                count += 1
        return count

    # ----------------------------------------------------------------------------------------
    # Correcting the timeline and the milestones from Slack
    # ----------------------------------------------------------------------------------------

    async def timeline_entry(self, entry_id: int, *, for_update: bool = False) -> TimelineEntry:
        entry = await self.timeline.get(entry_id, for_update=for_update)
        if entry is None:
            raise TimelineEntryNotFound(entry_id)
        return entry

    async def _entry_to_correct(
        self, entry_id: int, by: Actor, *, for_update: bool = False
    ) -> tuple[TimelineEntry, Incident]:
        """The entry (``for_update``: locked in the caller's transaction) and its incident, once
        ``by`` may edit the incident's timeline."""
        entry = await self.timeline_entry(entry_id, for_update=for_update)
        incident = await self.incidents.require(entry.incident_id)
        await self._require_manage(incident, by, EDIT_TIMELINE)
        return entry, incident

    async def may_edit_timeline(self, incident: Incident, user_id: str) -> bool:
        """Whether ``user_id`` may edit the timeline (the timeline shows them its menus)."""
        try:
            await self._require_manage(incident, Actor.user(user_id), EDIT_TIMELINE, reread=False)
        except AccessDenied:
            return False
        return True

    async def check_timeline_edit(
        self,
        entry_id: int,
        *,
        text: str,
        happened_at: datetime | None,
        reason: str,
        by: Actor,
    ) -> None:
        """Raise what ``edit_timeline_entry`` would refuse, writing nothing (a form checks it
        before its ack, to show the refusal on the right input)."""
        entry, incident = await self._entry_to_correct(entry_id, by)
        edit_entry(
            incident,
            entry,
            text=text,
            happened_at=happened_at,
            reason=reason,
            by=by,
            now=self.clock.now(),
        )

    async def edit_timeline_entry(
        self,
        entry_id: int,
        *,
        text: str,
        happened_at: datetime | None,
        reason: str,
        by: Actor,
        intent_key: str,
    ) -> TimelineEntry:
        """Correct an entry's text and/or time (``happened_at`` ``None``: unchanged) with a reason;
        the previous values, the reason and the actor are kept in its data (audit), and it is
        marked edited. The same ``intent_key`` twice changes nothing the second time."""
        now = self.clock.now()
        async with transaction():
            entry, incident = await self._entry_to_correct(entry_id, by, for_update=True)
            if not await idempotency.remember(f"timeline-edit:{intent_key}", now=now):
                return entry
            change = edit_entry(
                incident, entry, text=text, happened_at=happened_at, reason=reason, by=by, now=now
            )
            await self._postmortem_follows_timeline(
                incident.id, entry.kind, token=f"edit-{intent_key}"
            )
            return await self.timeline.edit(
                entry_id, text=change.text, happened_at=change.happened_at, data=change.data
            )

    async def check_timeline_strike(self, entry_id: int, *, reason: str, by: Actor) -> None:
        """Raise what ``strike_timeline_entry`` would refuse, writing nothing."""
        entry, _ = await self._entry_to_correct(entry_id, by)
        strike_entry(entry, reason=reason, by=by, now=self.clock.now())

    async def strike_timeline_entry(
        self, entry_id: int, *, reason: str, by: Actor, intent_key: str
    ) -> TimelineEntry:
        """Strike an entry out with a reason: it stays on the timeline, struck through, with who,
        when and why in its data."""
        now = self.clock.now()
        async with transaction():
            entry, _ = await self._entry_to_correct(entry_id, by, for_update=True)
            if not await idempotency.remember(f"timeline-strike:{intent_key}", now=now):
                return entry
            data = strike_entry(entry, reason=reason, by=by, now=now)
            await self._postmortem_follows_timeline(
                entry.incident_id, entry.kind, token=f"strike-{intent_key}"
            )
            return await self.timeline.strike_out(entry_id, data=data)

    def check_milestones(
        self, incident: Incident, values: Mapping[Milestone, datetime | None]
    ) -> None:
        """Raise what ``set_milestones`` would refuse (``MilestoneBatchRefused``), writing
        nothing."""
        set_milestones(incident, values, now=self.clock.now())

    async def set_milestones(
        self,
        incident_id: int,
        values: Mapping[Milestone, datetime | None],
        *,
        by: Actor,
        intent_key: str | None = None,
    ) -> Incident:
        """Set and correct several milestones in one change (the milestones modal): one timeline
        entry per milestone changed, the pinned summary refreshed."""

        async def apply(incident: Incident) -> tuple[Incident, list[TimelineEvent]]:
            changed, events = set_milestones(incident, values, now=self.clock.now())
            if not events:
                raise AlreadyDone("Those milestones already have those times.")
            return changed, events

        return await self._change(
            incident_id, by=by, action=EDIT_MILESTONES, apply=apply, intent_key=intent_key
        )

    async def broadcast_update(
        self, incident_id: int, source: SourceMessage, *, by: Actor
    ) -> TimelineEntry:
        """📣 on a message of the incident channel: a status update, once per message."""
        incident = await self.incidents.require(incident_id)
        await self._require_manage(incident, by, "post updates for")
        now = self.clock.now()
        async with transaction():
            if not await idempotency.remember(
                f"broadcast:{source.channel_id}:{source.ts}", now=now
            ):
                raise AlreadyDone("This message was already broadcast as a status update.")
            entry = await self._append(
                incident,
                TimelineEvent(
                    TimelineKind.STATUS_UPDATE,
                    source.text,
                    {"author": source.author_id},
                ),
                by=by,
                at=now,
                source=source,
            )
            await outbox.enqueue(
                effects.BROADCAST,
                {"incident_id": incident_id, "entry_id": entry.id, "actor": by.id},
                idempotency_key=f"{effects.BROADCAST}:{entry.id}",
                incident_id=incident_id,
                now=now,
            )
            await self._acknowledge(incident, by=by, at=now)
            await self._schedule_reminders(incident, now=now)
        self.wake()
        return entry

    # ----------------------------------------------------------------------------------------
    # Channel membership (events)
    # ----------------------------------------------------------------------------------------

    async def member_joined(self, channel_id: str, user_id: str) -> None:
        incident = await self.incidents.get_by_channel(channel_id)
        if incident is None:
            return
        existing = await self.participants.get(incident.id, user_id)
        now = self.clock.now()
        if existing is None or existing.has_left:
            await self.participants.joined(incident.id, user_id, at=now)

    async def member_left(self, channel_id: str, user_id: str) -> None:
        incident = await self.incidents.get_by_channel(channel_id)
        if incident is None:
            return
        existing = await self.participants.get(incident.id, user_id)
        if existing is not None and not existing.has_left:
            await self.participants.left(incident.id, user_id, at=self.clock.now())
        elif existing is None:
            await self.participants.joined(incident.id, user_id, at=self.clock.now())
            await self.participants.left(incident.id, user_id, at=self.clock.now())

    async def forget_intents_before(self, cutoff: datetime) -> int:
        """Forget intents handled before ``cutoff`` (a scheduled clean-up)."""
        return await idempotency.forget_before(cutoff)

    # ----------------------------------------------------------------------------------------
    # Jira: the incident's ticket (kept in step by ``bot.ticket_effects``), changes people make
    # in Jira (pulled by ``bot.ticket_pull``), follow-ups
    # ----------------------------------------------------------------------------------------

    async def ticket_of(self, incident_id: int) -> Ticket | None:
        return await self.tickets.get(incident_id)

    async def ticket_opened(
        self,
        incident_id: int,
        *,
        key: str,
        issue_id: str,
        url: str,
        project: str,
        written: Mapping[str, object],
    ) -> Ticket:
        """The incident's ticket exists in Jira: remember it, say so on the timeline, and show it
        in Slack (pinned summary, bookmark). A second call (a retried job) changes nothing."""
        now = self.clock.now()
        async with transaction():
            recorded, created = await self.tickets.record(
                incident_id,
                key=key,
                issue_id=issue_id,
                url=url,
                project=project,
                written=written,
                at=now,
            )
            if created:
                await self._external_recorded(
                    await self.incidents.require(incident_id),
                    TimelineEvent(
                        TimelineKind.EXTERNAL_EVENT,
                        f"Jira ticket {key} opened",
                        {"jira_key": key, "url": url},
                    ),
                    by=JIRA,
                    now=now,
                    key=f"ticket-{key}",
                )
        if created:
            self.wake()
        return recorded

    async def ticket_fields_refused(
        self, incident_id: int, key: str, refused: Mapping[str, str]
    ) -> None:
        """The ticket was opened without fields Jira refused (a misconfigured mapping): on the
        timeline and in the channel, with what to fix."""
        incident = await self.incidents.require(incident_id)
        listed = "; ".join(f"{field}: {message}" for field, message in sorted(refused.items()))
        text = (
            f"I opened {key} without {', '.join(sorted(refused))}, which Jira refused ({listed}). "
            "Check `jira.field_mapping` and `jira.priority_field` in the FireFighter catalog: "
            "`firefighter check` lists such problems."
        )
        now = self.clock.now()
        async with transaction():
            if not await idempotency.remember(f"ticket-refused:{key}", now=now):
                return
            await self._append(
                incident,
                TimelineEvent(TimelineKind.SIDE_EFFECT_FAILED, text, {"jira_key": key}),
                by=JIRA,
                at=now,
            )
            await self._enqueue_post(incident, text, key=f"ticket-refused-{key}", now=now)
        self.wake()

    async def channel_ready(self, incident_id: int) -> None:
        """The incident's Slack channel exists now (a side effect, not a change of the incident,
        so nothing else enqueues a ticket sync): the ticket's description and links follow."""
        if not self.jira:
            return
        incident = await self.incidents.require(incident_id)
        await outbox.enqueue(
            ticket.SYNC,
            {"incident_id": incident.id, "actor": incident.created_by},
            idempotency_key=f"{ticket.SYNC}:{incident.id}:channel-{incident.channel_id}",
            incident_id=incident.id,
            now=self.clock.now(),
        )
        self.wake()

    async def ticket_written(self, incident_id: int, values: Mapping[str, object]) -> None:
        """Remember what the bot just wrote to the ticket (an echo of it is then ignored)."""
        await self.tickets.remember_written(incident_id, values, at=self.clock.now())

    async def ticket_lost(self, incident_id: int, key: str) -> None:
        """The ticket was deleted in Jira: stop syncing it and say so, once."""
        now = self.clock.now()
        async with transaction():
            if not await self.tickets.mark_deleted(incident_id, at=now):
                return
            incident = await self.incidents.require(incident_id)
            text = (
                f"The Jira ticket {key} was deleted in Jira: FireFighter no longer keeps it in "
                "step. The incident itself is unchanged."
            )
            await self._append(
                incident,
                TimelineEvent(TimelineKind.EXTERNAL_EVENT, text, {"jira_key": key}),
                by=JIRA,
                at=now,
            )
            await self._enqueue_post(incident, text, key=f"ticket-lost-{key}", now=now)
            await self._enqueue_sync(incident, now=now, token=f"ticket-lost-{key}")
        self.wake()

    async def apply_ticket_changes(
        self, incident_id: int, key: str, project: str, changes: Sequence[ticket.RemoteChange]
    ) -> None:
        """Changes people made to the ticket in Jira, applied through the same rules as Slack's.
        A change the rules refuse (closing without a ready post-mortem…) is explained in the
        channel instead; one the incident already reflects changes nothing."""
        for change in changes:
            by = Actor.system("jira", f"{change.author_name or 'someone'} in Jira")
            intent = f"jira:{key}:{change.change_id}:{change.field.value}"
            incident = await self.incidents.require(incident_id)
            try:
                await self._apply_ticket_change(incident, project, change, by=by, intent=intent)
            except AlreadyDone:
                continue
            except IncidentChanged:
                continue  # a Slack change won the race; the next sync makes Jira follow it
            except UserFacingError as refused:
                what = {
                    ticket.RemoteField.STATUS: f"moved {key} to {change.display}",
                    ticket.RemoteField.PRIORITY: f"set the priority of {key} to {change.display}",
                    ticket.RemoteField.ASSIGNEE: f"assigned {key} to {change.display}",
                }[change.field]
                text = (
                    f"{change.author_name or 'Someone'} {what} in Jira, but "
                    f"{incident.reference} did not follow: {refused}"
                )
                await self._tell_refusal(incident, text, intent=intent)

    async def _apply_ticket_change(
        self,
        incident: Incident,
        project: str,
        change: ticket.RemoteChange,
        *,
        by: Actor,
        intent: str,
    ) -> None:
        jira = self.catalog.jira
        if change.field is ticket.RemoteField.STATUS and change.value:
            to = ticket.incident_status_for(jira, project, change.value, incident.status)
            if to is not None:
                await self.change_status(incident.id, to, by=by, intent_key=intent)
        elif change.field is ticket.RemoteField.PRIORITY:
            priority = ticket.priority_for(jira, change.value)
            if priority is None:
                raise UserFacingError(f"the Jira priority {change.display!r} maps to no priority.")
            if priority is not incident.priority:
                await self.update(
                    incident.id,
                    IncidentChanges(priority=priority),
                    by=by,
                    intent_key=intent,
                )
        elif change.field is ticket.RemoteField.ASSIGNEE and change.value:
            email = change.display if change.display and "@" in change.display else None
            user = await self.chat.user_by_email(email) if self.chat and email else None
            if user is None:
                raise UserFacingError(
                    "no Slack user has that person's e-mail, so the commander is unchanged."
                )
            await self.assign_roles(
                incident.id, {BuiltinRole.COMMANDER: user}, by=by, intent_key=intent
            )

    async def _tell_refusal(self, incident: Incident, text: str, *, intent: str) -> None:
        now = self.clock.now()
        async with transaction():
            if not await idempotency.remember(f"refused:{intent}", now=now):
                return
            await self._append(
                incident, TimelineEvent(TimelineKind.EXTERNAL_EVENT, text, {}), by=JIRA, at=now
            )
            await self._enqueue_post(incident, text, key=intent, now=now)
        self.wake()

    async def _external_recorded(
        self,
        incident: Incident,
        event: TimelineEvent,
        *,
        by: Actor,
        now: datetime,
        key: str,
        post: str | None = None,
    ) -> None:
        """The incident has a new object elsewhere (a Jira ticket, a Confluence page, a PagerDuty
        incident), just recorded: on its timeline, said in its channel when there is a ``post``,
        and a sync so the pinned summary and the channel's bookmarks link it. Inside the caller's
        transaction; ``key`` names the object, so each job is enqueued once."""
        await self._append(incident, event, by=by, at=now)
        if post is not None:
            await self._enqueue_post(incident, post, key=key, now=now)
        await self._enqueue_sync(incident, now=now, token=key)

    async def _enqueue_post(
        self, incident: Incident, text: str, *, key: str, now: datetime
    ) -> None:
        await outbox.enqueue(
            effects.POST,
            {"incident_id": incident.id, "text": text},
            idempotency_key=f"{effects.POST}:{incident.id}:{key}",
            incident_id=incident.id,
            now=now,
        )

    async def add_followup(
        self, incident_id: int, text: str, *, by: Actor, intent_key: str
    ) -> FollowUp:
        """A follow-up action: a Jira issue linked to the incident's ticket, created after commit
        (``jira.followup``); its status is pulled with the ticket's changes."""
        if not self.jira:
            raise UserFacingError(
                "Follow-ups are Jira issues, and Jira is not configured for FireFighter."
            )
        text = " ".join(text.split())
        if not text:
            raise UserFacingError(
                "Say what needs doing, e.g. `followup Add an alert on p99 latency`."
            )
        if len(text) > FOLLOWUP_MAX_LENGTH:
            raise UserFacingError(
                f"A follow-up is a Jira summary: at most {FOLLOWUP_MAX_LENGTH} characters "
                f"(this one has {len(text)})."
            )
        incident = await self.incidents.require(incident_id)
        await self._require_manage(incident, by, "add follow-ups to")
        now = self.clock.now()
        due = now + timedelta(days=self.catalog.jira.followup_due_days)
        async with transaction():
            followup, created = await self.followups.create(
                incident_id,
                text,
                intent_key=f"followup:{intent_key}",
                created_by=by.id,
                due_at=due,
                at=now,
            )
            if not created:
                return followup
            await self._append(
                incident,
                TimelineEvent(TimelineKind.FOLLOWUP, text, {"followup_id": followup.id}),
                by=by,
                at=now,
            )
            await outbox.enqueue(
                ticket.FOLLOWUP,
                {"incident_id": incident_id, "followup_id": followup.id, "actor": by.id},
                idempotency_key=f"{ticket.FOLLOWUP}:{followup.id}",
                incident_id=incident_id,
                now=now,
            )
        self.wake()
        return followup

    async def followup_created(
        self, followup_id: int, *, key: str, issue_id: str, url: str, status: str
    ) -> None:
        followup = await self.followups.get(followup_id)
        if followup is None or followup.key is not None:
            return
        now = self.clock.now()
        async with transaction():
            await self.followups.record_issue(
                followup_id, key=key, issue_id=issue_id, url=url, status=status, at=now
            )
            incident = await self.incidents.require(followup.incident_id)
            await self._enqueue_post(
                incident,
                f"Follow-up {key} created in Jira: {followup.text} ({url})",
                key=f"followup-{followup_id}",
                now=now,
            )
        self.wake()

    async def followup_status(self, key: str, status: str, category: str) -> None:
        """A follow-up's status in Jira; its completion goes on the incident's timeline."""
        now = self.clock.now()
        async with transaction():
            changed = await self.followups.record_status(
                key, status=status, category=category, at=now
            )
            if changed is None or changed.done_at != now:
                return
            incident = await self.incidents.require(changed.incident_id)
            await self._append(
                incident,
                TimelineEvent(
                    TimelineKind.FOLLOWUP,
                    f"Follow-up {key} done ({status}): {changed.text}",
                    {"followup_id": changed.id, "jira_key": key, "status": status},
                ),
                by=JIRA,
                at=now,
            )

    async def followups_for(
        self, incident_id: int, *, user_id: str
    ) -> tuple[Incident, list[FollowUp]]:
        """The incident's follow-ups, for someone who may see the incident."""
        incident = await self.incidents.require(incident_id)
        if not await self.may_see(incident, user_id):
            raise AccessDenied(f"You cannot see {incident.reference}.")
        return incident, await self.followups.list(incident_id)

    async def followup(self, followup_id: int) -> FollowUp | None:
        return await self.followups.get(followup_id)

    async def attach_to_ticket(
        self, channel_id: str, file_ids: Sequence[str], *, by: Actor, intent_key: str
    ) -> Incident:
        """Files shared in an incident channel go to its Jira ticket (the 📎 reaction)."""
        if not self.jira:
            raise UserFacingError("Attaching files needs Jira, which is not configured.")
        incident = await self.incident_in_channel(channel_id)
        if incident is None:
            raise UserFacingError("This is not an incident channel.")
        if not file_ids:
            raise UserFacingError("That message has no file to attach.")
        now = self.clock.now()
        async with transaction():
            if not await idempotency.remember(f"attach:{intent_key}", now=now):
                raise AlreadyDone("Those files are already on the ticket.")
            # A ticket is edited like its incident (PRODUCT.md §5): a stranger's first 📎 is
            # refused (and forgotten with the transaction); a repeat stays quiet, whoever adds it.
            await self._require_manage(incident, by, "attach files to the ticket of")
            for file_id in file_ids:
                await outbox.enqueue(
                    ticket.ATTACH,
                    {"incident_id": incident.id, "file_id": file_id, "actor": by.id},
                    idempotency_key=f"{ticket.ATTACH}:{incident.id}:{file_id}",
                    incident_id=incident.id,
                    now=now,
                )
        self.wake()
        return incident

    # ----------------------------------------------------------------------------------------
    # PagerDuty: who is on call, pages (recorded here, sent by ``bot.page_effects``), and what
    # responders did in PagerDuty (pulled by ``bot.page_pull``). Rules and texts: ``bot.page``.
    # ----------------------------------------------------------------------------------------

    async def on_call(self, services: Sequence[PagerDutyService]) -> list[paging.ServiceOnCall]:
        """Who is on call now for each service, every level, with their Slack accounts matched
        by e-mail. A service PagerDuty cannot answer for carries a ``problem`` instead."""
        if self.pager is None:
            raise UserFacingError(PAGERDUTY_OFF)
        return list(await asyncio.gather(*(self._service_on_call(s) for s in services)))

    async def _service_on_call(self, service: PagerDutyService) -> paging.ServiceOnCall:
        try:
            on_call = await self._read_on_call(service)
        except PagerError as error:
            return paging.ServiceOnCall(service, None, problem=paging.pager_problem(error))
        emails = {shift.user.email.casefold() for shift in on_call.shifts if shift.user.email}
        found = await asyncio.gather(*(self._slack_user(email) for email in emails))
        return paging.ServiceOnCall(service, on_call, dict(zip(emails, found, strict=True)))

    async def _read_on_call(self, service: PagerDutyService) -> OnCall:
        """The service's on-call, remembered ``ON_CALL_MEMORY`` (the declare modal asks on
        every impact picked; shifts do not change by the second)."""
        assert self.pager is not None
        now = self.clock.now()
        remembered = self._on_call_cache.get(service.key)
        if remembered is not None and now - remembered[0] < ON_CALL_MEMORY:
            return remembered[1]
        if service.escalation_policy_id:
            on_call = await self.pager.on_call(escalation_policy_id=service.escalation_policy_id)
        else:
            on_call = await self.pager.on_call(service_id=service.service_id)
        self._on_call_cache[service.key] = (now, on_call)
        return on_call

    async def _slack_user(self, email: str) -> str | None:
        """The Slack account with this e-mail (None: none, or Slack could not say)."""
        if self.chat is None:
            return None
        try:
            return await self.chat.user_by_email(email)
        except ChatError:
            return None

    async def page(
        self,
        incident_id: int,
        service_keys: Sequence[str] | None,
        *,
        by: Actor,
        intent_key: str,
    ) -> list[paging.PageView]:
        """Page on-call for the incident: the named services (any configured one), else the
        category's. One page per (incident, service) while it is open in PagerDuty: asking again
        changes nothing, and the same ``intent_key`` twice (a redelivered command) neither."""
        if self.pager is None:
            raise UserFacingError(PAGERDUTY_OFF)
        incident = await self.incidents.require(incident_id)
        await self._require_manage(incident, by, "page on-call for")
        refused = paging.may_be_paged(incident)
        if refused is not None:
            raise UserFacingError(refused)
        if service_keys:
            try:
                services = [self.catalog.pagerduty.service(key) for key in service_keys]
            except KeyError as unknown:
                raise UserFacingError(
                    f"No PagerDuty service {unknown} is configured (`pagerduty.services`)."
                ) from None
        else:
            services = paging.services_of(self.catalog, incident.category)
        if not services:
            known = ", ".join(f"`{s.key}`" for s in self.catalog.pagerduty.services) or "none"
            raise UserFacingError(
                f"The category of {incident.reference} pages no PagerDuty service: name one, "
                f"`{self.catalog.slack.command} page <service>` (known services: {known})."
            )
        now = self.clock.now()
        views: list[paging.PageView] = []
        async with transaction():
            repeat = not await idempotency.remember(f"page:{intent_key}", now=now)
            for service in services:
                if repeat:
                    record = await self.pages.latest(incident.id, service.service_id)
                    created = False
                else:
                    record, created = await self._request_page(
                        incident, service, by=by, automatic=False, now=now
                    )
                if record is not None:
                    views.append(_page_view(service, record, new=created))
        self.wake()
        return views

    async def pages_of(self, incident_id: int) -> list[PageRecord]:
        return await self.pages.list(incident_id)

    async def _request_page(
        self,
        incident: Incident,
        service: PagerDutyService,
        *,
        by: Actor,
        automatic: bool,
        now: datetime,
    ) -> tuple[PageRecord, bool]:
        """Record a page of ``service`` and its outbox job (inside the caller's transaction),
        unless the service's last page is still live: that one is returned."""
        latest = await self.pages.latest(incident.id, service.service_id)
        if latest is not None and latest.is_live and not await self._page_failed(latest, now):
            return latest, False
        round_ = latest.round + 1 if latest is not None else 1
        record, created = await self.pages.create(
            incident.id,
            service_key=service.key,
            service_id=service.service_id,
            escalation_policy_id=service.escalation_policy_id,
            round_=round_,
            key=paging.page_key(incident.id, service.service_id, round_),
            urgency=paging.urgency(self.catalog, incident.priority),
            automatic=automatic,
            requested_by=by.id,
            at=now,
        )
        if created:
            await outbox.enqueue(
                paging.PAGE,
                {"incident_id": incident.id, "page_id": record.id, "actor": by.id},
                idempotency_key=f"{paging.PAGE}:{record.id}",
                incident_id=incident.id,
                now=now,
            )
        return record, created

    async def _page_failed(self, record: PageRecord, now: datetime) -> bool:
        """A requested page whose job failed for good (reported already): marked failed, so the
        service can be paged again."""
        if record.status != "requested":
            return False
        job = await outbox.get_by_key(f"{paging.PAGE}:{record.id}")
        if job is None or job.status is not outbox.OutboxStatus.FAILED:
            return False
        await self.pages.ended(record.id, "failed", at=now)
        return True

    async def _auto_page(self, incident: Incident, *, by: Actor, now: datetime) -> None:
        """At declaration: page the category's services for ``pagerduty.auto_page_priorities``."""
        if self.pager is None or not paging.auto_pages(self.catalog, incident.priority):
            return
        for service in paging.services_of(self.catalog, incident.category):
            await self._request_page(incident, service, by=by, automatic=True, now=now)

    async def _pages_follow(
        self, before: Incident, after: Incident, *, by: Actor, now: datetime
    ) -> None:
        """A change's meaning for the pages (``bot.page.pages_on_change``): mitigated → resolve
        them (an outbox job); raised into, or reopened at, an auto-paged priority → page."""
        if self.pager is None:
            return
        decision = paging.pages_on_change(self.catalog, before, after)
        if decision == "page":
            for service in paging.services_of(self.catalog, after.category):
                await self._request_page(after, service, by=by, automatic=True, now=now)
        elif decision == "resolve" and any(p.is_live for p in await self.pages.list(after.id)):
            await outbox.enqueue(
                paging.RESOLVE,
                {"incident_id": after.id, "actor": by.id},
                idempotency_key=f"{paging.RESOLVE}:{after.id}:v{after.version}",
                incident_id=after.id,
                now=now,
            )

    async def page_triggered(
        self,
        page_id: int,
        opened: PagerIncident,
        responders: Sequence[Responder],
        *,
        channel_linked: bool,
    ) -> PageRecord | None:
        """PagerDuty opened the page's incident (or had it already: a retry): remember it, on the
        timeline and in the channel, once. Returns the page as stored now."""
        now = self.clock.now()
        async with transaction():
            first = await self.pages.triggered(
                page_id,
                pd_incident_id=opened.id,
                pd_number=opened.number,
                url=opened.url,
                status=opened.status,
                responders=responders,
                channel_linked=channel_linked,
                at=now,
            )
            record = await self.pages.get(page_id)
            if not first or record is None:
                return record
            incident = await self.incidents.require(record.incident_id)
            text = paging.triggered_text(
                self._service_name(record),
                opened.number,
                opened.url,
                opened.urgency or record.urgency,
                [(r.name, r.slack_id) for r in responders],
                automatic_for=incident.priority.label if record.automatic else None,
            )
            await self._external_recorded(
                incident,
                TimelineEvent(
                    TimelineKind.PAGE,
                    text,
                    {
                        "event": "triggered",
                        "service": record.service_key,
                        "pagerduty_id": opened.id,
                        "number": opened.number,
                        "url": opened.url,
                        "key": record.key,
                        "responders": [r.as_json() for r in responders],
                    },
                ),
                by=FIREFIGHTER if record.automatic else Actor.user(record.requested_by),
                now=now,
                key=f"page-{page_id}",
                post=text,
            )
        self.wake()
        return record

    async def page_marked(self, page_id: int, **flags: bool) -> None:
        """The page's responders were invited, or its PagerDuty incident got the channel link."""
        await self.pages.mark(page_id, at=self.clock.now(), **flags)

    async def page_cancelled(self, page_id: int) -> None:
        """The incident was mitigated before the page reached PagerDuty: it is not sent."""
        now = self.clock.now()
        async with transaction():
            if not await self.pages.ended(page_id, "cancelled", at=now):
                return
            record = await self.pages.get(page_id)
            assert record is not None
            incident = await self.incidents.require(record.incident_id)
            await self._append(
                incident,
                TimelineEvent(
                    TimelineKind.PAGE,
                    f"Did not page {self._service_name(record)}: {incident.reference} was "
                    f"{incident.status.label} before PagerDuty could be reached.",
                    {"event": "cancelled", "service": record.service_key},
                ),
                by=FIREFIGHTER,
                at=now,
            )

    async def page_acknowledged(
        self,
        page_id: int,
        *,
        at: datetime,
        by_name: str,
        by_email: str | None,
        intent_key: str | None = None,
    ) -> bool:
        """A responder acknowledged the page in PagerDuty: on the timeline and in the channel,
        and, if nobody responded before, the incident's ``acknowledged_at`` (the milestone rule
        of a first response, at PagerDuty's time). True the first time for this page; nothing
        at all when ``intent_key`` (PagerDuty's log entry) was handled already."""
        slack_id = await self._slack_user(by_email) if by_email else None
        actor = Actor.system("pagerduty", f"{by_name} in PagerDuty")
        for attempt in range(ACK_ATTEMPTS):
            now = self.clock.now()
            try:
                async with transaction():
                    if intent_key and not await idempotency.remember(
                        f"pagerduty-entry:{intent_key}", now=now
                    ):
                        return False
                    if not await self.pages.acknowledged(page_id, by=by_name, at=at):
                        return False
                    record = await self.pages.get(page_id)
                    assert record is not None
                    incident = await self.incidents.require(record.incident_id)
                    text = (
                        f"{by_name} acknowledged the page on {self._service_name(record)} "
                        f"({record.reference}) in PagerDuty."
                    )
                    await self._append(
                        incident,
                        TimelineEvent(
                            TimelineKind.PAGE,
                            text,
                            {
                                "event": "acknowledged",
                                "service": record.service_key,
                                "number": record.pd_number,
                                "by": by_name,
                                "slack_id": slack_id,
                            },
                        ),
                        by=actor,
                        at=at,
                    )
                    first = record_first_response(incident, at=at)
                    if first is not None:
                        saved = await self.incidents.update(
                            first.incident, expected_version=incident.version
                        )
                        await self._append(saved, first.event, by=actor, at=now)
                        await self._enqueue_sync(saved, now=now)
                    await self._enqueue_post(incident, text, key=f"page-ack-{page_id}", now=now)
            except ConcurrentUpdate:
                if attempt == ACK_ATTEMPTS - 1:
                    raise
                continue  # a Slack change won the race: read the incident again
            self.wake()
            return True
        return False

    async def page_unacknowledged(self, page_id: int) -> None:
        """PagerDuty put the page back to triggered (its acknowledgement timed out)."""
        await self.pages.unacknowledged(page_id, at=self.clock.now())

    async def page_resolved(
        self,
        page_id: int,
        *,
        at: datetime,
        by_name: str | None,
        by_bot: bool,
        intent_key: str | None = None,
    ) -> bool:
        """The page's PagerDuty incident is resolved: by FireFighter at mitigation, or by someone
        in PagerDuty (which does not change the incident itself). Once per page (and nothing when
        ``intent_key``, PagerDuty's log entry, was handled already)."""
        now = self.clock.now()
        async with transaction():
            if intent_key and not await idempotency.remember(
                f"pagerduty-entry:{intent_key}", now=now
            ):
                return False
            if not await self.pages.resolved(page_id, at=at):
                return False
            record = await self.pages.get(page_id)
            assert record is not None
            incident = await self.incidents.require(record.incident_id)
            service = self._service_name(record)
            if by_bot:
                text = (
                    f"Resolved the page on {service} ({record.reference}): "
                    f"{incident.reference} is {incident.status.label}."
                )
                actor = FIREFIGHTER
            else:
                name = by_name or "Someone"
                text = (
                    f"{name} resolved the page on {service} ({record.reference}) in PagerDuty; "
                    f"{incident.reference} itself stays {incident.status.label}."
                )
                actor = Actor.system("pagerduty", f"{name} in PagerDuty")
            await self._append(
                incident,
                TimelineEvent(
                    TimelineKind.PAGE,
                    text,
                    {"event": "resolved", "service": record.service_key, "by_bot": by_bot},
                ),
                by=actor,
                at=at,
            )
            await self._enqueue_post(incident, text, key=f"page-resolved-{page_id}", now=now)
        self.wake()
        return True

    def _service_name(self, record: PageRecord) -> str:
        try:
            return paging.service_name(self.catalog.pagerduty.service(record.service_key))
        except KeyError:
            return record.service_key

    # ----------------------------------------------------------------------------------------
    # Confluence: the post-mortem page (written and kept up to date by
    # ``bot.postmortem_effects``, its "ready" state read back by ``bot.postmortem_pull``). The
    # close gate reads that state as recorded here; ``postmortem_check`` refreshes it from
    # Confluence before a close, outside any transaction.
    # ----------------------------------------------------------------------------------------

    def _postmortem_in_confluence(self, incident: Incident) -> bool:
        """Whether the incident's post-mortem is a Confluence page. Private incidents keep theirs
        out of the shared space (and mark it ready with the Slack button)."""
        return self.confluence and not incident.private

    async def postmortem_of(self, incident_id: int) -> Postmortem | None:
        return await self.postmortems.get(incident_id)

    async def postmortem_hint(self, incident: Incident) -> str | None:
        """The close gate's words for a post-mortem that is not ready (None: the Slack button's)."""
        if not self._postmortem_in_confluence(incident):
            return None
        page = await self.postmortems.get(incident.id)
        current = await self.tickets.get(incident.id)
        return postmortem.ready_hint(
            self.catalog.confluence,
            command=self.catalog.slack.command,
            page_url=page.url if page is not None and page.live else None,
            deleted=page is not None and not page.live,
            ticket_key=current.key if current is not None and current.deleted_at is None else None,
        )

    async def _refresh_postmortem(self, incident: Incident) -> bool | None:
        """Read the post-mortem's readiness from Confluence now (not when it is already ready, or
        has no page): True when read, False when Confluence did not answer in time, None when
        there was nothing to read."""
        if self.postmortem_check is None or not self._postmortem_in_confluence(incident):
            return None
        page = await self.postmortems.get(incident.id)
        if page is None or (page.live and page.ready):
            return None
        try:
            return await asyncio.wait_for(
                self.postmortem_check(incident.id), POSTMORTEM_FRESH_READ_SECONDS
            )
        except TimeoutError:
            return False

    async def _confirm_postmortem_ready(self, incident: Incident) -> None:
        """The close gate's "Mark post-mortem ready" when the post-mortem is a page: the page
        says whether it is ready (its label, or the ticket's status), so the bot reads it now."""
        page = await self.postmortems.get(incident.id)
        if page is not None and page.live and page.ready:
            raise AlreadyDone(f"The post-mortem of {incident.reference} is already marked ready.")
        read = await self._refresh_postmortem(incident)
        page = await self.postmortems.get(incident.id)
        if page is not None and page.live and page.ready:
            return
        hint = await self.postmortem_hint(incident)
        unread = (
            " (FireFighter could not read it just now: Confluence did not answer.)"
            if read is False
            else ""
        )
        raise UserFacingError(
            f"The post-mortem of {incident.reference} is not ready yet. {hint}{unread}"
        )

    async def request_postmortem(
        self, incident_id: int, *, by: Actor, intent_key: str
    ) -> Postmortem | None:
        """``/incident postmortem``: the page when it exists (its generated sections are then
        brought up to date), else None once its writing is queued (the outbox writes it, and
        tells the channel with its link)."""
        if not self.confluence:
            raise UserFacingError(
                "Post-mortems are written in Confluence, which is not configured for FireFighter."
            )
        incident = await self.incidents.require(incident_id)
        await self._require_manage(incident, by, "write the post-mortem of")
        if incident.private:
            raise UserFacingError(
                f"{incident.reference} is private: its post-mortem is not written in the shared "
                "Confluence space. Keep it where your team keeps confidential documents, and mark "
                "it ready from the close gate's button."
            )
        now = self.clock.now()
        page = await self.postmortems.get(incident_id)
        async with transaction():
            if not await idempotency.remember(f"postmortem:{intent_key}", now=now):
                return page if page is not None and page.live else None
            if page is not None and page.live:
                await self._postmortem_follows_timeline(
                    incident_id, TimelineKind.NOTE, token=f"asked-{intent_key}"
                )
            else:
                await outbox.enqueue(
                    postmortem.CREATE,
                    {"incident_id": incident_id, "actor": by.id},
                    idempotency_key=f"{postmortem.CREATE}:{incident_id}:{intent_key}",
                    incident_id=incident_id,
                    now=now,
                )
        self.wake()
        return page if page is not None and page.live else None

    async def _postmortem_follows_change(
        self, incident: Incident, *, by: Actor, now: datetime
    ) -> None:
        """An incident that needs a post-mortem gets its page once it is Mitigated (inside the
        change's transaction; once per incident: a deleted page is replaced on request only)."""
        if (
            not self._postmortem_in_confluence(incident)
            or not self.catalog.confluence.create_automatically
            or not incident.is_open
            or not incident.status.is_mitigated_or_later
            or not self.rules_for(incident).postmortem_required
        ):
            return
        await outbox.enqueue(
            postmortem.CREATE,
            {"incident_id": incident.id, "actor": by.id if by.is_user else incident.created_by},
            idempotency_key=f"{postmortem.CREATE}:{incident.id}:auto",
            incident_id=incident.id,
            now=now,
        )

    async def _postmortem_follows_timeline(
        self, incident_id: int, kind: TimelineKind, *, token: str
    ) -> None:
        """The timeline changed: the page's generated sections follow until it is marked ready
        (inside the caller's transaction; one job per change, cheap when nothing differs)."""
        if not self.confluence or kind in postmortem.SKIPPED_KINDS:
            return
        page = await self.postmortems.get(incident_id)
        if page is None or not page.live or page.ready:
            return
        await outbox.enqueue(
            postmortem.SYNC,
            {"incident_id": incident_id},
            idempotency_key=f"{postmortem.SYNC}:{incident_id}:{token}",
            incident_id=incident_id,
            now=self.clock.now(),
        )

    async def resync_postmortem(self, incident_id: int, *, token: str) -> None:
        """Bring the page's generated sections up to date (the pull found them behind, e.g.
        after a timeline entry was struck out from a 📌 removed in Slack)."""
        async with transaction():
            await self._postmortem_follows_timeline(incident_id, TimelineKind.NOTE, token=token)
        self.wake()

    async def postmortem_created(
        self,
        incident_id: int,
        *,
        page_id: str,
        title: str,
        url: str,
        version: int,
        digest: str,
    ) -> Postmortem:
        """The page exists in Confluence: remember it, say so on the timeline and in the channel,
        bookmark it, and link it from the Jira ticket. A second call (a retried job) changes
        nothing."""
        now = self.clock.now()
        section = self.catalog.confluence
        async with transaction():
            recorded, created = await self.postmortems.record(
                incident_id,
                page_id=page_id,
                space_key=section.space_key or "",
                title=title,
                url=url,
                version=version,
                digest=digest,
                at=now,
            )
            if created:
                ticket_key = None
                if section.ready_via == "jira_status":
                    current = await self.tickets.get(incident_id)
                    ticket_key = current.key if current is not None else None
                step = postmortem.ready_text(section, ticket_key=ticket_key)
                await self._external_recorded(
                    await self.incidents.require(incident_id),
                    TimelineEvent(
                        TimelineKind.POSTMORTEM_CREATED,
                        f"Post-mortem page written in Confluence: {title}",
                        {"page_id": page_id, "url": url},
                    ),
                    by=CONFLUENCE,
                    now=now,
                    key=f"postmortem-{page_id}",
                    post=f"The post-mortem page is written: {title} {url} — the timeline, roles "
                    "and milestones are filled in and kept up to date; the root cause and what "
                    f"went well or badly are yours. It counts as ready when {step}.",
                )
                if self.jira:
                    await outbox.enqueue(
                        postmortem.JIRA_LINK,
                        {"incident_id": incident_id},
                        idempotency_key=f"{postmortem.JIRA_LINK}:{incident_id}:{page_id}",
                        incident_id=incident_id,
                        now=now,
                    )
        if created:
            self.wake()
        return recorded

    async def postmortem_synced(
        self, incident_id: int, *, page_id: str, version: int, digest: str
    ) -> None:
        """Remember what the bot just wrote to the page (an unchanged timeline then costs no
        request)."""
        await self.postmortems.remember_sync(
            incident_id, page_id=page_id, version=version, digest=digest, at=self.clock.now()
        )

    async def postmortem_readiness(self, incident_id: int, *, page_id: str, ready: bool) -> bool:
        """The post-mortem's "ready" state as just read from Confluence (or Jira). A change goes
        on the timeline and to the channel, and the reminders follow; True when it changed."""
        now = self.clock.now()
        section = self.catalog.confluence
        async with transaction():
            if not await self.postmortems.set_ready(
                incident_id, page_id=page_id, ready=ready, at=now
            ):
                return False
            incident = await self.incidents.require(incident_id)
            current = await self.tickets.get(incident_id)
            how = postmortem.ready_text(section, ticket_key=current.key if current else None)
            if ready:
                text = f"Post-mortem marked ready: {how}"
                told = f"{text}. {incident.reference} can be closed once nothing else is missing."
            else:
                text = f"The post-mortem is no longer ready: it was ready while {how}"
                told = text
            by = JIRA if section.ready_via == "jira_status" else CONFLUENCE
            await self._append(
                incident,
                TimelineEvent(TimelineKind.EXTERNAL_EVENT, text, {"postmortem_ready": ready}),
                by=by,
                at=now,
            )
            await self._enqueue_post(
                incident, told, key=f"postmortem-ready-{page_id}-{now.isoformat()}", now=now
            )
            await self._schedule_reminders(incident, now=now)
        self.wake()
        return True

    async def postmortem_lost(self, incident_id: int, *, page_id: str) -> None:
        """The page was deleted in Confluence: stop keeping it up to date and say so, once. It is
        not written again on its own (deleting it was someone's decision, and the trash can bring
        it back): ``/incident postmortem`` writes a new one."""
        now = self.clock.now()
        async with transaction():
            if not await self.postmortems.mark_deleted(incident_id, page_id=page_id, at=now):
                return
            incident = await self.incidents.require(incident_id)
            text = (
                "The post-mortem page was deleted in Confluence: FireFighter no longer keeps it "
                "up to date. Restore it from the space's trash, or write a new one with "
                f"`{self.catalog.slack.command} postmortem`."
            )
            await self._append(
                incident,
                TimelineEvent(TimelineKind.EXTERNAL_EVENT, text, {"page_id": page_id}),
                by=CONFLUENCE,
                at=now,
            )
            await self._enqueue_post(incident, text, key=f"postmortem-lost-{page_id}", now=now)
            await self._schedule_reminders(incident, now=now)
        self.wake()

    async def postmortem_restored(self, incident_id: int, *, page_id: str) -> None:
        """The deleted page is back (restored from the trash): kept up to date again."""
        now = self.clock.now()
        async with transaction():
            if not await self.postmortems.mark_restored(incident_id, page_id=page_id, at=now):
                return
            incident = await self.incidents.require(incident_id)
            await self._append(
                incident,
                TimelineEvent(
                    TimelineKind.EXTERNAL_EVENT,
                    "The post-mortem page was restored in Confluence",
                    {"page_id": page_id},
                ),
                by=CONFLUENCE,
                at=now,
            )
        self.wake()

    # ----------------------------------------------------------------------------------------
    # Side effects that failed for good (called by the outbox worker)
    # ----------------------------------------------------------------------------------------

    async def record_failure(self, job: outbox.OutboxJob, error: str) -> None:
        """A side effect failed after its last attempt: on the timeline, and told to the channel
        and to the person who asked for it."""
        if job.incident_id is None or job.kind == effects.NOTICE:
            return
        incident = await self.incidents.get(job.incident_id)
        if incident is None:
            return
        now = self.clock.now()
        what = effects.describe(job.kind, error, private=incident.private)
        async with transaction():
            await self._append(
                incident,
                TimelineEvent(
                    TimelineKind.SIDE_EFFECT_FAILED,
                    f"Could not {what}: {error}",
                    {"job": job.id, "kind": job.kind, "error": error},
                ),
                by=Actor.system("firefighter", "FireFighter"),
                at=now,
            )
            await outbox.enqueue(
                effects.NOTICE,
                {
                    "incident_id": incident.id,
                    "what": what,
                    "error": error,
                    "actor": str(job.payload.get("actor") or incident.created_by),
                },
                idempotency_key=f"{effects.NOTICE}:{job.id}",
                incident_id=incident.id,
                now=now,
            )
        self.wake()

    # ----------------------------------------------------------------------------------------
    # Reminders (PRODUCT.md §3): due times recomputed with every change, sent by sweeps
    # ----------------------------------------------------------------------------------------

    def reminder_policy(self, incident: Incident) -> ReminderPolicy:
        settings = self.catalog.reminders
        priority = self.catalog.priority(incident.priority.label)
        hours = settings.office_hours
        return ReminderPolicy(
            office_hours=OfficeHours.of(hours.start, hours.end, hours.days, settings.tz),
            update_minutes=priority.update_reminder_minutes,
            office_hours_only=priority.reminder_office_hours_only,
            needs_postmortem=self.rules_for(incident).postmortem_required,
            stale_mitigated_days=settings.stale_mitigated_days,
            postmortem_due_business_days=settings.postmortem_due_business_days,
            role_gap_minutes=settings.role_gap_minutes,
            suggested_roles=tuple(
                role.key
                for role in self.catalog.roles
                if incident.priority.label in role.suggest_for
            ),
        )

    async def _schedule_reminders(
        self, incident: Incident, *, now: datetime, new: bool = False
    ) -> None:
        """Recompute every reminder of the incident as it is now (inside the caller's
        transaction, so the due times always match the stored incident). A ``new`` incident
        (declared in this transaction) has no reminder to clear: only those due are written,
        which keeps two statements off the declaration's path to its channel."""
        current = await self.incidents.require(incident.id)
        last_update = await self.reminders.last_update_at(current.id, UPDATE_TIMELINE_KINDS)
        due = due_times(
            current,
            self.reminder_policy(current),
            last_update=last_update or current.milestones.declared_at or current.created_at,
            filled_roles=set(await self.role_holders(current.id)),
            postmortem_ready=await self.postmortem_ready(current.id),
        )
        for kind, due_at in due.items():
            if new and due_at is None:
                continue
            await self.reminders.schedule(current.id, kind, due_at, at=now)

    async def _reminder_target(self, incident_id: int, by: Actor, what: str) -> Incident:
        incident = await self.incidents.require(incident_id)
        if not incident.is_open:
            raise UserFacingError(
                f"{incident.reference} was closed meanwhile: its reminders have stopped, "
                f"there is nothing to {what}."
            )
        await self._require_manage(incident, by, f"{what} the reminders of")
        return incident

    async def snooze_reminder(
        self, incident_id: int, *, by: Actor, kind: ReminderKind = ReminderKind.UPDATE
    ) -> datetime:
        """Hold the incident's reminder for ``snooze_minutes``; returns until when."""
        await self._reminder_target(incident_id, by, "snooze")
        now = self.clock.now()
        until = now + timedelta(minutes=self.catalog.reminders.snooze_minutes)
        await self.reminders.snooze(incident_id, kind, until, at=now)
        return until

    async def mute_reminders(
        self, incident_id: int, *, by: Actor, kind: ReminderKind = ReminderKind.UPDATE
    ) -> None:
        """No more reminders of this kind for the incident."""
        await self._reminder_target(incident_id, by, "mute")
        await self.reminders.mute(incident_id, kind, at=self.clock.now())

    async def reminder(self, incident_id: int, kind: ReminderKind) -> Reminder | None:
        return await self.reminders.get(incident_id, kind)

    async def send_due_reminders(self, kind: ReminderKind, now: datetime) -> int:
        """Enqueue one Slack reminder per due row (keyed by its due time, so a due time is sent
        once even when replicas race) and move the row on: update reminders repeat every
        cadence while the incident stays without an update, the others are sent once."""
        sent = 0
        for due in await self.reminders.list_due(kind, now):
            if due.due_at is None:
                continue
            async with transaction():
                incident = await self.incidents.get(due.incident_id)
                if incident is None:
                    continue
                next_due = None
                if kind is ReminderKind.UPDATE and incident.is_open:
                    next_due = next_update_due(due.due_at, now, self.reminder_policy(incident))
                if not await self.reminders.mark_sent(due, next_due, at=now):
                    continue  # moved meanwhile (a change, or another replica sent it)
                if not incident.is_open:
                    continue
                payload: dict[str, JsonValue] = {
                    "incident_id": incident.id,
                    "kind": kind.value,
                    "due_at": due.due_at.isoformat(),
                    "actor": incident.created_by,
                }
                if kind is ReminderKind.ROLE_GAP:
                    filled = set(await self.role_holders(incident.id))
                    payload["roles"] = list(missing_roles(self.reminder_policy(incident), filled))
                await outbox.enqueue(
                    effects.REMINDER,
                    payload,
                    idempotency_key=f"reminder:{kind.value}:{incident.id}:{due.due_at.isoformat()}",
                    incident_id=incident.id,
                    now=now,
                )
                sent += 1
        if sent:
            self.wake()
        return sent

    # ----------------------------------------------------------------------------------------
    # Internals
    # ----------------------------------------------------------------------------------------

    async def _change(
        self,
        incident_id: int,
        *,
        by: Actor,
        action: str,
        apply: Callable[[Incident], Any],
        expected_version: int | None = None,
        expected_state: str | None = None,
        intent_key: str | None = None,
    ) -> Incident:
        """Read, check access and version, apply the pure rules, write state + timeline + outbox
        in one transaction, wake the worker. The same ``intent_key`` twice (a form delivered
        again) changes nothing the second time and returns the incident as it is."""
        now = self.clock.now()
        try:
            async with transaction():
                if intent_key and not await idempotency.remember(f"change:{intent_key}", now=now):
                    return await self.incidents.require(incident_id)
                incident = await self.incidents.require(incident_id)
                if expected_version is not None and incident.form_is_stale(
                    version=expected_version, state=expected_state
                ):
                    raise IncidentChanged(incident)
                await self._require_manage(incident, by, action)
                changed, events = await apply(incident)
                if by.is_user and changed.milestones.acknowledged_at is None:
                    first = record_first_response(changed, at=now)
                    if first is not None:
                        changed, events = first.incident, [*events, first.event]
                saved = await self.incidents.update(changed, expected_version=incident.version)
                for event in events:
                    await self._append(saved, event, by=by, at=now)
                await self._enqueue_sync(saved, now=now)
                await self._enqueue_change(incident, saved, events, by=by, now=now)
                await self._postmortem_follows_change(saved, by=by, now=now)
                await self._schedule_reminders(saved, now=now)
        except ConcurrentUpdate:
            raise IncidentChanged(await self.incidents.require(incident_id)) from None
        self.wake()
        return saved

    async def _acknowledge(self, incident: Incident, *, by: Actor, at: datetime) -> None:
        """A responder acted: the first response sets ``acknowledged_at`` (inside the caller's
        transaction)."""
        if not by.is_user:
            return
        for attempt in range(ACK_ATTEMPTS):
            current = await self.incidents.require(incident.id)
            first = record_first_response(current, at=at)
            if first is None:
                return
            try:
                await self.incidents.update(first.incident, expected_version=current.version)
            except ConcurrentUpdate:
                # Two first actions at once (notes, 📌): the other one's write won; read the
                # incident again rather than fail this action (the note would be lost).
                if attempt == ACK_ATTEMPTS - 1:
                    raise
                continue
            await self._append(current, first.event, by=by, at=at)
            return

    async def _append(
        self,
        incident: Incident,
        event: TimelineEvent,
        *,
        by: Actor,
        at: datetime,
        source: SourceMessage | None = None,
    ) -> TimelineEntry:
        entry = await self.timeline.append(
            incident.id,
            event.kind,
            actor=by,
            happened_at=at,
            text=event.text,
            data=event.data,
            source_permalink=source.permalink if source else None,
            source_channel=source.channel_id if source else None,
            source_ts=source.ts if source else None,
        )
        await self._postmortem_follows_timeline(incident.id, event.kind, token=f"e{entry.id}")
        return entry

    async def _append_source(
        self, incident: Incident, source: SourceMessage, *, by: Actor, at: datetime
    ) -> TimelineEntry:
        return await self._append(
            incident,
            TimelineEvent(TimelineKind.PINNED_MESSAGE, source.text, {"author": source.author_id}),
            by=by,
            at=at,
            source=source,
        )

    async def _enqueue_sync(
        self, incident: Incident, *, now: datetime, token: str | None = None
    ) -> None:
        """Bring Slack in step with the incident (channel, members, topic, pinned summary,
        announcement, deploy warning): one job per version (or per ``token`` for changes that
        do not bump it)."""
        suffix = token or f"v{incident.version}"
        await outbox.enqueue(
            effects.SYNC,
            {"incident_id": incident.id, "actor": incident.created_by},
            idempotency_key=f"{effects.SYNC}:{incident.id}:{suffix}",
            incident_id=incident.id,
            now=now,
        )
        if self.jira:
            # The ticket follows every change (it is opened by the first sync that wants one).
            await outbox.enqueue(
                ticket.SYNC,
                {"incident_id": incident.id, "actor": incident.created_by},
                idempotency_key=f"{ticket.SYNC}:{incident.id}:{suffix}",
                incident_id=incident.id,
                now=now,
            )

    async def _enqueue_change(
        self,
        before: Incident,
        after: Incident,
        events: Sequence[TimelineEvent],
        *,
        by: Actor,
        now: datetime,
    ) -> None:
        """Status and priority changes are told in the announcement's thread (and the source
        message's thread); closing posts the closing summary and schedules the archive."""
        await self._pages_follow(before, after, by=by, now=now)
        told: list[JsonValue] = [e.text for e in events if e.kind in effects.ANNOUNCED_KINDS]
        if told:
            await outbox.enqueue(
                effects.CHANGE,
                {
                    "incident_id": after.id,
                    "texts": told,
                    "actor": by.id if by.is_user else None,
                    "actor_name": None if by.is_user else by.display_name,
                },
                idempotency_key=f"{effects.CHANGE}:{after.id}:v{after.version}",
                incident_id=after.id,
                now=now,
            )
        if after.status is Status.CLOSED and before.status is not Status.CLOSED:
            delay = timedelta(hours=self.catalog.slack.archive_delay_hours)
            await outbox.enqueue(
                effects.CLOSING,
                {"incident_id": after.id, "actor": by.id},
                idempotency_key=f"{effects.CLOSING}:{after.id}:v{after.version}",
                incident_id=after.id,
                now=now,
            )
            await outbox.enqueue(
                effects.ARCHIVE,
                {"incident_id": after.id, "actor": by.id, "closed_version": after.version},
                idempotency_key=f"{effects.ARCHIVE}:{after.id}:v{after.version}",
                incident_id=after.id,
                not_before=now + delay,
                now=now,
            )

    async def _require_manage(
        self, incident: Incident, by: Actor, action: str, *, reread: bool = True
    ) -> None:
        """AccessDenied unless ``by`` may ``action`` the incident; ``reread``: a refusal that rests
        on a user group asks Slack for the groups again first (an action, not a display)."""
        if not by.is_user:
            return
        holders = tuple((await self.role_holders(incident.id)).values())
        members = await self._present_members(incident.id)
        if by.id == incident.created_by:
            holders = (*holders, by.id)

        async def check() -> None:
            require_may_manage(
                incident,
                by.id,
                role_holders=holders,
                channel_members=members,
                incident_managers=await self._incident_managers(),
                policy=self._policy(),
                action=action,
            )

        try:
            await check()
        except AccessDenied:
            group = self.catalog.slack.incident_managers_usergroup
            if not reread or not self._forget_group(group):
                raise
            await check()

    def _forget_group(self, group: str | None) -> bool:
        """Before a refusal that rests on a user group, forget what is cached of the groups so
        the next look-up asks Slack: Slack tells a group's changes to one replica only (each event
        goes to one Socket Mode connection), so another replica's copy may be up to its 5-minute
        expiry old. At most once every ``group_reread_seconds``, so that someone refused again
        and again costs one look-up, not one each. False when no group is asked again."""
        now = time.monotonic()
        if (
            not group
            or self.chat is None
            or now - self._groups_forgotten_at < self.group_reread_seconds
        ):
            return False
        self._groups_forgotten_at = now
        self.chat.forget_usergroups()
        return True

    async def _present_members(self, incident_id: int) -> tuple[str, ...]:
        return tuple(p.user_id for p in await self.participants.list(incident_id) if not p.has_left)

    async def _incident_managers(self) -> tuple[str, ...]:
        group = self.catalog.slack.incident_managers_usergroup
        if not group or self.chat is None:
            return ()
        return tuple(await self.chat.usergroup_members(group))

    async def _may_declare(self, user_id: str) -> bool:
        if may_declare(user_id, policy=await self._declare_policy()):
            return True
        if not self._forget_group(self.catalog.access.declare_usergroup):
            return False
        return may_declare(user_id, policy=await self._declare_policy())

    async def _declare_policy(self) -> AccessPolicy:
        group = self.catalog.access.declare_usergroup
        declarers = None
        if group and self.chat is not None:
            declarers = await self.chat.usergroup_members(group)
        return AccessPolicy.from_grants(self.catalog.access.manage, declarers=declarers)

    def _policy(self) -> AccessPolicy:
        return AccessPolicy.from_grants(
            self.catalog.access.manage,
            incident_managers_see_private=self.catalog.access.incident_managers_see_private,
        )

    def _response_types(self) -> dict[Priority, ResponseType]:
        return {
            Priority.parse(p.key): ResponseType(p.response_type) for p in self.catalog.priorities
        }

    async def require_may_act(self, incident_id: int, user_id: str, action: str) -> Incident:
        """The incident, once ``user_id`` is known to be allowed to ``action`` it (AccessDenied
        otherwise): checked before a modal opens, so nobody fills a form only to be refused."""
        incident = await self.incidents.require(incident_id)
        await self._require_manage(incident, Actor.user(user_id), action)
        return incident

    async def join(self, incident_id: int, *, by: Actor) -> Incident:
        """The duplicate guard's Join: invite ``by`` to the incident's channel (through the
        outbox) instead of declaring a new incident."""
        incident = await self.incidents.require(incident_id)
        if not await self.may_see(incident, by.id):
            raise AccessDenied(f"You cannot see {incident.reference}.")
        if not incident.is_open:
            raise UserFacingError(f"{incident.reference} is closed: there is nothing to join.")
        if incident.channel_id is None:
            raise UserFacingError(
                f"{incident.reference} has no channel to join (yet): try again in a moment."
            )
        now = self.clock.now()
        await outbox.enqueue(
            effects.INVITE,
            {
                "incident_id": incident.id,
                "channel_id": incident.channel_id,
                "users": [by.id],
                "actor": by.id,
            },
            idempotency_key=f"{effects.INVITE}:{incident.id}:{by.id}:{now.isoformat()}",
            incident_id=incident.id,
            now=now,
        )
        self.wake()
        return incident

    async def broadcast_reaction(
        self, incident_id: int, source: SourceMessage, *, by: Actor, intent_key: str
    ) -> TimelineEntry | None:
        """📣 from a reaction event: None when this very reaction (a redelivered or re-sent event,
        ``intent_key`` from its content) was already handled; a second 📣 on the same message
        raises AlreadyDone, once per reaction."""
        already: AlreadyDone | None = None
        async with transaction():
            if not await idempotency.remember(
                f"broadcast-intent:{intent_key}", now=self.clock.now()
            ):
                return None
            try:
                entry = await self.broadcast_update(incident_id, source, by=by)
            except AlreadyDone as done:
                already = done  # the reaction stays remembered: its redelivery stays quiet
        if already is not None:
            raise already
        self.wake()
        return entry

    # ----------------------------------------------------------------------------------------
    # Costs and reports: /incident cost, stats, export and the weekly digest
    # ----------------------------------------------------------------------------------------

    async def add_cost(
        self, incident_id: int, cost: CostDraft, *, by: Actor, intent_key: str
    ) -> tuple[CostEntry, dict[str, Decimal]]:
        """Record a cost (allowed to whoever may add notes) with its timeline entry; returns it
        and the incident's totals per currency."""
        incident = await self.incidents.require(incident_id)
        await self._require_manage(incident, by, "add costs to")
        now = self.clock.now()
        async with transaction():
            if not await idempotency.remember(f"cost:{intent_key}", now=now):
                raise AlreadyDone("This cost is already recorded.")
            entry = await self.costs.add(incident_id, cost, author_id=by.id, at=now)
            note = f": {cost.note}" if cost.note else ""
            await self._append(
                incident,
                TimelineEvent(
                    TimelineKind.COST,
                    f"Cost {format_money(cost.amount, cost.currency)} ({cost.kind}){note}",
                    {
                        "cost_id": entry.id,
                        "amount": str(cost.amount),
                        "currency": cost.currency,
                        "type": cost.kind,
                        "note": cost.note,
                    },
                ),
                by=by,
                at=now,
            )
        return entry, totals_by_currency(await self.costs.list(incident_id))

    async def costs_of(self, incident_id: int, *, user_id: str) -> tuple[Incident, list[CostEntry]]:
        """The incident's costs, for someone who may see the incident."""
        incident = await self.incidents.require(incident_id)
        if not await self.may_see(incident, user_id):
            raise AccessDenied(f"You cannot see {incident.reference}.")
        return incident, await self.costs.list(incident_id)

    def parse_period(self, text: str, *, command: str = "stats") -> Period:
        return parse_period(text, now=self.clock.now(), tz=self.timezone, command=command)

    @property
    def category_names(self) -> dict[str, str]:
        return {category.key: category.name for category in self.catalog.categories}

    async def _report_visibility(
        self, incidents: Sequence[Incident], user_id: str | None
    ) -> Callable[[Incident], bool]:
        """Which incidents' details ``user_id`` may see (PRODUCT.md §5); ``None``: a public
        audience (the digest), which sees no private incident's details."""
        private = [incident.id for incident in incidents if incident.private]
        if user_id is None or not private:
            return lambda incident: not incident.private
        member_of = await self.reports.member_of(user_id, private)
        managers = await self._incident_managers()
        policy = self._policy()
        return lambda incident: may_see(
            incident,
            user_id,
            role_holders=(),
            channel_members=(user_id,) if incident.id in member_of else (),
            incident_managers=managers,
            policy=policy,
        )

    async def stats(self, user_id: str | None, period: Period) -> Stats:
        """The numbers of ``period`` and of the period before (three queries at most, plus the
        viewer's memberships of private incidents)."""
        previous = period.previous(self.timezone)
        incidents = await self.reports.declared_between(previous.start, period.end)
        totals, _ = await self.costs.totals(incident.id for incident in incidents)
        return compute_stats(
            incidents,
            period=period,
            previous=previous,
            tz=self.timezone,
            cost_totals=totals,
            visible=await self._report_visibility(incidents, user_id),
            followups=await self._followup_counts(incidents),
        )

    async def _followup_counts(
        self, incidents: Sequence[Incident]
    ) -> dict[int, FollowUpCounts] | None:
        """The follow-ups of ``incidents`` (overdue as of now); ``None``: not tracked (no Jira)."""
        if not self.jira:
            return None
        ids = [incident.id for incident in incidents]
        return await self.reports.followup_counts(ids, now=self.clock.now())

    async def export(self, user_id: str, period: Period) -> tuple[str, int]:
        """The CSV of the incidents declared in ``period`` (docs/exports.md) and their number."""
        incidents = await self.reports.declared_between(period.start, period.end)
        totals, counts = await self.costs.totals(incident.id for incident in incidents)
        rows = export_rows(
            incidents,
            cost_totals=totals,
            cost_counts=counts,
            visible=await self._report_visibility(incidents, user_id),
            followups=await self._followup_counts(incidents),
        )
        return to_csv(rows), len(rows)

    async def chart_png(self, stats: Stats) -> bytes:
        """The report's chart, rendered in a worker thread (never on the event loop)."""
        names = {priority: style.name for priority, style in self.priority_styles.items()}
        return await asyncio.to_thread(
            render_chart, stats.weeks, title=chart_comment(stats), names=names
        )

    async def send_chart(self, stats: Stats, *, user_id: str, channel_id: str) -> str:
        """Upload the chart to the person who asked, by DM: the stats answer is theirs only
        (ephemeral), so the chart must not land in front of the whole channel."""
        del channel_id  # where the command was typed: deliberately not used
        png = await self.chart_png(stats)
        return await self._upload_for(
            user_id,
            None,
            f"incidents-{stats.period.label.replace(' ', '-')}.png",
            png,
            title=chart_comment(stats),
        )

    async def send_export(self, csv_text: str, period: Period, *, user_id: str) -> str:
        """Upload the CSV in the user's DM only: it may hold titles other people may not see."""
        return await self._upload_for(
            user_id,
            None,
            f"incidents-{period.label.replace(' ', '-')}.csv",
            csv_text.encode("utf-8"),
            title=f"Incidents export ({period.label})",
        )

    async def _upload_for(
        self, user_id: str, channel_id: str | None, filename: str, content: bytes, *, title: str
    ) -> str:
        if self.chat is None:
            raise UserFacingError("Slack is not connected: files cannot be sent.")
        if channel_id:
            try:
                return await self.chat.upload(channel_id, filename, content, title=title)
            except ChatError as error:
                if error.code not in UPLOAD_ELSEWHERE:
                    raise
        dm = await self.chat.dm_channel(user_id)
        return await self.chat.upload(dm, filename, content, title=title)

    async def enqueue_weekly_digest(self, *, owner: str) -> str | None:
        """Last week's digest for the announcement channel, once per week whatever the number of
        replicas: a lease per week, and the outbox job's idempotency key per week. Returns the
        week enqueued (None when another replica has it, or there is no announcement channel)."""
        channel = self.catalog.slack.announcement_channel
        if not channel:
            return None
        now = self.clock.now()
        week, period = last_week(now, self.timezone)
        if not await lock.try_acquire(f"digest:{week}", owner, DIGEST_LEASE, now=now):
            return None
        stats = await self.stats(None, period)
        message = digest_message(
            stats,
            tz=self.timezone,
            styles=self.priority_styles,
            category_names=self.category_names,
            open_postmortems=await self.reports.count_with_status(Status.POSTMORTEM),
            overdue_followups=await self.home.overdue_followups(now=now) if self.jira else None,
        )
        await outbox.enqueue(
            effects.DIGEST,
            {
                "week": week,
                "channel": channel,
                "message": message,
                "chart": weeks_to_json(stats.weeks),
                "chart_title": chart_comment(stats),
            },
            idempotency_key=f"{effects.DIGEST}:{week}",
            now=now,
        )
        self.wake()
        return week


def _page_view(service: PagerDutyService, record: PageRecord, *, new: bool) -> paging.PageView:
    return paging.PageView(
        service=paging.service_name(service),
        status=record.status,
        new=new,
        number=record.pd_number,
        url=record.url,
        acknowledged_by=record.acknowledged_by,
    )
