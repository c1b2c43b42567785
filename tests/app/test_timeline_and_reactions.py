"""The timeline from Slack: 📌 / 📣 reactions, edited and deleted source messages, channel
membership and the "Add to incident timeline" message shortcut — through the real Bolt app over
Socket Mode, the sandbox and the database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.blocks.ids import CallbackId
from bot.domain.incident import Actor, Incident, TimelineEntry, TimelineKind
from sandbox.slack import SlackSandbox
from tests.workspace import outage, outbox_idle


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 5.0) -> Any:
    """Poll an async ``check`` until it returns something truthy (the database side of
    ``slack.wait_for``)."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"condition not met within {within}s")
        await asyncio.sleep(0.02)


async def settled(bot: Any, slack: SlackSandbox) -> None:
    """Every envelope acked and the work started after the acks finished, including the events of
    the bot's own posts (Slack sends a bot the messages it posts in channels it is in)."""
    await slack.wait_for(lambda: all(d.ack.done() for d in slack.hub.deliveries.values()))
    await bot.background.drain()
    await outbox_idle()
    await slack.wait_for(lambda: all(d.ack.done() for d in slack.hub.deliveries.values()))
    await bot.background.drain()


async def open_incident(bot: Any, slack: SlackSandbox, alice: str) -> tuple[Incident, str, str]:
    """A P2 declared by ``alice`` with its channel ready; returns (incident, channel, incidents)."""
    incidents = slack.add_channel("incidents", bot=True)
    declared = await bot.service.declare(outage(), by=Actor.user(alice), intent_key="view-1")

    async def ready() -> Incident | None:
        incident = await bot.service.require(declared.incident.id)
        return incident if incident.channel_id else None

    incident = await eventually(ready)
    channel = incident.channel_id
    await slack.wait_for(
        lambda: alice in slack.channels[channel].members and slack.messages(incidents)
    )
    await eventually(lambda: present(bot, incident.id, alice))
    await settled(bot, slack)
    return incident, channel, incidents


async def present(bot: Any, incident_id: int, user_id: str) -> bool:
    member = await bot.service.participants.get(incident_id, user_id)
    return member is not None and not member.has_left


async def entries(bot: Any, incident_id: int, kind: TimelineKind) -> list[TimelineEntry]:
    page, _more = await bot.service.timeline_page(incident_id)
    return [e for e in page if e.kind is kind]


def reaction(slack: SlackSandbox, kind: str, user: str, channel: str, ts: str, name: str) -> dict:
    """A reaction event as Slack sends it, the sandbox's message state updated to match."""
    message = slack.channels[channel].messages[ts]
    users = message.reactions.setdefault(name, [])
    if kind == "reaction_added" and user not in users:
        users.append(user)
    return {
        "type": kind,
        "user": user,
        "reaction": name,
        "item_user": message.user,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "event_ts": f"{time.time():.6f}",
    }


def reactions_in(slack: SlackSandbox, channel: str) -> list[Any]:
    """The reaction envelopes the sandbox sent about ``channel``."""
    return [
        d
        for d in {id(d): d for d in slack.hub.deliveries.values()}.values()
        if d.type == "events_api"
        and d.payload["event"].get("type", "").startswith("reaction_")
        and d.payload["event"]["item"]["channel"] == channel
    ]


async def test_a_pushpin_adds_the_message_once_however_often_the_event_arrives(
    bot, slack: SlackSandbox
):
    alice = slack.add_user("alice")
    incident, channel, _ = await open_incident(bot, slack, alice)
    ts = await slack.post_message(alice, channel, "Rolled back the gateway to v41")
    await settled(bot, slack)
    event = reaction(slack, "reaction_added", alice, channel, ts, "pushpin")

    # Not acked twice: Slack delivers the same envelope three times...
    slack.hub.ack_timeout = 0.3
    slack.hub.event_retry_delays = (0.0,)
    slack.fail_next_socket_ack(2)
    delivery = await slack.send_event(event)
    await slack.wait_for(delivery.ack.done)
    assert len(delivery.envelope_ids) == 3
    # ...and later re-sends it under a new event_id.
    await slack.send_event(event)
    await settled(bot, slack)

    pinned = await entries(bot, incident.id, TimelineKind.PINNED_MESSAGE)
    assert len(pinned) == 1
    assert pinned[0].text == "Rolled back the gateway to v41"
    assert pinned[0].source_ts == ts
    assert pinned[0].source_permalink and ts.replace(".", "") in pinned[0].source_permalink
    assert pinned[0].actor == Actor.user(alice)


