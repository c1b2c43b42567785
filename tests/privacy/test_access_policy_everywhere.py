"""The access policy of PRODUCT.md §5 on every mutating surface of the service (which every Slack
command, modal, button and reaction goes through): a stranger (no role, not in the channel, not an
incident manager) is refused in words and nothing changes; the incident's commander is accepted.
One table, one bot with every integration on, a fresh incident per row."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.cost import parse_cost
from bot.domain.declaration import IncidentChanges, SourceMessage
from bot.domain.errors import AccessDenied, UserFacingError
from bot.domain.incident import Actor, ClosureReason, Incident, Milestone, Priority, Status
from sandbox.confluence import SandboxConfluence
from sandbox.jira import SandboxJira
from sandbox.pagerduty import SandboxPagerDuty
from sandbox.slack import SlackSandbox
from storage import models
from tests.privacy.full import full_catalog, full_settings, start_full_bot
from tests.workspace import Workspace, outage, outbox_idle

Act = Callable[[Any, Incident, Actor, str], Awaitable[object]]
"""``(service, incident, actor, intent key)``: one mutation."""
Prepare = Callable[[Any, Incident, Actor], Awaitable[object]]


async def _nothing(_service: Any, _incident: Incident, _by: Actor) -> None:
    return None


async def _note(service: Any, incident: Incident, by: Actor) -> int:
    entry = await service.add_note(
        incident.id, "Rolled back the deploy", by=by, intent_key=f"n{incident.id}"
    )
    return int(entry.id)


async def _closed(service: Any, incident: Incident, by: Actor) -> None:
    await service.change_status(
        incident.id, Status.CLOSED, by=by, closure_reason=ClosureReason.FALSE_ALARM
    )


async def _lowered(service: Any, incident: Incident, by: Actor) -> None:
    await service.change_priority(incident.id, Priority.P4, by=by, reason="only staff affected")


def _other(priority: Priority) -> Priority:
    return Priority.P3 if priority is not Priority.P3 else Priority.P2


async def _pinned(service: Any, incident: Incident, by: Actor) -> None:
    await service.pin_message(incident.id, _source(incident), by=by, intent_key=f"pin{incident.id}")


def _source(incident: Incident) -> SourceMessage:
    return SourceMessage(
        channel_id=incident.channel_id or "", ts="1700000000.000100", text="DB failover done"
    )


async def _entry_id(service: Any, incident: Incident) -> int:
    row = await models.TimelineEntry.filter(incident_id=incident.id, kind="note").first()
    assert row is not None
    return int(row.id)


@dataclass(frozen=True)
class Surface:
    name: str
    act: Act
    prepare: Prepare = _nothing
    gate: str | None = None
    """For the commander, a rule of the product beyond access that still refuses (its words)."""


def _hour_ago() -> datetime:
    return datetime.now(UTC) - timedelta(hours=1)


async def _edit(service: Any, incident: Incident, by: Actor, key: str) -> object:
    entry = await _entry_id(service, incident)
    return await service.edit_timeline_entry(
        entry,
        text="Rolled back deploy 412",
        happened_at=None,
        reason="a typo in the deploy number",
        by=by,
        intent_key=key,
    )


async def _strike(service: Any, incident: Incident, by: Actor, key: str) -> object:
    entry = await _entry_id(service, incident)
    return await service.strike_timeline_entry(
        entry, reason="it was another service", by=by, intent_key=key
    )


SURFACES = [
    Surface(
        "update (modal)",
        lambda s, i, by, k: s.update(i.id, IncidentChanges(summary="Wallets too."), by=by),
    ),
    Surface("status", lambda s, i, by, k: s.change_status(i.id, Status.MITIGATING, by=by)),
    Surface(
        "priority",
        lambda s, i, by, k: s.change_priority(i.id, _other(i.priority), by=by, reason="wider"),
    ),
    Surface(
        "roles",
        lambda s, i, by, k: s.assign_roles(i.id, {"communications_lead": i.created_by}, by=by),
    ),
    Surface(
        "close",
        lambda s, i, by, k: s.change_status(
            i.id, Status.CLOSED, by=by, closure_reason=ClosureReason.FALSE_ALARM
        ),
    ),
    Surface(
        "reopen",
        lambda s, i, by, k: s.change_status(
            i.id, Status.INVESTIGATING, by=by, justification="the refusals came back"
        ),
        _closed,
    ),
    Surface("note", lambda s, i, by, k: s.add_note(i.id, "Cache flushed", by=by, intent_key=k)),
    Surface("convert", lambda s, i, by, k: s.convert(i.id, by=by), _lowered),
    Surface(
        "milestone",
        lambda s, i, by, k: s.set_milestone(i.id, Milestone.STARTED, _hour_ago(), by=by),
    ),
    Surface(
        "milestones (modal)",
        lambda s, i, by, k: s.set_milestones(i.id, {Milestone.DETECTED: _hour_ago()}, by=by),
    ),
    Surface(
        "timeline edit",
        _edit,
        _note,
    ),
    Surface(
        "timeline strike",
        _strike,
        _note,
    ),
    Surface(
        "cost",
        lambda s, i, by, k: s.add_cost(i.id, parse_cost("120 EUR refunds"), by=by, intent_key=k),
    ),
    Surface(
        "followup",
        lambda s, i, by, k: s.add_followup(i.id, "Alert on refusals", by=by, intent_key=k),
    ),
    Surface("page", lambda s, i, by, k: s.page(i.id, ["checkout"], by=by, intent_key=k)),
    Surface("postmortem", lambda s, i, by, k: s.request_postmortem(i.id, by=by, intent_key=k)),
    Surface(
        "postmortem ready",
        lambda s, i, by, k: s.mark_postmortem_ready(i.id, by=by),
        gate="post-mortem page is not written yet",
    ),
    Surface("reminder snooze", lambda s, i, by, k: s.snooze_reminder(i.id, by=by)),
    Surface("reminder mute", lambda s, i, by, k: s.mute_reminders(i.id, by=by)),
    Surface(
        "📌 reaction", lambda s, i, by, k: s.pin_message(i.id, _source(i), by=by, intent_key=k)
    ),
    Surface(
        "📌 removed",
        lambda s, i, by, k: s.unpin_message(i.channel_id, _source(i).ts, by=by),
        _pinned,
    ),
    Surface(
        "📣 reaction",
        lambda s, i, by, k: s.broadcast_reaction(i.id, _source(i), by=by, intent_key=k),
    ),
    Surface(
        "📎 reaction",
        lambda s, i, by, k: s.attach_to_ticket(i.channel_id, ["F0NOFILE"], by=by, intent_key=k),
    ),
]


async def _state(incident_id: int) -> tuple[object, ...]:
    """Everything a mutation of this incident could change."""
    row = await models.Incident.filter(id=incident_id).values()
    per_incident = [
        models.TimelineEntry,
        models.RoleAssignment,
        models.OutboxItem,
        models.Reminder,
        models.CostEntry,
        models.FollowUp,
        models.PagerDutyPage,
        models.Postmortem,
    ]
    rows = [await m.filter(incident_id=incident_id).values() for m in per_incident]
    return (row, rows, await models.IdempotencyKey.all().count())


async def test_every_mutating_surface_refuses_a_stranger_and_accepts_the_commander(
    db: object,
    slack: SlackSandbox,
    ws: Workspace,
    jira_cloud: SandboxJira,
    pagerduty: SandboxPagerDuty,
    confluence: SandboxConfluence,
    catalog: Any,
) -> None:
    settings = full_settings(slack, jira_cloud, pagerduty, confluence)
    failures: list[str] = []
    async with AsyncExitStack() as stack:
        # No ticket and no page at declaration: the rows that need one ask for it themselves,
        # and two dozen incidents stay cheap.
        quiet = full_catalog(jira_cloud, confluence, catalog)
        quiet = quiet.model_copy(
            update={
                "jira": quiet.jira.model_copy(update={"create_for_priorities": []}),
                "pagerduty": quiet.pagerduty.model_copy(update={"auto_page_priorities": []}),
            }
        )
        bot = await start_full_bot(stack, slack, settings, quiet)
        service = bot.service
        commander = Actor.user(ws.alice)
        stranger = Actor.user(ws.bob)
        declared = [
            await service.declare(outage(), by=commander, intent_key=f"row-{number}")
            for number in range(len(SURFACES))
        ]
        await outbox_idle()
        incidents = [await service.require(d.incident.id) for d in declared]
        for surface, incident in zip(SURFACES, incidents, strict=True):
            assert incident.channel_id and ws.bob not in slack.channels[incident.channel_id].members
            await surface.prepare(service, incident, commander)
        await outbox_idle()

        for number, surface in enumerate(SURFACES):
            incident = await service.require(incidents[number].id)
            before = await _state(incident.id)
            try:
                await surface.act(service, incident, stranger, f"stranger-{number}")
            except AccessDenied as refusal:
                if incident.reference not in str(refusal) or "may" not in str(refusal):
                    failures.append(f"{surface.name}: unclear refusal {refusal!r}")
            else:
                failures.append(f"{surface.name}: a stranger was not refused")
            if await _state(incident.id) != before:
                failures.append(f"{surface.name}: a refused action changed the incident")

        for number, surface in enumerate(SURFACES):
            incident = await service.require(incidents[number].id)
            try:
                await surface.act(service, incident, commander, f"commander-{number}")
            except AccessDenied as refusal:
                failures.append(f"{surface.name}: the commander was refused ({refusal})")
            except UserFacingError as error:
                if surface.gate is None or surface.gate not in str(error):
                    failures.append(f"{surface.name}: the commander was stopped: {error}")
        await outbox_idle()
    assert not failures, "\n".join(failures)
