"""Fixtures of the privacy tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from sandbox.jira import SandboxJira


@pytest_asyncio.fixture
async def jira_cloud() -> AsyncIterator[SandboxJira]:
    """The sandbox Jira (Cloud only: these tests are about the bot, not the Jira flavour); a test
    fails at teardown on any contract violation."""
    async with SandboxJira(mode="cloud") as sandbox:
        yield sandbox
        sandbox.assert_no_violations()
