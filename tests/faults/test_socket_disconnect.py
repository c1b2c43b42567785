"""Slack refreshes the Socket Mode connection (``disconnect`` with ``refresh_requested``, or a
``warning`` that it is about to): the bot opens a new connection, the envelopes whose acks were
lost with the old one are delivered again on the new one, and every interaction's effect happens
exactly once — none lost, none doubled."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.incident import TimelineKind
from sandbox.slack import SlackSandbox
from storage import models
from tests.workspace import Workspace, declare_and_wait, outbox_idle


async def settled(bot: Any, slack: SlackSandbox) -> None:
    await slack.wait_for(
        lambda: all(d.ack.done() for d in slack.hub.deliveries.values()), timeout=15
    )
    await bot.background.drain()
    await outbox_idle()


@pytest.mark.parametrize("reason", ["refresh_requested", "warning"])
async def test_a_refreshed_connection_loses_and_doubles_no_envelope(
    bot: Any, slack: SlackSandbox, ws: Workspace, reason: str
) -> None:
    incident = await declare_and_wait(bot, ws)
    channel = str(incident.channel_id)
    findings = [await slack.post_message(ws.alice, channel, f"Finding {i}") for i in range(7)]
    await settled(bot, slack)
    old = slack.hub.total_connections
    assert list(slack.hub.connections) == [f"conn-{old}"]

    # Three 📌 and two notes reach the bot, which acts on them; their acks are lost with the old
    # connection (which is not closed yet).
    slack.fail_next_socket_ack(5)
    for ts in findings[:3]:
        await slack.add_reaction(ws.alice, channel, ts, "pushpin")
    notes = [
        asyncio.create_task(
            slack.run_slash_command(ws.alice, "/incident", f"note Before {i}", channel)
        )
        for i in range(2)
    ]
    await slack.wait_for(lambda: slack.faults.dropped_acks == 0, timeout=10)
    unacked = [d for d in slack.hub.deliveries.values() if not d.ack.done()]
    assert len(unacked) == 5

    # Slack refreshes the connection while more arrive.
    await slack.disconnect(reason)
    await slack.add_reaction(ws.alice, channel, findings[3], "pushpin")
    notes.append(
        asyncio.create_task(slack.run_slash_command(ws.alice, "/incident", "note During", channel))
    )
    await slack.hub.wait_for_new_connection(after=old, timeout=10)
    await slack.wait_for(lambda: f"conn-{old}" not in slack.hub.connections, timeout=15)
    for ts in findings[4:]:
        await slack.add_reaction(ws.alice, channel, ts, "pushpin")
    notes.append(
        asyncio.create_task(slack.run_slash_command(ws.alice, "/incident", "note After", channel))
    )
    acks = await asyncio.gather(*notes)
    assert all(ack.acked for ack in acks)
    await settled(bot, slack)

    # The five whose acks were lost came again on the new connection.
    for delivery in unacked:
        connections = [connection for connection, _ in delivery.sent]
        assert connections[0] == f"conn-{old}" and connections[-1] != f"conn-{old}"
    # Each effect once.
    pinned = await models.TimelineEntry.filter(
        incident_id=incident.id, kind=TimelineKind.PINNED_MESSAGE
    ).values_list("source_ts", flat=True)
    assert sorted(pinned) == sorted(findings)
    notes_stored = await models.TimelineEntry.filter(
        incident_id=incident.id, kind=TimelineKind.NOTE
    ).values_list("text", flat=True)
    assert sorted(notes_stored) == sorted(["Before 0", "Before 1", "During", "After"])
    assert slack.user_errors == []


async def test_after_a_warning_slack_closes_the_connection_and_sends_its_unacked_envelopes_again(
    slack: SlackSandbox,
) -> None:
    """A client that does not reconnect on a ``warning`` is cut off ``warning_lead`` later (Slack:
    about 10 s); the envelope it had not acked arrives again, same envelope id, on the next
    connection."""
    slack.hub.warning_lead = 0.2
    alice = slack.add_user("alice")
    apps = AsyncWebClient(token=slack.app_token, base_url=slack.base_url)
    async with aiohttp.ClientSession() as session:
        old = await session.ws_connect(
            (await apps.apps_connections_open(app_token=slack.app_token))["url"]
        )
        assert (await old.receive_json(timeout=5))["type"] == "hello"
        shortcut = asyncio.create_task(slack.run_global_shortcut(alice, "declare"))
        envelope = await old.receive_json(timeout=5)
        await slack.disconnect("warning")
        assert (await old.receive_json(timeout=5))["reason"] == "warning"
        closed = await old.receive(timeout=5)
        assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)

        new = await session.ws_connect(
            (await apps.apps_connections_open(app_token=slack.app_token))["url"]
        )
        assert (await new.receive_json(timeout=5))["type"] == "hello"
        again = await new.receive_json(timeout=5)
        assert again["envelope_id"] == envelope["envelope_id"]
        assert again["payload"] == envelope["payload"]
        await new.send_json({"envelope_id": again["envelope_id"]})
        assert (await shortcut).acked
        await new.close()
