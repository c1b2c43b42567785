"""The real process (`python -m bot run`) against the sandbox over a real websocket."""

from __future__ import annotations

import asyncio
import signal

import aiohttp

from sandbox.slack import SlackSandbox
from tests.conftest import bot_process_env, free_port, spawn_bot


async def test_the_real_process_migrates_connects_answers_and_stops_cleanly(
    slack: SlackSandbox, process_database: str
) -> None:
    port = free_port()
    env = bot_process_env(slack, process_database, port)
    process: asyncio.subprocess.Process = await spawn_bot(env, capture=True)  # type: ignore[assignment]
    try:
        await slack.wait_for_connection(timeout=30)
        alice = slack.add_user("alice")
        general = slack.add_channel("general", members=[alice])

        ack = await slack.run_slash_command(alice, "/incident", "", general)
        assert ack.acked
        assert "incident commands" in slack.render_message(slack.ephemerals(alice, general)[0])

        await slack.open_app_home(alice)
        await slack.wait_for(lambda: slack.home_view(alice) is not None, timeout=10)
        assert slack.calls("views.publish")

        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/healthz") as response,
        ):
            assert response.status == 200
            assert (await response.json())["socket"] == "connected"
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=20)

    logs = (stdout + stderr).decode()
    assert process.returncode == 0, logs[-3000:]
    assert '"event": "database migrated"' in logs or '"event":"database migrated"' in logs
    assert "stopped" in logs
    for secret in (slack.bot_token, slack.app_token, "xoxb-", "xapp-"):
        assert secret not in logs
    assert not slack.connected or await _disconnected(slack)


async def _disconnected(slack: SlackSandbox) -> bool:
    await slack.wait_for(lambda: not slack.connected, timeout=5)
    return True
