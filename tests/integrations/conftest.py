"""Fixtures for the adapters' tests: each real adapter against its spec-checked sandbox. A test fails
at teardown if anything it caused broke the vendor's contract."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from integrations.jira import JiraTracker
from sandbox.jira import SandboxJira


def jira_tracker(sandbox: SandboxJira, **options: Any) -> JiraTracker:
    """The adapter as wiring builds it: Cloud with e-mail + API token, Data Center with a PAT."""
    cloud = sandbox.mode == "cloud"
    return JiraTracker(
        sandbox.base_url,
        user=sandbox.bot.email if cloud else None,
        token=sandbox.bot.api_token,
        cloud=cloud,
        **options,
    )


@pytest_asyncio.fixture(params=["cloud", "datacenter"])
async def jira_site(request: pytest.FixtureRequest) -> AsyncIterator[SandboxJira]:
    """A sandbox Jira Cloud, then a Data Center one, for the behaviour both share."""
    async with SandboxJira(mode=request.param) as sandbox:
        yield sandbox
        sandbox.assert_no_violations()


@pytest_asyncio.fixture
async def cloud_site() -> AsyncIterator[SandboxJira]:
    async with SandboxJira(mode="cloud") as sandbox:
        yield sandbox
        sandbox.assert_no_violations()


@pytest_asyncio.fixture
async def tracker(jira_site: SandboxJira) -> AsyncIterator[JiraTracker]:
    adapter = jira_tracker(jira_site)
    yield adapter
    await adapter.close()
