"""Reminders through the real wired bot (service, outbox worker, Bolt app) and the Slack sandbox,
with a clock the test moves: each kind fires once per due time, update reminders repeat while
stale, a note restarts the cadence, Snooze and Mute, a snooze on a closed incident is refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest_asyncio

from bot.blocks.ids import ActionId
from bot.config import Catalog, Settings
from bot.domain.incident import Actor, ClosureReason, Incident, Status
from bot.domain.reminders import ReminderKind
from bot.main import RunningBot, start_bot
from sandbox.slack import SlackSandbox
from storage import models
from tests.workspace import Workspace, outage

START = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday, 11:00 in Paris (office hours)


class MovableClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def move(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@pytest_asyncio.fixture
async def clock() -> MovableClock:
    return MovableClock(START)


@pytest_asyncio.fixture
async def bot(
    db: object, slack: SlackSandbox, catalog: Catalog, clock: MovableClock
) -> AsyncIterator[RunningBot]:
    settings = Settings(
        slack_bot_token=slack.bot_token,
        slack_app_token=slack.app_token,
        slack_api_url=slack.base_url,
        http_host="127.0.0.1",
        http_port=0,
    )
    async with AsyncExitStack() as stack:
        running = await start_bot(settings, catalog, stack, clock=clock)
        running.scheduler.remove_all_jobs()  # the test sweeps by hand, at the times it chooses
        await slack.wait_for_connection()
        yield running


async def settled(clock: MovableClock, limit_seconds: float = 10.0) -> None:
    """Every side effect due at the test clock's time is done (or failed for good)."""
    deadline = asyncio.get_running_loop().time() + limit_seconds
    quiet = 0
    while asyncio.get_running_loop().time() < deadline:
        busy = await models.OutboxItem.filter(
            status__in=["pending", "in_progress"], next_attempt_at__lte=clock.now()
        ).exists()
        quiet = 0 if busy else quiet + 1
        if quiet >= 3:
            return
        await asyncio.sleep(0.03)
    raise TimeoutError("the outbox did not drain")


async def declare(bot: RunningBot, ws: Workspace, clock: MovableClock, **changes: Any) -> Incident:
    declared = await bot.service.declare(
        outage(**changes), by=Actor.user(ws.alice), intent_key="intent-1"
    )
    await settled(clock)
    return await bot.service.require(declared.incident.id)


async def sweep(bot: RunningBot, clock: MovableClock, kind: ReminderKind) -> int:
    sent = await bot.service.send_due_reminders(kind, clock.now())
    await settled(clock)
    return sent


def reminders(slack: SlackSandbox, channel_id: str | None, kind: str = "update") -> list[Any]:
    assert channel_id is not None
    return [
        m
        for m in slack.messages(channel_id)
        if (m.metadata or {}).get("event_type", "").startswith(f"firefighter_reminder_{kind}_")
    ]


def button(message: Any, action_id: str) -> dict[str, Any]:
    for block in message.blocks or []:
        for element in block.get("elements") or []:
            if str(element.get("action_id", "")).startswith(action_id):
                return element  # type: ignore[no-any-return]
    raise AssertionError(f"no {action_id} button in {message.blocks}")


async def test_a_p2_without_update_is_reminded_once_per_cadence_with_its_buttons(
    bot: RunningBot, ws: Workspace, clock: MovableClock
):
    incident = await declare(bot, ws, clock)

    clock.move(minutes=59)
    assert await sweep(bot, clock, ReminderKind.UPDATE) == 0
    clock.move(minutes=1)
    assert await sweep(bot, clock, ReminderKind.UPDATE) == 1
    assert await sweep(bot, clock, ReminderKind.UPDATE) == 0  # the same due time: never twice

    [reminder] = reminders(ws.slack, incident.channel_id)
    assert "no update" in reminder.text
    assert button(reminder, ActionId.OPEN_MODAL)["value"] == f"{incident.id}:note"
    assert button(reminder, ActionId.REMINDER_SNOOZE)["text"]["text"] == "Snooze 1 h"
    assert button(reminder, ActionId.REMINDER_MUTE)["value"] == f"{incident.id}:update"

    clock.move(minutes=60)  # still no update: it repeats
    assert await sweep(bot, clock, ReminderKind.UPDATE) == 1
    assert len(reminders(ws.slack, incident.channel_id)) == 2
    stored = await bot.service.reminder(incident.id, ReminderKind.UPDATE)
    assert stored is not None and stored.sent_count == 2
    assert stored.due_at == START + timedelta(hours=3)


async def test_two_sweeps_racing_on_the_same_due_reminders_send_each_once(
    bot: RunningBot, ws: Workspace, clock: MovableClock
):
    incident = await declare(bot, ws, clock)
    clock.move(hours=1)

    counts = await asyncio.gather(
        *(bot.service.send_due_reminders(ReminderKind.UPDATE, clock.now()) for _ in range(4))
    )
    await settled(clock)

    assert sum(counts) == 1
    assert len(reminders(ws.slack, incident.channel_id)) == 1


async def test_a_note_or_a_status_change_restarts_the_cadence(
    bot: RunningBot, ws: Workspace, clock: MovableClock
):
    incident = await declare(bot, ws, clock)
    clock.move(minutes=40)
    await bot.service.add_note(incident.id, "Rolled back", by=Actor.user(ws.alice), intent_key="n")
    clock.move(minutes=30)  # 70 min after declaring, 30 after the note
    assert await sweep(bot, clock, ReminderKind.UPDATE) == 0
    clock.move(minutes=30)
    assert await sweep(bot, clock, ReminderKind.UPDATE) == 1

    await bot.service.change_status(incident.id, Status.INVESTIGATING, by=Actor.user(ws.alice))
    clock.move(minutes=59)
    assert await sweep(bot, clock, ReminderKind.UPDATE) == 0
    assert len(reminders(ws.slack, incident.channel_id)) == 1


