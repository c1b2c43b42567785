"""Fixtures for the Slack sandbox's own tests: a started sandbox with compressed timings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest_asyncio
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack import SlackSandbox


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[SlackSandbox]:
    """A sandbox whose 3 s deadlines are compressed; it must end the test without violations."""
    async with SlackSandbox(
        ack_timeout=0.5,
        trigger_ttl=0.5,
        event_retry_delays=(0.0, 0.05, 0.05),
        disconnect_grace=0.05,
    ) as sandbox:
        yield sandbox
        sandbox.assert_no_violations()


@pytest_asyncio.fixture
async def client(slack: SlackSandbox) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)


@pytest_asyncio.fixture
async def bolt(client: AsyncWebClient) -> AsyncApp:
    """A real Bolt app talking to the sandbox; connect it with the `connect` fixture."""
    return AsyncApp(client=client)


@pytest_asyncio.fixture
async def connect(
    slack: SlackSandbox, bolt: AsyncApp
) -> AsyncIterator[Callable[[], Awaitable[AsyncSocketModeHandler]]]:
    """Open the Bolt app's Socket Mode connection to the sandbox; closed at teardown."""
    handlers: list[AsyncSocketModeHandler] = []

    async def open_connection() -> AsyncSocketModeHandler:
        handler = AsyncSocketModeHandler(bolt, slack.app_token)
        await handler.connect_async()
        await slack.wait_for_connection(timeout=5)
        handlers.append(handler)
        return handler

    yield open_connection
    for handler in handlers:
        await handler.close_async()
