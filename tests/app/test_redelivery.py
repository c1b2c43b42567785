"""Slack delivers at least once: every kind of envelope arrives two and three times (retries with a
new envelope id, double clicks, events re-sent under a new event_id), and every effect happens
exactly once — one incident, one channel, one announcement, one timeline entry, one DM."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from bot.blocks.ids import BlockId, CallbackId
from bot.domain.incident import Status, TimelineKind
from sandbox.slack import SlackSandbox
from sandbox.slack.socket_mode import Delivery
from sandbox.slack.state import View
from storage import models
from tests.workspace import Workspace, eventually, outbox_idle


async def settled(bot: Any) -> None:
    await bot.background.drain()
    await outbox_idle()


async def modal(slack: SlackSandbox, user: str, callback: CallbackId) -> View:
    def visible() -> View | None:
        views = slack.views(user)
        return views[-1] if views and views[-1].payload.get("callback_id") == callback else None

    return await slack.wait_for(visible)


def event_deliveries(slack: SlackSandbox, event_type: str) -> list[Delivery]:
    return [
        d
        for d in slack.hub.deliveries.values()
        if d.type == "events_api" and d.payload.get("event", {}).get("type") == event_type
    ]


async def next_event_delivery(
    slack: SlackSandbox, event_type: str, act: Awaitable[None]
) -> Delivery:
    """Do ``act`` and return the envelope of the event it makes Slack send (sent asynchronously)."""
    before = {id(d) for d in event_deliveries(slack, event_type)}
    await act
    return await slack.wait_for(
        lambda: next((d for d in event_deliveries(slack, event_type) if id(d) not in before), None)
    )


async def declare_through_slack(slack: SlackSandbox, ws: Workspace, *, times: int) -> str:
    """Submit the declare modal, then deliver the same submission ``times - 1`` more times."""
    general = slack.add_channel("general", members=[ws.alice])
    await slack.run_slash_command(ws.alice, "/incident", "open Checkout down for everyone", general)
    view = await modal(slack, ws.alice, CallbackId.DECLARE_MODAL)
    ack = await slack.submit_view(
        ws.alice,
        view.id,
        {
            f"{BlockId.DECLARE_IMPACT_PREFIX}business": {"declare.impact": "medium"},
            BlockId.DECLARE_SUMMARY: {BlockId.DECLARE_SUMMARY: "Orders fail since 10:02."},
            BlockId.DECLARE_CATEGORY: {"declare.category": "payments"},
        },
    )
    assert ack.acked and not ack.errors
    again = await slack.redeliver(ack.envelope_id, times=times - 1)
    assert all(a.acked for a in again)
    return general


async def the_incident_channel(slack: SlackSandbox) -> str:
    async def found() -> str | None:
        incident = await models.Incident.first()
        if incident and incident.channel_id and slack.channels[incident.channel_id].pins:
            return incident.channel_id
        return None

    return str(await eventually(found))


async def test_a_declaration_submitted_three_times_declares_once(bot, slack: SlackSandbox, ws):
    await declare_through_slack(slack, ws, times=3)
    channel = await the_incident_channel(slack)
    await settled(bot)

    assert await models.Incident.all().count() == 1
    assert len(slack.calls("conversations.create")) == 1
    assert len(slack.messages(ws.incidents)) == 1
    assert len(slack.channels[channel].pins) == 1
    assert slack.user_errors == []


async def test_every_later_envelope_twice_or_three_times_changes_things_once(
    bot, slack: SlackSandbox, ws
):
    await declare_through_slack(slack, ws, times=2)
    channel = await the_incident_channel(slack)
    await settled(bot)
    incident = await models.Incident.first()
    assert incident is not None

    # A slash command (same trigger id): one note.
    ack = await slack.run_slash_command(ws.alice, "/incident", "note Rolled back to v41", channel)
    await slack.redeliver(ack.envelope_id, times=2)
    await settled(bot)
    notes = await models.TimelineEntry.filter(incident_id=incident.id, kind=TimelineKind.NOTE)
    assert len(notes) == 1

    # A status modal submitted three times: one change, one reply in the announcement thread.
    await slack.run_slash_command(ws.alice, "/incident", "status", channel)
    view = await modal(slack, ws.alice, CallbackId.STATUS_MODAL)
    ack = await slack.submit_view(
        ws.alice, view.id, {BlockId.STATUS: {BlockId.STATUS: Status.MITIGATING.value}}
    )
    await slack.redeliver(ack.envelope_id, times=2)
    await settled(bot)
    changes = await models.TimelineEntry.filter(
        incident_id=incident.id, kind=TimelineKind.STATUS_CHANGE
    )
    assert [c.data["to"] for c in changes] == ["mitigating"]
    announcement = slack.messages(ws.incidents)[0]
    assert len(slack.thread(ws.incidents, announcement.ts)) == 2  # the announcement + 1 reply

    # A roles modal submitted twice: one assignment, one DM with the duties.
    await slack.run_slash_command(ws.alice, "/incident", "roles", channel)
    view = await modal(slack, ws.alice, CallbackId.ROLES_MODAL)
    ack = await slack.submit_view(
        ws.alice,
        view.id,
        {
            f"{BlockId.ROLE_PREFIX}communications_lead": {
                f"{BlockId.ROLE_PREFIX}communications_lead": ws.bob
            }
        },
    )
    await slack.redeliver(ack.envelope_id, times=1)
    await settled(bot)
    roles = await models.RoleAssignment.filter(incident_id=incident.id, role="communications_lead")
    assert [r.user_id for r in roles] == [ws.bob]
    duties = [m for m in slack.dms(ws.bob) if "Communications lead" in slack.render_message(m)]
    assert len(duties) == 1

    # An event delivered three times (acks lost), then re-sent under a new event_id: one entry.
    posted = await next_event_delivery(
        slack,
        "message",
        slack.post_message(ws.alice, channel, "Payments provider confirms the fix"),
    )
    ts = posted.payload["event"]["ts"]
    await slack.wait_for(posted.ack.done, timeout=5)  # the message's own event keeps its ack
    slack.hub.ack_timeout = 0.3
    slack.hub.event_retry_delays = (0.0,)
    slack.fail_next_socket_ack(2)
    delivery = await next_event_delivery(
        slack, "reaction_added", slack.add_reaction(ws.alice, channel, ts, "pushpin")
    )
    await slack.wait_for(delivery.ack.done, timeout=5)
    assert delivery.retry_attempt == 2
    await slack.send_event(dict(delivery.payload["event"]))
    await settled(bot)
    pinned = await models.TimelineEntry.filter(
        incident_id=incident.id, kind=TimelineKind.PINNED_MESSAGE, source_ts=ts
    )
    assert len(pinned) == 1

    # 📣 three times over: one broadcast in the announcement thread.
    mega = await next_event_delivery(
        slack, "reaction_added", slack.add_reaction(ws.alice, channel, ts, "mega")
    )
    await slack.send_event(dict(mega.payload["event"]))
    await slack.send_event(dict(mega.payload["event"]))
    await settled(bot)
    assert len(slack.thread(ws.incidents, announcement.ts)) == 3

    # Membership events delivered twice: one participant row.
    joined = await next_event_delivery(
        slack, "member_joined_channel", slack.join_channel(ws.manager, channel)
    )
    await slack.send_event(dict(joined.payload["event"]))
    await settled(bot)
    rows = await models.Participant.filter(incident_id=incident.id, user_id=ws.manager)
    assert len(rows) == 1

    # A shortcut delivered twice (its trigger id works once): one modal, no error for the user.
    shortcut = await slack.run_global_shortcut(ws.alice, CallbackId.DECLARE_SHORTCUT)
    await modal(slack, ws.alice, CallbackId.DECLARE_MODAL)
    await slack.redeliver(shortcut.envelope_id, times=1)
    await settled(bot)

    assert await models.Incident.all().count() == 1
    assert len(slack.calls("conversations.create")) == 1
    assert slack.user_errors == []
    assert not [m for m in slack.dms(ws.alice) if "went wrong" in slack.render_message(m)]
