"""Fixtures for the sandbox Jira's own tests: a started sandbox per deployment, and the real `jira`
library pointed at it (built in a thread: its constructor does I/O, INTEGRATION_NOTES §3.1)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest_asyncio
from jira import JIRA

from sandbox.jira import SandboxJira


@pytest_asyncio.fixture
async def cloud() -> AsyncIterator[SandboxJira]:
    """A Jira Cloud sandbox; the test fails at teardown if any request broke the contract."""
    async with SandboxJira(mode="cloud") as sandbox:
        yield sandbox
        sandbox.assert_no_violations()


@pytest_asyncio.fixture
async def datacenter() -> AsyncIterator[SandboxJira]:
    async with SandboxJira(mode="datacenter") as sandbox:
        yield sandbox
        sandbox.assert_no_violations()


async def cloud_client(sandbox: SandboxJira, *, max_retries: int = 0) -> JIRA:
    """`JIRA(basic_auth=(email, API token))`, as against Jira Cloud, with timeouts and capped retries."""
    return await asyncio.to_thread(
        JIRA,
        server=sandbox.base_url,
        basic_auth=(sandbox.bot.email, sandbox.bot.api_token),
        timeout=5,
        max_retries=max_retries,
    )


async def datacenter_client(sandbox: SandboxJira) -> JIRA:
    """`JIRA(token_auth=PAT)`, as against Jira Data Center."""
    return await asyncio.to_thread(
        JIRA, server=sandbox.base_url, token_auth=sandbox.bot.api_token, timeout=5, max_retries=0
    )


@pytest_asyncio.fixture
async def jira_cloud(cloud: SandboxJira) -> JIRA:
    return await cloud_client(cloud)
