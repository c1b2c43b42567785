"""What keeps a declaration's path short and a storm moving (docs/benchmarks.md): the Web API
client waits out only short rate limits, a channel refused by a rate limit is not looked for, and
the bot process imports no integration it was not configured with."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.domain.incident import Actor
from bot.wiring import build_web_client, close_web_client
from tests.workspace import Workspace, outage, outbox_idle

REPO = Path(__file__).resolve().parents[2]


def settings_for(slack: object) -> Settings:
    return Settings(
        slack_bot_token=slack.bot_token,  # type: ignore[attr-defined]
        slack_app_token=slack.app_token,  # type: ignore[attr-defined]
        slack_api_url=slack.base_url,  # type: ignore[attr-defined]
    )


async def test_a_long_retry_after_is_raised_at_once_not_slept_in_the_client(slack) -> None:
    client = build_web_client(settings_for(slack))
    try:
        slack.inject_rate_limit("conversations.create", retry_after=30, times=1)
        # slack_sdk's own handler would sleep the 30 s here; the wait_for fails the test then.
        with pytest.raises(SlackApiError) as refused:
            await asyncio.wait_for(client.conversations_create(name="inc-long-wait"), timeout=10)
        assert refused.value.response.status_code == 429
        assert [c.status for c in slack.calls("conversations.create")] == [429]
    finally:
        await close_web_client(client)


async def test_a_short_retry_after_is_waited_out_once(slack) -> None:
    client = build_web_client(settings_for(slack))
    try:
        slack.inject_rate_limit("conversations.create", retry_after=1, times=1)
        created = await client.conversations_create(name="inc-short-wait")
        assert created["ok"]
        assert [c.status for c in slack.calls("conversations.create")] == [429, 200]
    finally:
        await close_web_client(client)


async def test_one_session_serves_every_call(slack) -> None:
    client = build_web_client(settings_for(slack))
    try:
        session = client.session
        assert session is not None
        await client.auth_test()
        await client.auth_test()
        assert client.session is session and not session.closed
    finally:
        await close_web_client(client)
    assert session.closed


async def test_a_channel_refused_by_a_rate_limit_is_created_later_without_looking_for_it(
    bot, ws: Workspace
) -> None:
    # Refused twice at once and then by a wait the client leaves to the outbox: the channel was
    # never made, so no attempt looks it up (conversations.list spends the same tier-2 budget).
    ws.slack.inject_rate_limit("conversations.create", retry_after=1, times=2)
    ws.slack.inject_rate_limit("conversations.create", retry_after=3, times=1)
    declared = await bot.service.declare(outage(), by=Actor.user(ws.alice), intent_key="rl-1")

    await ws.slack.wait_for(lambda: ws.slack.calls("pins.add"), timeout=30)
    await outbox_idle()

    creates = ws.slack.calls("conversations.create")
    assert [c.status for c in creates] == [429, 429, 429, 200]
    # (resolving the announcement channel lists channels too, but not between the attempts)
    between = [
        c for c in ws.slack.calls("conversations.list") if creates[0].at < c.at < creates[-1].at
    ]
    assert between == []
    incident = await bot.service.require(declared.incident.id)
    assert incident.channel_id is not None
    assert len(ws.slack.channels[incident.channel_id].pins) == 1


async def test_a_channel_whose_creation_failed_otherwise_is_looked_for_before_it_is_made(
    bot, ws: Workspace
) -> None:
    # A fatal_error (or a lost answer) leaves it unknown whether the channel was made.
    ws.slack.inject_error("conversations.create", "fatal_error")
    listed = len(ws.slack.calls("conversations.list"))
    declared = await bot.service.declare(outage(), by=Actor.user(ws.alice), intent_key="lost-1")

    await ws.slack.wait_for(lambda: ws.slack.calls("pins.add"), timeout=30)
    await outbox_idle()

    incident = await bot.service.require(declared.incident.id)
    assert incident.channel_id is not None
    # The retry looked for the channel it had asked for before asking again.
    assert len(ws.slack.calls("conversations.list")) > listed
    incident_channels = [c for c in ws.slack.channels.values() if c.name.startswith("inc-")]
    assert len(incident_channels) == 1


def test_the_bot_imports_no_integration_it_is_not_configured_with() -> None:
    """`python -m bot run` without JIRA_*, PAGERDUTY_*, CONFLUENCE_*: none of their client
    libraries is loaded (atlassian-python-api and requests are ~12 MB resident), and nothing
    of the sandboxes or the test tools."""
    probe = (
        "import json, sys\n"
        "import bot.__main__, bot.main\n"
        "from bot.config import Settings, load_catalog\n"
        "from bot import wiring\n"
        "settings = Settings()\n"
        "catalog = load_catalog(None)\n"
        "assert wiring.build_tracker(settings, catalog) is None\n"
        "assert wiring.build_pager(settings) is None\n"
        "assert wiring.build_docs(settings) is None\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JIRA_", "PAGERDUTY_", "CONFLUENCE_"))
    }
    done = subprocess.run(
        [sys.executable, "-c", probe],
        check=False,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    loaded = {name.partition(".")[0] for name in json.loads(done.stdout)}
    unwanted = {
        "atlassian",
        "jira",
        "pagerduty",
        "requests",
        "sandbox",
        "jsonschema",
        "openapi_core",
        "hypothesis",
        "pytest",
        "matplotlib",
        "numpy",
    }
    assert loaded & unwanted == set()
    assert not any(
        name.startswith("integrations.") and name != "integrations.slack"
        for name in json.loads(done.stdout)
    )


async def test_a_pin_refused_by_a_rate_limit_is_asked_again(bot, ws: Workspace) -> None:
    # The summary is posted and recorded; its pin waits longer than the client waits itself.
    ws.slack.inject_rate_limit("pins.add", retry_after=3, times=1)
    declared = await bot.service.declare(outage(), by=Actor.user(ws.alice), intent_key="pin-1")

    await ws.slack.wait_for(
        lambda: [c for c in ws.slack.calls("pins.add") if c.status == 200], timeout=30
    )
    await outbox_idle()

    incident = await bot.service.require(declared.incident.id)
    assert incident.channel_id is not None
    assert [c.status for c in ws.slack.calls("pins.add")] == [429, 200]
    assert len(ws.slack.channels[incident.channel_id].pins) == 1
