"""SIGKILL in the middle of a declaration's side effects: after a restart the outbox resumes and
Slack ends with exactly one channel, one announcement and one pinned summary."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from bot.blocks.ids import CallbackId
from sandbox.slack import SlackSandbox
from tests.conftest import bot_process_env, free_port, spawn_bot

LEASE_SECONDS = "1"


async def start_bot(slack: SlackSandbox, database_url: str) -> asyncio.subprocess.Process:
    env = bot_process_env(
        slack, database_url, free_port(), OUTBOX_LEASE_SECONDS=LEASE_SECONDS, LOG_LEVEL="INFO"
    )
    process: asyncio.subprocess.Process = await spawn_bot(env)  # type: ignore[assignment]
    await slack.wait_for_connection(timeout=30)
    return process


async def declare_from_the_shortcut(slack: SlackSandbox, user: str) -> None:
    ack = await slack.run_global_shortcut(user, CallbackId.DECLARE_SHORTCUT)
    assert ack.acked
    await slack.wait_for(lambda: slack.views(user), timeout=10)
    view = slack.views(user)[-1]
    submitted = await slack.submit_view(
        user,
        view.id,
        {
            "declare.impact.business": {"declare.impact": "medium"},
            "declare.title": {"declare.title": "Checkout is down for everyone"},
            "declare.summary": {"declare.summary": "Orders cannot be placed since 10:02."},
            "declare.category": {"declare.category": "payments"},
        },
    )
    assert submitted.acked and not submitted.errors, submitted.errors


def incident_channels(slack: SlackSandbox) -> list[str]:
    return [cid for cid, c in slack.channels.items() if c.name.startswith("inc-")]


async def test_a_declaration_killed_mid_way_completes_exactly_once_after_a_restart(
    slack: SlackSandbox, process_database: str
) -> None:
    alice = slack.add_user("alice")
    responder = slack.add_user("oncall")
    slack.add_usergroup("payments-oncall", [responder])
    announcements = slack.add_channel("incidents", bot=True)
    # The posts (summary, announcement) take long: the process dies while Slack performs them,
    # so it never learns their ts.
    slack.inject_latency(1.5, methods={"chat.postMessage"})

    first = await start_bot(slack, process_database)
    try:
        await declare_from_the_shortcut(slack, alice)
        await slack.wait_for(lambda: incident_channels(slack), timeout=10)
        await slack.wait_for(lambda: slack.calls("conversations.setTopic"), timeout=10)
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    assert first.returncode == -signal.SIGKILL
    # What the dead process had started still lands in Slack (its answers are lost). It may have
    # died before its announcement left (the kill follows the topic, which the announcement does
    # not wait for): then the restarted process posts it, and the count below is still one.
    with contextlib.suppress(TimeoutError):
        await slack.wait_for(lambda: slack.messages(announcements), timeout=5)
    slack.clear_faults()

    second = await start_bot(slack, process_database)
    try:
        channel_id = incident_channels(slack)[0]
        await slack.wait_for(lambda: slack.channels[channel_id].pins, timeout=20)
        await slack.wait_for(lambda: responder in slack.channels[channel_id].members, timeout=20)
    finally:
        second.send_signal(signal.SIGTERM)
        await asyncio.wait_for(second.wait(), timeout=20)

    assert len(incident_channels(slack)) == 1
    assert len(slack.calls("conversations.create")) == 1
    assert len(slack.messages(announcements)) == 1
    channel = slack.channels[incident_channels(slack)[0]]
    assert len(channel.pins) == 1
    summaries = [
        m
        for m in slack.messages(channel.id)
        if (m.metadata or {}).get("event_type") == "firefighter_summary"
    ]
    assert len(summaries) == 1
    assert alice in channel.members