async def test_removing_the_pushpin_strikes_the_entry_out(bot, slack: SlackSandbox):
    alice = slack.add_user("alice")
    incident, channel, _ = await open_incident(bot, slack, alice)
    ts = await slack.post_message(alice, channel, "Database failover started")
    await slack.add_reaction(alice, channel, ts, "pushpin")
    await eventually(lambda: entries(bot, incident.id, TimelineKind.PINNED_MESSAGE))

    await slack.remove_reaction(alice, channel, ts, "pushpin")

    async def struck() -> bool:
        pinned = await entries(bot, incident.id, TimelineKind.PINNED_MESSAGE)
        return len(pinned) == 1 and pinned[0].struck_out

    await eventually(struck)


async def test_the_entry_follows_its_source_message_when_edited_then_deleted(
    bot, slack: SlackSandbox
):
    alice = slack.add_user("alice")
    incident, channel, _ = await open_incident(bot, slack, alice)
    ts = await slack.post_message(alice, channel, "Error rate at 40%")
    await slack.add_reaction(alice, channel, ts, "pushpin")
    await eventually(lambda: entries(bot, incident.id, TimelineKind.PINNED_MESSAGE))

    message = slack.channels[channel].messages[ts]
    message.text = "Error rate at 4%"
    now = f"{time.time():.6f}"
    await slack.send_event(
        {
            "type": "message",
            "subtype": "message_changed",
            "channel": channel,
            "hidden": True,
            "message": {
                "type": "message",
                "user": alice,
                "text": "Error rate at 4%",
                "ts": ts,
                "edited": {"user": alice, "ts": now},
            },
            "previous_message": {"type": "message", "user": alice, "text": "Error rate at 40%"},
            "ts": now,
            "event_ts": now,
        }
    )

    async def edited() -> bool:
        pinned = await entries(bot, incident.id, TimelineKind.PINNED_MESSAGE)
        return pinned[0].edited and pinned[0].text == "Error rate at 4%"

    await eventually(edited)

    del slack.channels[channel].messages[ts]
    now = f"{time.time():.6f}"
    await slack.send_event(
        {
            "type": "message",
            "subtype": "message_deleted",
            "channel": channel,
            "hidden": True,
            "deleted_ts": ts,
            "previous_message": {"type": "message", "user": alice, "text": "Error rate at 4%"},
            "ts": now,
            "event_ts": now,
        }
    )

    async def struck() -> bool:
        pinned = await entries(bot, incident.id, TimelineKind.PINNED_MESSAGE)
        return pinned[0].struck_out

    await eventually(struck)


async def test_a_megaphone_broadcasts_once_and_a_second_one_is_answered_ephemerally(
    bot, slack: SlackSandbox
):
    alice = slack.add_user("alice")
    bob = slack.add_user("bob")
    incident, channel, incidents = await open_incident(bot, slack, alice)
    await slack.join_channel(bob, channel)
    await eventually(lambda: present(bot, incident.id, bob))
    announcement = slack.messages(incidents)[0]
    ts = await slack.post_message(alice, channel, "Payments recovering, 80% success")
    await settled(bot, slack)

    event = reaction(slack, "reaction_added", alice, channel, ts, "mega")
    await slack.send_event(event)
    await slack.send_event(event)  # the same reaction re-sent: quiet

    def broadcast() -> list[Any]:
        return [
            m
            for m in slack.thread(incidents, announcement.ts)[1:]
            if "Payments recovering" in slack.render_message(m)
        ]

    await slack.wait_for(broadcast)
    await settled(bot, slack)
    assert slack.ephemerals(alice) == []

    await slack.add_reaction(bob, channel, ts, "mega")
    told = await slack.wait_for(lambda: slack.ephemerals(bob, channel))
    assert "already broadcast" in slack.render_message(told[0])
    await settled(bot, slack)
    assert len(broadcast()) == 1
    updates = await entries(bot, incident.id, TimelineKind.STATUS_UPDATE)
    assert [u.text for u in updates] == ["Payments recovering, 80% success"]


