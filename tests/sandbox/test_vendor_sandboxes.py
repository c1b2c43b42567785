"""What the Jira, Confluence and PagerDuty sandboxes share (`sandbox.http`): the same fault book and
lifecycle behave alike whichever vendor answers, each wording the answer its own way."""

from __future__ import annotations

import base64

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from sandbox.jira import SandboxJira

pytestmark = pytest.mark.asyncio


def _basic(email: str, token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:{token}".encode()).decode()}


async def _get(url: str, headers: dict[str, str]) -> tuple[int, CIMultiDictProxy[str]]:
    async with aiohttp.ClientSession(headers=headers) as http, http.get(url) as answer:
        await answer.read()
        return answer.status, answer.headers


async def test_a_retry_after_of_zero_is_sent_as_is() -> None:
    """`Retry-After: 0` says "retry now"; leaving the header out lets a client pick its own wait."""
    async with SandboxJira() as jira:
        jira.inject_rate_limit(r"/myself$", retry_after=0)
        auth = _basic(jira.bot.email, jira.bot.api_token)
        status, headers = await _get(f"{jira.base_url}/rest/api/3/myself", auth)
        assert (status, headers.get("Retry-After")) == (429, "0")
        jira.assert_no_violations()
