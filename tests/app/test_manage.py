"""Working on an incident from Slack: the subcommands, the incident modals, the close gate's fix
buttons, stale forms, the picker and access, through the real Bolt app over Socket Mode."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import pytest

from bot.blocks.ids import BlockId, CallbackId
from bot.blocks.manage import CONFLICT_TEXT
from bot.domain.declaration import Declaration
from bot.domain.incident import Actor, ClosureReason, Incident, Milestone, Status, TimelineKind
from bot.service import IncidentChanges
from sandbox.slack import SlackSandbox
from sandbox.slack.state import Message, View
from storage.repository import IncidentRepository, TimelineRepository

T = TypeVar("T")


@dataclass
class People:
    alice: str
    bob: str
    carol: str
    stranger: str
    incidents: str
    general: str


@pytest.fixture
def people(slack: SlackSandbox) -> People:
    alice = slack.add_user("alice")
    bob = slack.add_user("bob")
    carol = slack.add_user("carol")
    stranger = slack.add_user("stranger")
    slack.add_usergroup("payments-oncall", [bob])
    slack.add_usergroup("incident-managers", [])
    return People(
        alice=alice,
        bob=bob,
        carol=carol,
        stranger=stranger,
        incidents=slack.add_channel("incidents", bot=True),
        general=slack.add_channel("general", members=[alice, bob, carol, stranger]),
    )


def outage(title: str = "Card payments failing at checkout") -> Declaration:
    return Declaration(
        title=title,
        summary="Most card payments are refused since 14:02, wallets still work.",
        impacts={"business": "medium", "customers": "medium"},
        category="payments",
        environments=("PRD",),
    )


async def eventually(check: Callable[[], Awaitable[T | None]], seconds: float = 5.0) -> T:
    """Poll an async ``check`` (a database read) until it returns something truthy."""
    deadline = time.monotonic() + seconds
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {seconds}s")
        await asyncio.sleep(0.01)


async def declare(bot: Any, slack: SlackSandbox, by: str, title: str | None = None) -> Incident:
    """A P2 in PRD, its channel ready and its summary pinned."""
    declared = await bot.service.declare(
        outage(title) if title else outage(), by=Actor.user(by), intent_key=f"t-{title}"
    )

    async def ready() -> Incident | None:
        stored = await fresh(declared.incident.id)
        if stored.channel_id and slack.ws.channels[stored.channel_id].pins:
            return stored
        return None

    return await eventually(ready)


async def fresh(incident_id: int) -> Incident:
    return await IncidentRepository().require(incident_id)


async def modal_of(slack: SlackSandbox, user: str, callback: CallbackId) -> View:
    def visible() -> View | None:
        views = slack.views(user)
        return views[-1] if views and views[-1].payload.get("callback_id") == callback else None

    return await slack.wait_for(visible)


async def submit(slack: SlackSandbox, user: str, view: View, values: dict[str, Any]) -> Any:
    return await slack.submit_view(user, view.id, values)


def dms_with(slack: SlackSandbox, user: str, text: str) -> list[Message]:
    return [m for m in slack.dms(user) if text in slack.render_message(m)]


async def wait_status(incident_id: int, status: Status) -> Incident:
    async def reached() -> Incident | None:
        incident = await fresh(incident_id)
        return incident if incident.status is status else None

    return await eventually(reached)


async def test_a_status_change_edits_the_pinned_summary_in_place_and_replies_in_the_thread(
    bot, slack: SlackSandbox, people: People
):
    incident = await declare(bot, slack, people.alice)
    channel = incident.channel_id
    assert channel is not None
    pinned = next(iter(slack.ws.channels[channel].pins))
    announcement = slack.messages(people.incidents)[0]

    await slack.run_slash_command(people.alice, "/incident", "status", channel)
    view = await modal_of(slack, people.alice, CallbackId.STATUS_MODAL)
    ack = await submit(
        slack, people.alice, view, {BlockId.STATUS: {BlockId.STATUS: Status.MITIGATING.value}}
    )

    assert ack.acked and not ack.errors
    await slack.wait_for(
        lambda: len(slack.thread(people.incidents, announcement.ts)) > 1, timeout=5
    )
    await slack.wait_for(
        lambda: "Mitigating" in slack.render_message(slack.ws.channels[channel].messages[pinned])
    )
    updates = [c for c in slack.calls("chat.update") if c.args.get("ts") == pinned]
    assert updates
    assert list(slack.ws.channels[channel].pins) == [pinned]
    assert len(slack.calls("pins.add")) == 1
    reply = slack.thread(people.incidents, announcement.ts)[1]
    assert "Mitigating" in slack.render_message(reply)
    assert (await fresh(incident.id)).status is Status.MITIGATING


async def test_closing_a_p2_in_production_while_investigating_is_refused_then_fixed_and_closed(
    bot, slack: SlackSandbox, people: People
):
    incident = await declare(bot, slack, people.alice)
    channel = incident.channel_id
    assert channel is not None
    await bot.service.change_status(incident.id, Status.INVESTIGATING, by=Actor.user(people.alice))
    # The impact started before the declaration (so a Detected time fits in between).
    declared_at = incident.milestones.declared_at
    assert declared_at is not None
    await bot.service.set_milestone(
        incident.id,
        Milestone.STARTED,
        declared_at - timedelta(minutes=10),
        by=Actor.user(people.alice),
    )

    await slack.run_slash_command(people.alice, "/incident", "status", channel)
    view = await modal_of(slack, people.alice, CallbackId.STATUS_MODAL)
    await submit(slack, people.alice, view, {BlockId.STATUS: {BlockId.STATUS: "closed"}})

    refusals = await slack.wait_for(lambda: dms_with(slack, people.alice, "cannot be closed yet"))
    refusal = refusals[0]
    text = slack.render_message(refusal)
    assert "mitigate it first" in text
    assert "post-mortem" in text.lower()
    buttons = {
        e["value"].split(":", 1)[1]: e["action_id"]
        for b in refusal.blocks or []
        for e in [b.get("accessory") or {}]
        if e.get("type") == "button"
    }
    assert {"mitigate_first", "mark_postmortem_ready"} <= set(buttons)
    assert (await fresh(incident.id)).status is Status.INVESTIGATING

    # Fix 1: mitigate (the fix opens the status modal).
    await slack.click_button(
        people.alice, buttons["mitigate_first"], channel_id=refusal.channel, ts=refusal.ts
    )
    view = await modal_of(slack, people.alice, CallbackId.STATUS_MODAL)
    await submit(slack, people.alice, view, {BlockId.STATUS: {BlockId.STATUS: "mitigated"}})
    await wait_status(incident.id, Status.MITIGATED)

    # Fix 2: move to post-mortem, from the same refusal's buttons.
    move = buttons.get("move_to_postmortem", buttons["mitigate_first"])
    await slack.click_button(people.alice, move, channel_id=refusal.channel, ts=refusal.ts)
    view = await modal_of(slack, people.alice, CallbackId.STATUS_MODAL)
    await submit(slack, people.alice, view, {BlockId.STATUS: {BlockId.STATUS: "postmortem"}})
    await wait_status(incident.id, Status.POSTMORTEM)

    # Fix 3: mark the post-mortem ready.
    await slack.click_button(
        people.alice, buttons["mark_postmortem_ready"], channel_id=refusal.channel, ts=refusal.ts
    )
    await slack.wait_for(
        lambda: [
            e
            for e in slack.ephemerals(people.alice)
            if "Post-mortem marked ready" in slack.render_message(e)
        ]
    )
    assert await bot.service.postmortem_ready(incident.id)

    # The close modal still asks for the Detected time: its fix stacks the milestone modal.
    await slack.run_slash_command(people.alice, "/incident", "close", channel)
    close = await modal_of(slack, people.alice, CallbackId.CLOSE_MODAL)
    assert "Set the Detected time" in slack.render_blocks(close.payload["blocks"])
    assert "mitigate it first" not in slack.render_blocks(close.payload["blocks"])
    fix = next(
        b["accessory"]["action_id"]
        for b in close.payload["blocks"]
        if (b.get("accessory") or {}).get("value", "").endswith("set_milestone:detected_at")
    )
    await slack.click_button(people.alice, fix, view_id=close.id)
    milestone = await modal_of(slack, people.alice, CallbackId.MILESTONE_MODAL)
    declared = (await fresh(incident.id)).milestones.declared_at
    assert declared is not None
    await submit(
        slack,
        people.alice,
        milestone,
        {BlockId.MILESTONE: {BlockId.MILESTONE: int(declared.timestamp()) - 300}},
    )
    await eventually(_detected(incident.id))

    # The close modal underneath is shown again without the fixed reason; it now closes.
    await slack.wait_for(
        lambda: "cannot be closed yet" not in slack.render_blocks(close.payload["blocks"])
    )
    ack = await submit(slack, people.alice, close, {})
    assert ack.acked and not ack.errors
    closed = await wait_status(incident.id, Status.CLOSED)
    assert closed.closure_reason is None
    await slack.wait_for(lambda: closing(slack, channel))


def _detected(incident_id: int) -> Callable[[], Awaitable[Incident | None]]:
    async def check() -> Incident | None:
        incident = await fresh(incident_id)
        return incident if incident.milestones.detected_at else None

    return check


def closing(slack: SlackSandbox, channel: str) -> list[Message]:
    return [
        m
        for m in slack.messages(channel)
        if "closed" in slack.render_message(m) and "will be archived" in slack.render_message(m)
    ]


async def test_the_close_modal_lists_the_blockers_with_fix_buttons_and_closes_early_as_a_duplicate(
    bot, slack: SlackSandbox, people: People
):
    kept = await declare(bot, slack, people.alice, "Checkout errors on card payments")
    duplicate = await declare(bot, slack, people.bob, "Card payments refused")
    channel = duplicate.channel_id
    assert channel is not None

    await slack.run_slash_command(people.bob, "/incident", "close", channel)
    view = await modal_of(slack, people.bob, CallbackId.CLOSE_MODAL)
    shown = slack.render_blocks(view.payload["blocks"])
    assert "cannot be closed yet" in shown
    assert any(
        (b.get("accessory") or {}).get("action_id", "").startswith("incident.fix.")
        for b in view.payload["blocks"]
    )
    ack = await submit(
        slack,
        people.bob,
        view,
        {
            BlockId.CLOSURE_REASON: {BlockId.CLOSURE_REASON: ClosureReason.DUPLICATE.value},
            BlockId.CLOSURE_REFERENCE: {BlockId.CLOSURE_REFERENCE: f"#{kept.id}"},
        },
    )

    assert ack.acked and not ack.errors
    closed = await wait_status(duplicate.id, Status.CLOSED)
    assert closed.closure_reason is ClosureReason.DUPLICATE
    assert str(kept.id) in str(closed.closure_reference)
    assert (await fresh(kept.id)).status is not Status.CLOSED


async def test_reopening_with_a_too_short_justification_points_at_the_justification(
    bot, slack: SlackSandbox, people: People
):
    incident = await declare(bot, slack, people.alice)
    channel = incident.channel_id
    assert channel is not None
    await bot.service.change_status(incident.id, Status.MITIGATED, by=Actor.user(people.alice))

    await slack.run_slash_command(people.alice, "/incident", "reopen", channel)
    view = await modal_of(slack, people.alice, CallbackId.REOPEN_MODAL)
    ack = await submit(
        slack, people.alice, view, {BlockId.JUSTIFICATION: {BlockId.JUSTIFICATION: "oops"}}
    )

    assert set(ack.errors) == {BlockId.JUSTIFICATION}
    assert "at least 10 characters" in ack.errors[BlockId.JUSTIFICATION]
    assert slack.views(people.alice)[-1].id == view.id
    assert (await fresh(incident.id)).status is Status.MITIGATED


async def test_a_stale_update_form_is_answered_with_the_current_state_and_a_warning(
    bot, slack: SlackSandbox, people: People
):
    incident = await declare(bot, slack, people.alice)
    channel = incident.channel_id
    assert channel is not None
    await slack.run_slash_command(people.alice, "/incident", "update", channel)
    view = await modal_of(slack, people.alice, CallbackId.UPDATE_MODAL)
    await bot.service.update(
        incident.id,
        IncidentChanges(title="Card payments down everywhere"),
        by=Actor.user(people.bob),
    )

    ack = await submit(
        slack,
        people.alice,
        view,
        {BlockId.UPDATE_TITLE: {BlockId.UPDATE_TITLE: "My stale title"}},
    )

    assert ack.payload["response_action"] == "update"
    shown = slack.views(people.alice)[-1].payload
    assert shown["callback_id"] == CallbackId.UPDATE_MODAL
    assert shown["blocks"][0]["text"]["text"] == CONFLICT_TEXT
    assert "Card payments down everywhere" in str(shown["blocks"])
    assert (await fresh(incident.id)).title == "Card payments down everywhere"


async def test_a_form_is_not_stale_when_only_the_bookkeeping_changed_since_it_opened(
    bot, slack: SlackSandbox, people: People
):
    """A note's first response (here, or on another replica) makes a new version that no form
    shows: a status or update form opened before it is applied, not refused as a conflict."""
    incident = await declare(bot, slack, people.alice)
    channel = incident.channel_id
    assert channel is not None
    await slack.run_slash_command(people.alice, "/incident", "update", channel)
    view = await modal_of(slack, people.alice, CallbackId.UPDATE_MODAL)
    opened_on = (await fresh(incident.id)).version
    await bot.service.add_note(
        incident.id, "Looking at the gateway", by=Actor.user(people.bob), intent_key="n1"
    )
    noted = await fresh(incident.id)
    assert noted.version != opened_on and noted.milestones.acknowledged_at is not None

    ack = await submit(
        slack,
        people.alice,
        view,
        {BlockId.UPDATE_TITLE: {BlockId.UPDATE_TITLE: "Card payments down everywhere"}},
    )

    assert ack.acked and not ack.errors and "response_action" not in (ack.payload or {})

    async def retitled() -> Incident | None:
        stored = await fresh(incident.id)
        return stored if stored.title == "Card payments down everywhere" else None

    await eventually(retitled)
    assert not dms_with(slack, people.alice, "changed while")
    assert slack.user_errors == []


async def test_a_note_from_the_command_lands_once_even_when_the_payload_is_delivered_twice(
    bot, slack: SlackSandbox, people: People
):
    incident = await declare(bot, slack, people.alice)
    channel = incident.channel_id
    assert channel is not None
    payload = {
        "token": "sandbox-verification-token",
        "team_id": slack.ws.team_id,
        "channel_id": channel,
        "channel_name": slack.ws.channels[channel].name,
        "user_id": people.alice,
        "user_name": "alice",
        "command": "/incident",
        "text": "note Rolled back the payment gateway deploy",
        "api_app_id": slack.ws.app_id,
        "response_url": slack.new_response_url(people.alice, channel),
        "trigger_id": slack.ws.new_trigger(people.alice),
    }

    for _ in range(2):
        delivery = await slack.hub.deliver("slash_commands", payload, accepts_response_payload=True)
        await slack.wait_for_ack(delivery.envelope_id)

    await slack.wait_for(
        lambda: (
            [
                e
                for e in slack.ephemerals(people.alice, channel)
                if "already on the timeline" in slack.render_message(e)
            ]
            and [
                e
                for e in slack.ephemerals(people.alice, channel)
                if "Added to the timeline" in slack.render_message(e)
            ]
        )
    )
    entries = await TimelineRepository().list(incident.id, limit=100, offset=0)
    notes = [e for e in entries if e.kind is TimelineKind.NOTE]
    assert [n.text for n in notes] == ["Rolled back the payment gateway deploy"]
    assert [
        e
        for e in slack.ephemerals(people.alice, channel)
        if "Added to the timeline" in slack.render_message(e)
    ]


async def test_a_command_outside_an_incident_channel_opens_the_picker(
    bot, slack: SlackSandbox, people: People
):
    incident = await declare(bot, slack, people.alice)

    await slack.run_slash_command(people.alice, "/incident", "status", people.general)
    picker = await modal_of(slack, people.alice, CallbackId.PICK_INCIDENT_MODAL)
    ack = await submit(
        slack,
        people.alice,
        picker,
        {BlockId.PICK_INCIDENT: {BlockId.PICK_INCIDENT: str(incident.id)}},
    )

    assert ack.payload["response_action"] == "update"
    shown = slack.views(people.alice)[-1].payload
    assert shown["callback_id"] == CallbackId.STATUS_MODAL
    assert f"#{incident.id}" in str(shown["title"])


async def test_without_any_incident_the_command_says_so(bot, slack: SlackSandbox, people: People):
    await slack.run_slash_command(people.alice, "/incident", "close", people.general)

    shown = await slack.wait_for(lambda: slack.ephemerals(people.alice, people.general))
    assert "no open incident you can act on" in slack.render_message(shown[0])
    assert slack.views(people.alice) == []


async def test_a_stranger_cannot_close_the_incident(bot, slack: SlackSandbox, people: People):
    incident = await declare(bot, slack, people.alice)
    channel = incident.channel_id
    assert channel is not None

    await slack.run_slash_command(people.stranger, "/incident", "close", channel)

    refused = await slack.wait_for(lambda: slack.ephemerals(people.stranger, channel))
    text = slack.render_message(refused[0])
    assert "close" in text
    assert slack.views(people.stranger) == []
    assert (await fresh(incident.id)).status is not Status.CLOSED


async def test_the_roles_modal_assigns_a_communications_lead_who_gets_the_duties_and_is_invited(
    bot, slack: SlackSandbox, people: People
):
    incident = await declare(bot, slack, people.alice)
    channel = incident.channel_id
    assert channel is not None

    await slack.run_slash_command(people.alice, "/incident", "roles", channel)
    view = await modal_of(slack, people.alice, CallbackId.ROLES_MODAL)
    block = f"{BlockId.ROLE_PREFIX}communications_lead"
    ack = await submit(slack, people.alice, view, {block: {block: people.carol}})

    assert ack.acked and not ack.errors
    dms = await slack.wait_for(lambda: dms_with(slack, people.carol, "Communications lead"))
    assert f"#{incident.id}" in slack.render_message(dms[0])
    await slack.wait_for(lambda: people.carol in slack.channels[channel].members)
    assert (await bot.service.role_holders(incident.id))["communications_lead"] == people.carol