async def test_a_reaction_outside_an_incident_channel_does_nothing(bot, slack: SlackSandbox):
    alice = slack.add_user("alice")
    incident, _channel, _ = await open_incident(bot, slack, alice)
    random = slack.add_channel("random", members=[alice], bot=True)
    ts = await slack.post_message(alice, random, "Lunch?")
    before = len(slack.requests)

    await slack.add_reaction(alice, random, ts, "pushpin")
    await slack.add_reaction(alice, random, ts, "mega")
    await slack.wait_for(lambda: len(reactions_in(slack, random)) == 2)
    await settled(bot, slack)

    assert await entries(bot, incident.id, TimelineKind.PINNED_MESSAGE) == []
    assert await entries(bot, incident.id, TimelineKind.STATUS_UPDATE) == []
    handler_calls = {
        "users.info",
        "conversations.history",
        "conversations.replies",
        "chat.getPermalink",
        "reactions.get",
        "chat.postEphemeral",
    }
    assert [r.method for r in slack.requests[before:] if r.method in handler_calls] == []
    assert slack.ephemerals(alice) == []


async def test_who_leaves_is_recorded_and_not_reinvited_when_the_incident_changes(
    bot, slack: SlackSandbox
):
    alice = slack.add_user("alice")
    lead = slack.add_user("paylead")
    carol = slack.add_user("carol")
    slack.add_usergroup("payments-oncall", [lead])
    incident, channel, _ = await open_incident(bot, slack, alice)
    await slack.wait_for(lambda: lead in slack.channels[channel].members)
    await eventually(lambda: present(bot, incident.id, lead))

    await slack.leave_channel(lead, channel)

    async def left() -> bool:
        member = await bot.service.participants.get(incident.id, lead)
        return member is not None and member.has_left

    await eventually(left)
    invites_before = len(slack.calls("conversations.invite"))

    await bot.service.assign_roles(
        incident.id, {"communications_lead": lead, "scribe": carol}, by=Actor.user(alice)
    )

    await slack.wait_for(lambda: carol in slack.channels[channel].members)
    await settled(bot, slack)
    assert lead not in slack.channels[channel].members
    invited = [
        user
        for call in slack.calls("conversations.invite")[invites_before:]
        for user in str(call.args.get("users", "")).split(",")
    ]
    assert carol in invited and lead not in invited
    assert await left()


async def test_the_message_shortcut_adds_the_message_to_the_incident_timeline(
    bot, slack: SlackSandbox
):
    alice = slack.add_user("alice")
    incident, channel, _ = await open_incident(bot, slack, alice)
    ts = await slack.post_message(alice, channel, "Customer support reports refunds failing")

    ack = await slack.run_message_shortcut(alice, CallbackId.ADD_TO_TIMELINE, channel, ts)
    assert ack.acked
    views = await slack.wait_for(lambda: slack.views(alice))
    view = views[-1]
    assert view.payload["callback_id"] == CallbackId.ADD_TO_TIMELINE_MODAL

    submitted = await slack.submit_view(alice, view.id)
    assert submitted.acked and not submitted.errors

    told = await slack.wait_for(lambda: slack.ephemerals(alice, channel))
    assert "Added to the timeline" in slack.render_message(told[0])
    pinned = await entries(bot, incident.id, TimelineKind.PINNED_MESSAGE)
    assert [(e.text, e.source_ts) for e in pinned] == [
        ("Customer support reports refunds failing", ts)
    ]
    assert pinned[0].source_permalink


async def test_people_talking_in_the_incident_channel_is_delivered_and_quietly_ignored(
    bot, slack: SlackSandbox, caplog: Any
) -> None:
    alice = slack.add_user("alice")
    incident, channel, _ = await open_incident(bot, slack, alice)
    await settled(bot, slack)
    caplog.set_level("DEBUG", logger="slack_bolt")
    before, _more = await bot.service.timeline_page(incident.id)
    await slack.post_message(alice, channel, "Looking at the gateway logs now")
    await settled(bot, slack)

    messages = [
        d
        for d in slack.hub.deliveries.values()
        if d.type == "events_api" and d.payload["event"].get("type") == "message"
    ]
    assert messages, "Slack sends message.channels events for a channel the bot is in"
    assert all(d.ack.done() for d in messages)
    assert not [r for r in caplog.records if "Unhandled request" in r.getMessage()]
    after, _more = await bot.service.timeline_page(incident.id)
    assert after == before