async def test_snooze_holds_the_reminder_for_an_hour_and_mute_stops_it(
    bot: RunningBot, ws: Workspace, clock: MovableClock
):
    incident = await declare(bot, ws, clock)
    clock.move(hours=1)
    await sweep(bot, clock, ReminderKind.UPDATE)
    [reminder] = reminders(ws.slack, incident.channel_id)
    channel_id = incident.channel_id
    assert channel_id is not None

    clock.move(minutes=10)
    ack = await ws.slack.click_button(
        ws.alice, ActionId.REMINDER_SNOOZE, channel_id=channel_id, ts=reminder.ts
    )
    assert ack.acked
    await bot.background.drain()
    told = ws.slack.ephemerals(ws.alice)
    assert told and "snoozed until 2026-03-04 13:10 CET" in told[-1].text

    clock.move(minutes=50)  # the next due time (12:00) has passed, but it is snoozed
    assert await sweep(bot, clock, ReminderKind.UPDATE) == 0
    clock.move(minutes=11)
    assert await sweep(bot, clock, ReminderKind.UPDATE) == 1
    latest = reminders(ws.slack, channel_id)[-1]

    await ws.slack.click_button(
        ws.alice, ActionId.REMINDER_MUTE, channel_id=channel_id, ts=latest.ts
    )
    await bot.background.drain()
    assert "No more update reminders" in ws.slack.ephemerals(ws.alice)[-1].text
    clock.move(hours=5)
    assert await sweep(bot, clock, ReminderKind.UPDATE) == 0
    assert len(reminders(ws.slack, channel_id)) == 2


async def test_a_snooze_on_an_incident_closed_meanwhile_is_refused_clearly(
    bot: RunningBot, ws: Workspace, clock: MovableClock
):
    incident = await declare(bot, ws, clock)
    clock.move(hours=1)
    await sweep(bot, clock, ReminderKind.UPDATE)
    [reminder] = reminders(ws.slack, incident.channel_id)
    await bot.service.change_status(
        incident.id,
        Status.CLOSED,
        by=Actor.user(ws.alice),
        closure_reason=ClosureReason.FALSE_ALARM,
        justification="Monitoring glitch",
    )

    assert incident.channel_id is not None
    await ws.slack.click_button(
        ws.alice, ActionId.REMINDER_SNOOZE, channel_id=incident.channel_id, ts=reminder.ts
    )
    await bot.background.drain()

    told = ws.slack.ephemerals(ws.alice)[-1].text
    assert f"#{incident.id} was closed meanwhile" in told and "nothing to snooze" in told
    clock.move(hours=3)
    assert await sweep(bot, clock, ReminderKind.UPDATE) == 0


async def test_a_mitigated_incident_gets_one_stale_reminder_and_one_post_mortem_reminder(
    bot: RunningBot, ws: Workspace, clock: MovableClock
):
    incident = await declare(bot, ws, clock)
    await bot.service.change_status(incident.id, Status.MITIGATED, by=Actor.user(ws.alice))
    await settled(clock)

    clock.move(hours=1)  # mitigated: no more update reminders
    assert await sweep(bot, clock, ReminderKind.UPDATE) == 0
    clock.move(days=3)
    assert await sweep(bot, clock, ReminderKind.STALE_MITIGATED) == 1
    clock.move(days=1)
    assert await sweep(bot, clock, ReminderKind.STALE_MITIGATED) == 0
    [stale] = reminders(ws.slack, incident.channel_id, "stale_mitigated")
    assert "close it or move it to post-mortem" in stale.text
    assert button(stale, ActionId.OPEN_MODAL)["value"] == f"{incident.id}:status"

    # Mitigated on Wednesday: 5 business days later is the next Wednesday (a P2 in production).
    assert await sweep(bot, clock, ReminderKind.POSTMORTEM_DUE) == 0  # Sunday
    clock.move(days=3)
    assert await sweep(bot, clock, ReminderKind.POSTMORTEM_DUE) == 1
    clock.move(days=1)
    assert await sweep(bot, clock, ReminderKind.POSTMORTEM_DUE) == 0
    assert len(reminders(ws.slack, incident.channel_id, "postmortem_due")) == 1
    assert [m for m in ws.slack.dms(ws.alice) if "post-mortem" in m.text]


async def test_a_p1_without_a_communications_lead_gets_one_suggestion_after_15_minutes(
    bot: RunningBot, ws: Workspace, clock: MovableClock
):
    incident = await declare(bot, ws, clock, impacts={"business": "high"})
    clock.move(minutes=15)
    assert await sweep(bot, clock, ReminderKind.ROLE_GAP) == 1
    clock.move(minutes=15)
    assert await sweep(bot, clock, ReminderKind.ROLE_GAP) == 0

    [gap] = reminders(ws.slack, incident.channel_id, "role_gap")
    assert "Communications lead" in gap.text
    assert button(gap, ActionId.OPEN_MODAL)["value"] == f"{incident.id}:roles"


async def test_no_role_gap_once_the_role_is_filled(
    bot: RunningBot, ws: Workspace, clock: MovableClock
):
    incident = await declare(bot, ws, clock, impacts={"business": "high"})
    await bot.service.assign_roles(
        incident.id, {"communications_lead": ws.bob}, by=Actor.user(ws.alice)
    )
    clock.move(minutes=20)
    assert await sweep(bot, clock, ReminderKind.ROLE_GAP) == 0
