"""The real process (`python -m bot run`) against the sandbox over a real websocket."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio

from sandbox.slack import SlackSandbox
from tests.conftest import create_database, drop_database, postgres_url

REPO = Path(__file__).resolve().parents[2]


@pytest_asyncio.fixture
async def process_database() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database: the process must migrate it itself."""
    name = await create_database()
    yield f"{postgres_url().rpartition('/')[0]}/{name}"
    await drop_database(name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_the_real_process_migrates_connects_answers_and_stops_cleanly(
    slack: SlackSandbox, process_database: str
) -> None:
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key.upper() not in {"HTTP_PROXY", "HTTPS_PROXY"}
    }
    env.update(
        SLACK_BOT_TOKEN=slack.bot_token,
        SLACK_APP_TOKEN=slack.app_token,
        SLACK_API_URL=slack.base_url,
        DATABASE_URL=process_database,
        FIREFIGHTER_HTTP_HOST="127.0.0.1",
        FIREFIGHTER_HTTP_PORT=str(port),
        LOG_LEVEL="DEBUG",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
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
