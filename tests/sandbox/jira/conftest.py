"""Fixtures for the sandbox Jira's own tests: a started sandbox per deployment, and the real `jira`
library pointed at it (built in a thread: its constructor does I/O, INTEGRATION_NOTES §3.1)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
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


def auth_header(sandbox: SandboxJira) -> dict[str, str]:
    """Cloud: Basic e-mail + API token; Data Center: Bearer personal access token."""
    if sandbox.mode == "datacenter":
        return {"Authorization": f"Bearer {sandbox.bot.api_token}"}
    raw = f"{sandbox.bot.email}:{sandbox.bot.api_token}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


class Rest:
    """Plain HTTP against the sandbox, for checking its own behaviour without a client library."""

    def __init__(self, sandbox: SandboxJira, http: aiohttp.ClientSession) -> None:
        self.sandbox = sandbox
        self.http = http
        self.version = "2" if sandbox.mode == "datacenter" else "3"

    def url(self, tail: str) -> str:
        return f"{self.sandbox.base_url}/rest/api/{self.version}/{tail.lstrip('/')}"

    async def call(self, method: str, tail: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.http.request(method, self.url(tail), **kwargs) as response:
            text = await response.text()
            return response.status, json.loads(text) if text else None


@pytest_asyncio.fixture(params=["cloud", "datacenter"])
async def site(request: pytest.FixtureRequest) -> AsyncIterator[SandboxJira]:
    """Each deployment in turn; teardown fails the test on any contract violation."""
    async with SandboxJira(mode=request.param) as sandbox:
        yield sandbox
        sandbox.assert_no_violations()


@pytest_asyncio.fixture
async def rest(site: SandboxJira) -> AsyncIterator[Rest]:
    async with aiohttp.ClientSession(headers=auth_header(site)) as http:
        yield Rest(site, http)
