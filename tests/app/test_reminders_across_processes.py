"""Two real bot processes on one PostgreSQL, time running 360 times faster (a P1's 30-minute
update cadence is 5 s): every update reminder due time is posted exactly once, and when one
process is killed mid-way (then started again) none is lost."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
from datetime import UTC, datetime, timedelta

from bot.blocks.ids import CallbackId
from sandbox.slack import SlackSandbox
from tests.conftest import bot_process_env, free_port, spawn_bot

SPEEDUP = 360  # one real second is six minutes
CADENCE = timedelta(minutes=30)  # the P1 update cadence of the example catalog


def reminder_times(slack: SlackSandbox, channel_id: str, kind: str) -> list[datetime]:
    times = []
    for message in slack.messages(channel_id):
        metadata = message.metadata or {}
        if str(metadata.get("event_type", "")).startswith(f"firefighter_reminder_{kind}_"):
            times.append(datetime.fromisoformat(metadata["event_payload"]["due_at"]))
    return times


def incident_channels(slack: SlackSandbox) -> list[str]:
    return [cid for cid, c in slack.channels.items() if c.name.startswith("inc-")]


async def test_two_replicas_send_each_reminder_once_and_lose_none_when_one_is_killed(
    slack: SlackSandbox, process_database: str
) -> None:
    alice = slack.add_user("alice")
    slack.add_usergroup("payments-oncall", [slack.add_user("oncall")])
    slack.add_channel("incidents", bot=True)
    slack.add_channel("incidents-major", bot=True)
    epoch = datetime.now(UTC).isoformat()  # the test's one reading of real time: shared epoch

    async def start() -> asyncio.subprocess.Process:
        env = bot_process_env(
            slack,
            process_database,
            free_port(),
            FIREFIGHTER_CLOCK_SPEEDUP=str(SPEEDUP),
            FIREFIGHTER_CLOCK_EPOCH=epoch,
            REMINDER_SWEEP_SECONDS="0.2",
            OUTBOX_LEASE_SECONDS="1800",  # clock seconds: 5 real seconds
            LOG_LEVEL="WARNING",
        )
        process: asyncio.subprocess.Process = await spawn_bot(env)  # type: ignore[assignment]
        return process

    first = await start()
    await slack.wait_for_connection(timeout=30)
    second = await start()
    await slack.wait_for_connection(timeout=30, count=2)
    processes = [first, second]
    try:
        ack = await slack.run_global_shortcut(alice, CallbackId.DECLARE_SHORTCUT)
        assert ack.acked
        await slack.wait_for(lambda: slack.views(alice), timeout=10)
        submitted = await slack.submit_view(
            alice,
            slack.views(alice)[-1].id,
            {
                "declare.impact.business": {"declare.impact": "high"},
                "declare.title": {"declare.title": "Checkout is down for everyone"},
                "declare.summary": {"declare.summary": "Orders cannot be placed since 10:02."},
                "declare.category": {"declare.category": "payments"},
            },
        )
        assert submitted.acked and not submitted.errors, submitted.errors
        await slack.wait_for(lambda: incident_channels(slack), timeout=20)
        channel_id = incident_channels(slack)[0]

        await slack.wait_for(
            lambda: len(reminder_times(slack, channel_id, "update")) >= 2, timeout=30
        )
        first.send_signal(signal.SIGKILL)  # mid-way: it may hold a sweep or a reminder job
        await first.wait()
        await slack.wait_for(
            lambda: len(reminder_times(slack, channel_id, "update")) >= 4, timeout=40
        )
        third = await start()
        processes.append(third)
        await slack.wait_for_connection(timeout=30, count=2)
        await slack.wait_for(
            lambda: len(reminder_times(slack, channel_id, "update")) >= 6, timeout=40
        )
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), timeout=20)
            if process.returncode is None:
                process.kill()

    sent = reminder_times(slack, channel_id, "update")
    assert len(sent) == len(set(sent)), f"a due time was posted twice: {sent}"
    ordered = sorted(sent)
    gaps = [later - earlier for earlier, later in itertools.pairwise(ordered)]
    assert all(gap == CADENCE for gap in gaps), f"a due time was lost: {ordered}"
    assert len(reminder_times(slack, channel_id, "role_gap")) == 1
