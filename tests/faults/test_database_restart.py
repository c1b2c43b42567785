"""PostgreSQL restarted under a running bot process: the declaration whose side effects were in
flight completes exactly once once the database is back, so does one submitted while it was away;
the people whose interactions could not be served were told so in Slack, and the process lives on
and declares again (it reconnected)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from bot.blocks.ids import BlockId, CallbackId
from sandbox.slack import SlackSandbox
from sandbox.slack.state import View
from tests.conftest import bot_process_env, free_port
from tests.faults.conftest import BotProcess, PrivateCluster, spawn_logged_bot
from tests.workspace import Workspace, eventually

LEASE_SECONDS = "2"
OUTAGE_SECONDS = 3.0


async def open_declare_form(slack: SlackSandbox, user: str) -> View:
    """The declare shortcut; returns the form it opened."""
    before = {v.id for v in slack.views(user)}
    ack = await slack.run_global_shortcut(user, CallbackId.DECLARE_SHORTCUT)
    assert ack.acked
    form: View = await slack.wait_for(
        lambda: next((v for v in slack.views(user) if v.id not in before), None), timeout=15
    )
    return form


async def submit_declare_form(slack: SlackSandbox, user: str, form: View, title: str) -> None:
    submitted = await slack.submit_view(
        user,
        form.id,
        {
            "declare.impact.business": {"declare.impact": "medium"},
            "declare.title": {"declare.title": title},
            "declare.summary": {"declare.summary": "Orders cannot be placed since 10:02."},
            "declare.category": {"declare.category": "payments"},
        },
    )
    assert submitted.acked and not submitted.errors, submitted.errors


async def declare(slack: SlackSandbox, user: str, title: str) -> None:
    """The declare shortcut, then its form submitted (both acked in time)."""
    await submit_declare_form(slack, user, await open_declare_form(slack, user), title)


def incident_channels(slack: SlackSandbox) -> list[str]:
    return sorted(cid for cid, c in slack.channels.items() if c.name.startswith("inc-"))


def summaries(slack: SlackSandbox, channel_id: str) -> int:
    return sum(
        1
        for m in slack.messages(channel_id)
        if (m.metadata or {}).get("event_type") == "firefighter_summary"
    )


async def complete(slack: SlackSandbox, ws: Workspace, channel_id: str) -> None:
    """Wait until the incident of ``channel_id`` has its pinned summary and its responders."""
    await slack.wait_for(lambda: slack.channels[channel_id].pins, timeout=30)
    await slack.wait_for(lambda: ws.responder in slack.channels[channel_id].members, timeout=30)


async def has_participant(url: str, channel_id: str, user_id: str) -> bool:
    """Whether the bot stored ``user_id`` as a participant of the incident of ``channel_id``."""
    connection = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        found = await connection.fetchval(
            "SELECT count(*) FROM participant p JOIN incident i ON i.id = p.incident_id"
            " WHERE i.channel_id = $1 AND p.user_id = $2 AND p.left_at IS NULL",
            channel_id,
            user_id,
        )
    finally:
        await connection.close()
    return bool(found)


async def healthz(port: int) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        return response.status


async def test_the_bot_survives_a_database_restart_and_loses_nothing(
    slack: SlackSandbox,
    ws: Workspace,
    private_postgres: PrivateCluster,
    bot_processes: list[BotProcess],
    tmp_path: Path,
) -> None:
    general = slack.add_channel("general", members=[ws.alice, ws.bob])
    port = free_port()
    env = bot_process_env(
        slack,
        private_postgres.url,
        port,
        OUTBOX_LEASE_SECONDS=LEASE_SECONDS,
        REMINDER_SWEEP_SECONDS="0.5",
        LOG_LEVEL="INFO",
    )
    bot = await spawn_logged_bot(env, tmp_path / "bot.log")
    bot_processes.append(bot)
    await slack.wait_for_connection(timeout=30)

    # Slack is slow to post: the declaration's side effects are still running when the
    # database goes away.
    slack.inject_latency(1.0, methods={"chat.postMessage"})
    await declare(slack, ws.alice, "Checkout is down for everyone")
    await slack.wait_for(lambda: incident_channels(slack), timeout=15)
    await slack.wait_for(lambda: slack.calls("conversations.setTopic"), timeout=15)

    first = incident_channels(slack)[0]
    # Alice opens the note form of the incident; she submits it while the database is away.
    await slack.wait_for(lambda: ws.alice in slack.channels[first].members, timeout=15)
    assert (await slack.run_slash_command(ws.alice, "/incident", "note", first)).acked
    note_form = await slack.wait_for(
        lambda: next(
            (
                v
                for v in slack.views(ws.alice)
                if v.payload.get("callback_id") == CallbackId.NOTE_MODAL
            ),
            None,
        ),
        timeout=15,
    )

    # The manager opens the declare form too, and submits it while the database is away.
    manager_form = await open_declare_form(slack, ws.manager)

    await asyncio.to_thread(private_postgres.stop, "fast")
    try:
        # Meanwhile people keep using the bot; every interaction is acked in time (the sandbox
        # records a miss as a violation) and Bob joins the incident's channel.
        command = await slack.run_slash_command(ws.bob, "/incident", "open Search is slow", general)
        assert command.acked
        shortcut = await slack.run_global_shortcut(ws.bob, CallbackId.DECLARE_SHORTCUT)
        assert shortcut.acked
        await slack.join_channel(ws.bob, first)
        # Checked against the incident before its ack: it fails in time to say so.
        note = await slack.submit_view(
            ws.alice,
            note_form.id,
            {BlockId.NOTE: {BlockId.NOTE: "Written while the database was away"}},
        )
        assert note.acked
        # Acked at once; the declaration itself waits for the database (below).
        await submit_declare_form(slack, ws.manager, manager_form, "Refunds are stuck in review")
        assert await healthz(port) == 503
        await asyncio.sleep(OUTAGE_SECONDS)
        assert bot.alive, bot.log()[-4000:]
    finally:
        await asyncio.to_thread(private_postgres.start)
    slack.clear_faults()

    # Bob was told, for each, that it did not work (the forms' 3 s trigger ran out meanwhile).
    await slack.wait_for(lambda: slack.ephemerals(ws.bob, general), timeout=30)
    await slack.wait_for(lambda: slack.dms(ws.bob), timeout=30)
    await slack.wait_for(
        lambda: [m for m in slack.dms(ws.alice) if "went wrong" in slack.render_message(m)],
        timeout=30,
    )

    # The declaration in flight completes, exactly once.
    await complete(slack, ws, first)
    await slack.wait_for(lambda: len(slack.messages(ws.incidents)) >= 1, timeout=30)

    # The declaration submitted during the outage was made once the database came back, and
    # the process reconnected: a declaration after the restart goes all the way too.
    await declare(slack, ws.alice, "Search is slow")
    await slack.wait_for(lambda: len(incident_channels(slack)) == 3, timeout=30)
    for channel_id in incident_channels(slack):
        await complete(slack, ws, channel_id)
    await slack.wait_for(lambda: len(slack.messages(ws.incidents)) >= 3, timeout=30)
    assert await healthz(port) == 200

    assert bot.alive, bot.log()[-4000:]
    assert len(slack.calls("conversations.create")) == 3
    assert len(slack.messages(ws.incidents)) == 3  # one announcement each
    titles = sorted(slack.render_message(m) for m in slack.messages(ws.incidents))
    for title in ("Checkout is down", "Refunds are stuck", "Search is slow"):
        assert sum(title in text for text in titles) == 1, titles
    for channel_id in incident_channels(slack):
        assert len(slack.channels[channel_id].pins) == 1
        assert summaries(slack, channel_id) == 1
    # Bob's join, while the database was away, was recorded once it came back.
    await eventually(lambda: has_participant(private_postgres.url, first, ws.bob), seconds=30)
    told = [
        slack.render_message(m) for m in [*slack.ephemerals(ws.bob, general), *slack.dms(ws.bob)]
    ]
    assert told and all("went wrong" in text or "try again" in text for text in told), told


async def test_a_statement_cut_off_by_the_server_is_run_again_on_a_new_connection(
    process_database: str,
) -> None:
    """The server ends the session of a running statement (what a restart does to every
    session): outside a transaction, the statement is run again on a new connection instead of
    failing (storage/postgres.py); inside one, the error reaches the caller."""
    from storage import db

    admin_url = process_database.rpartition("/")[0] + "/postgres"
    name = process_database.rpartition("/")[2]

    async def terminate_soon() -> None:
        admin = await asyncpg.connect(admin_url.replace("postgres://", "postgresql://", 1))
        try:
            for _ in range(100):
                killed = await admin.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = $1 AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()",
                    name,
                )
                if killed:
                    return
                await asyncio.sleep(0.05)
            raise AssertionError("the statement never started")
        finally:
            await admin.close()

    async with db.database(process_database):
        sql = "SELECT pg_backend_pid() AS pid, pg_sleep(0.5)"
        _, [first] = await db.connection().execute_query(sql)
        killer = asyncio.create_task(terminate_soon())
        _, [again] = await db.connection().execute_query(sql)
        await killer
        assert again["pid"] != first["pid"]  # run again, on a new connection

        killer = asyncio.create_task(terminate_soon())
        # (the rollback on the dead connection is what the caller sees)
        with pytest.raises(asyncpg.InterfaceError):
            async with db.transaction() as connection:
                await connection.execute_query(sql)
        await killer
